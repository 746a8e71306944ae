"""``POST /recordings`` with ``transcription``, executed by moto: the synthesized recording state machine runs
StartTranscription once the recording records and stops the transcription with the recording; the emulator's STT
history holds exactly one agent for the channel, and it ended. One 6-second recording ends by its maximum
duration (the test context), another by the stop API (``POST /recordings/{id}/stop``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.workflow.recording_env import RecordingStack, recording_stack, wait_for

pytestmark = pytest.mark.slow

HOST_UID = 1001
WANTED = {"languages": ["en-US"], "translation": [{"source": "en-US", "targets": ["fr-FR"]}]}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack() as stack:
        yield stack


def stt_agents(rs: RecordingStack, channel: str) -> list[dict]:
    return [a for a in rs.emulator.stt_history() if a["channel"] == channel]


def transcription(rs: RecordingStack, transcription_id: str):
    from service.transcriptions.repository import TranscriptionsRepository

    table = rs.stack.physical("TranscriptionsTranscriptionsTable")
    return TranscriptionsRepository(table, client=rs.ddb).get(transcription_id)


def recording_with_transcription(rs: RecordingStack) -> tuple[str, str, str]:
    channel = "tx" + uuid.uuid4().hex[:10]
    rs.emulator.join(channel, HOST_UID, role="host")
    status, created = rs.api("POST", "/recordings", body={"channel": channel, "transcription": WANTED})
    assert status == 202, created
    recording_id = created["recording_id"]
    assert wait_for(lambda: rs.item(recording_id).get("transcriptionId") is not None), rs.trail(recording_id)
    item = rs.item(recording_id)
    assert item["status"] in ("RECORDING", "STOPPING", "STOPPED") and "transcriptionError" not in item, item
    return channel, recording_id, str(item["transcriptionId"])


def assert_ended_together(rs: RecordingStack, channel: str, recording_id: str, transcription_id: str) -> None:
    described = rs.wait_execution(recording_id, timeout=40)
    assert described["status"] == "SUCCEEDED", rs.trail(recording_id)
    states = rs.states_entered(recording_id)
    assert states.index("StartTranscription") < states.index("WaitForStop") < states.index("Stop")
    record = transcription(rs, transcription_id)
    assert record is not None and record.recording_id == recording_id and record.status == "STOPPED"
    agents = stt_agents(rs, channel)
    assert len(agents) == 1, agents  # one agent, however often a step ran
    assert agents[0]["name"] == f"tx-{transcription_id}" and agents[0]["status"] == "STOPPED"
    assert agents[0]["ended_at"] is not None
    status, shown = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200 and shown["status"] == "STOPPED"
    assert shown["transcription_id"] == transcription_id and shown["transcription_status"] == "STOPPED"
    assert shown["transcription_error"] is None


def test_the_maximum_duration_ends_the_recording_and_its_transcription(rs: RecordingStack) -> None:
    channel, recording_id, transcription_id = recording_with_transcription(rs)
    assert wait_for(lambda: any(a["status"] == "RUNNING" for a in stt_agents(rs, channel)))
    status, shown = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200 and shown["transcription_status"] in ("STARTING", "RUNNING")
    assert_ended_together(rs, channel, recording_id, transcription_id)  # the 6-second maximum duration
    assert rs.recording(recording_id).stop_reason == "max_duration"


def test_the_stop_api_ends_the_recording_and_its_transcription(rs: RecordingStack) -> None:
    channel, recording_id, transcription_id = recording_with_transcription(rs)
    status, _ = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert status in (200, 202)
    assert_ended_together(rs, channel, recording_id, transcription_id)
    assert rs.recording(recording_id).stop_reason == "api"
