"""A recording asked with ``transcription`` (service.recordings.transcription), on the in-memory fakes: the
transcription starts when the recording records (never while it is only requested), through the transcriptions use
cases (one agent however often the step runs), is linked both ways, and stops with the recording on every path; its
failures are recorded on the recording and never fail it."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError
from service.errors import BadRequest
from service.recordings import logic
from service.recordings.models import RecordingRequest
from service.recordings.operations import get_recording, stop_recording
from service.recordings.transcription import transcription_id
from service.transcriptions.fakes import FakeStt, InMemoryTranscriptionStore
from service.transcriptions.usecases import StartCommand, TranscriptionService

from tests.unit.recording_world import ADMIN, HOST, World, world

WANTED = {"languages": ["en-US"], "translation": [{"source": "en-US", "targets": ["fr-FR"]}]}


@pytest.fixture
def w() -> World:
    return world()


@pytest.fixture
def stt(w: World) -> FakeStt:
    return FakeStt(w.clock)


@pytest.fixture
def transcriptions(w: World, stt: FakeStt) -> TranscriptionService:
    service = TranscriptionService(InMemoryTranscriptionStore(w.clock), stt, w.clock, rng=random.Random(5))
    w.deps.transcriptions_factory = lambda: service
    return service


def recording(w: World, channel: str = "room", **body: object) -> str:
    """Created, acquired and started: RECORDING, its workflow about to run StartTranscription."""
    w.agora.join(channel, HOST)
    recording_id = w.create(channel, transcription=WANTED, **body)
    w.step("acquire", recording_id)
    started = w.step("start", recording_id)
    assert started["outcome"] == "started" and started["transcribe"] is True
    return recording_id


def running(stt: FakeStt) -> list[dict[str, object]]:
    return [a for a in stt.agents.values() if a["status"] not in ("STOPPED", "FAILED")]


def test_the_request_is_validated_like_post_transcriptions(w: World) -> None:
    with pytest.raises(ValidationError, match="languages"):  # a fifth language: 422 naming the field
        RecordingRequest.model_validate({"channel": "room", "transcription": {"languages": ["en-US"] * 5}})
    with pytest.raises(ValidationError, match="channel"):  # the recording's channel is the transcription's
        RecordingRequest.model_validate({"channel": "room", "transcription": {"languages": ["en-US"], "channel": "x"}})
    with pytest.raises(ValidationError, match="web"):
        RecordingRequest.model_validate(
            {"channel": "page", "mode": "web", "web": {"url": "https://example.com"}, "transcription": WANTED}
        )
    with pytest.raises(BadRequest, match=r"transcription: .*fr-FR"):  # a translation from a language not transcribed
        w.create("room", transcription={"languages": ["en-US"], "translation": [{"source": "fr-FR",
                                                                                  "targets": ["de-DE"]}]})  # fmt: skip
    with pytest.raises(BadRequest, match="uid_languages: a uid is listed twice"):
        w.create("room", transcription={"languages": ["en-US"], "uid_languages": [
            {"uid": 5, "languages": ["en-US"]}, {"uid": 5, "languages": ["es-ES"]}]})  # fmt: skip


def test_it_starts_when_the_recording_records_and_is_linked_both_ways(w, stt, transcriptions) -> None:
    recording_id = w.create("room", transcription=WANTED)
    assert w.step("transcribe", recording_id)["transcription"] == "skipped"  # REQUESTED: not recording yet
    assert stt.agents == {}
    shown = get_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert (shown["transcription_id"], shown["transcription_status"]) == (None, None)
    w.agora.join("room", HOST)
    w.step("acquire", recording_id)
    assert w.step("start", recording_id)["transcribe"] is True
    answer = w.step("transcribe", recording_id)
    assert answer["transcription"] == "started"
    tid = transcription_id(recording_id)
    record = transcriptions.get(tid)
    assert record.recording_id == recording_id and record.channel == "room" and record.agent_id in stt.agents
    assert dict(record.translate) == {"en-US": ("fr-FR",)}
    shown = get_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert shown["transcription_id"] == tid and shown["transcription_status"] == "STARTING"
    assert shown["transcription_error"] is None
    assert w.step("transcribe", recording_id)["transcription"] == "started"  # a retried step: the same agent
    assert len(stt.agents) == 1 and [c for c in stt.calls if c[0] == "join"] == [("join", f"tx-{tid}")]


def test_a_recording_without_transcription_starts_none(w, stt, transcriptions) -> None:
    w.agora.join("room", HOST)
    recording_id = w.create("room")
    w.step("acquire", recording_id)
    assert "transcribe" not in w.step("start", recording_id)
    assert w.step("transcribe", recording_id) == {"transcription": "none"}
    assert stt.agents == {} and w.store.get(recording_id).transcription_id is None


def test_the_stop_api_stops_the_transcription_with_the_recording_and_a_retried_stop_is_harmless(
    w, stt, transcriptions
) -> None:
    recording_id = recording(w)
    w.step("transcribe", recording_id)
    w.step("wait", recording_id, taskToken=w.workflow.park(f"token-{recording_id}"))
    assert len(running(stt)) == 1
    status, _ = stop_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert status == 202
    w.step("stop", recording_id, wait={"reason": logic.REASON_API})
    assert running(stt) == []
    assert transcriptions.get(transcription_id(recording_id)).status == "STOPPED"
    w.step("stop", recording_id, wait={"reason": logic.REASON_API})  # Step Functions retries the step
    w.step("finalize", recording_id, stop={"outcome": "stopped", "fileList": []})
    item = w.store.get(recording_id)
    assert item.status == logic.STOPPED and item.transcription_error is None
    assert [c[0] for c in stt.calls].count("leave") == 1
    shown = get_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert shown["transcription_status"] == "STOPPED"


def test_a_failed_recording_stops_its_transcription(w, stt, transcriptions) -> None:
    recording_id = recording(w)
    w.step("transcribe", recording_id)
    w.step("fail", recording_id, error={"Error": "States.TaskFailed", "Cause": "the wait's function failed"})
    assert w.store.get(recording_id).status == logic.FAILED
    assert running(stt) == []
    assert transcriptions.get(transcription_id(recording_id)).status == "STOPPED"
    w.step("fail", recording_id, error={"Error": "States.TaskFailed", "Cause": "again"})  # a retried fail handler
    assert transcriptions.get(transcription_id(recording_id)).status == "STOPPED"


def test_a_transcription_start_failure_is_recorded_and_the_recording_goes_on(w, stt, transcriptions) -> None:
    other = transcriptions.start(StartCommand("room", ["es-ES"]))  # the channel is already transcribed
    recording_id = recording(w)
    answer = w.step("transcribe", recording_id)
    assert answer["transcription"] == "failed"
    item = w.store.get(recording_id)
    assert item.status == logic.RECORDING and item.transcription_id is None
    assert "already transcribed" in (item.transcription_error or "")
    w.step("wait", recording_id, taskToken=w.workflow.park(f"token-{recording_id}"))
    w.step("stop", recording_id, wait={"reason": logic.REASON_API})
    assert transcriptions.get(other.id).status == "RUNNING" or transcriptions.get(other.id).status == "STARTING"
    assert w.store.get(recording_id).status == logic.STOPPING  # the other channel's transcription is not ours


def test_agora_failing_the_join_is_recorded_with_the_failed_transcription(w, stt, transcriptions) -> None:
    recording_id = recording(w)
    stt.script = ["504"]  # the join failed and nothing started: the transcription FAILED, the recording records
    answer = w.step("transcribe", recording_id)
    assert answer["transcription"] == "failed" and answer["status"] == "FAILED"
    item = w.store.get(recording_id)
    assert item.status == logic.RECORDING and item.transcription_id == transcription_id(recording_id)
    assert "504" in (item.transcription_error or "") or "AgoraServerError" in (item.transcription_error or "")
    shown = get_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert shown["transcription_status"] == "FAILED"
    assert running(stt) == []
    w.step("wait", recording_id, taskToken=w.workflow.park(f"token-{recording_id}"))
    w.step("stop", recording_id, wait={"reason": logic.REASON_API})  # stopping a FAILED one is a no-op
    assert w.store.get(recording_id).transcription_error == item.transcription_error


def test_without_a_transcriptions_table_the_recording_records_and_says_why(w) -> None:
    recording_id = recording(w)
    assert w.step("transcribe", recording_id) == {"transcription": "unavailable"}
    item = w.store.get(recording_id)
    assert item.status == logic.RECORDING and "not configured" in (item.transcription_error or "")


def test_a_recorder_adopted_after_an_unknown_start_transcribes_too(w, stt, transcriptions) -> None:
    from agorakit.agora.errors import AgoraServerError
    from service.recordings import resolve

    recording_id = w.create("room", transcription=WANTED)
    w.step("acquire", recording_id)
    w.agora.fail("start", AgoraServerError("gateway timeout", http_status=504))
    assert w.step("start", recording_id) == {"outcome": resolve.UNKNOWN}  # no transcribe flag: not recording
    looked = w.step("resolve", recording_id)
    assert looked["resolution"] == resolve.ADOPTED and looked["transcribe"] is True
    assert w.step("transcribe", recording_id)["transcription"] == "started"
    assert w.store.get(recording_id).transcription_id == transcription_id(recording_id) and len(running(stt)) == 1


def test_an_agent_whose_join_answer_was_lost_with_the_step_is_found_by_name_and_stopped(w, stt, transcriptions) -> None:
    from agorakit.agora.stt import SttJoin
    from service.transcriptions import logic as transcription_rules
    from service.transcriptions.record import Transcription

    recording_id = recording(w)
    tid = transcription_id(recording_id)
    now = int(w.clock() * 1000)
    # what a StartTranscription step leaves when it dies after Agora took the join (a Lambda timeout): the record
    # without its agent, the agent running under the record's name, no link on the recording
    record = Transcription(id=tid, channel="room", status=transcription_rules.REQUESTED, languages=("en-US",),
                           bot_uid=transcription_rules.BOT_UID_LOW, created_at_ms=now, status_at_ms=now,
                           recording_id=recording_id)  # fmt: skip
    transcriptions.store.create(record)
    stt.join(SttJoin(name=transcription_rules.agent_name(tid, 0), channel="room", languages=["en-US"],
                     bot_uid=transcription_rules.BOT_UID_LOW))  # fmt: skip
    assert len(running(stt)) == 1 and w.store.get(recording_id).transcription_id is None
    w.step("wait", recording_id, taskToken=w.workflow.park(f"token-{recording_id}"))
    w.step("stop", recording_id, wait={"reason": logic.REASON_MAX_DURATION})
    assert running(stt) == []
    assert transcriptions.get(tid).status == "STOPPED"
