"""The emulated Conversational AI Engine v2 (emulator/convoai.py) over HTTP: Agora's paths, Basic auth, status
codes (400/401/404/409/422/429/503/504), states, the paginated list with its traps (running only and the last
2 hours by default), NCS product 17 (101/102/103/110), and the hostile parts: a 504 after the agent was
created, agents that fail or recover, history only while running, a token that expires without ``update``.

Faults are scripted (``kind@op``) or at rate 1.0, so no test depends on chance; waits are on events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agorakit.tokens.builder import build_rtc_token

from emulator import Emulator
from tests.integration._emulator_fixtures import (
    APP_ID,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    WebhookReceiver,
    make_emulator,
    wait_until,
)

BASE = f"/api/conversational-ai-agent/v2/projects/{APP_ID}"
CERT = "0123456789abcdef0123456789abcdef"
AGENT_UID = 4_100_000_007


def token(channel: str, uid: int = AGENT_UID, expire: int = 3600) -> str:
    return build_rtc_token(app_id=APP_ID, app_certificate=CERT, channel_name=channel, uid=uid, role="publisher",
                           expire=expire)  # fmt: skip


def join_body(name: str, channel: str, **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "channel": channel,
        "token": token(channel),
        "agent_rtc_uid": str(AGENT_UID),
        "remote_rtc_uids": ["1001"],
        "idle_timeout": 30,
        "llm": {"url": "https://llm.example/v1/chat/completions", "api_key": "sk-x", "system_messages": []},
        "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-AndrewNeural"}},
        "asr": {"language": "en-US"},
    }
    properties.update(props)
    return {"name": name, "properties": properties}


class ConvoApi:
    def __init__(self, emulator: Emulator, auth: tuple[str, str] = (CUSTOMER_ID, CUSTOMER_SECRET)):
        self.http = httpx.Client(base_url=emulator.url, auth=auth, timeout=10)

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.request(method, BASE + path, json=body, **kw)

    def join(self, name: str, channel: str, **props: Any) -> httpx.Response:
        return self("POST", "/join", join_body(name, channel, **props))

    def state(self, agent_id: str) -> str:
        return self("GET", f"/agents/{agent_id}").json()["status"]

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[ConvoApi]:
    client = ConvoApi(emu)
    yield client
    client.close()


def _running(api: ConvoApi, agent_id: str) -> bool:
    return api.state(agent_id) == "RUNNING"


# ------------------------------------------------------------------------------------------ the happy path
def test_join_runs_speaks_keeps_history_and_leaves(emu: Emulator, api: ConvoApi) -> None:
    emu.join("room", 1001)
    r = api.join("agent-a1", "room")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "STARTING" and set(answer) == {"agent_id", "create_ts", "status"}
    agent_id = answer["agent_id"]
    assert wait_until(lambda: _running(api, agent_id))
    assert any(u["uid"] == AGENT_UID and u["bot"] for c in emu.channels() for u in c["users"])
    assert api("POST", f"/agents/{agent_id}/speak", {"text": "Welcome!", "priority": "INTERRUPT"}).status_code == 200
    assert api("POST", f"/agents/{agent_id}/interrupt", {}).status_code == 200
    history = api("GET", f"/agents/{agent_id}/history").json()
    assert {"role": "assistant", "content": "Welcome!"}.items() <= next(
        t for t in history["contents"] if t["content"] == "Welcome!"
    ).items()
    assert api("POST", f"/agents/{agent_id}/leave", {}).status_code == 200
    assert wait_until(lambda: api.state(agent_id) == "STOPPED", interval=0.15)
    gone = api("GET", f"/agents/{agent_id}/history")  # only while it runs
    assert gone.status_code == 404 and gone.json()["reason"] == "TaskNotFound"
    assert api("POST", f"/agents/{agent_id}/leave", {}).status_code == 404
    query = api("GET", f"/agents/{agent_id}").json()
    assert query["stop_ts"] >= query["start_ts"] and query["name"] == "agent-a1"


def test_pipeline_id_replaces_llm_and_tts(api: ConvoApi) -> None:
    body = join_body("agent-p", "room")
    del body["properties"]["llm"], body["properties"]["tts"]
    assert api("POST", "/join", body).status_code == 400
    body["pipeline_id"] = "pl-42"
    assert api("POST", "/join", body).status_code == 200


# ------------------------------------------------------------------------------------------ status codes
@pytest.mark.parametrize(
    ("change", "fragment"),
    [({"name": ""}, "name"), ({"properties": None}, "properties"), ({"agent_rtc_uid": 7}, "agent_rtc_uid"),
     ({"remote_rtc_uids": []}, "remote_rtc_uids"), ({"idle_timeout": -1}, "idle_timeout"),
     ({"channel": ""}, "channel"), ({"llm": {"api_key": "x"}}, "llm.url")],
)  # fmt: skip
def test_bad_bodies_are_400_with_a_reason(api: ConvoApi, change: dict[str, Any], fragment: str) -> None:
    body = join_body("agent-b", "room")
    for key, value in change.items():
        if key in ("name", "properties"):
            body[key] = value
        else:
            body["properties"][key] = value
    r = api("POST", "/join", body)
    assert r.status_code == 400 and fragment in r.json()["detail"]


def test_auth_and_unknown_agents(emu: Emulator, api: ConvoApi) -> None:
    wrong = ConvoApi(emu, auth=(CUSTOMER_ID, "nope"))
    assert wrong.join("agent-x", "room").status_code == 401
    wrong.close()
    assert api("GET", "/agents/NOPE").status_code == 404
    assert api("POST", "/agents/NOPE/speak", {"text": "hi"}).status_code == 404
    other_app = httpx.post(f"{emu.url}/api/conversational-ai-agent/v2/projects/{'0' * 32}/join",
                           json=join_body("a", "room"), auth=(CUSTOMER_ID, CUSTOMER_SECRET))  # fmt: skip
    assert other_app.status_code == 400
    not_json = api.http.post(BASE + "/join", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["reason"] == "InvalidRequest"


def test_a_second_join_with_a_live_name_is_409_and_a_freed_name_can_be_used_again(emu: Emulator, api: ConvoApi):
    first = api.join("agent-dup", "room").json()["agent_id"]
    second = api.join("agent-dup", "room")
    assert second.status_code == 409 and second.json()["reason"] == "TaskConflict"
    api("POST", f"/agents/{first}/leave", {})
    assert wait_until(lambda: api.state(first) == "STOPPED", interval=0.15)
    assert api.join("agent-dup", "room").status_code == 200


def test_quota_is_422_and_speak_limits(emu: Emulator, api: ConvoApi) -> None:
    emu.configure_agents(max_agents=1)
    emu.join("room", 1001)
    agent_id = api.join("agent-q1", "room").json()["agent_id"]
    r = api.join("agent-q2", "room")
    assert r.status_code == 422 and r.json()["reason"] == "ResourceQuotaLimitExceeded"
    early = api("POST", f"/agents/{agent_id}/speak", {"text": "too soon"})
    assert early.status_code in (200, 400)  # 400 while STARTING, 200 once RUNNING
    assert wait_until(lambda: _running(api, agent_id))
    assert api("POST", f"/agents/{agent_id}/speak", {"text": "x" * 513}).status_code == 400
    assert api("POST", f"/agents/{agent_id}/speak", {"text": "é" * 256}).status_code == 200  # 512 bytes
    assert api("POST", f"/agents/{agent_id}/speak", {"text": "é" * 257}).status_code == 400
    assert api("POST", f"/agents/{agent_id}/speak", {"text": "x", "priority": "LOUD"}).status_code == 400


def test_scripted_429_and_503(emu: Emulator, api: ConvoApi) -> None:
    emu.set_faults(script=["429@agent.join", "503@agent.join"])
    assert api.join("agent-t", "room").status_code == 429
    r = api.join("agent-t", "room")
    assert r.status_code == 503
    assert emu.agents_state()["agents"] == []  # nothing was started
    assert api.join("agent-t", "room").status_code == 200


def test_a_504_after_the_effect_created_the_agent_and_the_repeat_is_409(emu: Emulator, api: ConvoApi) -> None:
    emu.set_faults(script=["504_after@agent.join"])
    r = api.join("agent-amb", "room")
    assert r.status_code == 504
    [agent] = emu.agents_state()["agents"]
    assert agent["name"] == "agent-amb"
    assert api.join("agent-amb", "room").status_code == 409
    listed = api("GET", "/agents", params={"channel": "room", "state": "0,1,2,3,5"}).json()
    assert [a["agent_id"] for a in listed["data"]["list"]] == [agent["agent_id"]]
    assert emu.agents_state()["overlaps"] == []


# ------------------------------------------------------------------------------------------ the list
def test_list_defaults_to_running_and_pages_by_cursor(emu: Emulator, api: ConvoApi) -> None:
    emu.join("room", 1001)
    emu.configure_agents(agent_start_seconds=10_000)  # they stay STARTING until told otherwise
    ids = [api.join(f"agent-l{i}", "room", agent_rtc_uid=str(AGENT_UID + i)).json()["agent_id"] for i in range(5)]
    starting = api("GET", "/agents", params={"channel": "room"}).json()
    assert starting["data"]["count"] == 0  # state defaults to 2: the starting ones are not listed
    assert api("GET", "/agents", params={"channel": "room", "state": "1"}).json()["data"]["count"] == 5
    emu.configure_agents(agent_start_seconds=0)
    assert wait_until(lambda: all(_running(api, i) for i in ids))
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = api("GET", "/agents", params={"channel": "room", "limit": 2, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        assert body["meta"]["total"] == 5 and body["data"]["count"] <= 2
        seen += [a["agent_id"] for a in body["data"]["list"]]
        cursor = body["meta"]["cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert api("GET", "/agents", params={"channel": "elsewhere"}).json()["data"]["count"] == 0
    assert api("GET", "/agents", params={"state": "9"}).status_code == 400
    assert api("GET", "/agents", params={"limit": "x"}).status_code == 400
    old = api("GET", "/agents", params={"to_time": int(time.time()) - 86_400}).json()
    assert old["data"]["count"] == 0


def test_list_lag_hides_a_new_agent_for_a_while(emu: Emulator, api: ConvoApi) -> None:
    emu.configure_agents(list_lag_seconds=5)
    agent_id = api.join("agent-lag", "room").json()["agent_id"]
    assert api("GET", "/agents", params={"channel": "room", "state": "1,2"}).json()["data"]["count"] == 0
    assert wait_until(
        lambda: api("GET", "/agents", params={"channel": "room", "state": "1,2"}).json()["data"]["count"] == 1
    )
    assert api.state(agent_id) in ("STARTING", "RUNNING")


# ------------------------------------------------------------------------------------------ hostile lives
def test_idle_timeout_after_the_listened_users_leave(emu: Emulator, api: ConvoApi) -> None:
    emu.join("idle", 1001)
    agent_id = api.join("agent-idle", "idle", idle_timeout=3).json()["agent_id"]
    assert wait_until(lambda: _running(api, agent_id))
    emu.leave("idle", 1001)
    assert wait_until(lambda: api.state(agent_id) == "STOPPED", interval=0.15)
    assert api("GET", f"/agents/{agent_id}").json()["message"] == "idle timeout"


def test_failing_and_recovering_agents(emu: Emulator, api: ConvoApi) -> None:
    emu.configure_agents(agent_fail=1.0)
    emu.join("room", 1001)
    failed = api.join("agent-f", "room").json()["agent_id"]
    assert wait_until(lambda: api.state(failed) == "FAILED", interval=0.15)
    emu.configure_agents(agent_fail=0.0, recover_seconds=10_000)
    bad_token = api.join("agent-bt", "room", token="007garbage").json()["agent_id"]
    assert wait_until(lambda: api.state(bad_token) == "FAILED", interval=0.15)
    agent_id = api.join("agent-r", "room").json()["agent_id"]
    assert wait_until(lambda: _running(api, agent_id))
    assert api.http.post(f"{emu.url}/emulator/agents/{agent_id}/recover").status_code == 200
    assert api.state(agent_id) == "RECOVERING"
    assert api("GET", f"/agents/{agent_id}/history").status_code == 404
    assert api("POST", f"/agents/{agent_id}/speak", {"text": "hi"}).status_code == 400
    emu.configure_agents(recover_seconds=0)
    assert wait_until(lambda: _running(api, agent_id))


def test_an_expired_token_drops_the_agent_unless_updated(emu: Emulator, api: ConvoApi) -> None:
    emu.join("tok", 1001)
    kept = api.join("agent-kept", "tok", token=token("tok", expire=60)).json()["agent_id"]
    dropped = api.join("agent-dropped", "tok", token=token("tok", AGENT_UID + 1, 60), agent_rtc_uid=str(AGENT_UID + 1))
    dropped_id = dropped.json()["agent_id"]
    assert wait_until(lambda: _running(api, kept))
    fresh = api("POST", f"/agents/{kept}/update", {"properties": {"token": token("tok", expire=3600)}})
    assert fresh.status_code == 200
    assert api("POST", f"/agents/{kept}/update", {"properties": {"channel": "x"}}).status_code == 400
    assert wait_until(lambda: api.state(dropped_id) == "STOPPED", timeout=15, interval=0.15)
    assert api("GET", f"/agents/{dropped_id}").json()["message"] == "token expired"
    assert api.state(kept) == "RUNNING"


# ------------------------------------------------------------------------------------------ NCS product 17
def test_ncs_101_110_103_102_are_signed_and_sent() -> None:
    receiver = WebhookReceiver()
    try:
        with make_emulator(qps=0, time_scale=20, app_certificate=CERT, webhook_url=receiver.url,
                           ncs_secret="ncs-secret") as emu:  # fmt: skip
            api = ConvoApi(emu)
            emu.join("ncs", 1001)
            agent_id = api.join("agent-n", "ncs").json()["agent_id"]
            assert wait_until(lambda: _running(api, agent_id))
            api("POST", f"/agents/{agent_id}/speak", {"text": "hello"})
            api.http.post(f"{emu.url}/emulator/agents/{agent_id}/fail", json={"reason": "llm 500"})
            assert emu.flush_webhooks()
            api.close()
        bodies = [json.loads(raw) for _, raw in receiver.received]
        mine = [b for b in bodies if b["productId"] == 17]
        assert [b["eventType"] for b in mine] == [101, 110, 103, 102]
        assert all(b["sid"] == agent_id and b["payload"]["channel"] == "ncs" for b in mine)
        assert "hello" in [t["content"] for t in mine[2]["payload"]["contents"]]
        assert mine[3]["payload"]["reason"] == "llm 500" and mine[3]["payload"]["status"] == "FAILED"
        assert all("Agora-Signature-V2" in headers for headers, _ in receiver.received)
    finally:
        receiver.close()


def test_control_api_settings_are_checked(emu: Emulator) -> None:
    r = httpx.post(f"{emu.url}/emulator/agents/settings", json={"agent_fail": 2})
    assert r.status_code == 400
    r = httpx.post(f"{emu.url}/emulator/agents/settings", json={"agent_turn_seconds": 1})
    assert r.status_code == 200 and r.json()["agent_turn_seconds"] == 1
    assert httpx.get(f"{emu.url}/emulator/agents").json()["agents"] == []
