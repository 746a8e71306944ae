"""A recording's transcription through the real task function, moto's tables and the Agora emulator (executions
do not run: each test runs the workflow's steps itself, as the state machine would): the StartTranscription step
joins one STT agent in the recording's channel with its captions beside the recording, the Stop step and the fail
handler stop it, a retried stop is harmless, a leave Agora fails is sent again by Finalize, and a join Agora
refuses is recorded on the recording, which records on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import RecordingStack, recording_stack

WANTED = {"languages": ["en-US"], "max_idle_seconds": 0}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(execute=False) as stack:
        yield stack


@pytest.fixture
def channel(rs: RecordingStack) -> Iterator[str]:
    rs.emulator.set_faults(clear=True)
    yield "it" + uuid.uuid4().hex[:10]
    rs.emulator.set_faults(clear=True)


def agents(rs: RecordingStack, channel: str) -> list[dict[str, Any]]:
    return [a for a in rs.emulator.stt_history() if a["channel"] == channel]


def transcription(rs: RecordingStack, transcription_id: str) -> Any:
    from service.transcriptions.repository import TranscriptionsRepository

    table = rs.stack.physical("TranscriptionsTranscriptionsTable")
    return TranscriptionsRepository(table, client=rs.ddb).get(transcription_id)


def transcribing(rs: RecordingStack, channel: str) -> tuple[str, str]:
    """A RECORDING recording (the real task function's acquire and start) whose StartTranscription ran."""
    item = rs.running(channel, transcription=WANTED)
    recording_id = str(item["recordingId"])
    answer = rs.task({"action": "transcribe", "recordingId": recording_id})
    assert answer["transcription"] == "started", answer
    return recording_id, str(answer["transcriptionId"])


def stop_state(recording_id: str, reason: str) -> dict[str, Any]:
    return {"action": "stop", "state": {"recordingId": recording_id, "wait": {"reason": reason}}}


def test_the_stop_step_stops_the_agent_and_a_retried_stop_is_harmless(rs: RecordingStack, channel: str) -> None:
    recording_id, tid = transcribing(rs, channel)
    assert rs.task({"action": "transcribe", "recordingId": recording_id})["transcriptionId"] == tid  # retried step
    [agent] = agents(rs, channel)
    assert agent["name"] == f"tx-{tid}" and agent["status"] in ("STARTING", "RUNNING")
    from service.recordings.logic import file_name_prefix

    # the captions go beside the recording's files: what GET /recordings/{id}/captions lists
    storage = rs.emulator.stt.agents[agent["agent_id"]].caption["storage"]
    assert storage["fileNamePrefix"] == file_name_prefix(channel, recording_id)
    record = transcription(rs, tid)
    assert record.recording_id == recording_id and rs.item(recording_id)["transcriptionId"] == tid
    stopped = rs.task(stop_state(recording_id, "api"))
    assert stopped["outcome"] in ("stopped", "gone")
    assert transcription(rs, tid).status == "STOPPED" and agents(rs, channel)[0]["status"] == "STOPPED"
    again = rs.task(stop_state(recording_id, "api"))  # Step Functions retries the Stop step
    assert again["reason"] == "api" and "transcriptionError" not in rs.item(recording_id)
    rs.task({"action": "finalize", "state": {"recordingId": recording_id, "stop": stopped}})
    assert rs.item(recording_id)["status"] == "STOPPED" and len(agents(rs, channel)) == 1


def test_the_fail_handler_stops_the_agent(rs: RecordingStack, channel: str) -> None:
    recording_id, tid = transcribing(rs, channel)
    error = {"Error": "States.TaskFailed", "Cause": "the wait's function failed"}
    rs.task({"action": "fail", "state": {"recordingId": recording_id, "error": error}})
    assert rs.item(recording_id)["status"] == "FAILED"
    assert transcription(rs, tid).status == "STOPPED"
    assert [a["status"] for a in agents(rs, channel)] == ["STOPPED"]


def test_a_leave_agora_fails_is_recorded_then_sent_again_by_finalize(rs: RecordingStack, channel: str) -> None:
    recording_id, tid = transcribing(rs, channel)
    rs.emulator.set_faults(script=["503@stt.leave", "503@stt.leave"])  # both attempts of the call
    stopped = rs.task(stop_state(recording_id, "max_duration"))
    assert rs.item(recording_id)["transcriptionError"].startswith("the transcription did not stop")
    assert agents(rs, channel)[0]["status"] in ("STARTING", "RUNNING")  # the recorder stopped; the agent runs on
    rs.task({"action": "finalize", "state": {"recordingId": recording_id, "stop": stopped}})
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and "transcriptionError" not in item
    assert transcription(rs, tid).status == "STOPPED" and agents(rs, channel)[0]["status"] == "STOPPED"


def test_a_join_agora_refuses_is_recorded_and_the_recording_records_on(rs: RecordingStack, channel: str) -> None:
    item = rs.running(channel, transcription=WANTED)
    recording_id = str(item["recordingId"])
    rs.emulator.set_faults(script=["401@stt.join"])
    answer = rs.task({"action": "transcribe", "recordingId": recording_id})
    assert answer["transcription"] == "failed", answer
    item = rs.item(recording_id)
    assert item["status"] == "RECORDING" and item["transcriptionError"]
    status, shown = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200 and shown["status"] == "RECORDING" and shown["transcription_error"]
    # the record was written before Agora refused: it is linked and says FAILED
    assert shown["transcription_id"] == uuid.UUID(recording_id).hex and shown["transcription_status"] == "FAILED"
    assert [a for a in agents(rs, channel) if a["status"] not in ("STOPPED", "FAILED")] == []
    rs.task(stop_state(recording_id, "api"))
    assert rs.item(recording_id)["status"] == "STOPPING"
