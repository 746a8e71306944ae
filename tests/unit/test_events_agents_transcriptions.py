"""The agents' and the transcriptions' event builders: a stream record's old/new images -> the facts they state.

Every transition of an agent record (``service.agents.record.AgentRecord.to_item``) and of a transcription record
(``service.transcriptions.record.to_item``) is written as its repository writes it; each fact appears once, a
write that changes none of them publishes nothing, and a redelivered record gives the same ``event_id``."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from service.agents.record import AgentError, AgentRecord
from service.events.agents import agent_events
from service.events.model import Event, Source
from service.events.transcriptions import transcription_events
from service.transcriptions.record import Transcription
from service.transcriptions.record import to_item as tx_item

from tests.support.event_contracts import assert_valid

ASRC = Source(table="Agents", key="pk=AGENT#a1", sequence="200", occurred_at="2026-12-07T04:00:00Z")
TSRC = Source(table="Transcriptions", key="pk=TX#t1", sequence="300", occurred_at="2026-12-07T04:00:00Z")
T0 = 1_796_600_000_000


def types(events: list[Event]) -> list[str]:
    for event in events:
        assert_valid(event)
    return [e.detail_type for e in events]


def details(events: list[Event]) -> list[dict[str, Any]]:
    return [assert_valid(e) for e in events]


# ---------------------------------------------------------------------------------------------- agents

AGENT = AgentRecord(
    agent_id="a1", channel="c1", profile="tutor", name="ag-a1", bot_uid=4_200_010_017, remote_uids=(1001,),
    idle_timeout=30, max_at_ms=T0 + 3_600_000, created_ms=T0, requested_by="u1",
)  # fmt: skip


def item(record: AgentRecord) -> dict[str, Any]:
    """As ``AgentsRepository`` stores it."""
    return {"pk": f"AGENT#{record.agent_id}", "kind": "agent", **record.to_item()}


def test_a_new_agent_is_requested_and_nothing_else():
    (detail,) = details(agent_events(None, item(AGENT), ASRC))
    assert detail["agent_id"] == "a1" and detail["channel"] == "c1" and detail["profile"] == "tutor"
    assert detail["requested_by"] == "u1" and detail["remote_uids"] == [1001] and detail["bot_uid"] == 4_200_010_017
    assert detail["created_at"] == "2026-12-06T23:33:20.000Z"
    assert detail["max_duration_ends_at"] == "2026-12-07T00:33:20.000Z"
    assert detail["ordering_key"] == "agent:a1" and detail["sequence"] == "200"


STARTING = AGENT.with_(state="STARTING", agora_agent_id="AG1", token_expires_ms=T0 + 60_000, version=1)
RUNNING = STARTING.with_(state="RUNNING", started_ms=T0 + 2_000, version=2)
STOPPING = RUNNING.with_(state="STOPPING", end_reason="api", version=3)
STOPPED = STOPPING.with_(state="STOPPED", ended_ms=T0 + 62_500, version=4)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (AGENT, STARTING, ["Agent Started"]),
        (AGENT, AGENT.with_(state="STARTING", agora_agent_id="AG1", adopted=True), ["Agent Started"]),
        (STARTING, RUNNING, ["Agent Running"]),
        (AGENT.with_(agora_agent_id="AG1"), RUNNING, ["Agent Running"]),
        (AGENT, RUNNING, ["Agent Started", "Agent Running"]),  # one write that states both (a late save)
        (RUNNING, RUNNING.with_(state="RECOVERING"), []),
        (RUNNING.with_(state="RECOVERING"), RUNNING, []),  # back from recovering: no new start
        (RUNNING, STOPPING, []),
        (STOPPING, STOPPED, ["Agent Stopped"]),
        (RUNNING, STOPPED, ["Agent Stopped"]),
        (AGENT, AGENT.with_(state="STOPPED", ended_ms=T0 + 5, end_reason="api"), ["Agent Stopped"]),
        (STARTING, STARTING.with_(state="FAILED", ended_ms=T0 + 9), ["Agent Failed"]),
        (STOPPED, STOPPED.with_(version=5), []),  # a save after the end: nothing new
        (RUNNING, RUNNING.with_(token_expires_ms=T0 + 120_000, renewals=1, version=3), []),  # a token renewal
        (RUNNING, RUNNING.with_(last_error=AgentError("agora", "asr timeout", T0), version=3), []),  # an NCS 110
    ],
)
def test_agent_transitions(old, new, expected):
    assert types(agent_events(item(old), item(new), ASRC)) == expected


def test_stopped_carries_the_reason_uptime_and_history_and_failed_the_error():
    (stopped,) = details(agent_events(item(STOPPING), item(STOPPED.with_(history_turns=4)), ASRC))
    assert stopped["reason"] == "api" and stopped["uptime_seconds"] == 60 and stopped["history_turns"] == 4
    assert stopped["agora_agent_id"] == "AG1" and stopped["ended_at"] == "2026-12-06T23:34:22.500Z"
    error = AgentError("start", "Agora refused the start: 422", T0 + 3, http_status=422)
    failed_record = AGENT.with_(state="FAILED", ended_ms=T0 + 3, end_reason="Agora refused", last_error=error)
    (failed,) = details(agent_events(item(AGENT), item(failed_record), ASRC))
    assert failed["error_step"] == "start" and failed["http_status"] == 422 and failed["error_code"] is None
    assert failed["reason"] == "Agora refused" and failed["agora_agent_id"] is None
    ncs = RUNNING.with_(
        state="FAILED", ended_ms=T0 + 9, end_reason="left", last_error=AgentError("agora", "x", 1, code=7)
    )
    (failed,) = details(agent_events(item(RUNNING), item(ncs), ASRC))
    assert failed["error_code"] == 7 and failed["error_step"] == "agora"


def test_a_never_started_agent_stops_with_no_uptime():
    (detail,) = details(agent_events(item(AGENT), item(AGENT.with_(state="STOPPED", ended_ms=T0 + 5)), ASRC))
    assert detail["uptime_seconds"] == 0 and detail["started_at"] is None


def test_history_saved_when_it_grows_never_for_the_same_or_fewer_turns():
    key = "agents/c-6331/a1/history.json"
    saved = RUNNING.with_(history_key=key, history_turns=3, version=3)
    (first,) = details(agent_events(item(RUNNING), item(saved), ASRC))
    assert first["history_key"] == key and first["turns"] == 3 and first["previous_turns"] == 0
    assert types(agent_events(item(saved), item(saved.with_(version=4)), ASRC)) == []  # NCS 103 after the poll
    (longer,) = details(agent_events(item(saved), item(saved.with_(history_turns=5, version=4)), ASRC))
    assert longer["turns"] == 5 and longer["previous_turns"] == 3


def test_slots_pointers_and_removals_publish_nothing():
    assert agent_events(None, {"pk": "AGSLOT#c1#tutor", "agentId": "a1"}, ASRC) == []
    assert agent_events(None, {"pk": "AGORA#AG1", "agentId": "a1"}, ASRC) == []
    assert agent_events(None, {"pk": "AGRUNNING", "running": 1}, ASRC) == []  # any item that is not a record
    assert agent_events({"pk": "AGSLOT#c1#tutor", "agentId": "a1"}, None, ASRC) == []
    assert agent_events(item(STOPPED), None, ASRC) == []


def test_no_agent_event_carries_a_token_or_a_vendor_setting():
    everything = item(STOPPED.with_(history_key="k", history_turns=2, last_error=AgentError("agora", "r", 1)))
    for event in agent_events(None, {**everything, "botToken": "007secret", "properties": {"llm": {"api_key": "k"}}},
                              ASRC):  # fmt: skip
        text = event.detail_json()
        assert "007secret" not in text and "api_key" not in text


# ---------------------------------------------------------------------------------------------- transcriptions

TX = Transcription(
    id="t1", channel="c1", status="REQUESTED", languages=("en-US",), bot_uid=4_200_020_042, created_at_ms=T0,
    status_at_ms=T0, translate={"en-US": ("es-ES",)}, recording_id="r1",
)  # fmt: skip
TX_STARTING = replace(TX, status="STARTING", agent_id="g0", agents=("g0",), started_at_ms=T0 + 500)
TX_RUNNING = replace(TX_STARTING, status="RUNNING", status_at_ms=T0 + 1_500)
TX_RESTARTED = replace(TX_RUNNING, agent_id="g1", agents=("g0", "g1"), generation=1, started_at_ms=T0 + 9_000)
TX_STOPPING = replace(TX_RUNNING, status="STOPPING", stop_reason="stopped by the API")
TX_STOPPED = replace(TX_STOPPING, status="STOPPED", ended_at_ms=T0 + 60_000)


def test_a_new_transcription_is_requested_and_nothing_else():
    (detail,) = details(transcription_events(None, tx_item(TX), TSRC))
    assert detail["transcription_id"] == "t1" and detail["recording_id"] == "r1"
    assert detail["languages"] == ["en-US"] and detail["translate"] == {"en-US": ["es-ES"]}
    assert detail["ordering_key"] == "transcription:t1" and detail["sequence"] == "300"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (TX, TX_STARTING, ["Transcription Started"]),
        (TX_STARTING, TX_RUNNING, ["Transcription Running"]),
        (TX, replace(TX_RUNNING), ["Transcription Started", "Transcription Running"]),
        (TX_RUNNING, TX_RESTARTED, ["Transcription Restarted"]),
        (TX_RUNNING, replace(TX_RUNNING, status="RECOVERING"), []),
        (replace(TX_RUNNING, status="RECOVERING"), TX_RUNNING, []),
        (TX_RUNNING, TX_STOPPING, []),
        (TX_STOPPING, TX_STOPPED, ["Transcription Stopped"]),
        (TX, replace(TX, status="FAILED", last_error="Agora refused the join: 400"), ["Transcription Failed"]),
        (TX_RUNNING, replace(TX_RUNNING, sequence_id=3), []),  # an update's sequenceId
        (TX_RUNNING, replace(TX_RUNNING, languages=("en-US", "fr-FR"), applied_sequence=3), []),  # its configuration
        (TX_STOPPED, replace(TX_STOPPED, status_at_ms=T0 + 70_000), []),
    ],
)
def test_transcription_transitions(old, new, expected):
    assert types(transcription_events(tx_item(old), tx_item(new), TSRC)) == expected


def test_a_write_of_attributes_no_fact_reads_publishes_nothing():
    """A write of attributes the facts do not read (a bot token renewed, a recording linked) publishes nothing."""
    running = tx_item(TX_RUNNING)
    assert transcription_events(running, {**running, "tokenExpiresAt": T0 + 86_400_000}, TSRC) == []
    assert transcription_events(running, {**running, "recordingId": "r2"}, TSRC) == []
    agent = item(RUNNING)
    assert agent_events(agent, {**agent, "counted": False, "version": 9}, ASRC) == []


def test_started_restarted_stopped_and_failed_carry_their_facts():
    (started,) = details(transcription_events(tx_item(TX), tx_item(TX_STARTING), TSRC))
    assert started["agent_id"] == "g0" and started["generation"] == 0
    assert started["started_at"] == "2026-12-06T23:33:20.500Z"
    (restarted,) = details(transcription_events(tx_item(TX_RUNNING), tx_item(TX_RESTARTED), TSRC))
    assert restarted["agent_id"] == "g1" and restarted["previous_agent_id"] == "g0" and restarted["generation"] == 1
    stopped_after_restart = replace(TX_RESTARTED, status="STOPPED", stop_reason="idle", ended_at_ms=T0 + 99_000)
    (stopped,) = details(transcription_events(tx_item(TX_RESTARTED), tx_item(stopped_after_restart), TSRC))
    assert stopped["reason"] == "idle" and stopped["agents"] == 2 and stopped["agent_id"] == "g1"
    failed = replace(TX, status="FAILED", last_error="the agent ended before it could be adopted", ended_at_ms=T0 + 1)
    (detail,) = details(transcription_events(tx_item(TX), tx_item(failed), TSRC))
    assert detail["error"] == "the agent ended before it could be adopted" and detail["agent_id"] is None


def test_files_ready_with_the_added_keys_and_never_for_a_repeated_notice():
    first = ("transcripts/c1/t1/g0_c1_transcript.json", "transcripts/c1/t1/g0_c1_en-US.vtt")
    with_files = replace(TX_STOPPED, files=tuple(sorted(first)))
    (detail,) = details(transcription_events(tx_item(TX_STOPPED), tx_item(with_files), TSRC))
    assert detail["files"] == sorted(first) and detail["captions"] == ["transcripts/c1/t1/g0_c1_en-US.vtt"]
    assert detail["total_files"] == 2
    assert transcription_events(tx_item(with_files), tx_item(replace(with_files)), TSRC) == []  # the same ADD again
    more = replace(with_files, files=tuple(sorted((*first, "transcripts/c1/t1/g1_c1_en-US.vtt"))))
    (detail,) = details(transcription_events(tx_item(with_files), tx_item(more), TSRC))
    assert detail["files"] == ["transcripts/c1/t1/g1_c1_en-US.vtt"] and detail["total_files"] == 3


def test_locks_pointers_and_removals_publish_nothing():
    assert transcription_events(None, {"pk": "TXLOCK#c1", "transcriptionId": "t1"}, TSRC) == []
    assert transcription_events(None, {"pk": "TXAGENT#g0", "transcriptionId": "t1"}, TSRC) == []
    assert transcription_events(None, {"pk": "TXRUNNING", "running": 1}, TSRC) == []
    assert transcription_events(tx_item(TX_STOPPED), None, TSRC) == []


# ---------------------------------------------------------------------------------------------- both


def test_a_redelivered_record_gives_the_same_event_ids_and_another_record_other_ids():
    again = Source(table="Agents", key="pk=AGENT#a1", sequence="200", occurred_at="2026-12-07T04:00:01Z")
    later = Source(table="Agents", key="pk=AGENT#a1", sequence="201", occurred_at="2026-12-07T04:00:01Z")
    first = [e.detail.event_id for e in agent_events(None, item(RUNNING), ASRC)]
    assert first == [e.detail.event_id for e in agent_events(None, item(RUNNING), again)]
    assert len(set(first)) == 3  # Requested, Started, Running: one id each
    assert not set(first) & {e.detail.event_id for e in agent_events(None, item(RUNNING), later)}
    tx_first = [e.detail.event_id for e in transcription_events(None, tx_item(TX_RUNNING), TSRC)]
    assert tx_first == [e.detail.event_id for e in transcription_events(None, tx_item(TX_RUNNING), TSRC)]
    assert len(set(tx_first)) == 3


def test_a_seeded_walk_of_a_transcription_states_each_fact_once():
    """Random forward walks (seeded): Requested, Started, Stopped/Failed appear at most once per record."""
    rng = random.Random(25)
    for _ in range(50):
        states = ["REQUESTED", "STARTING", *rng.sample(["RUNNING", "RECOVERING"], 2), "STOPPING",
                  rng.choice(["STOPPED", "FAILED"])]  # fmt: skip
        old: Transcription | None = None
        seen: list[str] = []
        record = TX
        for state in states:
            record = replace(record, status=state, agent_id=record.agent_id or ("g0" if state != "REQUESTED" else None))
            if rng.random() < 0.5:  # a write that repeats the last one (a retried update)
                seen += types(transcription_events(tx_item(record), tx_item(record), TSRC))
            seen += types(transcription_events(tx_item(old) if old else None, tx_item(record), TSRC))
            old = record
        for once in ("Transcription Requested", "Transcription Started"):
            assert seen.count(once) == 1, seen
        assert seen.count("Transcription Stopped") + seen.count("Transcription Failed") == 1, seen
        assert seen.count("Transcription Running") <= 1, seen


def test_a_seeded_walk_of_an_agent_states_each_fact_once():
    """Random forward walks (seeded) with repeated saves between: Requested, Started and one end, once each."""
    rng = random.Random(2517)
    for _ in range(50):
        path = ["STARTING", *rng.sample(["RUNNING", "RECOVERING"], 2), "STOPPING", rng.choice(["STOPPED", "FAILED"])]
        record, old, seen = AGENT, None, []
        for version, state in enumerate(["REQUESTED", *path]):
            record = record.with_(state=state, version=version, agora_agent_id=None if state == "REQUESTED" else "AG1")
            if rng.random() < 0.5:  # a save that changes nothing the facts read (a renewal, a retried update)
                seen += types(agent_events(item(record), item(record.with_(renewals=record.renewals + 1)), ASRC))
            seen += types(agent_events(item(old) if old else None, item(record), ASRC))
            old = record
        assert seen.count("Agent Requested") == seen.count("Agent Started") == 1, seen
        assert seen.count("Agent Stopped") + seen.count("Agent Failed") == 1, seen
        assert seen.count("Agent Running") == (1 if path[1] == "RUNNING" else 0), seen
