"""The event builders: a stream record's old/new images -> the facts they state, each once, each valid."""

from __future__ import annotations

import json

import pytest
from service.events.media import media_events
from service.events.model import DETAILS, Event, Source, event_id
from service.events.moderation import kicking_rule_events
from service.events.presence import presence_events
from service.events.recordings import recording_events

from tests.support.event_contracts import assert_valid

SRC = Source(table="Recordings", key="pk=REC#r1", sequence="100", occurred_at="2026-12-07T04:00:00Z")
REC = {"pk": "REC#r1", "recordingId": "r1", "channel": "c1", "mode": "mix", "createdAt": 1_796_600_000_000}


def types(events: list[Event]) -> list[str]:
    for event in events:
        assert_valid(event)
    return [e.detail_type for e in events]


# ---------------------------------------------------------------------------------------------- recordings


def test_a_new_recording_is_requested_and_nothing_else():
    events = recording_events(None, {**REC, "status": "REQUESTED", "requestedBy": "u1"}, SRC)
    assert types(events) == ["Recording Requested"]
    detail = events[0].detail.model_dump()
    assert detail["recording_id"] == "r1" and detail["requested_by"] == "u1"
    assert detail["created_at"] == "2026-12-06T23:33:20.000Z"
    assert detail["ordering_key"] == "recording:r1" and detail["sequence"] == "100"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("REQUESTED", "STARTING", []),
        ("STARTING", "STARTING", []),
        ("STARTING", "RECORDING", ["Recording Started"]),
        ("RECORDING", "STOPPING", []),
        ("STOPPING", "STOPPED", ["Recording Stopped"]),
        ("STARTING", "FAILED", ["Recording Failed"]),
        ("STOPPED", "STOPPED", []),
    ],
)
def test_status_transitions(old, new, expected):
    assert types(recording_events({**REC, "status": old}, {**REC, "status": new, "sid": "s1"}, SRC)) == expected


def test_stopped_carries_the_reason_and_failed_the_error():
    stopped = recording_events(
        {**REC, "status": "STOPPING"},
        {
            **REC,
            "status": "STOPPED",
            "stopReason": "recorder_exited",
            "outcome": "gone",
            "stoppedAt": 1_796_600_000_500,
        },
        SRC,
    )[0].detail.model_dump()
    assert (stopped["reason"], stopped["outcome"], stopped["stopped_at"]) == (
        "recorder_exited", "gone", "2026-12-06T23:33:20.500Z",
    )  # fmt: skip
    failed = recording_events(
        {**REC, "status": "STARTING"},
        {**REC, "status": "FAILED", "errorType": "AgoraRequestError", "errorCode": 403, "errorReason": "no",
         "recorderUnconfirmed": True},
        SRC,
    )  # fmt: skip
    detail = assert_valid(failed[0])
    assert (detail["error_code"], detail["reason"], detail["recorder_unconfirmed"]) == (403, "no", True)


def test_no_event_carries_the_task_token_or_the_configuration():
    new = {**REC, "status": "RECORDING", "taskToken": "SECRET-TOKEN", "configJson": '{"token": "abc"}', "sid": "s"}
    (event,) = recording_events({**REC, "status": "STARTING"}, new, SRC)
    assert "SECRET-TOKEN" not in event.detail_json() and "configJson" not in event.detail_json()


def test_files_ready_once_when_uploads_settle():
    old = {**REC, "status": "STOPPING", "uploadingStatus": "uploading"}
    new = {**old, "uploadingStatus": "uploaded", "fileNames": ["a.m3u8", "a_0.ts"]}
    (event,) = recording_events(old, new, SRC)
    assert assert_valid(event)["files"] == ["a.m3u8", "a_0.ts"]
    assert recording_events(new, {**new, "updatedAt": 5}, SRC) == []  # a later write: no second fact
    assert types(recording_events(new, {**new, "uploadingStatus": "backuped"}, SRC)) == ["Recording Files Ready"]


