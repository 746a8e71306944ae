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
