"""NCS event models: envelope validation and defensive payload parsing, on Agora's example events."""

from __future__ import annotations

import json

import pytest
from agorakit.ncs.events import (
    RECORDER_UID_MIN,
    Envelope,
    NcsEventError,
    decode_leave_code,
    is_recorder_bot,
    loads_envelope,
    parse_envelope,
    parse_recording_event,
    parse_rtc_event,
)

from tests.support.fixtures import ncs_examples

EXAMPLES = ncs_examples()


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_every_example_parses(key):
    body = json.dumps(EXAMPLES[key], separators=(",", ":")).encode()
    envelope, document = loads_envelope(body)
    assert envelope.notice_id == EXAMPLES[key]["noticeId"]
    assert envelope.event_type == int(key)
    assert document == EXAMPLES[key]
    if envelope.product_id == 3:
        event = parse_recording_event(envelope)
        assert event.sid == EXAMPLES[key]["payload"]["sid"]
        assert event.cname == EXAMPLES[key]["payload"]["cname"]
        assert event.uid == EXAMPLES[key]["payload"]["uid"]  # recording uids stay strings
        assert envelope.cname == event.cname
    else:
        rtc = parse_rtc_event(envelope)
        assert rtc is not None
        assert rtc.channel == "test_webhook"
        assert envelope.cname == "test_webhook"


def test_recording_example_details():
    uploaded = parse_recording_event(parse_envelope(EXAMPLES["31"]))
    assert uploaded.name == "uploaded"
    assert uploaded.sequence == 42
    assert uploaded.file_names == [
        "38f8e3cfdc474cd56fc1ceba380d7e1a_httpClient463224_0.mp4",
        "38f8e3cfdc474cd56fc1ceba380d7e1a_httpClient463224.m3u8",
    ]
    assert uploaded.file_list[0]["sliceStartTime"] == 1619172632080
    assert uploaded.dedupe_key == ("38f8e3cfdc474cd56fc1ceba380d7e1a", 42, 31)

    infos = parse_recording_event(parse_envelope(EXAMPLES["4"]))
    assert infos.file_names == ["38f8e3cfdc474cd56fc1ceba380d7e1a_httpClient463224.m3u8"]  # a string fileList

    progress = parse_recording_event(parse_envelope(EXAMPLES["33"]))
    assert progress.progress == 8542

    exited = parse_recording_event(parse_envelope(EXAMPLES["11"]))
    assert exited.exit_status == 0

    started = parse_recording_event(parse_envelope(EXAMPLES["40"]))  # the real capture: sid only in payload too
    assert started.status == 0
    assert started.service_type == 1


def _recording(details, event_type=41):
    return parse_recording_event(
        parse_envelope({"noticeId": "n", "productId": 3, "eventType": event_type, "payload": {"details": details}})
    )


def test_recording_alternative_field_names():
    assert _recording({"leaveStatus": 1}, 11).exit_status == 1  # the 2021 name
    assert _recording({"exitStatus": 0, "leaveStatus": 1}, 11).exit_status == 0
    assert _recording({"UtcMs": 5}, 43).utc_ms == 5
    assert _recording({"utcMs": 6}, 43).utc_ms == 6
    assert _recording({"mixedAllUser": "true"}, 42).mixed_all_user is True
    assert _recording({"mixedAllUser": False}, 42).mixed_all_user is False
    web = _recording({"fileList": [{"filename": "a.mp4", "sliceStartTime": 1}], "code": 0}, 71)
    assert web.file_names == ["a.mp4"]
    assert "filename" not in web.file_list[0]
    assert _recording({"fileList": "a.m3u8;b.m3u8"}, 3).file_names == ["a.m3u8", "b.m3u8"]
    assert _recording({"fileList": 17}, 3).file_list == []
    assert _recording({"leaveCode": 20}).leave_reasons == {"idle_timeout", "stopped"}
    assert _recording({"newUid": "4000000001"}, 12).new_uid == 4_000_000_001
    assert _recording({}, 999).name is None


@pytest.mark.parametrize(
    ("code", "legacy", "names"),
    [
        (0, False, {"init_failed"}),
        (2, False, {"sigint"}),
        (4, False, {"idle_timeout"}),
        (8, False, {"timer"}),
        (16, False, {"stopped"}),
        (4 | 16, False, {"idle_timeout", "stopped"}),
        (1, False, {"bit_1"}),
        (64 | 2, False, {"bit_64", "sigint"}),
        ("16", False, {"stopped"}),
        (None, False, set()),
        (1, True, {"sigint"}),
        (2, True, {"idle_timeout"}),
        (4, True, {"sigterm"}),
        (8, True, {"stopped"}),
    ],
)
def test_decode_leave_code(code, legacy, names):
    assert decode_leave_code(code, legacy=legacy) == names