def test_postponed_result_once():
    old = {**REC, "postponedStatus": "transcoding"}
    new = {**old, "postponedStatus": "completed", "postponedResult": "0", "postponedFiles": {"b.mp4", "a.mp4"}}
    (event,) = recording_events(old, new, SRC)
    assert assert_valid(event)["files"] == ["a.mp4", "b.mp4"]
    assert recording_events(new, new, SRC) == []


def test_cdn_status_changes_one_event_per_address_without_the_stream_key():
    url = "rtmp://live.example.com/app/SECRETKEY"
    old = {**REC, "cdnUrls": [url], "cdnOutputs": {"k1": {"url": url, "status": "connecting", "at": 1}}}
    new = {**old, "cdnOutputs": {"k1": {"url": url, "status": "publishing", "at": 2}}}
    (event,) = recording_events(old, new, SRC)
    detail = assert_valid(event)
    assert (detail["host"], detail["status"], detail["previous_status"], detail["current"]) == (
        "live.example.com", "publishing", "connecting", True,
    )  # fmt: skip
    assert "SECRETKEY" not in event.detail_json()
    assert (
        recording_events(new, {**new, "cdnOutputs": {"k1": {"url": url, "status": "publishing", "at": 3}}}, SRC) == []
    )


def test_locks_and_idempotency_records_publish_nothing():
    assert recording_events(None, {"pk": "CHANNEL#c1", "recordingId": "r1"}, SRC) == []
    assert recording_events(None, {"pk": "IDEMP#x", "recordingId": "r1"}, SRC) == []
    assert recording_events({**REC, "status": "STOPPED"}, None, SRC) == []


def test_event_ids_are_deterministic_and_distinct_per_fact():
    new = {**REC, "status": "REQUESTED"}
    assert recording_events(None, new, SRC)[0].detail.event_id == recording_events(None, new, SRC)[0].detail.event_id
    other = Source(table="Recordings", key="pk=REC#r1", sequence="101", occurred_at=None)
    assert recording_events(None, new, SRC)[0].detail.event_id != recording_events(None, new, other)[0].detail.event_id
    assert event_id("t", "k", "1", "A") != event_id("t", "k", "1", "B")


# ---------------------------------------------------------------------------------------------- media

MSRC = Source(table="Media", key="key=#INTEGRITY|sid=s1", sequence="7", occurred_at=None)


def test_integrity_checked_when_settled_and_changed():
    pending = {"sid": "s1", "key": "#INTEGRITY", "status": "pending", "missing_count": 0, "segments": 3}
    assert media_events(None, pending, MSRC, recording_id="r1") == []
    incomplete = {**pending, "status": "incomplete", "missing_count": 2, "missing": ["a_1.ts", "a_2.ts"]}
    (event,) = media_events(pending, incomplete, MSRC, recording_id="r1")
    assert assert_valid(event)["missing"] == ["a_1.ts", "a_2.ts"]
    assert media_events(incomplete, {**incomplete, "checked_at": 9}, MSRC, recording_id="r1") == []
    complete = {**incomplete, "status": "complete", "missing_count": 0, "missing": []}
    assert types(media_events(incomplete, complete, MSRC, recording_id="r1")) == ["Recording Integrity Checked"]


def test_duration_computed_when_ended_or_changed():
    totals = {"sid": "s1", "key": "#TOTALS", "duration_us": 5_000_000, "duration_seconds": "5.000000",
              "ended": False, "segments": 1, "longest_stream_us": 5_000_000, "streams": {"mix": {}}}  # fmt: skip
    assert media_events(None, totals, MSRC, recording_id=None) == []
    ended = {**totals, "ended": True}
    (event,) = media_events(totals, ended, MSRC, recording_id=None)
    assert assert_valid(event)["recording_id"] is None
    assert media_events(ended, {**ended, "revision": 4}, MSRC, recording_id=None) == []
    longer = {**ended, "duration_us": 6_000_000}
    assert types(media_events(ended, longer, MSRC, recording_id="r1")) == ["Recording Duration Computed"]


