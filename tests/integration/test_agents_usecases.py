"""The agent use cases (service.agents.usecases) with the real ConvoAIClient against the hostile emulator, the
in-memory store (its contract with DynamoDB: tests/contract/test_agent_store_contract.py) and recorded history
and events: idempotent start and adoption after a 504 or a 409, never two agents and never an orphan, one agent
per profile per channel, speak/interrupt/leave, NCS 101/102/103/110 in any order, history kept, token renewal
and the hard maximum, and the reconciler both ways."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from agorakit.agora.convoai import ConvoAIClient
from agorakit.agora.errors import AgoraConflictError
from service.agents import usecases
from service.agents.fakes import InMemoryAgentStore, InMemoryHistory, RecordedEvents
from service.agents.profiles import parse_profiles
from service.channeltasks import botuids, lifecycle
from service.errors import BadRequest, Conflict, TooManyRequests

from emulator import Emulator
from tests.integration._emulator_fixtures import make_client, make_emulator, wait_until
from tests.integration.test_emulator_convoai import CERT, token

PROFILES = json.dumps(
    {
        "tutor": {
            "llm": {"url": "https://llm.example/v1/chat", "api_key": "{{secret:llm_key}}", "system_messages": []},
            "tts": {"vendor": "microsoft", "params": {"key": "{{secret:tts_key}}", "region": "eastus"}},
            "asr": {"language": "en-US"},
            "secret": "agents/tutor",
            "idle_timeout": 30,
        },
        "studio": {"pipeline_id": "pl-77"},
    }
)
SECRET = {"llm_key": "sk-llm-secret-42", "tts_key": "tts-secret-43"}


class Secrets:
    def __init__(self) -> None:
        self.reads: list[str] = []

    def get_json(self, name: str) -> dict[str, Any]:
        self.reads.append(name)
        return dict(SECRET)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emulator:
        emulator.join("room", 1001)
        yield emulator


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The in-memory store, and the DynamoDB repository on moto (in process): every case runs on both."""
    clock = Clock()
    if request.param == "memory":
        yield InMemoryAgentStore(clock)
        return
    import boto3
    from moto import mock_aws
    from service.agents.repository import TABLE_KEYS, AgentsRepository

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="agents", BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
        yield AgentsRepository("agents", client=ddb, clock=clock)


@pytest.fixture
def deps(emu: Emulator, store: Any) -> Iterator[usecases.AgentDeps]:
    with make_client([emu.url]) as agora:
        yield usecases.AgentDeps(
            store=store,
            agora=ConvoAIClient(agora),
            history=InMemoryHistory(),
            events=RecordedEvents(),
            profiles=parse_profiles(PROFILES),
            mint_token=token,
            secrets=Secrets(),
            rng=random.Random(5),
            sleep=lambda s: None,
        )


def start(deps: usecases.AgentDeps, **body: Any) -> Any:
    request = {"channel": "room", "profile": "tutor", "remoteUids": [1001], **body}
    return usecases.start_agent(usecases.parse_start(request, requested_by="admin", deps=deps), deps)


def running(deps: usecases.AgentDeps, emu: Emulator, agent_id: str) -> bool:
    record = deps.store.get(agent_id)
    assert record is not None and record.agora_agent_id
    return emu.agents_state()["agents"][0]["status"] == "RUNNING" if record else False


def test_start_sends_the_profile_with_its_secrets_and_never_shows_them(emu: Emulator, deps: usecases.AgentDeps):
    record = start(deps)
    assert record.state == lifecycle.STARTING and record.agora_agent_id and not record.adopted
    assert record.bot_uid in botuids.AGENT and record.name == f"agent-{record.agent_id}"
    [agent] = emu.agents_state()["agents"]
    assert agent["agent_rtc_uid"] == str(record.bot_uid)
    view = json.dumps(record.view(deps.store.now_ms()))
    assert "sk-llm-secret-42" not in view and "tts-secret-43" not in view and "llm.example" not in view
    assert deps.secrets is not None and deps.secrets.reads == ["agents/tutor"]  # type: ignore[attr-defined]


def test_one_agent_per_profile_per_channel_unless_asked(deps: usecases.AgentDeps) -> None:
    first = start(deps)
    with pytest.raises(Conflict) as caught:
        start(deps)
    assert caught.value.details == {"agentId": first.agent_id}
    second = start(deps, exclusive=False)
    assert second.bot_uid != first.bot_uid
    assert start(deps, profile="studio").agora_agent_id  # another profile: another slot


