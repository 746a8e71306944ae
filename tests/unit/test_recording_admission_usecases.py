"""Admission control and limiter waits on the in-memory fakes, in virtual time: a burst past Agora's
concurrent-task limit queues in order and every recording runs; the queue cap answers 429; a queued
recording stops without ever starting; a slot is given back once; a limiter refusal becomes a Wait."""

from __future__ import annotations

from typing import Any

import pytest
from agorakit.agora.errors import AgoraCapacityError, AgoraRateLimitedError
from service.errors import TooManyRequests
from service.recordings import admission, logic
from service.recordings.models import RecordingRequest
from service.recordings.operations import create_recording, get_recording, list_recordings, stop_recording

from tests.unit.recording_world import ADMIN, HOST, MACHINE, World, world


def post(w: World, channel: str) -> dict[str, Any]:
    w.agora.join(channel, HOST)
    w.clock.advance(0.01)  # one creation per 10 ms: the queue's order is the creation order
    status, body = create_recording(
        ADMIN, RecordingRequest.model_validate({"channel": channel}), None, settings=w.settings, deps=w.deps
    )
    assert status == 202
    return body


def run_to_recording(w: World, recording_id: str) -> None:
    """What the state machine does between its start and the wait (``Init`` -> ``WaitForStop``)."""
    assert w.workflow.execution_status(f"{MACHINE}:{recording_id}".replace("stateMachine", "execution")) == "RUNNING"
    w.step("acquire", recording_id)
    assert w.step("start", recording_id)["outcome"] == "started"
    w.step("wait", recording_id, taskToken=w.workflow.park(f"token-{recording_id}"))


def stop_and_finalize(w: World, recording_id: str) -> None:
    """The stop API, then the workflow's Stop and Finalize steps."""
    stop_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    result = w.step("stop", recording_id, wait={"reason": "api"})
    w.step("finalize", recording_id, stop=result)


def test_a_burst_past_the_task_limit_queues_in_order_and_every_recording_records() -> None:
    w = world(admission=True, agora_tasks=3, agora_max_tasks=3, admission_queue_cap=10)
    bodies = [post(w, f"room{i}") for i in range(8)]
    ids = [b["recording_id"] for b in bodies]
    assert [b["status"] for b in bodies] == [logic.REQUESTED] * 3 + [logic.QUEUED] * 5
    assert [b.get("position") for b in bodies[3:]] == [1, 2, 3, 4, 5]
    # 1800 s typical recordings, 3 slots: one frees every 600 s on average
    assert [b.get("estimated_wait_seconds") for b in bodies[3:]] == [600, 1200, 1800, 2400, 3000]
    assert set(w.workflow.executions) == set(ids[:3])  # queued recordings have no execution yet
    assert w.store.admission_counts() == (3, 5)

    admitted_order: list[str] = []
    running = list(ids[:3])
    for recording_id in running:
        run_to_recording(w, recording_id)
    while running:
        first = running.pop(0)
        before = set(w.workflow.executions)
        stop_and_finalize(w, first)  # finalize gives the slot back and the pump starts the next in line
        for new in sorted(set(w.workflow.executions) - before, key=ids.index):
            assert w.workflow.executions[new].state_machine_arn == MACHINE
            admitted_order.append(new)
            run_to_recording(w, new)
            running.append(new)
        assert w.agora.running_tasks() <= 3
    assert admitted_order == ids[3:]  # first in, first started
    assert w.agora.peak_tasks == 3 and "RecordingFailed" not in w.metrics.names()
    ended = [w.store.get(i) for i in ids]
    assert all(r is not None and r.status == logic.STOPPED and r.stop_reason == "api" for r in ended)
    assert w.store.admission_counts() == (0, 0) and not w.store.locks


def test_get_shows_a_queued_recordings_place_which_moves_as_the_line_moves() -> None:
    w = world(admission=True, agora_max_tasks=1, admission_queue_cap=5)
    first, second, third = (post(w, f"room{i}")["recording_id"] for i in range(3))
    shown = get_recording(ADMIN, third, settings=w.settings, deps=w.deps)
    assert (shown["status"], shown["position"], shown["estimated_wait_seconds"]) == (logic.QUEUED, 2, 3600)
    listed = list_recordings(ADMIN, channel=None, limit=None, next_token=None, settings=w.settings, deps=w.deps)
    assert [r["status"] for r in listed["recordings"]] == [logic.QUEUED, logic.QUEUED, logic.REQUESTED]
    stop_recording(ADMIN, second, settings=w.settings, deps=w.deps)  # leaves the line before it starts
    assert get_recording(ADMIN, third, settings=w.settings, deps=w.deps)["position"] == 1
    run_to_recording(w, first)
    stop_and_finalize(w, first)
    assert get_recording(ADMIN, third, settings=w.settings, deps=w.deps)["status"] == logic.REQUESTED
    assert third in w.workflow.executions and second not in w.workflow.executions


