"""Pure rules of recordings: statuses, recorder uids, storage prefixes, lifetimes, fingerprints, stop
reasons, event ordering, leaveCode decoding, the API view and the request models. No AWS, no network."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal

import pytest
from agorakit.agora.models import validate_file_name_prefix
from agorakit.ncs.events import decode_leave_code, parse_envelope, parse_recording_event
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from service.recordings import logic
from service.recordings.models import LayoutRequest, RecordingRequest, UpdateRequest
from service.recordings.repository import from_item

# ---------------------------------------------------------------------------------------------- statuses


def test_statuses_only_move_forward() -> None:
    order = [logic.QUEUED, logic.REQUESTED, logic.STARTING, logic.RECORDING, logic.STOPPING, logic.STOPPED]
    for i, current in enumerate(order):
        for earlier in order[:i]:
            assert not logic.can_transition(current, earlier), f"{current} -> {earlier}"
    for terminal in logic.TERMINAL_STATUSES:
        assert all(not logic.can_transition(terminal, s) for s in logic.TRANSITIONS)
    assert logic.can_transition(logic.STARTING, logic.STARTING)  # a re-acquire
    assert all(logic.can_transition(s, logic.FAILED) for s in logic.ACTIVE_STATUSES)


def test_sources_of_targets() -> None:
    assert logic.sources_of(logic.RECORDING) == (logic.STARTING,)
    assert logic.sources_of(logic.STOPPED) == (logic.QUEUED, logic.STOPPING)  # a queued recording stopped early
    assert logic.sources_of(logic.REQUESTED) == (logic.QUEUED,)  # admitted
    assert set(logic.sources_of(logic.FAILED)) == set(logic.ACTIVE_STATUSES) | {logic.QUEUED}
    assert logic.sources_of(logic.QUEUED) == ()  # only ever a creation's first status
    with pytest.raises(logic.TransitionError, match="STOPPED to RECORDING"):
        logic.check_transition(logic.STOPPED, logic.RECORDING)


def test_active_and_terminal_partition_the_statuses() -> None:
    waiting, active, terminal = set(logic.WAITING_STATUSES), set(logic.ACTIVE_STATUSES), set(logic.TERMINAL_STATUSES)
    assert waiting | active | terminal == set(logic.TRANSITIONS)
    assert not active & terminal and not waiting & (active | terminal)
    assert not logic.is_active(logic.QUEUED)  # the reconciler and RecordingsActive leave the queue alone
    assert logic.is_active("RECORDING") and not logic.is_active("STOPPED") and not logic.is_active(None)


@given(st.lists(st.sampled_from(sorted(logic.TRANSITIONS)), min_size=1, max_size=12))
def test_any_walk_through_the_transitions_never_revisits_an_earlier_status(walk: list[str]) -> None:
    """Property: following only allowed moves from QUEUED, a recording never returns to a status it left
    (STARTING -> STARTING, a re-acquire, stays put) and nothing leaves STOPPED or FAILED."""
    current, left = logic.QUEUED, set()
    for target in walk:
        if not logic.can_transition(current, target):
            continue
        assert target not in left, f"{current} -> {target} revisits"
        if target != current:
            left.add(current)
        current = target
    assert all(not logic.can_transition(t, s) for t in logic.TERMINAL_STATUSES for s in logic.TRANSITIONS)


@pytest.mark.parametrize(
    ("retry_after", "so_far", "cap", "expected"),
    [(0.2, 0, 60, 1), (1.01, 0, 60, 2), (7.5, 53, 60, None), (7.5, 52, 60, 8), (None, 0, 60, None), (3, 0, 0, None)],
)
def test_limiter_waits_become_whole_seconds_within_the_bound(
    retry_after: float | None, so_far: int, cap: int, expected: int | None
) -> None:
    assert logic.throttle_wait(retry_after, so_far, cap) == expected


@given(
    st.floats(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=600),
    st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_a_jittered_limiter_wait_is_at_least_the_slot_and_at_most_the_time_already_waited_more(
    retry_after: float, so_far: int, jitter: float
) -> None:
    seconds = logic.throttle_wait(retry_after, so_far, 10_000, jitter)
    assert seconds is not None
    window = min(max(1, so_far), logic.JITTER_WINDOW_MAX_SECONDS)
    assert max(1, math.ceil(retry_after)) <= seconds <= math.ceil(retry_after + window)
    with pytest.raises(ValueError, match="jitter"):
        logic.throttle_wait(retry_after, so_far, 10_000, 1.0)


def test_the_jitter_window_stops_growing_below_a_resource_ids_life() -> None:
    # a step that waited 10 minutes already waits at most the slot plus the cap, not 10 more minutes
    assert logic.throttle_wait(2.0, 600, 10_000, jitter=0.99) == 2 + logic.JITTER_WINDOW_MAX_SECONDS
    assert logic.JITTER_WINDOW_MAX_SECONDS < 270  # Agora's resource ID lives 5 minutes; ours is used within 4.5


@given(
    st.floats(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=600),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.floats(min_value=-5, max_value=300),
)
def test_a_start_waits_no_longer_than_its_resource_stays_young_when_the_slot_comes_before(
    retry_after: float, so_far: int, jitter: float, within: float
) -> None:
    seconds = logic.throttle_wait(retry_after, so_far, 10_000, jitter, within=within)
    unbounded = logic.throttle_wait(retry_after, so_far, 10_000, jitter)
    assert seconds is not None and unbounded is not None
    if retry_after < within:
        assert seconds == max(1, min(unbounded, math.floor(within)))
    else:  # it ages whatever the wait: acquiring again is the workflow's next step anyway
        assert seconds == unbounded


def test_admission_estimates_and_state_machine_arn() -> None:
    assert logic.admission_estimate_seconds(1, 50, 1800) == 36
    assert logic.admission_estimate_seconds(100, 50, 1800) == 3600
    assert logic.admission_estimate_seconds(0, 50, 1800) == 0
    assert logic.admission_retry_after(50, 1800) == 36 and logic.admission_retry_after(1, 86_400) == 3600
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:s-Recording"
    assert logic.state_machine_of(logic.execution_arn(machine, "r1")) == machine
    with pytest.raises(ValueError, match="not an execution ARN"):
        logic.state_machine_of(machine)


# ---------------------------------------------------------------------------------------------- uids, prefixes


@given(st.integers(min_value=0, max_value=2**32))
def test_recorder_uid_is_in_the_reserved_range(seed: int) -> None:
    uid = logic.pick_recorder_uid(random.Random(seed))
    assert 4_000_000_000 <= uid <= 4_294_967_295


def test_prefix_is_alphanumeric_and_contains_the_recording_id() -> None:
    prefix = logic.file_name_prefix("room-1_main (A)", "0f8b2c1e-5d3a-4c7b-9e1f-2a3b4c5d6e7f")
    assert prefix == ["recordings", "room1mainA", "0f8b2c1e5d3a4c7b9e1f2a3b4c5d6e7f"]
    assert validate_file_name_prefix(prefix) == prefix  # Agora's own rule accepts it


def test_prefix_of_a_channel_without_alphanumerics_is_a_stable_hash() -> None:
    a = logic.file_name_prefix("!!!", "0f8b2c1e-5d3a-4c7b-9e1f-2a3b4c5d6e7f")
    b = logic.file_name_prefix("!!!", "0f8b2c1e-5d3a-4c7b-9e1f-2a3b4c5d6e7f")
    assert a == b and a[1].startswith("c") and a[1].isalnum()
    assert logic.file_name_prefix("???", "x")[1] != a[1]


@given(st.text(min_size=1, max_size=1024))
def test_prefix_always_satisfies_agoras_rules(channel: str) -> None:
    prefix = logic.file_name_prefix(channel, "0f8b2c1e-5d3a-4c7b-9e1f-2a3b4c5d6e7f")
    assert validate_file_name_prefix(prefix) == prefix
    assert len("/".join(prefix)) <= 128


# ---------------------------------------------------------------------------------------------- lifetimes


@pytest.mark.parametrize(
    ("max_seconds", "expected"), [(3600, 4500), (4 * 3600, 4 * 3600 + 900), (24 * 3600, 86400), (6, 906)]
)
def test_token_outlives_the_longest_recording_but_never_24h(max_seconds: int, expected: int) -> None:
    assert logic.token_lifetime(max_seconds) == expected
    assert logic.token_lifetime(max_seconds) <= 86_400


def test_token_lifetime_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        logic.token_lifetime(0)


@pytest.mark.parametrize(("max_seconds", "hours"), [(6, 2), (3600, 2), (3601, 3), (24 * 3600, 25), (10**9, 720)])
def test_resource_expired_hour_covers_the_stop(max_seconds: int, hours: int) -> None:
    assert logic.resource_expired_hour(max_seconds) == hours


def test_resource_age() -> None:
    assert not logic.resource_too_old(1_000_000, 1_000_000 + 239_000, 240)
    assert logic.resource_too_old(1_000_000, 1_000_000 + 241_000, 240)
    assert logic.resource_too_old(None, 1, 240)
    assert logic.resource_age_seconds(2_000, 1_000) == 0.0  # a clock step backwards is not negative age


def test_execution_arn_is_known_before_the_execution_starts() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:AgoraServerless-Recording"
    assert (
        logic.execution_arn(arn, "abc")
        == "arn:aws:states:us-east-1:123456789012:execution:AgoraServerless-Recording:abc"
    )
    with pytest.raises(ValueError, match="not a state machine ARN"):
        logic.execution_arn("arn:aws:lambda:us-east-1:1:function:f", "abc")


def test_web_extension_config() -> None:
    config = logic.web_extension_config({"url": "https://example.com/page", "videoFps": None}, 5 * 3600)
    service = config["extensionServices"][0]
    assert service["serviceName"] == "web_recorder_service"
    assert service["serviceParam"] == {"url": "https://example.com/page", "maxRecordingHour": 5}


# ---------------------------------------------------------------------------------------------- idempotency


def test_fingerprint_ignores_key_order_only() -> None:
    a = logic.request_fingerprint({"channel": "a", "mode": "mix", "x": {"b": 1, "a": 2}})
    b = logic.request_fingerprint({"x": {"a": 2, "b": 1}, "mode": "mix", "channel": "a"})
    c = logic.request_fingerprint({"channel": "a", "mode": "individual", "x": {"b": 1, "a": 2}})
    assert a == b != c


def test_idempotency_keys() -> None:
    assert logic.validate_idempotency_key("retry-7f3a") == "retry-7f3a"
    for bad in ("", "has space", "x" * 256, "tab\t"):
        with pytest.raises(ValueError, match="Idempotency-Key"):
            logic.validate_idempotency_key(bad)
    assert logic.idempotency_scope("alice", "k") != logic.idempotency_scope("bob", "k")


# ---------------------------------------------------------------------------------------------- workflow state


def test_stop_reason_from_the_workflow_state() -> None:
    assert logic.stop_reason({"wait": {"reason": "recorder_exited"}}) == "recorder_exited"
    assert logic.stop_reason({"timeout": {"Error": "States.Timeout"}}) == "max_duration"
    assert logic.stop_reason({"wait": {}, "timeout": {"Error": "States.Timeout"}}) == "max_duration"
    assert logic.stop_reason({}) == "unknown"


def test_workflow_error_reads_a_lambda_cause() -> None:
    cause = json.dumps({"errorType": "AgoraServerError", "errorMessage": "Agora start failed http=504 code=62"})
    assert logic.workflow_error({"error": {"Error": "AgoraServerError", "Cause": cause}}) == (
        "AgoraServerError",
        "Agora start failed http=504 code=62",
    )
    assert logic.workflow_error({"error": {"Error": "States.Timeout", "Cause": "plain text"}}) == (
        "States.Timeout",
        "plain text",
    )
    assert logic.workflow_error({})[0] == "Unknown"


# ---------------------------------------------------------------------------------------------- event ordering


@pytest.mark.parametrize(
    ("stored", "incoming", "applies"),
    [(None, 3, True), (3, 4, True), (4, 4, False), (5, 4, False), (None, None, True), (3, None, False)],
)
def test_a_late_or_duplicate_event_never_moves_a_field_back(
    stored: int | None, incoming: int | None, applies: bool
) -> None:
    assert logic.sequence_is_newer(stored, incoming) is applies


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=30))
def test_any_delivery_order_ends_at_the_newest_sequence(sequences: list[int]) -> None:
    stored = None
    for seq in sequences:
        if logic.sequence_is_newer(stored, seq):
            stored = seq
    assert stored == max(sequences)


@pytest.mark.parametrize(
    ("code", "names"),
    [
        (0, {"init_failed"}),
        (4, {"idle_timeout"}),
        (16, {"stopped"}),
        (4 | 16, {"idle_timeout", "stopped"}),
        (2 | 8, {"sigint", "timer"}),
        (1, {"bit_1"}),
    ],
)
def test_leave_code_is_a_bitmask(code: int, names: set[str]) -> None:
    assert decode_leave_code(code) == frozenset(names)
    details = {"msgName": "recorder_leave", "leaveCode": code}
    notice = {
        "noticeId": "n",
        "productId": 3,
        "eventType": 41,
        "payload": {"sid": "s", "sequence": 9, "details": details},
    }
    event = parse_recording_event(parse_envelope(notice))
    assert event.leave_reasons == frozenset(names)


def test_exit_status_accepts_the_2021_name() -> None:
    for key in ("exitStatus", "leaveStatus"):
        notice = {"noticeId": "n", "productId": 3, "eventType": 11, "payload": {"sid": "s", "details": {key: 1}}}
        assert parse_recording_event(parse_envelope(notice)).exit_status == 1


# ---------------------------------------------------------------------------------------------- view


def test_view_shows_no_internals_and_plain_numbers() -> None:
    item = {
        "recordingId": "r1", "channel": "c", "mode": "mix", "status": "STOPPED", "recorderUid": Decimal(4_000_000_001),
        "taskToken": "secret-token", "opLock": "x", "createdAt": Decimal(1_700_000_000_000),
        "fileNames": {"b.m3u8", "a.m3u8"}, "errorType": "AgoraServerError", "errorCode": Decimal(62),
        "agoraErrors": {"12": {"code": Decimal(47)}, "3": {"code": Decimal(32)}},
    }  # fmt: skip
    view = logic.view(from_item(item), media={"duration": Decimal("12.5")})
    text = json.dumps(view)
    assert "secret-token" not in text and "opLock" not in text
    assert view["recorder_uid"] == 4_000_000_001 and view["bot_uid"] == 4_000_000_001
    assert view["files"] == ["a.m3u8", "b.m3u8"]
    assert view["created_at"] == "2023-11-14T22:13:20.000Z"
    assert view["error"] == {"type": "AgoraServerError", "code": 62, "reason": None}
    assert [e["code"] for e in view["agora_errors"]] == [32, 47]  # in sequence order
    assert view["media"] == {"duration": 12.5}


# ---------------------------------------------------------------------------------------------- request models


def test_minimal_request_defaults_to_mix() -> None:
    request = RecordingRequest.model_validate({"channel": "room 1"})
    assert request.mode == "mix" and request.agora_recording_config() is None


def test_full_mix_request() -> None:
    region = {"uid": "1001", "x_axis": 0, "y_axis": 0, "width": 1, "height": 1}
    request = RecordingRequest.model_validate(
        {
            "channel": "room1",
            "mode": "mix",
            "recording_config": {
                "maxIdleTime": 120, "streamTypes": 2, "subscribeAudioUids": ["#allstream#"],
                "transcodingConfig": {"width": 1280, "height": 720, "mixedVideoLayout": 3, "layoutConfig": [region]},
            },
            "recording_file_config": {"avFileType": ["hls", "mp4"]},
        }
    )  # fmt: skip
    config = request.agora_recording_config()
    assert config is not None and config["maxIdleTime"] == 120 and "channelType" not in config
    assert request.agora_file_config() == {"avFileType": ["hls", "mp4"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"channel": "a", "extra": 1}, "Extra inputs"),
        ({"channel": "bad/name"}, "channel"),
        ({"channel": "x" * 64}, "channel"),
        ({"channel": "a", "mode": "web"}, "web.url"),
        ({"channel": "a", "web": {"url": "https://e.com"}}, 'mode "web" only'),
        ({"channel": "a", "mode": "individual", "recording_config": {"transcodingConfig": {}}}, "mix only"),
        ({"channel": "a", "recording_config": {"streamMode": "standard"}}, "individual only"),
        (
            {"channel": "a", "recording_config": {"subscribeAudioUids": ["1"], "unsubscribeAudioUids": ["2"]}},
            "not both",
        ),
        ({"channel": "a", "recording_config": {"subscribeVideoUids": ["4294967296"]}}, r"2\^32-1"),
        ({"channel": "a", "recording_config": {"subscribeVideoUids": ["0"]}}, "pattern"),
        ({"channel": "a", "recording_config": {"maxIdleTime": 4}}, "greater than or equal"),
        ({"channel": "a", "recording_config": {"transcodingConfig": {"width": 1920, "height": 1920}}}, "1920 x 1080"),
        ({"channel": "a", "recording_config": {"transcodingConfig": {"mixedVideoLayout": 3}}}, "layoutConfig"),
        ({"channel": "a", "recording_file_config": {"avFileType": ["mp4"]}}, "hls"),
        ({"channel": "a", "mode": "individual", "recording_file_config": {"avFileType": ["hls", "mp4"]}}, "individual"),
        ({"channel": "a", "mode": "web", "web": {"url": "http://insecure.example"}}, "pattern"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(body: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RecordingRequest.model_validate(body)


def test_web_request() -> None:
    request = RecordingRequest.model_validate(
        {"channel": "any label / with slashes", "mode": "web", "web": {"url": "https://example.com/x"}}
    )
    assert request.web is not None and request.web.videoWidth == 1280


def test_update_and_layout_requests() -> None:
    update = UpdateRequest.model_validate({"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["1001"]}}})
    assert update.client_request() == {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["1001"]}}}
    both = {"subscribeVideoUids": ["1"], "unsubscribeVideoUids": ["2"]}
    for bad in ({}, {"streamSubscribe": {}}, {"streamSubscribe": {"audioUidList": {}}},
                {"streamSubscribe": {"videoUidList": both}}):  # fmt: skip
        with pytest.raises(ValidationError):
            UpdateRequest.model_validate(bad)
    layout = LayoutRequest.model_validate({"mixedVideoLayout": 1, "backgroundColor": "#102030"})
    assert layout.client_request() == {"mixedVideoLayout": 1, "backgroundColor": "#102030"}
    for bad in ({"mixedVideoLayout": 4}, {"backgroundColor": "red"}, {"mixedVideoLayout": 2},
                {"layoutConfig": [{"x_axis": 2, "y_axis": 0, "width": 1, "height": 1}]}):  # fmt: skip
        with pytest.raises(ValidationError):
            LayoutRequest.model_validate(bad)
