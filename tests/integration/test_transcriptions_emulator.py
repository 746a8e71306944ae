"""The transcription use cases against the emulator's Real-Time STT (SttClient over loopback) and the
TranscriptionsRepository on moto, with NCS product 20 delivered by the emulator's hostile sender (duplicated,
reordered) and routed by the webhook processor's ``dispatch_notice``: an ambiguous start leaves exactly one agent
(never two, never an orphan), updates carry increasing sequenceIds, the record follows Agora to the end, and a
restart hands over to the next agent before the old one leaves."""

from __future__ import annotations

import random
import time

import boto3
import pytest
from agorakit.agora.stt import SttClient
from moto import mock_aws
from service.transcriptions import logic
from service.transcriptions.repository import TranscriptionsRepository, create_table
from service.transcriptions.usecases import StartCommand, TranscriptionService, apply_notice
from service.webhooks.logic import dispatch_notice
from service.webhooks.settings import ProcessorSettings

from tests.integration._emulator_fixtures import WebhookReceiver, make_client, make_emulator, wait_until

TABLE = "it-transcriptions"


@pytest.fixture(scope="module")
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def emu(receiver):
    emulator = make_emulator(qps=1000, time_scale=50.0, webhook_url=receiver.url, ncs_secret="ncs-secret",
                             webhook_duplicates=0.5, webhook_reorder=0.5).start()  # fmt: skip
    yield emulator
    emulator.stop()


@pytest.fixture
def store():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield TranscriptionsRepository(TABLE, client=client)


@pytest.fixture
def svc(emu, store):
    emu.set_faults(clear=True)
    client = make_client([emu.url])
    yield TranscriptionService(store, SttClient(client), time.time, rng=random.Random(5))
    client.close()


def deliver(emu, receiver, store, agent_ids: set[str]) -> list[str]:
    """Every product-20 notice received so far for ``agent_ids``, through the webhook processor's dispatch."""
    assert emu.flush_webhooks()
    outcomes = []

    def apply(notice: dict) -> str:
        return "applied" if apply_notice(store, notice) else "ignored"

    settings = ProcessorSettings(presence_table="unused")
    for notice in receiver.envelopes():
        if notice.get("sid") in agent_ids:
            _, outcome = dispatch_notice(notice, presence=None, recordings=None, settings=settings,  # type: ignore[arg-type]
                                         now=time.time(), transcriptions=apply)  # fmt: skip
            outcomes.append(outcome)
    return outcomes


def test_an_ambiguous_start_leaves_one_agent_and_the_record_follows_it_to_the_end(emu, svc, store, receiver) -> None:
    emu.join("tx-room-1", 2001)
    emu.set_faults(script=["504_after@stt.join"])  # Agora started it; the answer was lost
    t = svc.start(StartCommand("tx-room-1", ["en-US"], translate={"en-US": ["de-DE"]}))
    assert t.status == logic.STARTING and t.agent_id is not None
    assert [a["agent_id"] for a in emu.stt_history() if a["channel"] == "tx-room-1"] == [t.agent_id]
    assert wait_until(lambda: svc.settle(t.id).status == logic.RUNNING)
    first = svc.update(t.id, languages=["en-US", "fr-FR"])
    second = svc.update(t.id, subscribe_uids=[2001])
    assert (first.sequence_id, second.sequence_id) == (0, 1)
    assert next(a for a in emu.stt_history() if a["agent_id"] == t.agent_id)["sequence_id"] == 1
    assert svc.stop(t.id).status == logic.STOPPED
    final = svc.get(t.id)
    assert final.status == logic.STOPPED and final.ended_at_ms is not None
    assert emu.stt_overlaps() == [] and not [a for a in emu.stt_history() if a["status"] not in ("STOPPED", "FAILED")]


def test_ncs_20_alone_moves_the_record_through_duplicates_and_reordering(emu, svc, store, receiver) -> None:
    emu.join("tx-room-4", 2004)
    t = svc.start(StartCommand("tx-room-4", ["en-US"], max_idle_seconds=5))
    assert wait_until(lambda: emu.stt_history()[-1]["status"] == "RUNNING")
    assert wait_until(lambda: "applied" in deliver(emu, receiver, store, {t.agent_id}))
    assert svc.get(t.id).status == logic.RUNNING  # from the notices only: nothing polled Agora
    emu.leave("tx-room-4", 2004)  # the speaker leaves: Agora ends the idle agent on its own
    assert wait_until(lambda: next(a for a in emu.stt_history() if a["agent_id"] == t.agent_id)["status"] == "STOPPED",
                      timeout=15)  # fmt: skip
    deliver(emu, receiver, store, {t.agent_id})
    final = svc.get(t.id)
    assert final.status == logic.STOPPED and final.stop_reason == "idle"


