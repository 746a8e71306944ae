"""``apply_recording_event`` (NCS productId 3) against the RecordingsTable in moto: late, duplicated and
reordered notices never move a recording backwards; file lists merge as sets; a session exit completes
the wait. Recordings are arranged by the workflow's own steps (executions do not run here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from service.recordings.repository import from_item

from tests.workflow.recording_env import RecordingStack, apply_notices, recording_notice, recording_stack


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(execute=False) as stack:
        yield stack


@pytest.fixture
def recording(rs: RecordingStack) -> dict[str, Any]:
    return rs.running("ev" + uuid.uuid4().hex[:10])


notice = recording_notice
apply = apply_notices


def test_file_lists_merge_as_sets_in_any_order(rs: RecordingStack, recording: dict[str, Any]) -> None:
    m3u8 = f"recordings/x/{recording['sid']}_{recording['channel']}.m3u8"
    mp4 = f"recordings/x/{recording['sid']}_{recording['channel']}_0.mp4"
    uploaded = notice(recording, 31, 20, msgName="uploaded", status=0, fileList=[{"fileName": m3u8}, {"fileName": mp4}])
    first_m3u8 = notice(recording, 4, 5, msgName="cloud_recording_file_infos", fileList=m3u8)
    apply(uploaded, first_m3u8, uploaded, first_m3u8)  # 4 arrives after 31, and both twice
    item = rs.item(recording["recordingId"])
    assert item["fileNames"] == {m3u8, mp4}
    assert item["uploadingStatus"] == "uploaded" and int(item["uploadSeq"]) == 20
    assert int(item["lastSequence"]) == 20


def test_a_late_upload_status_does_not_overwrite_a_newer_one(rs: RecordingStack, recording: dict[str, Any]) -> None:
    apply(notice(recording, 32, 30, msgName="backuped", fileList=[]))
    apply(notice(recording, 31, 25, msgName="uploaded", fileList=[]))  # older: ignored
    assert rs.item(recording["recordingId"])["uploadingStatus"] == "backuped"
    apply(notice(recording, 31, 31, msgName="uploaded", fileList=[]))  # newer: applies
    assert rs.item(recording["recordingId"])["uploadingStatus"] == "uploaded"


def test_failover_moves_the_bot_uid_forward_only(rs: RecordingStack, recording: dict[str, Any]) -> None:
    apply(notice(recording, 12, 9, msgName="session_failover", newUid=4_100_000_009))
    apply(notice(recording, 12, 4, msgName="session_failover", newUid=4_100_000_004))  # late
    item = rs.item(recording["recordingId"])
    assert int(item["botUid"]) == 4_100_000_009 and int(item["botUidSeq"]) == 9
    assert item["recorderUid"] == recording["recorderUid"]  # REST calls keep the acquire uid
    status, view = rs.api("GET", f"/recordings/{recording['recordingId']}")
    assert status == 200 and view["bot_uid"] == 4_100_000_009


def test_leave_code_is_decoded(rs: RecordingStack, recording: dict[str, Any]) -> None:
    apply(notice(recording, 41, 14, msgName="recorder_leave", leaveCode=4 | 16))
    apply(notice(recording, 41, 2, msgName="recorder_leave", leaveCode=0))  # older: ignored
    item = rs.item(recording["recordingId"])
    assert item["leaveReasons"] == ["idle_timeout", "stopped"] and int(item["leaveCode"]) == 20


def test_session_exit_asks_the_workflow_to_stop(rs: RecordingStack, recording: dict[str, Any]) -> None:
    exit_notice = notice(recording, 11, 16, msgName="session_exit", leaveStatus=1)  # the 2021 field name
    apply(exit_notice, exit_notice)
    item = rs.item(recording["recordingId"])
    assert item["stopRequested"] == "recorder_exited" and int(item["exitStatus"]) == 1
    assert item["status"] == "RECORDING"  # the workflow's stop step moves it, not the event
    state = {"recordingId": recording["recordingId"], "wait": {"reason": "recorder_exited"}}
    state["stop"] = rs.task({"action": "stop", "state": state})
    rs.task({"action": "finalize", "state": state})
    item = rs.item(recording["recordingId"])
    assert item["status"] == "STOPPED" and item["stopReason"] == "recorder_exited"
    apply(exit_notice, notice(recording, 12, 99, newUid=4_200_000_000))  # after the end: harmless
    assert rs.item(recording["recordingId"])["status"] == "STOPPED"


def test_exit_before_the_wait_started(rs: RecordingStack) -> None:
    channel = "ev" + uuid.uuid4().hex[:10]
    rs.emulator.join(channel, 1001, role="host")
    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    recording_id = created["recording_id"]
    rs.task({"action": "acquire", "recordingId": recording_id, "reacquires": 0})
    rs.task({"action": "start", "recordingId": recording_id, "reacquires": 0})
    item = rs.item(recording_id)
    apply(notice(item, 11, 3, msgName="session_exit", exitStatus=0))
    assert rs.item(recording_id)["stopRequested"] == "recorder_exited"
    # the wait step finds the request and completes itself (moto accepts the callback)
    assert rs.task({"action": "wait", "recordingId": recording_id, "taskToken": "t"}) == {"waiting": True}


def test_errors_and_warnings_are_kept_bounded_and_deduplicated(rs: RecordingStack, recording: dict[str, Any]) -> None:
    errors = [notice(recording, 1, seq, module=1, errorLevel=3, errorCode=47, errorMsg="upload failed") for seq in
              range(30)]  # fmt: skip
    apply(*errors, errors[0], errors[1])
    apply(notice(recording, 2, 40, module=1, warnCode=31))
    item = rs.item(recording["recordingId"])
    assert len(item["agoraErrors"]) == 20 and len(item["agoraWarnings"]) == 1
    status, view = rs.api("GET", f"/recordings/{recording['recordingId']}")
    assert status == 200
    assert [e["sequence"] for e in view["agora_errors"]] == list(range(20))
    assert view["agora_errors"][0] == {"module": 1, "level": 3, "code": 47, "message": "upload failed",
                                       "sequence": 0, "at": 1_700_000_000_000}  # fmt: skip
    assert view["agora_warnings"][0]["code"] == 31


def test_what_is_not_for_a_known_recording_is_ignored(rs: RecordingStack, recording: dict[str, Any]) -> None:
    before = rs.item(recording["recordingId"])
    unknown_sid = {**notice(recording, 11, 1), "payload": {"sid": "f" * 32, "sequence": 1, "details": {}}}
    apply(
        unknown_sid,
        {"noticeId": "x", "productId": 1, "eventType": 101, "payload": {"channelName": recording["channel"]}},
        {"productId": 3},  # malformed: no noticeId
        notice(recording, 43, 50, streamUid="1001", state=0),  # not one we act on
        {**notice(recording, 4, 51, fileList="a.m3u8"), "payload": {"details": {"fileList": "a.m3u8"}}},  # no sid
    )
    after = rs.item(recording["recordingId"])
    assert {k: v for k, v in after.items() if k != "updatedAt"} == {k: v for k, v in before.items() if k != "updatedAt"}


def test_upload_progress_is_kept_and_stale_progress_writes_nothing(
    rs: RecordingStack, recording: dict[str, Any]
) -> None:
    m3u8 = f"recordings/x/{recording['sid']}_{recording['channel']}.m3u8"
    apply(notice(recording, 4, 3, msgName="cloud_recording_file_infos", fileList=m3u8))
    apply(notice(recording, 33, 40, msgName="uploading_progress", progress=5000))
    written = rs.item(recording["recordingId"])
    apply(notice(recording, 33, 39, msgName="uploading_progress", progress=9000))  # late: no write at all
    apply(notice(recording, 33, 40, msgName="uploading_progress", progress=5000))  # a resend: no write either
    item = rs.item(recording["recordingId"])
    assert item == written, "a stale or repeated event 33 changes nothing (not even updatedAt)"
    assert int(item["uploadProgress"]) == 5000 and int(item["progressSeq"]) == 40
    assert int(item["lastSequence"]) == 3, "event 33 writes once: its own progressSeq, not lastSequence"
    status, view = rs.api("GET", f"/recordings/{recording['recordingId']}")
    assert status == 200 and view["upload_progress_percent"] == 50.0
    assert view["last_upload_at"] == "2023-11-14T22:13:20.040Z" and view["files_uploaded"] == 1
    apply(notice(recording, 33, 41, msgName="uploading_progress", progress=10000))
    assert int(rs.item(recording["recordingId"])["uploadProgress"]) == 10000


def test_an_unknown_sid_is_offered_to_the_starting_recording_with_that_recorder_uid(rs: RecordingStack) -> None:
    """A start whose reply was lost: NCS names the task first. Only the channel's STARTING recording with the
    same recorder uid and no sid takes it (as ``candidateSid``, for the resolve step to confirm)."""
    channel = "ev" + uuid.uuid4().hex[:10]
    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    recording_id = created["recording_id"]
    rs.task({"action": "acquire", "recordingId": recording_id, "reacquires": 0})
    item = {**rs.item(recording_id), "sid": "a" * 32}
    apply({**notice(item, 40, 1, msgName="recorder_started", status=0)})
    other_uid = {**item, "sid": "b" * 32, "recorderUid": int(item["recorderUid"]) - 1}
    apply(notice(other_uid, 40, 1, msgName="recorder_started", status=0))  # someone else's recorder
    stored = rs.item(recording_id)
    assert stored["candidateSid"] == "a" * 32 and "sid" not in stored and stored["status"] == "STARTING"
    rs.api("POST", f"/recordings/{recording_id}/stop")


def test_screenshot_files_are_kept_as_a_bounded_set(
    rs: RecordingStack, recording: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.recordings import logic

    monkeypatch.setattr(logic, "MAX_SNAPSHOT_FILES", 2)
    jpg = [f"{recording['sid']}_{recording['channel']}__uid_s_7__uid_e_video_2026010100000{i}.jpg" for i in range(3)]
    shots = [
        notice(recording, 45, 30 + i, msgName="recorder_snapshot_file", fileName=name) for i, name in enumerate(jpg)
    ]
    apply(shots[0], shots[0], shots[1])  # a resend adds nothing
    item = rs.item(recording["recordingId"])
    assert item["snapshotFiles"] == {jpg[0], jpg[1]} and not item.get("snapshotsTruncated")
    apply(shots[2], shots[1])  # the third is over the cap: only flagged; a known one is still fine
    item = rs.item(recording["recordingId"])
    assert item["snapshotFiles"] == {jpg[0], jpg[1]} and item["snapshotsTruncated"] is True
    view = logic.view(from_item(item))
    assert view["snapshots"] == sorted(jpg[:2]) and view["snapshots_truncated"] is True
