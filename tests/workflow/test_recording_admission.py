"""Admission control end to end: the synthesized stack in moto, the real handlers, and the emulator with a
concurrent-task limit of 2 (406 ``vendor_over_load`` past it, as Agora answers). A burst of five starts: two
record at once, three wait QUEUED and start in order as recordings end; a sixth past the queue cap is 429.
Every recording completes; the emulator never runs more than two tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import RecordingStack, api_event, recording_stack, response_json

pytestmark = pytest.mark.slow

LIMIT = 2
CONTEXT = {
    "agoraMaxTasks": LIMIT,
    "admissionQueueCap": 3,
    # the recordings end at their maximum: three rounds of them are the test's wall time (6 s each with
    # TEST_CONTEXT's maximum: 22 s); 3 s still outlasts the burst, whose answers come from synchronous calls
    "recordingMaxDurationSeconds": 3,
    # Agora may still count a stopped task for a moment (the emulator's exit delay): the 406 Retry, small here
    "recordingCapacityRetryIntervalSeconds": 1,
    "recordingCapacityRetryMaxDelaySeconds": 2,
    "recordingCapacityRetryMaxAttempts": 20,
}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(context=CONTEXT, emulator_kwargs={"max_tasks": LIMIT}) as stack:
        yield stack


def peak_tasks(history: list[dict[str, Any]]) -> int:
    """The most emulator tasks that ran at one moment."""
    moments = sorted(
        [(h["started_at"], 1) for h in history] + [(h["ended_at"], -1) for h in history if h["ended_at"] is not None],
        key=lambda m: (m[0], m[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, delta in moments:
        running += delta
        peak = max(peak, running)
    return peak


def test_a_burst_past_the_task_limit_queues_and_every_recording_completes(rs: RecordingStack) -> None:
    channels = [f"burst{i}" for i in range(5)]
    answers = []
    for channel in channels:
        rs.emulator.join(channel, 1001, role="host")
        status, body = rs.api("POST", "/recordings", body={"channel": channel})
        assert status == 202, body
        answers.append(body)
    assert [a["status"] for a in answers] == ["REQUESTED"] * LIMIT + ["QUEUED"] * 3
    # each its own place in line (two creations in one millisecond are ordered by id, not by arrival)
    assert sorted(a.get("position") for a in answers[LIMIT:]) == [1, 2, 3]
    rs.emulator.join("late", 1001, role="host")
    refused = rs.dispatcher.invoke(
        rs.function_name("RecordingApiFunction"), api_event("POST", "/recordings", body={"channel": "late"}),
        source="test",
    )  # fmt: skip
    assert refused["statusCode"] == 429, refused
    assert response_json(refused)["error"]["code"] == "too_many_requests"
    assert int(refused["headers"]["Retry-After"]) == 900  # 1800 s typical recordings / 2 slots

    ids = [a["recording_id"] for a in answers]
    shown = {i: rs.wait_status(i, "STOPPED", timeout=120) for i in ids}  # 3 s recordings, three rounds
    assert all(item.get("outcome") in ("stopped", "empty") for item in shown.values()), shown
    assert all(not item.get("errorType") for item in shown.values())
    with rs.emulator.world.lock:
        history = [dict(h) for h in rs.emulator.world.history]
    assert peak_tasks(history) <= LIMIT
    admitted = [shown[i].get("admittedAt") for i in ids]
    assert admitted[:LIMIT] == [None] * LIMIT and all(admitted[LIMIT:])  # the queued ones were admitted
    # admitted in line (two slots that free together admit two at once: which of those two reaches Agora first is
    # the workflows' race, so the order checked is the admission's, not the starts')
    in_line = sorted(range(LIMIT, len(ids)), key=lambda n: answers[n]["position"])
    assert [admitted[n] for n in in_line] == sorted(admitted[n] for n in in_line), (in_line, admitted)
    for i in ids:  # Finalize gives the slot back after the STOPPED write: wait for the executions' end
        assert rs.wait_execution(i, timeout=30)["status"] == "SUCCEEDED"
    counters = rs.ddb.get_item(TableName=rs.table, Key={"pk": {"S": "ADMISSION#agora"}}, ConsistentRead=True)
    assert {k: v["N"] for k, v in counters["Item"].items() if k != "pk"} == {"running": "0", "queued": "0"}
