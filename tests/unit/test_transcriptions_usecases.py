"""service.transcriptions use cases on the in-memory fakes, in virtual time: start and adoption after a 409 or an
ambiguous 504 (never two agents), one transcription per channel, update with an atomically increased sequenceId,
stop, NCS product 20 applied in order whatever the delivery order, the 72-hour restart, and the pure rules."""

from __future__ import annotations

import random

import pytest
from agorakit.agora.errors import AgoraServerError
from service.errors import BadRequest, Conflict, NotFound
from service.recordings.fakes import FakeClock
from service.transcriptions import logic
from service.transcriptions.fakes import FakeStt, InMemoryTranscriptionStore
from service.transcriptions.usecases import StartCommand, TranscriptionService


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def agora(clock) -> FakeStt:
    return FakeStt(clock)


@pytest.fixture
def svc(clock, agora) -> TranscriptionService:
    return TranscriptionService(InMemoryTranscriptionStore(clock), agora, clock, rng=random.Random(3),
                                channel_uids=lambda channel: [1001])  # fmt: skip


def live(agora: FakeStt) -> list[dict]:
    return [a for a in agora.agents.values() if a["status"] not in ("STOPPED", "FAILED")]


def test_start_joins_one_agent_with_a_bot_uid_from_the_stt_slice(svc, agora) -> None:
    t = svc.start(StartCommand("room", ["en-US"], translate={"en-US": ["fr-FR"]}))
    assert t.status == logic.STARTING and t.agent_id is not None and t.agents == (t.agent_id,)
    assert logic.BOT_UID_LOW <= t.bot_uid <= logic.BOT_UID_HIGH
    body = agora.agents[t.agent_id]["request"]
    assert body["name"] == f"tx-{t.id}" == logic.agent_name(t.id, 0)
    assert body["rtcConfig"] == {"channelName": "room", "pubBotUid": str(t.bot_uid)}
    assert body["translateConfig"] == {"enable": True, "languages": [{"source": "en-US", "target": ["fr-FR"]}]}
    with pytest.raises(Conflict) as busy:  # one transcription per channel
        svc.start(StartCommand("room", ["en-US"]))
    assert busy.value.details == {"transcription_id": t.id}


def test_a_504_after_the_join_took_effect_is_adopted_not_repeated(svc, agora) -> None:
    agora.script = ["504_after"]
    t = svc.start(StartCommand("room", ["en-US"]))
    assert len(agora.agents) == 1 and t.agent_id == next(iter(agora.agents))
    assert [c[0] for c in agora.calls][:2] == ["join", "list"]


def test_a_409_on_join_adopts_the_running_agent(svc, agora, clock) -> None:
    t = svc.start(StartCommand("room", ["en-US"]))
    again = svc.join_generation(svc.get(t.id), 0)  # a retried step: the name is running
    assert again.agent_id == t.agent_id and len(agora.agents) == 1


def test_a_504_that_did_not_start_anything_fails_the_record_and_frees_the_channel(svc, agora) -> None:
    agora.script = ["504"]
    with pytest.raises(AgoraServerError):  # the central mapping answers 503
        svc.start(StartCommand("room", ["en-US"]))
    failed = svc.list(channel="room")[0][0]
    assert failed.status == logic.FAILED and "did not start" in (failed.last_error or "")
    assert svc.start(StartCommand("room", ["en-US"])).status == logic.STARTING


def test_update_takes_increasing_sequence_ids_and_a_refused_one_is_a_conflict(svc, agora) -> None:
    t = svc.start(StartCommand("room", ["en-US"]))
    u1 = svc.update(t.id, languages=["en-US", "es-ES"])
    assert u1.sequence_id == 0 and u1.applied_sequence == 0 and u1.languages == ("en-US", "es-ES")
    u2 = svc.update(t.id, subscribe_uids=[1001])
    assert u2.sequence_id == 1 and u2.subscribe_uids == (1001,) and u2.languages == ("en-US", "es-ES")
    agora.agents[t.agent_id]["sequence"] = 10  # another writer's later update reached Agora first
    with pytest.raises(Conflict):
        svc.update(t.id, languages=["de-DE"])
    assert svc.get(t.id).languages == ("en-US", "es-ES")  # the refused configuration is not stored
    with pytest.raises(BadRequest):
        svc.update(t.id)
    with pytest.raises(BadRequest):
        svc.update(t.id, languages=["en-US"] * 2)
    with pytest.raises(BadRequest):
        svc.update(t.id, subscribe_uids=[4_000_000_123])  # a bot is never transcribed