@pytest.mark.parametrize(
    "body",
    [{"profile": "nope"}, {"remoteUids": []}, {"remoteUids": [4_100_000_000]}, {"channel": "bad/name"},
     {"llm": {"url": "x"}}, {"maxDurationSeconds": 10}, {"remoteUids": [1001, 1001]}, {"exclusive": "yes"}],
)  # fmt: skip
def test_bad_start_bodies_are_precise_400s(deps: usecases.AgentDeps, body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        start(deps, **body)


def test_an_ambiguous_504_after_the_effect_is_adopted_never_doubled(emu: Emulator, deps: usecases.AgentDeps):
    emu.set_faults(script=["504_after@agent.join", "504@agent.join", "504@agent.join", "504@agent.join"])
    record = start(deps)
    state = emu.agents_state()
    assert record.adopted and [a["agent_id"] for a in state["agents"]] == [record.agora_agent_id]
    assert state["overlaps"] == []


def test_a_504_that_did_nothing_starts_again_under_the_same_name(emu: Emulator, deps: usecases.AgentDeps):
    emu.set_faults(script=[*["504@agent.join"] * 5])  # the client's own retries all fail: nothing was created
    record = start(deps)
    [agent] = emu.agents_state()["agents"]
    assert agent["name"] == record.name and record.agora_agent_id == agent["agent_id"]


def test_a_listing_that_lags_is_looked_at_again(emu: Emulator, deps: usecases.AgentDeps) -> None:
    emu.configure_agents(list_lag_seconds=2)  # 0.1 s real: seen on a later look
    deps.sleep = lambda s: emu.wait_for(lambda e: False, timeout=0.1)
    emu.set_faults(script=["504_after@agent.join", *["504@agent.join"] * 4])
    record = start(deps)
    assert record.adopted and len(emu.agents_state()["agents"]) == 1


def test_quota_fails_with_the_reason_and_frees_the_slot(emu: Emulator, deps: usecases.AgentDeps) -> None:
    emu.configure_agents(max_agents=0)
    with pytest.raises(TooManyRequests) as refused:  # Agora's 422: a precise 429, not a 201 of a failed agent
        start(deps)
    assert "quota" in refused.value.message and refused.value.headers == {"Retry-After": "30"}
    record = deps.store.get(refused.value.details["agentId"])
    assert record is not None and record.state == lifecycle.FAILED and record.last_error is not None
    assert record.last_error.http_status == 422 and not record.counted
    assert deps.store.running() == 0  # its running place was given back with its end
    emu.configure_agents(max_agents=20)
    assert start(deps).state == lifecycle.STARTING  # the slot was released


def test_speak_interrupt_leave_keep_the_history(emu: Emulator, deps: usecases.AgentDeps) -> None:
    record = start(deps)
    with pytest.raises(Conflict):  # not RUNNING yet: a precise 409
        usecases.speak(record.agent_id, {"text": "hi"}, deps)
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    for envelope in emu.events():
        if envelope["productId"] == 17:
            usecases.apply_event(envelope, deps)
    assert usecases.get_agent(record.agent_id, deps).state == lifecycle.RUNNING
    with pytest.raises(BadRequest):
        usecases.speak(record.agent_id, {"text": "x" * 513}, deps)
    usecases.speak(record.agent_id, {"text": "Welcome to the class"}, deps)
    usecases.interrupt(record.agent_id, deps)
    left = usecases.leave_agent(record.agent_id, deps)
    assert left.state == lifecycle.STOPPING and left.history_key
    history = deps.history.objects[left.history_key]  # type: ignore[attr-defined]
    assert "Welcome to the class" in [t["content"] for t in history["turns"]] and history["source"] == "poll"
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "STOPPED")
    for envelope in emu.events():
        if envelope["productId"] == 17:
            usecases.apply_event(envelope, deps)
    ended = usecases.get_agent(record.agent_id, deps)
    assert ended.state == lifecycle.STOPPED and ended.ended_ms is not None
    types = deps.events.types()  # type: ignore[attr-defined]
    assert types[0] == "AgentRequested" and "AgentStarted" in types and types[-1] == "AgentEnded"


def test_ncs_in_any_order_never_resurrects(emu: Emulator, deps: usecases.AgentDeps) -> None:
    record = start(deps)
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    emu.configure_agents(agent_turn_seconds=0.2)
    assert wait_until(lambda: emu.agents_state()["agents"][0]["turns"] >= 2)
    emu.world.agent_fail_now(record.agora_agent_id, "llm 500")  # 110, 103, 102
    events = [e for e in emu.events() if e["productId"] == 17]
    assert [e["eventType"] for e in events] == [101, 110, 103, 102]
    for envelope in reversed(events):  # the worst order: left first, joined last
        usecases.apply_event(envelope, deps)
        usecases.apply_event(envelope, deps)  # and every one twice
    final = usecases.get_agent(record.agent_id, deps)
    assert final.state == lifecycle.FAILED and final.end_reason == "llm 500"
    assert final.last_error is not None and final.last_error.reason == "llm 500"
    assert final.history_key and final.history_turns >= 2
    assert deps.history.objects[final.history_key]["source"] == "ncs-103"  # type: ignore[attr-defined]