def test_a_full_queue_answers_429_with_retry_after_and_writes_nothing() -> None:
    w = world(admission=True, agora_max_tasks=2, admission_queue_cap=1)
    for i in range(3):
        post(w, f"room{i}")
    w.agora.join("late", HOST)
    with pytest.raises(TooManyRequests) as refused:
        create_recording(
            ADMIN, RecordingRequest.model_validate({"channel": "late"}), None, settings=w.settings, deps=w.deps
        )
    assert refused.value.headers == {"Retry-After": "900"}  # 1800 s / 2 slots
    assert "late" not in w.store.locks and w.store.admission_counts() == (2, 1)


def test_stopping_a_queued_recording_ends_it_at_once_and_frees_its_channel() -> None:
    w = world(admission=True, agora_max_tasks=1, admission_queue_cap=5)
    post(w, "busy")
    queued = post(w, "waiting")["recording_id"]
    status, shown = stop_recording(ADMIN, queued, settings=w.settings, deps=w.deps)
    assert status == 200
    assert (shown["status"], shown["outcome"], shown["stop_reason"]) == (logic.STOPPED, "not_started", "api")
    assert "waiting" not in w.store.locks and w.store.admission_counts() == (1, 0)
    assert w.agora.calls == []  # Agora never heard of it
    assert post(w, "waiting")["status"] == logic.QUEUED  # the channel is free for a new request
    assert stop_recording(ADMIN, queued, settings=w.settings, deps=w.deps)[0] == 200  # stopping again: the same


def test_a_slot_is_given_back_once_whatever_retries_the_workflow_makes() -> None:
    w = world(admission=True, agora_max_tasks=2, admission_queue_cap=5)
    first = post(w, "a")["recording_id"]
    post(w, "b")
    run_to_recording(w, first)
    stop_recording(ADMIN, first, settings=w.settings, deps=w.deps)
    result = w.step("stop", first, wait={"reason": "api"})
    w.step("finalize", first, stop=result)
    w.step("finalize", first, stop=result)  # Step Functions ran the step again (a lost response)
    w.step("fail", first, error={"Error": "X", "Cause": "late"})  # and a confused late failure path
    assert w.store.admission_counts() == (1, 0)


def test_a_failed_recording_gives_its_slot_to_the_next_in_line() -> None:
    w = world(admission=True, agora_max_tasks=1, admission_queue_cap=5)
    first = post(w, "a")["recording_id"]
    queued = post(w, "b")["recording_id"]
    w.step("fail", first, error={"Error": "AgoraParameterError", "Cause": "bad"})
    assert w.store.get(queued).status == logic.REQUESTED and queued in w.workflow.executions  # type: ignore[union-attr]
    assert w.store.admission_counts() == (1, 0)


def test_the_pump_skips_what_left_the_line_and_stops_at_the_limit() -> None:
    w = world(admission=True, agora_max_tasks=2, admission_queue_cap=5)
    ids = [post(w, f"room{i}")["recording_id"] for i in range(5)]
    assert admission.pump(w.deps, w.settings) == []  # both slots are held: nothing moves
    admission.cancel(w.deps, ids[2], "api")
    assert w.store.release_slot(ids[0]) and not w.store.release_slot(ids[0])  # once
    assert admission.pump(w.deps, w.settings) == [ids[3]]  # the cancelled one is skipped, one slot was free
    assert admission.pump(w.deps, w.settings) == []  # a second pump (the reconciler's) finds no slot
    assert w.store.admission_counts() == (2, 1)


def test_without_admission_every_creation_starts_at_once() -> None:
    w = world(agora_max_tasks=1)
    assert [post(w, f"room{i}")["status"] for i in range(3)] == [logic.REQUESTED] * 3
    assert len(w.workflow.executions) == 3


# ----------------------------------------------------------------------------------- waits in the workflow
def refused(seconds: float) -> AgoraRateLimitedError:
    error = AgoraRateLimitedError(f"rate limiter: a slot is {seconds}s away")
    error.retry_after = seconds
    return error


def test_a_limiter_refusal_becomes_a_wait_the_state_machine_takes() -> None:
    w = world(recording_throttle_max_seconds=20)
    w.agora.join("room", HOST)
    recording_id = w.create("room")
    w.agora.fail("acquire", refused(3.2))
    first = w.step("acquire", recording_id)
    # the slot (4 s, whole seconds) plus up to max(1, seconds already waited) of jitter (logic.throttle_wait)
    assert first["waitSeconds"] in (4, 5) and first["throttledSeconds"] == first["waitSeconds"]
    assert w.store.get(recording_id).status == logic.REQUESTED  # type: ignore[union-attr]  # nothing happened
    w.agora.fail("acquire", refused(3.5))
    so_far = first["throttledSeconds"]
    second = w.step("acquire", recording_id, throttledSeconds=so_far)
    assert 4 <= second["waitSeconds"] <= 4 + so_far and second["throttledSeconds"] == so_far + second["waitSeconds"]
    w.agora.fail("acquire", refused(0.5))
    with pytest.raises(AgoraRateLimitedError):  # past the bound: Retry, then Catch, as before
        w.step("acquire", recording_id, throttledSeconds=20)
    assert "RecordingStepThrottled" in w.metrics.names()
    assert "resourceId" in w.step("acquire", recording_id, throttledSeconds=20)  # a free slot: the step runs
    assert w.step("start", recording_id)["outcome"] == "started"