def test_the_restart_hands_over_to_the_next_agent_before_the_old_one_leaves(emu, svc, store, receiver) -> None:
    emu.join("tx-room-2", 2002)
    t = svc.start(StartCommand("tx-room-2", ["en-US"]))
    assert wait_until(lambda: svc.settle(t.id).status == logic.RUNNING)
    restarted = svc.restart(t.id)
    assert restarted.generation == 1 and restarted.agents == (t.agent_id, restarted.agent_id)
    history = {a["agent_id"]: a for a in emu.stt_history() if a["channel"] == "tx-room-2"}
    assert history[t.agent_id]["status"] == "STOPPED" and history[restarted.agent_id]["status"] in (
        "STARTING",
        "RUNNING",
    )
    deliver(emu, receiver, store, set(history))  # the old agent's STOPPED must not end the transcription
    assert svc.get(t.id).status == logic.RUNNING
    svc.stop(t.id)
    assert wait_until(lambda: svc.settle(t.id).status == logic.STOPPED)
    assert not [
        a for a in emu.stt_history() if a["channel"] == "tx-room-2" and a["status"] not in ("STOPPED", "FAILED")
    ]


def test_an_agent_that_fails_after_its_200_fails_the_record(emu, svc, store, receiver) -> None:
    emu.stt_configure(fail_rate=1.0)
    try:
        t = svc.start(StartCommand("tx-room-3", ["en-US"]))
        assert wait_until(lambda: svc.settle(t.id).status == logic.FAILED)
    finally:
        emu.stt_configure(fail_rate=0.0)
    assert svc.start(StartCommand("tx-room-3", ["en-US"])).status == logic.STARTING  # the channel is free again


def test_the_bot_token_is_renewed_by_a_restart_before_it_expires_and_without_it_the_agent_fails(store) -> None:
    """v7's ``update`` has no token field (docs/transcriptions.md): the loop restarts ``restart_margin_ms`` before
    the bot's token expires. Scaled time (x100): a 240-second token, a 120-second margin, 600 emulated seconds
    (6 s here); the transcription nobody renews fails when its token expires (the emulator drops the bot)."""
    from agorakit.tokens import build_rtc_token

    from tests.integration._emulator_fixtures import APP_ID

    cert = "0123456789abcdef0123456789abcdef"
    with make_emulator(qps=1000, time_scale=100.0, app_certificate=cert) as emu:
        clock = emu.world.clock.epoch

        def sign(channel: str, uid: int, issued_at_s: int, seconds: int) -> str:
            return build_rtc_token(app_id=APP_ID, app_certificate=cert, channel_name=channel, uid=uid,
                                   role="publisher", expire=seconds, issue_ts=issued_at_s)  # fmt: skip

        client = make_client([emu.url])
        svc = TranscriptionService(store, SttClient(client), clock, bot_token=sign, rng=random.Random(7),
                                   restart_margin_ms=120_000, bot_token_seconds=240)  # fmt: skip
        try:
            emu.join("tx-token-renewed", 3001)
            emu.join("tx-token-left", 3002)
            renewed = svc.start(StartCommand("tx-token-renewed", ["en-US"], max_idle_seconds=0))
            left = svc.start(StartCommand("tx-token-left", ["en-US"], max_idle_seconds=0))
            assert renewed.token_expires_ms is not None and left.token_expires_ms is not None
            assert svc.restart_due_ms(renewed.id) == renewed.token_expires_ms - 120_000  # before the 72 hours
            end = clock() + 600
            steps = 0
            while clock() < end:
                step = svc.restart_step(renewed.id)
                assert step["done"] is False, step
                due = svc.restart_due_ms(renewed.id)
                assert due is not None
                assert wait_until(lambda due=due: clock() * 1000 >= due or clock() >= end, timeout=10)
                steps += 1
            assert wait_until(lambda: svc.settle(left.id).status == logic.FAILED, timeout=10)
            history = emu.stt_history()
            assert next(a for a in history if a["channel"] == "tx-token-left")["stop_reason"] == "token expired"
            final = svc.settle(renewed.id)
            assert final.status in (logic.STARTING, logic.RUNNING) and final.generation >= 3, (final, steps)
            mine = [a for a in history if a["channel"] == "tx-token-renewed"]
            assert len(mine) == final.generation + 1
            assert not [a for a in mine if a["stop_reason"] == "token expired"]
            assert all(a["status"] == "STOPPED" for a in mine[:-1]) and emu.stt_overlaps() == []
            svc.stop(renewed.id)
        finally:
            client.close()