def test_lifecycle_step_renews_the_token_then_ends_at_the_maximum(emu: Emulator, deps: usecases.AgentDeps) -> None:
    clock = deps.store._clock  # type: ignore[attr-defined]
    deps.max_seconds = 7 * 86_400
    record = start(deps, maxDurationSeconds=3 * 86_400)
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    first = usecases.lifecycle_step(record.agent_id, deps)  # no NCS here: the step reads Agora's RUNNING
    assert first["done"] is False and first["waitUntilMs"] == record.token_expires_ms - 600_000
    clock.now = first["waitUntilMs"] / 1000
    second = usecases.lifecycle_step(record.agent_id, deps)
    renewed = usecases.get_agent(record.agent_id, deps)
    assert renewed.renewals == 1 and emu.agents_state()["agents"][0]["updates"] == 1
    assert second["waitUntilMs"] > first["waitUntilMs"]
    clock.now = renewed.max_at_ms / 1000
    usecases.lifecycle_step(record.agent_id, deps)  # past renew_at too: the maximum comes first
    assert usecases.get_agent(record.agent_id, deps).state in (lifecycle.STOPPING, lifecycle.STOPPED)
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "STOPPED")


def test_a_lost_101_is_made_up_by_the_lifecycle_reading_agoras_state(emu: Emulator, deps: usecases.AgentDeps) -> None:
    record = start(deps)
    assert record.state == lifecycle.STARTING
    early = usecases.lifecycle_step(record.agent_id, deps)
    if usecases.get_agent(record.agent_id, deps).state == lifecycle.STARTING:  # Agora still starting it
        assert early["waitUntilMs"] <= deps.store.now_ms() + usecases.STARTING_POLL_MS
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    usecases.lifecycle_step(record.agent_id, deps)
    running = usecases.get_agent(record.agent_id, deps)
    assert running.state == lifecycle.RUNNING and running.started_ms is not None
    emu.world.agent_leave(running.agora_agent_id)  # and a lost 102: Agora ended it
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "STOPPED")
    deps.store.save(running.with_(state=lifecycle.RECOVERING))  # (a RECOVERING agent is polled the same way)
    assert usecases.lifecycle_step(record.agent_id, deps) == {"done": True}
    assert usecases.get_agent(record.agent_id, deps).state == lifecycle.STOPPED


def test_the_reconciler_ends_ours_agora_dropped_and_stops_orphans(emu: Emulator, deps: usecases.AgentDeps) -> None:
    deps.reconcile_grace_seconds = 0
    ours = start(deps)
    gone = start(deps, profile="studio")
    emu.set_faults(script=["504_after@agent.join"])
    orphan_name = "agent-0rphan"  # one of ours by name, with no record (a lost table write)
    from agorakit.agora.convoai import JoinRequest

    request = JoinRequest(name=orphan_name, channel="room", token=token("room", 4_100_000_111), agent_uid=4_100_000_111,
                          remote_uids=[1001], pipeline_id="pl-1")  # fmt: skip
    with pytest.raises(AgoraConflictError):  # the 504s, then the repeat's 409: the orphan is at Agora
        deps.agora.join(request)
    assert gone.agora_agent_id is not None
    emu.world.agent_fail_now(gone.agora_agent_id, "vendor down")  # its 102 is lost: we still think it runs
    report = usecases.reconcile(deps)
    assert report.ended == [gone.agent_id]
    assert len(report.stopped) == 1 and report.kept == 1
    assert usecases.get_agent(ours.agent_id, deps).state == lifecycle.STARTING
    assert wait_until(
        lambda: [a["status"] for a in emu.agents_state()["agents"] if a["name"] == orphan_name] == ["STOPPED"]
    )


def test_random_ambiguous_failures_never_leave_a_double_or_an_orphan(emu: Emulator, deps: usecases.AgentDeps):
    """Seeded: half of the join requests fail with 504 or no answer, half of those after the agent was created."""
    emu.set_faults(rate_504=0.3, rate_timeout=0.2, after_effect=0.5, timeout_ms=200)
    records = []
    for i in range(8):
        emu.join(f"room{i}", 1001)
        records.append(start(deps, channel=f"room{i}"))
    emu.set_faults(clear=True)
    assert emu.agents_state()["overlaps"] == []  # never two agents for one start
    records = [usecases.get_agent(r.agent_id, deps) for r in records]
    assert all(r.state in (lifecycle.STARTING, lifecycle.FAILED) for r in records)
    deps.reconcile_grace_seconds = 0
    usecases.reconcile(deps)  # a start that gave up while its agent was created: that agent is stopped
    assert wait_until(
        lambda: (
            {a["agent_id"] for a in emu.agents_state()["agents"] if a["status"] not in ("STOPPED", "FAILED")}
            == {r.agora_agent_id for r in records if r.state == lifecycle.STARTING}
        )
    )
    live = [r for r in records if r.state == lifecycle.STARTING]
    assert live and all(r.agora_agent_id for r in live)
