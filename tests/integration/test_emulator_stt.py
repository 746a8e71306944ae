"""Real-Time STT v7 against the emulator through the typed client (agorakit.agora.stt): join keyed by name (409 on
a running name), the states, update's increasing sequenceId, list with its cursor, leave; NCS product 20 with the
agent id as sid (through the lossy, duplicating, reordering sender); 504 after the effect; tasks that fail; the
72-hour limit in scaled time; the transcript JSON and WebVTT captions uploaded to S3."""

from __future__ import annotations

import json

import boto3
import pytest
from agorakit.agora.errors import AgoraNotFoundError, AgoraParameterError, AgoraServerError
from agorakit.agora.stt import SttClient, SttJoin, SttNameConflict
from agorakit.captions import parse_transcript, parse_webvtt

from tests.integration._emulator_fixtures import (
    WebhookReceiver,
    make_client,
    make_emulator,
    moto_s3,
    storage,
    wait_until,
)

BOT = 4_175_000_001


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3("stt-bucket") as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def emu(s3_endpoint, receiver):
    emulator = make_emulator(qps=1000, time_scale=50.0, s3_endpoint=s3_endpoint, s3_bucket="stt-bucket",
                             webhook_url=receiver.url, ncs_secret="ncs-secret").start()  # fmt: skip
    yield emulator
    emulator.stop()


@pytest.fixture
def stt(emu):
    emu.set_faults(clear=True)
    emu.stt_configure(max_lifetime=259_200, fail_rate=0.0)
    client = make_client([emu.url])
    yield SttClient(client)
    client.close()


def join(name: str, channel: str, **kw) -> SttJoin:
    return SttJoin(name=name, channel=channel, languages=["en-US"], bot_uid=kw.pop("bot_uid", BOT), **kw)


def status(emu, agent_id: str) -> str:
    return next(a["status"] for a in emu.stt_history() if a["agent_id"] == agent_id)


def test_join_runs_transcribes_updates_lists_and_leaves(emu, stt) -> None:
    emu.join("stt-room-1", 1001)
    agent = stt.join(join("room-1-stt", "stt-room-1", caption_storage=storage(["captions", "room1"], "stt-bucket"),
                          translate={"en-US": ["fr-FR"]}))  # fmt: skip
    assert agent.status == "STARTING" and agent.create_ts
    assert wait_until(lambda: stt.get(agent.agent_id).status == "RUNNING")
    users = next(ch["users"] for ch in emu.channels() if ch["cname"] == "stt-room-1")
    assert {(u["uid"], u["bot"]) for u in users} == {(1001, False), (BOT, True)}
    with pytest.raises(SttNameConflict):  # the name is an idempotency key while it runs
        stt.join(join("room-1-stt", "stt-room-1"))
    assert [a.agent_id for a in stt.list_agents(channel="stt-room-1")] == [agent.agent_id]
    assert stt.find_running("room-1-stt", "stt-room-1").agent_id == agent.agent_id
    stt.update(agent.agent_id, 1, languages=["en-US", "es-ES"])
    with pytest.raises(AgoraParameterError):  # sequenceId must increase
        stt.update(agent.agent_id, 1, languages=["en-US"])
    stt.update(agent.agent_id, 5, subscribe_uids=[1001])
    assert wait_until(lambda: next(a for a in emu.stt_history() if a["agent_id"] == agent.agent_id)["cues"] >= 2)
    assert stt.leave(agent.agent_id) is True
    assert stt.get(agent.agent_id).status == "STOPPED"
    assert stt.leave(agent.agent_id) is False  # already gone: 404
    assert emu.drain_uploads()
    s3 = boto3.client("s3", endpoint_url=emu.uploader.endpoint_url, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="stt-bucket", Prefix="captions/room1/")["Contents"]]
    assert sorted(k.rsplit("_", 1)[-1] for k in keys) == ["en-US.vtt", "es-ES.vtt", "fr-FR.vtt", "transcript.json"]
    transcript = parse_transcript(
        s3.get_object(Bucket="stt-bucket", Key=next(k for k in keys if k.endswith(".json")))["Body"].read()
    )
    assert transcript.agent_id == agent.agent_id and len(transcript.cues) >= 2
    assert {c.uid for c in transcript.cues} == {1001}  # never the bot
    assert all(transcript.start_ms <= c.start_ms <= c.end_ms <= transcript.end_ms for c in transcript.cues)
    english = s3.get_object(Bucket="stt-bucket", Key=next(k for k in keys if k.endswith("en-US.vtt")))["Body"].read()
    base, cues = parse_webvtt(english.decode())
    assert base == transcript.start_ms and len(cues) == len(transcript.cues)
    french = s3.get_object(Bucket="stt-bucket", Key=next(k for k in keys if k.endswith("fr-FR.vtt")))["Body"].read()
    assert "[fr-FR]" in french.decode()