def test_the_reconciler_ends_ours_agora_dropped_stops_orphans_of_our_names_and_leaves_others_alone(store) -> None:
    """Both directions over Agora's list (``GET /agents``), judged on the emulator's clock (no grace here)."""
    with make_emulator(qps=1000, time_scale=50.0) as emu:  # its own: no other test's agents in the list
        client = make_client([emu.url])
        stt = SttClient(client)
        svc = TranscriptionService(store, stt, emu.world.clock.epoch, rng=random.Random(11))
        try:
            _reconcile_both_ways(emu, store, stt, svc)
        finally:
            client.close()


def _reconcile_both_ways(emu, store, stt, svc) -> None:
    from agorakit.agora.stt import SttJoin
    from service.transcriptions.record import Transcription

    for n, channel in enumerate(("tx-rec-dropped", "tx-rec-kept", "tx-rec-orphan", "tx-rec-foreign")):
        emu.join(channel, 3100 + n)
    dropped = svc.start(StartCommand("tx-rec-dropped", ["en-US"], max_idle_seconds=0))
    kept = svc.start(StartCommand("tx-rec-kept", ["en-US"], max_idle_seconds=0))
    assert wait_until(lambda: svc.settle(kept.id).status == logic.RUNNING)
    assert dropped.agent_id is not None and stt.leave(dropped.agent_id)  # ended at Agora; we were not told
    orphan = stt.join(SttJoin(name=logic.agent_name("ab" * 16, 0), channel="tx-rec-orphan", languages=["en-US"],
                              bot_uid=4_175_000_101, max_idle_seconds=0))  # fmt: skip
    stale = stt.join(SttJoin(name=logic.agent_name(kept.id, 7), channel="tx-rec-kept", languages=["en-US"],
                             bot_uid=4_175_000_102, max_idle_seconds=0))  # fmt: skip
    foreign = stt.join(SttJoin(name="tx-someone-elses", channel="tx-rec-foreign", languages=["en-US"],
                               bot_uid=4_175_000_103, max_idle_seconds=0))  # fmt: skip
    other = stt.join(SttJoin(name="captions-of-another-app", channel="tx-rec-foreign", languages=["en-US"],
                             bot_uid=4_175_000_104, max_idle_seconds=0))  # fmt: skip
    now = int(emu.world.clock.epoch() * 1000)
    stuck = Transcription(id="cd" * 16, channel="tx-rec-stuck", status=logic.REQUESTED, languages=("en-US",),
                          bot_uid=4_175_000_105, created_at_ms=now, status_at_ms=now)  # fmt: skip
    store.create(stuck)  # a start that never got an agent (its Lambda died between the write and the join)

    emu.set_faults(script=["401@stt.get"])  # Agora failing on one record: the others are still judged
    failing = svc.reconcile(grace_ms=0)
    emu.set_faults(clear=True)
    assert failing.errors == 1 and failing.ended == [stuck.id] and svc.get(dropped.id).status != logic.STOPPED
    assert sorted(failing.stopped) == sorted([orphan.agent_id, stale.agent_id])
    report = svc.reconcile(grace_ms=0)
    assert report.ended == [dropped.id] and report.stopped == [] and report.errors == 0
    assert report.foreign == 2
    assert svc.get(dropped.id).status == logic.STOPPED and svc.get(stuck.id).status == logic.FAILED
    assert svc.get(kept.id).status == logic.RUNNING
    status = {a["agent_id"]: a["status"] for a in emu.stt_history()}
    assert status[orphan.agent_id] == status[stale.agent_id] == "STOPPED"
    assert status[kept.agent_id] == status[foreign.agent_id] == status[other.agent_id] == "RUNNING"
    assert svc.start(StartCommand("tx-rec-stuck", ["en-US"])).status == logic.STARTING  # the channel is free
    again = svc.reconcile(grace_ms=0)  # a second run finds nothing more to do
    assert again.ended == [] and again.stopped == [] and again.foreign == 2
    young = svc.reconcile(grace_ms=3_600_000)  # within the grace nothing is judged
    assert young.ended == [] and young.stopped == []
    for agent in (foreign, other):
        stt.leave(agent.agent_id)
