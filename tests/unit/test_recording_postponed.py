"""``POST /recordings`` ``postponed`` (postponed_models, postponed_rules): the shape Agora wants, the combinations it
refuses, and the start body and acquire scene the workflow sends."""

from __future__ import annotations

import pytest
from agorakit.agora.client import AgoraClient
from agorakit.agora.models import StorageConfig
from pydantic import ValidationError
from service.recordings import postponed_rules as postponed
from service.recordings.models import RecordingRequest
from service.recordings.record import Recording
from service.recordings.repository import from_item


def _request(**postponed_options: object) -> RecordingRequest:
    return RecordingRequest(channel="room", mode="individual", postponed=postponed_options)


def test_defaults_and_the_start_body() -> None:
    request = _request(mode="transcoding")
    assert request.postponed is not None
    stored = request.postponed.stored()
    assert stored == {"mode": "transcoding", "container": "mp4"}
    assert postponed.app_extra(stored) == {
        "appsCollection": {"combinationPolicy": "postpone_transcoding"},
        "transcodeOptions": {"transConfig": {"transMode": "postponeTranscoding"}, "container": {"format": "mp4"}},
    }
    mixed = _request(mode="audio_mix", audio={"channels": "1"}).postponed
    assert mixed is not None
    assert mixed.stored() == {"mode": "audio_mix", "container": "mp3",
                              "audio": {"sampleRate": "48000", "bitrate": "48000", "channels": "1"}}  # fmt: skip
    extra = postponed.app_extra(mixed.stored())
    assert extra is not None and extra["transcodeOptions"]["transConfig"] == {"transMode": "audioMix"}
    body = AgoraClient.start_body(
        "room", 11, "individual", token=None, app_extra=extra,
        storage_config=StorageConfig(bucket="b", access_key="a", secret_key="s", file_name_prefix=["p"]),
    )  # fmt: skip
    request_body = body["clientRequest"]
    assert request_body["appsCollection"] == {"combinationPolicy": "postpone_transcoding"}
    assert request_body["transcodeOptions"]["audio"]["channels"] == "1"


def test_scene() -> None:
    from service.recordings.logic import acquire_scene

    assert acquire_scene({"mode": "transcoding", "container": "mp4"}, "individual") == 2
    assert acquire_scene(None, "web") == 1
    assert acquire_scene(None, "individual") == acquire_scene({}, "mix") == 0
    assert postponed.app_extra(None) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "mix", "postponed": {"mode": "transcoding"}},
         'postponed applies to mode individual only (not "mix")'),
        ({"mode": "raw", "postponed": {"mode": "audio_mix"}}, "individual only"),
        ({"mode": "individual", "postponed": {"mode": "transcoding", "container": "m4a"}}, "mp4 only"),
        ({"mode": "individual", "postponed": {"mode": "transcoding", "audio": {}}}, "audio_mix only"),
        ({"mode": "individual", "postponed": {"mode": "audio_mix", "container": "mp4"}}, "mp3, m4a or aac"),
        ({"mode": "individual", "postponed": {"mode": "audio_mix", "audio": {"channels": 2}}}, "channels"),
        ({"mode": "individual", "postponed": {"mode": "audio_mix", "audio": {"sampleRate": "44100"}}}, "sampleRate"),
        ({"mode": "individual", "postponed": {"mode": "audio_mix"}, "recording_config": {"streamTypes": 1}},
         "needs audio"),
        ({"mode": "individual", "postponed": {"mode": "transcoding"},
          "recording_config": {"streamMode": "original", "streamTypes": 0}}, "original"),
        ({"mode": "individual", "postponed": {"mode": "transcoding", "extra": 1}}, "extra"),
        ({"mode": "individual", "postponed": {}}, "mode"),
    ],
)  # fmt: skip
def test_refused_combinations_say_why(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        RecordingRequest(channel="room", **body)
    assert message in str(raised.value)


def test_results_map_agora_words() -> None:
    assert {postponed.RESULTS[w] for w in ("all_success", "total_success")} == {"completed"}
    assert postponed.RESULTS["partial_success"] == "partial"
    assert postponed.RESULTS["fail"] == postponed.RESULTS["failed"] == "failed"


HOUR_MS = 3600 * 1000
ENDED_MS = 1_800_000_000_000


def _item(**fields: object) -> Recording:
    """A recording item as the table holds it, read through the repository."""
    return from_item(
        {"recordingId": "r", "status": "STOPPED", "stoppedAt": ENDED_MS, "updatedAt": ENDED_MS + 5, **fields}
    )


@pytest.mark.parametrize(
    ("fields", "hours_after", "status"),
    [
        ({}, 24, "pending"),  # within Agora's 24 hours (and the hour's margin)
        ({}, 25.1, "overdue"),  # no 80, no 1001: the notices may have been lost
        ({"postponedStatus": "transcoding"}, 25.1, "overdue"),  # 80 came, the result did not
        ({"postponedStatus": "completed", "postponedResult": "total_success"}, 400, "completed"),
        ({"postponedStatus": "failed"}, 400, "failed"),
        ({"status": "RECORDING", "stoppedAt": None}, 400, "pending"),  # still running: nothing is due yet
        ({"status": "FAILED", "stoppedAt": None}, 25.1, "overdue"),  # no stoppedAt: its last write counts
        ({"status": "FAILED", "stoppedAt": None, "updatedAt": ENDED_MS + 2 * HOUR_MS}, 25.1, "pending"),
    ],
)
def test_a_result_that_never_came_reads_overdue(fields: dict[str, object], hours_after: float, status: str) -> None:
    config = {"postponed": {"mode": "transcoding", "container": "mp4"}}
    shown = postponed.view(_item(**fields), config, now_ms=ENDED_MS + hours_after * HOUR_MS)
    assert shown is not None and shown["status"] == status


def test_a_late_final_result_replaces_overdue() -> None:
    """Nothing is written for overdue, so the 1001 that finally lands sets the real result."""
    config = {"postponed": {"mode": "audio_mix", "container": "mp3"}}
    late = ENDED_MS + 30 * HOUR_MS
    assert postponed.view(_item(), config, now_ms=late)["status"] == "overdue"  # type: ignore[index]
    arrived = _item(postponedStatus="completed", postponedResult="total_success", postponedFiles={"a.mp3"})
    shown = postponed.view(arrived, config, now_ms=late)
    assert shown is not None and (shown["status"], shown["files"]) == ("completed", ["a.mp3"])
