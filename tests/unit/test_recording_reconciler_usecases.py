"""The reconciler at scale, on the fakes in virtual time: a run stops taking rows when its invocation's time runs
low, always cleans up and publishes, and the next run starts with the rows checked longest ago, so every row is
checked within a bounded number of runs; DescribeExecution is asked at most once per stale period per row."""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest
from agorakit.agora.errors import AgoraServerError
from service.recordings import logic
from service.recordings.fakes import FakeClock, FakeRecordingAgora, FakeWorkflowControl
from service.recordings.reconcile import reconcile
from service.recordings.repository import CLEANUP

from tests.unit.recording_world import World, world

PERIOD = 300.0  # the schedule: every 5 minutes


class SlowAgora:
    """The fake Agora whose state query takes ``seconds()`` of the fake clock (the limiter's wait and the round
    trip), recording which sids each run asked about."""

    def __init__(self, agora: FakeRecordingAgora, clock: FakeClock, seconds: Any):
        self._agora, self._clock, self._seconds = agora, clock, seconds
        self.queried: list[str] = []

    def query(self, resource_id: str, sid: str, mode: str) -> Any:
        self._clock.advance(self._seconds())
        self.queried.append(sid)
        return self._agora.query(resource_id, sid, mode)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._agora, name)


class CountingWorkflow:
    """The fake Step Functions, counting DescribeExecution calls."""

    def __init__(self, workflow: FakeWorkflowControl):
        self._workflow = workflow
        self.described = 0

    def execution_status(self, execution_arn: str) -> str:
        self.described += 1
        return self._workflow.execution_status(execution_arn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._workflow, name)


class Invocation:
    """A Lambda invocation's clock: ``get_remaining_time_in_millis`` of a ``seconds`` timeout, on the fake clock."""

    def __init__(self, clock: FakeClock, seconds: float):
        self._clock, self._deadline = clock, clock() + seconds

    def __call__(self) -> float:
        return max(0.0, (self._deadline - self._clock()) * 1000)


def slow_world(rows: int, seconds: Any = lambda: 2.0, **settings: Any) -> tuple[World, SlowAgora, CountingWorkflow]:
    w = world(**settings)
    for i in range(rows):
        w.recording_started(f"room{i}")
        w.clock.advance(1)
    slow, counting = SlowAgora(w.agora, w.clock, seconds), CountingWorkflow(w.workflow)
    w.deps = dataclasses.replace(w.deps, agora_factory=lambda: slow, workflow_factory=lambda: counting, _agora=None,
                                 _workflow=None)  # fmt: skip
    return w, slow, counting


def run(w: World, timeout: float = 100.0) -> dict[str, int]:
    return reconcile(settings=w.settings, deps=w.deps, remaining_ms=Invocation(w.clock, timeout))


def gauge(w: World, name: str) -> float:
    return [value for seen, value, _ in w.metrics.seen if seen == name][-1]


def test_a_run_stops_taking_rows_at_its_margin_and_still_publishes() -> None:
    w, slow, _ = slow_world(50, recording_reconciler_margin_seconds=60)
    counts = run(w, timeout=100)  # 40 s before the margin, 2 s a query: rows 0..20 start with >= 60 s left
    assert counts["checked"] == len(slow.queried) == 21 and counts["running"] == 21
    assert counts["deferred"] == 29 and counts["active"] == 50 and counts["cleaned"] == 0
    assert gauge(w, "RecordingsActive") == 50
    # the oldest row not reached was created at the start and never checked: its age is its creation's
    rows = w.store.list_active()
    never = [r for r in rows if r.reconciled_at is None]
    assert len(never) == 29
    oldest = (w.store.now_ms() - min(r.created_at for r in never)) / 1000
    assert gauge(w, "ReconcilerOldestCheckAgeSeconds") == pytest.approx(oldest)


def test_the_next_run_resumes_with_the_rows_checked_longest_ago() -> None:
    w, slow, _ = slow_world(50, recording_reconciler_margin_seconds=60)
    runs: list[set[str]] = []
    for _ in range(3):
        slow.queried.clear()
        run(w)
        runs.append(set(slow.queried))
        w.clock.advance(PERIOD)
    first, second, third = runs
    assert len(first) == len(second) == len(third) == 21 and not first & second
    sids = {r.sid for r in w.store.list_active()}
    assert first | second | third == sids  # 50 rows, 21 a run: all in 3 runs
    assert len(third & first) == 21 * 3 - 50  # then the round robin goes on with the first run's oldest


