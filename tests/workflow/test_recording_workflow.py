"""The SYNTHESIZED recording state machine, executed by moto's Step Functions interpreter, with the real
task handlers in-process and the Agora emulator on loopback. Numbers are the test context's (tiny retry
intervals, a 6 s maximum duration): same definition shape as production.

Every scenario checks the final DynamoDB state and that the emulator never held two tasks for one channel.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import (
    RecordingStack,
    api_event,
    processor_applier,
    recording_stack,
    response_json,
)

pytestmark = pytest.mark.slow

HOST_UID = 1001


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack() as stack:
        yield stack


@pytest.fixture
def channel(rs: RecordingStack) -> Iterator[str]:
    name = "wf" + uuid.uuid4().hex[:10]
    rs.emulator.set_faults(clear=True)
    yield name
    rs.emulator.set_faults(clear=True)
    tasks = rs.emulator_tasks(name)
    assert len(tasks) <= 1, f"the emulator held {len(tasks)} recording tasks for {name}"
    lock = rs.ddb.get_item(TableName=rs.table, Key={"pk": {"S": f"CHANNEL#{name}"}}).get("Item")
    assert lock is None, f"channel {name} is still locked after the test"


def start(rs: RecordingStack, channel: str, **body: Any) -> str:
    status, payload = rs.api("POST", "/recordings", body={"channel": channel, **body})
    assert status == 202, payload
    return str(payload["recording_id"])


def wait_for_segments(rs: RecordingStack, channel: str, count: int = 2) -> None:
    def enough(emulator: Any) -> bool:
        return any(
            s["segments"] >= count for t in emulator.tasks() if t["cname"] == channel for s in t["streams"].values()
        )

    assert rs.emulator.wait_for(enough, timeout=5), "the emulator recorded nothing"


def deliver_events(rs: RecordingStack, sid: str) -> list[int]:
    """What the webhook processor does with each NCS notice of this recording."""
    apply_recording_event = processor_applier()
    delivered = []
    for notice in rs.emulator.events():
        if notice.get("productId") == 3 and notice.get("payload", {}).get("sid") == sid:
            apply_recording_event(notice)
            delivered.append(notice["eventType"])
    return delivered


def test_happy_path(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel, mode="mix", recording_config={"maxIdleTime": 60})
    item = rs.wait_status(recording_id, "RECORDING")
    assert 4_000_000_000 <= int(item["recorderUid"]) <= 4_294_967_295
    task = rs.emulator.task(item["sid"])
    assert task is not None
    assert task["fileNamePrefix"] == ["recordings", channel, recording_id.replace("-", "")]
    assert task["maxIdleTime"] == 60
    wait_for_segments(rs, channel)

    status, body = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert status == 202 and body["stop_requested"] == "api"
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"

    item = rs.item(recording_id)
    assert item["status"] == "STOPPED"
    assert item["stopReason"] == "api" and item["outcome"] == "stopped"
    assert item["uploadingStatus"] == "uploaded"
    assert any(name.endswith(f"{item['sid']}_{channel}.m3u8") for name in item["fileNames"])
    assert "activeStatus" not in item and "taskToken" not in item
    assert rs.states_entered(recording_id) == [
        "Init",
        "Acquire",
        "AcquireOutcome",
        "Start",
        "StartOutcome",
        "WaitForStop",
        "Stop",
        "StopOutcome",
        "Finalize",
        "Done",
    ]
    assert rs.emulator.task(item["sid"])["leaveCode"] == 16  # stopped by the stop call

    status, body = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200 and body["status"] == "STOPPED" and body["files"]


def test_web_mode(rs: RecordingStack, channel: str) -> None:
    recording_id = start(rs, channel, mode="web", web={"url": "https://example.com/classroom"})
    item = rs.wait_status(recording_id, "RECORDING")
    task = rs.emulator.task(item["sid"])
    assert task is not None and task["mode"] == "web"
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    assert rs.item(recording_id)["status"] == "STOPPED"


def test_stop_right_after_the_request_never_starts_a_recorder(rs: RecordingStack, channel: str) -> None:
    recording_id = start(rs, channel)
    status, _ = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert status in (200, 202)
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["stopReason"] == "api"
    # acquire may or may not have run before the stop arrived; a recorder never did
    assert item["outcome"] == "not_started" and "sid" not in item
    assert rs.emulator_tasks(channel) == []


def test_individual_mode_records_per_uid(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel, mode="individual")
    item = rs.wait_status(recording_id, "RECORDING")
    wait_for_segments(rs, channel)
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["mode"] == "individual"
    assert any(f"__uid_s_{HOST_UID}__" in name for name in item["fileNames"]), item["fileNames"]


def test_start_after_the_resource_expired_acquires_again(rs: RecordingStack, channel: str) -> None:
    # The first acquire answers 5.5 s late: the resource ID is then older than the (test) limit of 5 s,
    # the start step refuses it, and the workflow acquires a fresh one.
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.emulator.set_faults(script=["slow"], slow_ms=5500)
    recording_id = start(rs, channel)
    assert rs.emulator.wait_for(lambda e: e.stats()["injected"].get("slow", 0) >= 1, timeout=10)
    rs.emulator.set_faults(slow_ms=0)  # only the first acquire is slow
    item = rs.wait_status(recording_id, "RECORDING", timeout=30)
    assert int(item["reacquires"]) == 1
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    entered = rs.states_entered(recording_id)
    assert entered.count("Acquire") == 2 and "CountReacquire" in entered
    assert rs.item(recording_id)["status"] == "STOPPED"


def test_agora_433_every_time_fails_after_bounded_reacquires(rs: RecordingStack, channel: str) -> None:
    world = rs.emulator.world
    ttl = world.resource_ttl
    world.resource_ttl = -1.0  # every start meets 433 "resource expired"
    try:
        recording_id = start(rs, channel)
        described = rs.wait_execution(recording_id)
    finally:
        world.resource_ttl = ttl
    assert described["status"] == "FAILED"
    item = rs.item(recording_id)
    assert item["status"] == "FAILED"
    assert item["errorType"] == "AgoraResourceExpiredError" and int(item["errorCode"]) == 433
    assert rs.states_entered(recording_id).count("Acquire") == 3  # the first plus reacquire_limit (2)
    assert rs.emulator_tasks(channel) == []


def test_storm_of_429s_is_retried_with_backoff(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.emulator.set_faults(script=["429"] * 4, retry_after=None)
    recording_id = start(rs, channel)
    rs.wait_status(recording_id, "RECORDING", timeout=20)
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    failures = [
        e["lambdaFunctionFailedEventDetails"]["error"]
        for e in rs.history(recording_id)
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert failures == ["AgoraRateLimitedError"] * 4
    assert rs.item(recording_id)["status"] == "STOPPED"


def test_code_65_then_success(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.emulator.set_faults(script=["206_65"])
    recording_id = start(rs, channel)
    rs.wait_status(recording_id, "RECORDING")
    rs.emulator.set_faults(script=["206_65"])  # and the stop meets one too
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    errors = [e for e in rs.history(recording_id) if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in errors] == ["AgoraServerError"] * 2
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["outcome"] == "stopped"
    assert "lastError" not in item or item["lastError"]["step"] == "stop"


def test_empty_recording_is_stopped_not_failed(rs: RecordingStack, channel: str) -> None:
    recording_id = start(rs, channel)  # nobody in the channel: nothing to record
    rs.wait_status(recording_id, "RECORDING")
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["outcome"] == "empty"
    assert "fileNames" not in item


def test_recorder_exits_before_stop_webhook_completes_the_wait(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel, recording_config={"maxIdleTime": 5})
    item = rs.wait_status(recording_id, "RECORDING")
    wait_for_segments(rs, channel, 1)
    rs.emulator.leave(channel, HOST_UID)  # idle for 5 (emulated) seconds: the recorder leaves by itself
    assert rs.emulator.wait_for(lambda e: (e.task(item["sid"]) or {}).get("state") == "exited", timeout=5)
    delivered = deliver_events(rs, item["sid"])
    assert 11 in delivered and 41 in delivered
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED"
    assert item["stopReason"] == "recorder_exited" and item["outcome"] == "gone"
    assert item["leaveReasons"] == ["idle_timeout"] and int(item["exitStatus"]) == 0
    assert item["fileNames"], "the uploaded list (event 31) is kept"

    # the same notices again, late and twice: nothing moves backwards
    deliver_events(rs, item["sid"])
    again = rs.item(recording_id)
    assert again["status"] == "STOPPED" and again["fileNames"] == item["fileNames"]


def test_recorder_exits_without_webhook_reconciler_completes(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel, recording_config={"maxIdleTime": 5})
    item = rs.wait_status(recording_id, "RECORDING")
    rs.emulator.leave(channel, HOST_UID)
    assert rs.emulator.wait_for(lambda e: (e.task(item["sid"]) or {}).get("state") == "exited", timeout=5)
    time.sleep(1.1)  # the (test) HA grace period: a 404 younger than it may be a migration
    counts = rs.reconcile()
    assert counts["completed"] == 1, counts
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["stopReason"] == "reconciler"


def test_stop_twice(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel)
    rs.wait_status(recording_id, "RECORDING")
    first = rs.api("POST", f"/recordings/{recording_id}/stop")
    second = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert first[0] in (200, 202) and second[0] in (200, 202)
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    third = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert third[0] == 200 and third[1]["status"] == "STOPPED"
    stops = [r for r in rs.emulator.request_log() if r["op"] == "stop"]
    sid = rs.item(recording_id)["sid"]
    assert len([t for t in rs.emulator.tasks() if t["sid"] == sid]) == 1
    assert len(stops) >= 1
    assert rs.states_entered(recording_id).count("Stop") == 1


def test_two_concurrent_posts_for_one_channel(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    handler, spec = rs.api_handler()
    from local.provision import LambdaContext

    barrier = threading.Barrier(2)
    results: list[tuple[int, Any]] = []

    def post() -> None:
        event = api_event("POST", "/recordings", body={"channel": channel})
        barrier.wait()
        response = handler(event, LambdaContext(spec))
        results.append((response["statusCode"], response_json(response)))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(code for code, _ in results)
    assert statuses == [202, 409], results
    accepted = next(body for code, body in results if code == 202)
    conflict = next(body for code, body in results if code == 409)
    assert conflict["error"]["details"]["active_recording_id"] == accepted["recording_id"]
    recording_id = accepted["recording_id"]
    rs.wait_status(recording_id, "RECORDING")
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"


def test_maximum_duration_reached(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel)
    rs.wait_status(recording_id, "RECORDING")
    described = rs.wait_execution(recording_id, timeout=20)  # the test maximum is 6 s
    assert described["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["stopReason"] == "max_duration" and item["outcome"] == "stopped"
    assert any(e["type"] == "TaskTimedOut" for e in rs.history(recording_id))


def test_agora_unreachable_fails_and_releases_the_channel(rs: RecordingStack, channel: str) -> None:
    rs.link.down()  # the network between the functions and Agora is cut
    try:
        recording_id = start(rs, channel)
        described = rs.wait_execution(recording_id)
    finally:
        rs.link.up()
    assert described["status"] == "FAILED"
    assert described.get("error") in (None, "RecordingFailed")
    item = rs.item(recording_id)
    assert item["status"] == "FAILED" and item["errorType"] == "AgoraUnavailableError"
    assert item["errorReason"]
    entered = rs.states_entered(recording_id)
    assert entered[-2:] == ["RecordFailure", "Failed"]
    # the channel is free again: a new recording starts
    rs.emulator.join(channel, HOST_UID, role="host")
    again = start(rs, channel)
    rs.wait_status(again, "RECORDING", timeout=20)
    rs.api("POST", f"/recordings/{again}/stop")
    assert rs.wait_execution(again)["status"] == "SUCCEEDED"