def test_ncs_product_20_has_the_agent_id_as_sid(emu, stt, receiver) -> None:
    emu.join("stt-room-2", 1002)
    agent = stt.join(join("room-2-stt", "stt-room-2"))
    assert wait_until(lambda: stt.get(agent.agent_id).status == "RUNNING")
    stt.leave(agent.agent_id)
    assert emu.flush_webhooks()
    mine = [e for e in receiver.envelopes() if e["productId"] == 20 and e["sid"] == agent.agent_id]
    assert [e["payload"]["status"] for e in mine] == ["STARTING", "RUNNING", "STOPPING", "STOPPED"]
    assert [e["payload"]["sequence"] for e in mine] == [1, 2, 3, 4]
    assert all(e["payload"]["channel"] == "stt-room-2" for e in mine)


def test_a_504_after_the_effect_leaves_one_agent_and_the_retry_hears_409(emu, stt) -> None:
    emu.join("stt-room-3", 1003)
    emu.set_faults(script=["504_after@stt.join"])
    with pytest.raises(SttNameConflict):  # the client retried the ambiguous join: the name was running
        stt.join(join("room-3-stt", "stt-room-3"))
    found = stt.find_running("room-3-stt", "stt-room-3")
    assert found is not None
    assert [a["agent_id"] for a in emu.stt_history() if a["name"] == "room-3-stt"] == [found.agent_id]
    assert emu.stt_overlaps() == []
    stt.leave(found.agent_id)


def test_a_failing_task_ends_failed_and_idle_and_the_72_hour_limit_end_it(emu, stt) -> None:
    emu.stt_configure(fail_rate=1.0)
    failing = stt.join(join("room-4-stt", "stt-room-4", max_idle_seconds=0))
    assert wait_until(lambda: stt.get(failing.agent_id).status == "FAILED")
    emu.stt_configure(fail_rate=0.0, max_lifetime=100)  # 100 emulated seconds = 2 s at time_scale 50
    emu.join("stt-room-5", 1005)
    capped = stt.join(join("room-5-stt", "stt-room-5", max_idle_seconds=0))
    assert wait_until(lambda: stt.get(capped.agent_id).status == "STOPPED", timeout=15)
    assert next(a for a in emu.stt_history() if a["agent_id"] == capped.agent_id)["stop_reason"].startswith(
        "max lifetime"
    )
    idle = stt.join(join("room-6-stt", "stt-room-6", max_idle_seconds=5))  # nobody speaks: idle after 5 s
    assert wait_until(lambda: stt.get(idle.agent_id).status == "STOPPED", timeout=15)
    assert next(a for a in emu.stt_history() if a["agent_id"] == idle.agent_id)["stop_reason"] == "idle"
    # an ended name may be joined again (a restart), a new agent id
    again = stt.join(join("room-5-stt", "stt-room-5", max_idle_seconds=0))
    assert again.agent_id != capped.agent_id
    stt.leave(again.agent_id)


def test_agora_answers_bad_requests_precisely(emu, stt) -> None:
    client = stt._client
    base = f"/api/speech-to-text/v1/projects/{client.app_id}"
    cases = [
        {"name": "x", "languages": [], "rtcConfig": {"channelName": "c", "pubBotUid": "1"}},
        {"name": "x", "languages": ["en-US"] * 5, "rtcConfig": {"channelName": "c", "pubBotUid": "1"}},
        {"name": "x", "languages": ["en-US"], "rtcConfig": {"channelName": "c"}},
        {"name": "x", "languages": ["en-US"], "maxIdleTime": -1, "rtcConfig": {"channelName": "c", "pubBotUid": "1"}},
        {"name": "x", "languages": ["en-US"], "rtcConfig": {"channelName": "c", "pubBotUid": "1"},
         "uidLanguagesConfig": [{"uid": str(u), "languages": ["en-US"]} for u in range(1, 7)]},
    ]  # fmt: skip
    for body in cases:
        with pytest.raises(AgoraParameterError) as info:
            client._call("stt.join", "POST", f"{base}/join", body=body)
        assert info.value.http_status == 400, body
    with pytest.raises(AgoraNotFoundError):
        stt.get("NOSUCHAGENT")
    with pytest.raises(AgoraParameterError):
        client._call("stt.list", "GET", f"{base}/agents", params={"state": "9"})


def test_a_join_503_is_retried_and_the_name_keeps_it_single(emu, stt) -> None:
    emu.set_faults(script=["5xx@stt.join", "5xx@stt.join"])
    agent = stt.join(join("room-7-stt", "stt-room-7"))
    assert [a["agent_id"] for a in emu.stt_history() if a["name"] == "room-7-stt"] == [agent.agent_id]
    emu.set_faults(script=["5xx@stt.join"] * 10)
    with pytest.raises(AgoraServerError):
        stt.join(join("room-8-stt", "stt-room-8"))
    emu.set_faults(clear=True)
    stt.leave(agent.agent_id)