def test_a_stale_update_never_overwrites_a_newer_stored_configuration(clock) -> None:
    store = InMemoryTranscriptionStore(clock)
    svc = TranscriptionService(store, FakeStt(clock), clock, rng=random.Random(1))
    t = svc.start(StartCommand("room", ["en-US"]))
    assert store.save_config(t.id, 5, languages=["fr-FR"]) is True
    assert store.save_config(t.id, 4, languages=["de-DE"]) is False
    assert store.get(t.id).languages == ("fr-FR",)


def test_stop_leaves_and_settles_and_is_idempotent(svc, agora) -> None:
    t = svc.start(StartCommand("room", ["en-US"]))
    stopped = svc.stop(t.id)
    assert stopped.status == logic.STOPPED and stopped.stop_reason == "stopped by the API"
    assert live(agora) == []
    assert svc.stop(t.id).status == logic.STOPPED
    with pytest.raises(Conflict):
        svc.update(t.id, languages=["en-US"])
    with pytest.raises(NotFound):
        svc.stop("nope")


def notice(agent_id: str, status: str, ts: int, event_type: int = 1, **payload) -> dict:
    return {"productId": 20, "eventType": event_type, "sid": agent_id, "notifyMs": ts,
            "payload": {"status": status, "ts": ts, **payload}}  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_ncs_20_is_applied_in_order_whatever_the_delivery_order(svc, agora, seed) -> None:
    t = svc.start(StartCommand(f"room-{seed}", ["en-US"]))
    base = 1_760_000_000_000
    notices = [notice(t.agent_id, s, base + i) for i, s in enumerate(["STARTING", "RUNNING", "STOPPING", "STOPPED"])]
    notices += notices[:2]  # duplicates
    random.Random(seed).shuffle(notices)
    for envelope in notices:
        svc.apply_notice(envelope)
    final = svc.get(t.id)
    assert final.status == logic.STOPPED and final.ended_at_ms is not None
    assert svc.start(StartCommand(f"room-{seed}", ["en-US"])).status == logic.STARTING  # the lock was released


def test_files_notices_are_kept_once_and_unknown_notices_change_nothing(svc) -> None:
    t = svc.start(StartCommand("room", ["en-US"]))
    files = ["captions/a_transcript.json", "captions/a_en-US.vtt"]
    for _ in range(2):
        svc.apply_notice(notice(t.agent_id, "STOPPING", 1, event_type=2, fileList=files))
    assert svc.get(t.id).files == tuple(sorted(files))
    assert svc.apply_notice({"productId": 3, "sid": t.agent_id}) is None
    assert svc.apply_notice(notice("someone-else", "STOPPED", 5)) is None
    assert svc.apply_notice(notice(t.agent_id, "BOGUS", 5)).status == logic.STARTING


def test_the_restart_joins_the_next_generation_before_the_old_agent_leaves(svc, agora, clock) -> None:
    t = svc.start(StartCommand("room", ["en-US"]))
    svc.apply_notice(notice(t.agent_id, "RUNNING", int(clock() * 1000)))
    due = svc.restart_due_ms(t.id)
    assert due == svc.get(t.id).started_at_ms + logic.LIFETIME_MS - logic.RESTART_MARGIN_MS
    clock.advance(72 * 3600 - 600)
    restarted = svc.restart(t.id)
    assert restarted.generation == 1 and restarted.agent_id != t.agent_id
    assert restarted.agents == (t.agent_id, restarted.agent_id) and restarted.status == logic.RUNNING
    assert [a["name"] for a in live(agora)] == [logic.agent_name(t.id, 1)]
    # the old agent's STOPPED notice is its generation's end, not the transcription's
    assert svc.apply_notice(notice(t.agent_id, "STOPPED", int(clock() * 1000))).status == logic.RUNNING
    assert svc.restart(t.id).generation == 2  # a later restart goes on; a stopped record is not restarted
    svc.stop(t.id)
    assert svc.restart(t.id).status == logic.STOPPED and svc.restart_due_ms(t.id) is None


