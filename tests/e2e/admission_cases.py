"""Admission control end to end through the local stack (``LocalRuntime``, what ``make run`` serves), in a
child process (``test_local_stack_e2e.py``): the emulator runs at most two recording tasks (406
``vendor_over_load`` past them, as Agora answers), the stack is told the same (``agoraMaxTasks``). A burst of
four ``POST /recordings`` over HTTP: two record, two wait QUEUED (with their place in line), a fifth past the
queue cap is 429 with ``Retry-After``; as recordings reach their maximum duration the queued ones start, in
order, and every recording completes. The emulator's history never shows more than two tasks at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.run import LocalRuntime
from tests.e2e.hostile_cases import api, api_full, emulator, item, join, local_stack, wait, wait_status

pytestmark = pytest.mark.slow

LIMIT = 2
CONTEXT: dict[str, Any] = {
    "agoraMaxTasks": LIMIT, "admissionQueueCap": 2, "recordingMaxDurationSeconds": 8,
    "recordingRetryIntervalSeconds": 1, "recordingRetryMaxDelaySeconds": 2, "recordingResourceMaxAgeSeconds": 120,
    # a task Agora still counts for a moment after its stop: the 406 Retry, small here
    "recordingCapacityRetryIntervalSeconds": 1, "recordingCapacityRetryMaxDelaySeconds": 2,
    "recordingCapacityRetryMaxAttempts": 30,
}  # fmt: skip
EMULATOR: dict[str, Any] = {"time_scale": 20.0, "seed": 2207, "max_tasks": LIMIT}


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with local_stack(emulator_options=EMULATOR, context=CONTEXT) as rt:
        yield rt


def peak(tasks: list[dict[str, Any]]) -> int:
    moments = sorted(
        [(t["started_at"], 1) for t in tasks] + [(t["ended_at"], -1) for t in tasks if t["ended_at"]],
        key=lambda m: (m[0], m[1]),
    )
    running = most = 0
    for _, delta in moments:
        running += delta
        most = max(most, running)
    return most


def test_a_burst_past_the_task_limit_queues_over_http_and_every_recording_completes(runtime: LocalRuntime) -> None:
    channels = [f"adm{i}" for i in range(4)]
    answers = []
    for channel in channels:
        join(runtime, channel)
        status, body = api(runtime, "POST", "/recordings", {"channel": channel})
        assert status == 202, body
        answers.append(body)
    assert [a["status"] for a in answers] == ["REQUESTED", "REQUESTED", "QUEUED", "QUEUED"], answers
    assert [a.get("position") for a in answers[LIMIT:]] == [1, 2]
    join(runtime, "adm-late")
    status, refused, headers = api_full(runtime, "POST", "/recordings", {"channel": "adm-late"})
    assert status == 429 and refused["error"]["code"] == "too_many_requests", refused
    assert int(headers["Retry-After"]) >= 1
    status, shown = api(runtime, "GET", f"/recordings/{answers[3]['recording_id']}")
    assert status == 200 and shown["status"] == "QUEUED" and shown["position"] == 2

    ids = [a["recording_id"] for a in answers]
    ended = [wait_status(runtime, i, "STOPPED", "FAILED") for i in ids]
    assert [e["status"] for e in ended] == ["STOPPED"] * 4, [e.get("errorReason") for e in ended]
    assert all(e.get("admittedAt") for e in ended[LIMIT:])  # the queued ones were admitted, not refused
    tasks = [t for t in emulator(runtime, "GET", "/emulator/history")["tasks"] if t["cname"] in channels]
    assert peak(tasks) <= LIMIT, tasks
    first = {t["cname"]: t["started_at"] for t in sorted(tasks, key=lambda t: t["started_at"], reverse=True)}
    assert first[channels[2]] <= first[channels[3]]  # first in line, first started
    wait("every slot given back", lambda: all("slotHeld" not in item(runtime, i) for i in ids))