def test_the_control_api_shows_agents_and_rejects_unknown_settings(emu) -> None:
    import httpx

    answer = httpx.post(f"{emu.url}/emulator/stt", json={"nope": 1})
    assert answer.status_code == 400 and "unknown stt settings" in answer.json()["message"]
    state = httpx.get(f"{emu.url}/emulator/stt").json()
    assert {"settings", "agents", "overlaps"} <= set(state)
    assert json.dumps(state)


def test_upload_seconds_writes_the_files_so_far_while_it_runs_without_a_files_notice(emu, stt, receiver) -> None:
    """Off by default (the files at the end only); with ``upload_seconds`` a running agent rewrites its files under
    their final keys as cues come (what the web example's live captions read), and only the end sends event 2."""
    emu.join("stt-room-live", 1009)
    emu.stt_configure(upload_seconds=5)
    try:
        agent = stt.join(join("room-live-stt", "stt-room-live", caption_storage=storage(["captions", "live"],
                                                                                         "stt-bucket")))  # fmt: skip
        s3 = boto3.client("s3", endpoint_url=emu.uploader.endpoint_url, region_name="us-east-1")

        def english_cues() -> int:
            listed = s3.list_objects_v2(Bucket="stt-bucket", Prefix="captions/live/").get("Contents", [])
            key = next((o["Key"] for o in listed if o["Key"].endswith("en-US.vtt")), None)
            if key is None:
                return 0
            return len(parse_webvtt(s3.get_object(Bucket="stt-bucket", Key=key)["Body"].read().decode())[1])

        assert wait_until(lambda: english_cues() >= 2, timeout=30)
        assert stt.get(agent.agent_id).status == "RUNNING"  # written while it runs
        assert emu.flush_webhooks()
        mine = [e for e in receiver.envelopes() if e["productId"] == 20 and e["sid"] == agent.agent_id]
        assert mine and all("fileList" not in e["payload"] for e in mine)  # no files notice before the end
        stt.leave(agent.agent_id)
        assert emu.drain_uploads() and emu.flush_webhooks()
        mine = [e for e in receiver.envelopes() if e["productId"] == 20 and e["sid"] == agent.agent_id]
        assert sum("fileList" in e["payload"] for e in mine) == 1
    finally:
        emu.stt_configure(upload_seconds=0)
    with pytest.raises(ValueError, match="upload_seconds"):
        emu.stt_configure(upload_seconds=-1)


def bot_token(emu, channel: str, seconds: int, uid: int = BOT) -> str:
    """An AccessToken2 for the bot issued now on the emulator's (scaled) clock."""
    from agorakit.tokens import build_rtc_token

    from tests.integration._emulator_fixtures import APP_ID

    return build_rtc_token(app_id=APP_ID, app_certificate="0123456789abcdef0123456789abcdef", channel_name=channel,
                           uid=uid, role="publisher", expire=seconds,
                           issue_ts=int(emu.world.clock.epoch()))  # fmt: skip


def test_a_bot_whose_token_expires_is_dropped_and_its_task_fails(emu, stt) -> None:
    """v7's ``update`` has no token field: the bot's token ends the task. 60 emulated seconds = 1.2 s here."""
    emu.join("stt-room-token", 1010)
    short = stt.join(join("room-token-stt", "stt-room-token", max_idle_seconds=0,
                          bot_token=bot_token(emu, "stt-room-token", 60)))  # fmt: skip
    day = stt.join(join("room-token-day", "stt-room-token", bot_uid=BOT + 1, max_idle_seconds=0,
                        bot_token=bot_token(emu, "stt-room-token", 86_400, BOT + 1)))  # fmt: skip
    assert wait_until(lambda: stt.get(short.agent_id).status == "RUNNING")
    assert wait_until(lambda: stt.get(short.agent_id).status == "FAILED", timeout=15)
    ended = next(a for a in emu.stt_history() if a["agent_id"] == short.agent_id)
    assert ended["stop_reason"] == "token expired"
    users = {u["uid"] for c in emu.channels() if c["cname"] == "stt-room-token" for u in c["users"]}
    assert BOT not in users and BOT + 1 in users  # dropped from the channel; the other bot's token is still good
    assert stt.get(day.agent_id).status == "RUNNING"
    stt.leave(day.agent_id)
    client = stt._client
    body = {"name": "x", "languages": ["en-US"], "rtcConfig": {"channelName": "c", "pubBotUid": "1",
                                                                 "pubBotToken": "007not-a-token"}}  # fmt: skip
    with pytest.raises(AgoraParameterError) as info:
        client._call("stt.join", "POST", f"/api/speech-to-text/v1/projects/{client.app_id}/join", body=body)
    assert info.value.http_status == 400 and "pubBotToken" in str(info.value)