def test_the_restart_comes_before_the_bot_token_expires_every_day_of_the_72_hours(clock, agora) -> None:
    """v7's update cannot renew a token: the next agent joins (with a fresh token) ``restart_margin_ms`` before the
    current one's token expires, and before the 72 hours when that comes first (``channeltasks.schedule``)."""
    minted: list[tuple[str, int, int, int]] = []

    def sign(channel: str, uid: int, issued_at_s: int, seconds: int) -> str:
        minted.append((channel, uid, issued_at_s, seconds))
        return f"007token-{len(minted)}"

    svc = TranscriptionService(InMemoryTranscriptionStore(clock), agora, clock, bot_token=sign,
                               rng=random.Random(3))  # fmt: skip
    t = svc.start(StartCommand("room", ["en-US"]))
    issued = minted[0][2]
    assert minted[0][1:] == (t.bot_uid, issued, 86_400) and issued == int(clock())
    assert agora.agents[t.agent_id]["request"]["rtcConfig"]["pubBotToken"] == "007token-1"
    assert t.token_expires_ms == (issued + 86_400) * 1000
    assert svc.restart_due_ms(t.id) == t.token_expires_ms - logic.RESTART_MARGIN_MS  # the token's day comes first
    generations = []
    for _ in range(4):
        step = svc.restart_step(t.id)
        due = svc.restart_due_ms(t.id)
        assert step["done"] is False and due is not None
        assert due <= svc.get(t.id).token_expires_ms - logic.RESTART_MARGIN_MS
        clock.advance(due / 1000 - clock())
        generations.append(svc.restart_step(t.id)["generation"])
    assert generations == [1, 2, 3, 4] and len(minted) == 5
    last = svc.get(t.id)
    assert last.token_expires_ms == (minted[-1][2] + 86_400) * 1000 and len(live(agora)) == 1
    # without a certificate there is no token: only the 72 hours count
    plain = TranscriptionService(InMemoryTranscriptionStore(clock), agora, clock, rng=random.Random(4))
    p = plain.start(StartCommand("other", ["en-US"]))
    assert p.token_expires_ms is None
    assert plain.restart_due_ms(p.id) == p.started_at_ms + logic.LIFETIME_MS - logic.RESTART_MARGIN_MS
    assert logic.restart_due_ms(0, 600_000, 3_600_000, token_expires_ms=86_400_000) == 3_000_000  # the end first


def test_the_rules() -> None:
    with pytest.raises(logic.RuleError):
        logic.check_start("c", [])
    with pytest.raises(logic.RuleError):
        logic.check_start("c", ["a1", "b1", "c1", "d1", "e1"])
    with pytest.raises(logic.RuleError):
        logic.check_start("c", ["en-US"], uid_languages={u: ["en-US"] for u in range(1, 7)})
    with pytest.raises(logic.RuleError):
        logic.check_start("c", ["en-US"], translate={"de-DE": ["fr-FR"]})  # not a transcribed language
    with pytest.raises(logic.RuleError):
        logic.check_start("c", ["en-US"], translate={"en-US": ["en-US"]})
    assert logic.check_start("c", ["en-US"], uid_languages={7: ["ja-JP"]}, translate={"ja-JP": ["en-US"]}).translate
    assert logic.next_state(logic.STOPPED, 5, logic.RUNNING, 9) is None
    assert logic.next_state(logic.RUNNING, 5, logic.RECOVERING, 4) is None
    assert logic.next_state(logic.RUNNING, 5, logic.RECOVERING, 6) == logic.RECOVERING
    assert logic.cost_per_hour() == 1.0194  # 16.99 USD per 1,000 minutes * 60
    assert logic.cost_per_hour(2) == 2.0982  # + 2 * 8.99 per 1,000 minutes
    uids = {logic.pick_bot_uid(random.Random(s)) for s in range(50)}
    assert all(logic.BOT_UID_LOW <= u <= logic.BOT_UID_HIGH for u in uids)


def test_a_notice_before_the_join_answer_attaches_the_agent_by_its_name(svc, agora, clock) -> None:
    agora.script = ["504"]  # the join's answer never came and nothing was found: the record failed
    with pytest.raises(AgoraServerError):  # the central mapping answers 503
        svc.start(StartCommand("room", ["en-US"]))
    failed = svc.list(channel="room")[0][0]
    late = notice("AGENT-LATE", "RUNNING", 5, name=logic.agent_name(failed.id, 0))
    assert svc.apply_notice(late) is None  # an ended record is never revived by a notice
    assert svc.get(failed.id).status == logic.FAILED and svc.get(failed.id).agents == ()
    # a record whose join is in flight: the RUNNING notice comes first and attaches the agent
    store = svc.store
    from service.transcriptions.record import Transcription

    pending = Transcription(id="a" * 32, channel="room2", status=logic.REQUESTED, languages=("en-US",),
                            bot_uid=logic.BOT_UID_LOW, created_at_ms=1, status_at_ms=1)  # fmt: skip
    store.create(pending)
    moved = svc.apply_notice(notice("AGENT-EARLY", "RUNNING", 10, name=f"tx-{'a' * 32}"))
    assert (moved.status, moved.agent_id, moved.agents) == (logic.RUNNING, "AGENT-EARLY", ("AGENT-EARLY",))
    assert svc.apply_notice(notice("AGENT-X", "RUNNING", 10, name="someone-elses-agent")) is None
