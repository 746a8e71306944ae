"""Postponed transcoding / audio mixing through the API and the workflow's own steps against the emulator: the
option reaches Agora as ``scene 2`` + ``appsCollection`` + ``transcodeOptions``; NCS 80/81/1001, late, repeated
and out of order, end as the same ``postponed`` result on ``GET /recordings/{id}``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import RecordingStack, apply_notices, recording_notice, recording_stack


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(execute=False) as stack:
        yield stack


notice = recording_notice
apply = apply_notices


def _view(rs: RecordingStack, item: dict[str, Any]) -> dict[str, Any]:
    status, view = rs.api("GET", f"/recordings/{item['recordingId']}")
    assert status == 200, view
    return view


def test_the_option_reaches_agora_as_scene_2_and_the_result_lands_in_any_order(rs: RecordingStack) -> None:
    item = rs.running("pt" + uuid.uuid4().hex[:8], mode="individual", postponed={"mode": "transcoding"})
    task = rs.emulator.task(item["sid"])
    assert task["postponed"] == {"transMode": "postponeTranscoding", "format": "mp4", "files": [], "done": False}
    before = _view(rs, item)["postponed"]
    assert before == {"mode": "transcoding", "container": "mp4", "status": "pending", "result": None, "files": [],
                      "uids": [], "started_at": None, "finished_at": None}  # fmt: skip
    mp4 = [f"recordings/x/{item['sid']}_{item['channel']}__uid_s_{uid}__uid_e_0.mp4" for uid in (7, 8)]
    started = notice(item, 80, 40, msgName="transcoder_started")
    completed = notice(item, 81, 41, msgName="transcoder_completed", result="partial_success",
                       uids=[{"uid": "8", "result": "fail", "fileList": []},
                             {"uid": "7", "result": "success", "fileList": [{"fileName": mp4[0]}]}])  # fmt: skip
    final = notice(item, 1001, 42, msgName="postpone_transcode_final_result", result="partial_success",
                   fileList=[{"fileName": mp4[0]}])  # fmt: skip
    apply(final, started, final, completed, started)  # 1001 first, everything twice
    view = _view(rs, item)["postponed"]
    assert view["status"] == "partial" and view["result"] == "partial_success"
    assert view["files"] == [mp4[0]]
    assert view["uids"] == [{"uid": "7", "result": "success", "files": [mp4[0]]},
                            {"uid": "8", "result": "fail", "files": []}]  # fmt: skip
    assert view["started_at"] == "2023-11-14T22:13:20.040Z" and view["finished_at"] == "2023-11-14T22:13:20.042Z"
    stored = rs.item(item["recordingId"])
    assert int(stored["postponedSeq"]) == 42, "the late 80 did not move the status back"
    # a later, complete final result (Agora retried the failed uid) wins; an old one changes nothing
    apply(notice(item, 1001, 43, result="total_success", fileList=[{"fileName": n} for n in mp4]), final)
    view = _view(rs, item)["postponed"]
    assert view["status"] == "completed" and view["files"] == mp4


def test_audio_mixing_defaults_to_mp3_and_a_failure_is_shown(rs: RecordingStack) -> None:
    item = rs.running("am" + uuid.uuid4().hex[:8], mode="individual", postponed={"mode": "audio_mix"})
    assert rs.emulator.task(item["sid"])["postponed"]["format"] == "mp3"
    apply(notice(item, 80, 30), notice(item, 1001, 31, result="failed", fileList=[]))
    view = _view(rs, item)["postponed"]
    assert view["mode"] == "audio_mix" and view["container"] == "mp3"
    assert view["status"] == "failed" and view["files"] == []


def test_a_recording_without_the_option_shows_none_and_ignores_stray_events(rs: RecordingStack) -> None:
    item = rs.running("np" + uuid.uuid4().hex[:8])
    apply(notice(item, 1001, 9, result="total_success", fileList=[{"fileName": "x.mp4"}]))
    assert _view(rs, item)["postponed"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "mix", "postponed": {"mode": "transcoding"}}, "individual only"),
        ({"mode": "individual", "postponed": {"mode": "transcoding", "container": "mp3"}}, "mp4 only"),
        ({"mode": "individual", "postponed": {"mode": "audio_mix", "container": "mp4"}}, "mp3, m4a or aac"),
        ({"mode": "individual", "postponed": {"mode": "later"}}, "postponed.mode"),
    ],
)
def test_combinations_agora_refuses_are_422(rs: RecordingStack, body: dict[str, Any], message: str) -> None:
    status, answer = rs.api("POST", "/recordings", body={"channel": "refused", **body})
    assert status == 422 and message in str(answer), answer
