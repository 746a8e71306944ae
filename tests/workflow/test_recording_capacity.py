"""Agora's concurrent-task limit met anyway (another system on the App ID, a leaked task): the emulator runs one
task, admission control thinks there is room. The second recording's acquire answers 406 ``vendor_over_load``;
the state machine retries it with its own Retry (``recordingCapacityRetry*``, small here) and, past the bound,
the recording fails with Agora's code and reason, its channel free again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflow.recording_env import RecordingStack, recording_stack

pytestmark = pytest.mark.slow

CONTEXT = {
    "recordingCapacityRetryIntervalSeconds": 1,
    "recordingCapacityRetryMaxDelaySeconds": 1,
    "recordingCapacityRetryMaxAttempts": 3,
    "recordingMaxDurationSeconds": 30,  # the first recording outlasts the second one's retries
}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(context=CONTEXT, emulator_kwargs={"max_tasks": 1}) as stack:
        yield stack


def test_406_is_retried_within_its_bound_then_fails_with_agoras_reason(rs: RecordingStack) -> None:
    rs.emulator.join("cap1", 1001, role="host")
    rs.emulator.join("cap2", 1001, role="host")
    status, first = rs.api("POST", "/recordings", body={"channel": "cap1"})
    assert status == 202
    rs.wait_status(first["recording_id"], "RECORDING", timeout=30)
    status, second = rs.api("POST", "/recordings", body={"channel": "cap2"})
    assert status == 202 and second["status"] == "REQUESTED"  # our limit (1000) saw room; Agora's (1) had none
    ended = rs.wait_execution(second["recording_id"], timeout=60)
    assert ended["status"] == "FAILED"
    item = rs.item(second["recording_id"])
    assert (item["status"], item["errorType"], item["errorCode"]) == ("FAILED", "AgoraCapacityError", 406)
    assert item["errorReason"] == "vendor_over_load" and item["errorStep"] == "acquire"
    failures = [
        e["lambdaFunctionFailedEventDetails"].get("error")
        for e in rs.history(second["recording_id"])
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert failures == ["AgoraCapacityError"] * 4  # the first attempt and its 3 retries
    lock = rs.ddb.get_item(TableName=rs.table, Key={"pk": {"S": "CHANNEL#cap2"}}).get("Item")
    assert lock is None  # the channel is free: no recorder was ever started for it
    rs.api("POST", f"/recordings/{first['recording_id']}/stop")
    assert rs.wait_execution(first["recording_id"], timeout=60)["status"] == "SUCCEEDED"