def test_decode_leave_code_rejects_garbage():
    with pytest.raises(NcsEventError):
        decode_leave_code(-1)
    with pytest.raises(NcsEventError):
        decode_leave_code("x")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "JSON object"),
        ({"productId": 1, "eventType": 103}, "noticeId"),
        ({"noticeId": "", "productId": 1, "eventType": 103}, "noticeId"),
        ({"noticeId": "  ", "productId": 1, "eventType": 103}, "noticeId"),
        ({"noticeId": "n", "eventType": 103}, "productId"),
        ({"noticeId": "n", "productId": 1}, "eventType"),
        ({"noticeId": "n", "productId": True, "eventType": 1}, "productId"),
        ({"noticeId": "n", "productId": "one", "eventType": 1}, "productId"),
        ({"noticeId": "n", "productId": 1, "eventType": 1.5}, "eventType"),
        ({"noticeId": "x" * 513, "productId": 1, "eventType": 1}, "noticeId"),
        ({"noticeId": {"a": 1}, "productId": 1, "eventType": 1}, "noticeId"),
    ],
)
def test_envelope_errors(document, message):
    with pytest.raises(NcsEventError, match=message):
        parse_envelope(document)


def test_envelope_is_lenient_where_it_can_be():
    envelope = parse_envelope({"noticeId": 12, "productId": "3", "eventType": "40", "notifyMs": "x", "payload": 5})
    assert envelope == Envelope(notice_id="12", product_id=3, event_type=40, notify_ms=None, sid=None, payload={})
    assert envelope.event_name == "recorder_started"
    assert parse_envelope({"noticeId": "n", "productId": 9, "eventType": 1}).event_name is None


@pytest.mark.parametrize("body", [b"", b"not json", b"[1,2]", b'"text"', b"\xff\xfe\x00", b"{"])
def test_loads_envelope_errors_are_ncs_errors(body):
    with pytest.raises(NcsEventError):
        loads_envelope(body)


def _rtc(event_type, **payload):
    return parse_rtc_event(
        parse_envelope({"noticeId": "n", "productId": 1, "eventType": event_type, "payload": payload})
    )


def test_rtc_events_roles_and_kinds():
    join = _rtc(103, channelName="c", uid=2845863044, platform=7, clientSeq=5, ts=10, account="a")
    assert join is not None
    assert (join.kind, join.role, join.uid, join.account) == ("join", "host", 2845863044, "a")  # uid > 2^31
    assert not join.is_recorder_bot
    leave = _rtc(106, channelName="c", uid=1, clientSeq=6, reason=999, duration=4, ts=11)
    assert leave is not None
    assert (leave.kind, leave.role, leave.reason_name) == ("leave", "audience", "abnormal_user")
    assert _rtc(108, channelName="c", uid=1, clientSeq=1, reason=77).reason_name == "reason_77"  # type: ignore[union-attr]
    assert _rtc(111, channelName="c", uid=1, clientSeq=1).role == "host"  # type: ignore[union-attr]
    assert _rtc(112, channelName="c", uid=1, clientSeq=1).role == "audience"  # type: ignore[union-attr]
    assert _rtc(107, channelName="c", uid=1, clientSeq=1).role == "communication"  # type: ignore[union-attr]
    destroy = _rtc(102, channelName="c", ts=9, lastUid=4)
    assert destroy is not None
    assert (destroy.kind, destroy.last_uid, destroy.uid) == ("channel_destroy", 4, None)
    assert _rtc(109, channelName="c", uid=1) is None  # undocumented: not an error
    assert _rtc(110) is None


def test_rtc_recorder_bot_detection():
    bot = _rtc(103, channelName="c", uid=527841, platform=6, clientType=10, clientSeq=1)
    assert bot is not None and bot.is_recorder_bot
    on_prem = _rtc(103, channelName="c", uid=527841, platform=6, clientType=3, clientSeq=1)
    assert on_prem is not None and not on_prem.is_recorder_bot
    assert is_recorder_bot(RECORDER_UID_MIN, None, None)  # our reserved range, even without clientType
    assert not is_recorder_bot(RECORDER_UID_MIN - 1, 6, None)


@pytest.mark.parametrize(
    "payload",
    [{"uid": 1, "clientSeq": 1}, {"channelName": "c", "clientSeq": 1}, {"channelName": "c", "uid": 2**32}],
)
def test_rtc_required_fields(payload):
    with pytest.raises(NcsEventError):
        _rtc(104, **payload)


def test_rtc_malformed_optional_fields_are_dropped():
    event = _rtc(103, channelName="c", uid="17", platform="web", clientSeq="9", ts=1.0)
    assert event is not None
    assert (event.uid, event.platform, event.client_seq, event.ts) == (17, None, 9, 1)