def test_agoras_own_429_and_an_attempt_that_may_have_run_are_not_turned_into_waits() -> None:
    w = world()
    w.agora.join("room", HOST)
    recording_id = w.create("room")
    w.agora.fail("acquire", AgoraRateLimitedError("too many requests", http_status=429))
    with pytest.raises(AgoraRateLimitedError):
        w.step("acquire", recording_id)
    maybe = refused(2)
    maybe.maybe_executed = True
    w.agora.fail("acquire", maybe)
    with pytest.raises(AgoraRateLimitedError):
        w.step("acquire", recording_id)


def test_a_stop_step_waits_for_the_limiter_the_same_way() -> None:
    w = world()
    recording_id = w.recording_started("room")
    stop_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    w.agora.fail("stop", refused(1.5))
    waited = w.step("stop", recording_id, wait={"reason": "api"}, throttledSeconds=0)
    assert waited["waitSeconds"] in (2, 3) and waited["throttledSeconds"] == waited["waitSeconds"]
    assert w.step("stop", recording_id, wait={"reason": "api"}, throttledSeconds=2)["outcome"] in ("stopped", "empty")


def test_agoras_406_is_a_capacity_error_the_workflow_retries() -> None:
    w = world(agora_tasks=1)
    w.recording_started("a")
    w.agora.join("b", HOST)
    second = w.create("b")
    with pytest.raises(AgoraCapacityError):
        w.step("acquire", second)
    error = w.store.get(second).last_error  # type: ignore[union-attr]
    assert error is not None and (error.type, error.code, error.reason) == (
        "AgoraCapacityError",
        406,
        "vendor_over_load",
    )


def test_the_reconciler_moves_a_queue_whose_pump_never_ran() -> None:
    """A release whose pump died (the function timed out after the transaction): the next reconciler run admits."""
    from service.recordings.reconcile import reconcile

    w = world(admission=True, agora_max_tasks=1, admission_queue_cap=5)
    first = post(w, "a")["recording_id"]
    queued = post(w, "b")["recording_id"]
    assert w.store.release_slot(first)  # the slot came back, nobody pumped
    counts = reconcile(settings=w.settings, deps=w.deps)
    assert counts["admitted"] == 1 and queued in w.workflow.executions
    assert w.store.admission_counts() == (1, 0)


def test_a_limiter_wait_is_not_recorded_as_agoras_error() -> None:
    w = world()
    w.agora.join("room", HOST)
    recording_id = w.create("room")
    w.agora.fail("acquire", refused(2))
    assert "waitSeconds" in w.step("acquire", recording_id)
    assert w.store.get(recording_id).last_error is None  # type: ignore[union-attr]


def test_the_reconciler_starts_an_admitted_recording_whose_execution_never_started() -> None:
    """The pump admitted it (one transaction) and died before StartExecution: a quiet REQUESTED row, no execution."""
    from service.recordings.reconcile import reconcile

    w = world(admission=True, agora_max_tasks=1, admission_queue_cap=5)
    first = post(w, "a")["recording_id"]
    queued = post(w, "b")["recording_id"]
    assert w.store.release_slot(first)
    assert w.store.admit(queued, 1) is not None  # admitted; nothing started it
    w.clock.advance(w.settings.recording_stale_seconds + 1)
    counts = reconcile(settings=w.settings, deps=w.deps)
    assert counts["restarted"] == 1 and w.workflow.executions[queued].state_machine_arn == MACHINE
    assert w.store.get(queued).status == logic.REQUESTED  # type: ignore[union-attr]  # not failed
    run_to_recording(w, queued)


def test_a_resource_that_aged_in_limiter_waits_is_renewed_not_counted() -> None:
    """Start found its resource too old after the execution waited for the limiter: ``ResourceAgedInLimiter``
    (the state machine acquires again without counting a re-acquire); without limiter waits, Agora's 433 as before."""
    from agorakit.agora.errors import AgoraResourceExpiredError
    from service.recordings.workflow import ResourceAgedInLimiter

    w = world()
    w.agora.join("room", HOST)
    recording_id = w.create("room")
    w.step("acquire", recording_id)
    w.clock.advance(w.settings.recording_resource_max_age_seconds + 1)
    with pytest.raises(ResourceAgedInLimiter):
        w.step("start", recording_id, throttledSeconds=6)
    with pytest.raises(AgoraResourceExpiredError) as plain:
        w.step("start", recording_id, throttledSeconds=0)
    assert type(plain.value) is AgoraResourceExpiredError