def test_file_items_publish_nothing():
    assert media_events(None, {"sid": "s1", "key": "recordings/a.m3u8", "status": "ok"}, MSRC, recording_id="r") == []


# ---------------------------------------------------------------------------------------------- presence

PSRC = Source(table="Presence", key="channel=c1|uid=5", sequence="9", occurred_at=None)


def user(state: str | None, **presence):
    item = {"channel": "c1", "uid": "5", "clientSeq": 3, "session": {"bot": False, "platform": 1, "joinedTs": 10}}
    if state:
        item["presence"] = {"state": state, "role": "broadcaster", **presence}
    return item


def test_joined_left_and_role_changes():
    assert types(presence_events(None, user("in"), PSRC)) == ["User Joined Channel"]
    assert presence_events(user("in"), user("in", role="audience"), PSRC) == []
    (left,) = presence_events(user("in"), user("left", leaveReason=1, leaveReasonName="quit", leftTs=20), PSRC)
    assert assert_valid(left)["reason_name"] == "quit"
    (cleared,) = presence_events(user("in"), user("left", leaveCause="channel_destroyed", leftTs=30), PSRC)
    assert assert_valid(cleared)["reason_name"] == "channel_destroyed" and cleared.detail.model_dump()["reason"] is None
    assert types(presence_events(user("left"), user("in"), PSRC)) == ["User Joined Channel"]
    assert presence_events(None, user("left"), PSRC) == []  # a leave whose join was never seen: no "left" fact


def test_channel_closed_once():
    live = {"channel": "c1", "uid": "#channel", "presence": {"state": "live"}}
    destroyed = {
        "channel": "c1",
        "uid": "#channel",
        "presence": {"state": "destroyed", "destroyedTs": 99, "lastUid": 5},
    }
    assert presence_events(None, live, PSRC) == []
    (event,) = presence_events(live, destroyed, PSRC)
    assert assert_valid(event)["destroyed_ts"] == 99
    assert presence_events(destroyed, destroyed, PSRC) == []


# ---------------------------------------------------------------------------------------------- moderation

KSRC = Source(table="Rules", key="id=77", sequence="3", occurred_at=None)
RULE = {"id": 77, "cname": "c1", "uid": 5, "ip": "203.0.113.9", "privileges": ["join_channel"],
        "durationSeconds": 60, "expiresAt": 1_796_600_060, "createdBy": "admin"}  # fmt: skip


def test_kicking_rule_created_and_lifted_but_not_purged():
    (created,) = kicking_rule_events("INSERT", None, RULE, KSRC)
    assert assert_valid(created)["expires_at"] == "2026-12-06T23:34:20.000Z"
    assert "203.0.113.9" not in created.detail_json()
    assert types(kicking_rule_events("REMOVE", RULE, None, KSRC, removed_by=None)) == ["Kicking Rule Lifted"]
    assert kicking_rule_events("REMOVE", RULE, None, KSRC, removed_by="dynamodb.amazonaws.com") == []
    assert kicking_rule_events("MODIFY", RULE, {**RULE, "durationSeconds": 120}, KSRC) == []


def test_every_detail_type_has_a_distinct_name_and_source():
    names = [d.DETAIL_TYPE for d in DETAILS]
    assert len(set(names)) == len(names) == 28
    assert all(d.SOURCE.startswith("agora-serverless.") for d in DETAILS)


def test_entry_is_a_putevents_entry():
    (event,) = recording_events(None, {**REC, "status": "REQUESTED"}, SRC)
    entry = event.entry("Stack-events")
    assert entry["EventBusName"] == "Stack-events" and entry["Source"] == "agora-serverless.recordings"
    assert json.loads(entry["Detail"])["version"] == 1