def test_every_row_is_checked_within_k_runs_whatever_the_latency() -> None:
    rng = random.Random(20)
    rows, usable, slowest = 60, 40.0, 3.0
    w, slow, _ = slow_world(rows, seconds=lambda: rng.uniform(0.5, slowest), recording_reconciler_margin_seconds=60)
    per_run = math.floor(usable / slowest) + 1  # a run takes at least this many rows
    k = math.ceil(rows / per_run)
    checked_in: list[set[str]] = []
    ages = []
    for _ in range(12):
        slow.queried.clear()
        run(w)
        checked_in.append(set(slow.queried))
        ages.append(gauge(w, "ReconcilerOldestCheckAgeSeconds"))
        w.clock.advance(PERIOD)
    sids = {r.sid for r in w.store.list_active()}
    assert len(sids) == rows
    for start in range(len(checked_in) - k + 1):
        assert set().union(*checked_in[start : start + k]) == sids, f"runs {start}..{start + k - 1} missed a row"
    # the coverage gauge is bounded by K periods once the first pass is over
    assert max(ages[k:]) <= k * (PERIOD + usable + slowest + 60)


def test_clean_up_and_metrics_run_when_the_budget_is_already_spent_or_a_row_raises() -> None:
    w, slow, _ = slow_world(3)
    stuck = w.recording_started("stuck")
    rec = w.store.get(stuck)
    assert rec is not None and rec.sid
    down = AgoraServerError("gateway timeout", http_status=504)
    for operation in ("stop", "query", "create_kicking_rule"):
        w.agora.fail(operation, down)
    w.step("fail", stuck, error={"Error": "States.Timeout", "Cause": "the step timed out"})
    failed = w.store.get(stuck)
    assert failed is not None and failed.active_status == CLEANUP and w.store.lock_holder("stuck") == stuck
    slow.queried.clear()  # the fail step asked Agora too
    counts = run(w, timeout=10)  # under the 60 s margin from the start: no row, but the clean-up
    assert counts["deferred"] == 3 and counts["checked"] == 0 and not slow.queried
    assert counts["cleaned"] == 1 and w.store.lock_holder("stuck") is None
    assert gauge(w, "RecordingsActive") == 3 and "ReconcilerOldestCheckAgeSeconds" in w.metrics.names()

    w.metrics.seen.clear()
    w.agora.fail("query", RuntimeError("a bug in the middle of a run"))
    with pytest.raises(RuntimeError):
        run(w, timeout=240)
    assert {"RecordingsActive", "ReconcilerOldestCheckAgeSeconds"} <= set(w.metrics.names())


def test_a_healthy_row_describes_its_execution_once_per_stale_period_not_every_run() -> None:
    w, _, counting = slow_world(1, seconds=lambda: 0.5)
    assert w.settings.recording_stale_seconds == 3 * PERIOD
    runs = 12  # an hour
    for _ in range(runs):
        run(w, timeout=240)
        w.clock.advance(PERIOD)
    assert counting.described <= math.ceil(runs * PERIOD / w.settings.recording_stale_seconds)
    assert counting.described >= 1  # a long quiet recording is still looked at


def test_an_ended_execution_with_a_running_recorder_is_repaired_within_the_stale_period_and_a_run() -> None:
    w, _, _ = slow_world(1, seconds=lambda: 0.5)
    (rec,) = w.store.list_active()
    w.workflow.end(rec.recording_id, "ABORTED")
    elapsed = 0.0
    while w.store.lock_holder("room0") is not None:
        run(w, timeout=240)
        w.clock.advance(PERIOD)
        elapsed += PERIOD
        assert elapsed <= w.settings.recording_stale_seconds + 2 * PERIOD
    done = w.store.get(rec.recording_id)
    assert done is not None and done.status == logic.FAILED and done.failure is not None
    assert done.failure.type == "ExecutionEnded"


def test_shards_split_the_rows_and_each_covers_its_own_on_its_own_budget() -> None:
    from service.recordings.reconcile import Shard

    w, slow, _ = slow_world(40, recording_reconciler_margin_seconds=60)
    sids = {r.sid for r in w.store.list_active()}
    seen: list[set[str]] = []
    for index in range(3):
        slow.queried.clear()
        counts = reconcile(
            settings=w.settings, deps=w.deps, remaining_ms=Invocation(w.clock, 240), shard=Shard(index, 3)
        )
        seen.append(set(slow.queried))
        assert counts["deferred"] == 0 and counts["active"] == len(seen[-1]) > 0
    assert seen[0] | seen[1] | seen[2] == sids and sum(map(len, seen)) == len(sids)  # a partition of the rows
    with pytest.raises(ValueError, match="shard 3 of 3"):
        Shard(3, 3)


def test_the_handler_reads_its_shard_from_the_targets_input() -> None:
    from service.recordings.reconcile import ALL_ROWS, Shard
    from service.recordings.reconciler_handler import shard_of

    assert shard_of({"detail-type": "Scheduled Event", "detail": {}}) == ALL_ROWS
    assert shard_of({"shard": 2, "shards": 8}) == Shard(2, 8)
    for bad in ({"shard": 1}, {"shard": "1", "shards": 2}, {"shard": True, "shards": 2}, {"shard": 2, "shards": 2}):
        with pytest.raises(ValueError):
            shard_of(bad)
