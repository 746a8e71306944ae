"""The limiter's priority lanes, property-tested in virtual time on both buckets (``LocalTokenBucket`` and
``DynamoDBTokenBucket`` on moto).

Every caller is a real thread calling the real ``acquire()`` in its own ``lane(...)`` block; ``VirtualTime``
runs one of them at a time and moves the ``FakeClock`` to the earliest wake-up only when every caller sleeps,
so the whole run is deterministic for a seed and takes no wall-clock time to wait. Properties:

- a burst of start-lane acquisitions delays an interactive acquisition by at most the start lane's depth
  (``share * horizon``) plus one interval, whatever the burst's size;
- across all lanes, at most ``burst + rate * L`` grants in any interval L;
- a lower lane alone still gets the whole rate (the lanes bound the queue, not the throughput);
- with stops and starts both queued, the stops are served first.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
from agorakit.agora.errors import AgoraRateLimitedError
from agorakit.agora.ratelimit import Lane, Lanes, LocalTokenBucket, RateLimiter, lane
from service.recordings.fakes import FakeClock

TABLE = "contract-rate-limit-lanes"
EPS = 1e-4  # the DynamoDB bucket stores times to the microsecond
_keys = count(1)


class VirtualTime:
    """A cooperative scheduler for threads on a FakeClock: ``sleep`` parks the caller; when no caller runs, the
    clock moves to the earliest wake-up and that caller (ties: the first to sleep) runs alone.

    Each sleeper waits on its own event and only the one chosen is woken (a shared condition's ``notify_all``
    woke every parked thread at each step to see whether it was its turn: 120 callers, hundreds of steps)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._running = 0
        self._sleepers: dict[int, tuple[float, int, threading.Event]] = {}
        self._seq = count()

    def sleep(self, seconds: float) -> None:
        turn = threading.Event()
        with self._lock:
            me = next(self._seq)
            self._sleepers[me] = (self.clock.now() + max(0.0, seconds), me, turn)
            self._running -= 1
            self._wake_next()
        turn.wait()

    def _wake_next(self) -> None:
        if self._running == 0 and self._sleepers:
            me, (wake, _, turn) = min(self._sleepers.items(), key=lambda kv: kv[1][:2])
            self.clock.advance(max(0.0, wake - self.clock.now()))
            del self._sleepers[me]
            self._running += 1
            turn.set()

    def run(self, callers: list[Callable[[], None]]) -> None:
        """Run every caller to its end (each starts at the current virtual time, one at a time)."""
        errors: list[BaseException] = []

        def body(call: Callable[[], None]) -> None:
            try:
                call()
            except BaseException as exc:  # reported to the test below
                errors.append(exc)
            finally:
                with self._lock:
                    self._running -= 1
                    self._wake_next()

        with self._lock:
            self._running = len(callers)
        threads = [threading.Thread(target=body, args=(call,)) for call in callers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a caller never finished"
        assert not errors, errors


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def limiter_factory(
    backend: str, clock: FakeClock, vt: VirtualTime, request: pytest.FixtureRequest, **options: Any
) -> Callable[[], RateLimiter]:
    """A new caller's limiter: one shared LocalTokenBucket (one process), or one DynamoDBTokenBucket per caller on
    one item (one per Lambda)."""
    if backend == "fake":
        shared = LocalTokenBucket(clock=clock, sleep=vt.sleep, **options)
        return lambda: shared
    from service.adapters.agora import DynamoDBTokenBucket

    client, key = request.getfixturevalue("ddb"), f"lanes-{next(_keys)}"
    seeds = random.Random(key)  # each caller's retry spread, seeded: the run is the same every time
    return lambda: DynamoDBTokenBucket(
        TABLE, key, client=client, clock=clock, sleep=vt.sleep, rng=random.Random(seeds.random()), **options
    )


def caller(
    make: Callable[[], RateLimiter], vt: VirtualTime, which: Lane, at: float, log: list[tuple[Lane, float, float]]
) -> Callable[[], None]:
    """Arrives at virtual time ``at``, acquires one permit in lane ``which``; logs (lane, arrival, grant)."""

    def call() -> None:
        limiter = make()
        vt.sleep(at - vt.clock.now())
        with lane(which):
            limiter.acquire()
        log.append((which, at, vt.clock.now()))

    return call


def assert_never_more_than(grants: list[float], rate: float, burst: int) -> None:
    grants = sorted(grants)
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            assert j - i + 1 <= burst + rate * (grants[j] - grants[i]) + EPS, (i, j, grants[i], grants[j])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_burst_of_starts_delays_an_interactive_call_by_at_most_the_start_lanes_depth(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest, seed: int
) -> None:
    rng = random.Random(seed)
    rate, burst = 8.0, 1
    lanes = Lanes(horizon=4.0)
    vt = VirtualTime(clock)
    make = limiter_factory(backend, clock, vt, request, rate=rate, burst=burst, max_wait=None, lanes=lanes)
    t0 = clock.now()
    log: list[tuple[Lane, float, float]] = []
    starts = [caller(make, vt, Lane.START, t0 + rng.uniform(0, 2), log) for _ in range(rng.randint(40, 60))]
    # interactive calls far enough apart that none queues behind another: what delays them is the starts only
    interactive = [caller(make, vt, Lane.INTERACTIVE, t0 + 0.5 + 1.1 * i + rng.uniform(0, 0.3), log) for i in range(5)]
    vt.run(starts + interactive)

    bound = lanes.depth(Lane.START) + 1 / rate + EPS
    delays = [grant - arrival for which, arrival, grant in log if which is Lane.INTERACTIVE]
    assert len(delays) == 5
    assert max(delays) <= bound, delays
    # without lanes the same interactive call would wait behind the whole burst: the bound above is a real one
    assert len(starts) / rate > 2 * bound
    assert_never_more_than([grant for _, _, grant in log], rate, burst)


@pytest.mark.parametrize("seed", [4, 5])
def test_all_lanes_together_never_exceed_burst_plus_rate_times_the_interval(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest, seed: int
) -> None:
    rng = random.Random(seed)
    rate, burst = 5.0, 2
    vt = VirtualTime(clock)
    make = limiter_factory(backend, clock, vt, request, rate=rate, burst=burst, max_wait=None, lanes=Lanes(horizon=2))
    t0 = clock.now()
    log: list[tuple[Lane, float, float]] = []
    callers = [caller(make, vt, rng.choice(list(Lane)), t0 + rng.uniform(0, 6), log) for _ in range(50)]
    vt.run(callers)
    assert len(log) == 50
    assert_never_more_than([grant for _, _, grant in log], rate, burst)


def test_a_lower_lane_alone_gets_the_whole_rate(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> None:
    rate = 10.0
    vt = VirtualTime(clock)
    make = limiter_factory(backend, clock, vt, request, rate=rate, burst=1, max_wait=None, lanes=Lanes(horizon=4))
    t0 = clock.now()
    log: list[tuple[Lane, float, float]] = []
    vt.run([caller(make, vt, Lane.RECONCILE, t0, log) for _ in range(30)])
    grants = sorted(grant for _, _, grant in log)
    # 30 grants at 10/s: the last 2.9 s after the first, as if the lane were alone in an unlaned bucket; the shared
    # bucket's waiters retry at random moments (to spare writes) and may leave the queue empty for a moment
    slack = 1.0 if backend == "fake" else 1.05
    assert grants[-1] - t0 <= 29 / rate * slack + EPS


def test_waiters_of_the_shared_bucket_cost_a_few_writes_a_grant_not_one_each(
    clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    """Without a waiter count every waiting caller would try at every slot: n writes (each a WCU on the one item)
    for one grant. Counted in, each spreads its tries over n - 1 intervals."""
    vt = VirtualTime(clock)
    make = limiter_factory("real", clock, vt, request, rate=8.0, burst=1, max_wait=None, lanes=Lanes(horizon=4))
    ddb = request.getfixturevalue("ddb")
    writes: list[str] = []

    def count(**_: object) -> None:
        writes.append("UpdateItem")

    ddb.meta.events.register("before-call.dynamodb.UpdateItem", count)
    rng = random.Random(11)
    t0 = clock.now()
    log: list[tuple[Lane, float, float]] = []
    try:
        vt.run([caller(make, vt, Lane.START, t0 + rng.uniform(0, 2), log) for _ in range(120)])
    finally:
        ddb.meta.events.unregister("before-call.dynamodb.UpdateItem", count)
    assert len(log) == 120
    # measured 4.2 to 4.7 a grant from 60 to 500 waiters (a new caller's first guesses, its count in, its grant
    # and about two tries); without the count, 16.75 a grant at 60 waiters, and growing with their number
    assert len(writes) / len(log) < 6
    grants = sorted(grant for _, _, grant in log)
    assert grants[-1] - grants[0] <= 119 / 8.0 * 1.05


def test_queued_stops_go_before_queued_starts(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> None:
    rate = 4.0
    vt = VirtualTime(clock)
    make = limiter_factory(backend, clock, vt, request, rate=rate, burst=1, max_wait=None, lanes=Lanes(horizon=2))
    t0 = clock.now()
    log: list[tuple[Lane, float, float]] = []
    starts = [caller(make, vt, Lane.START, t0, log) for _ in range(12)]
    stops = [caller(make, vt, Lane.STOP, t0 + 0.01, log) for _ in range(6)]
    vt.run(starts + stops)
    last_stop = max(grant for which, _, grant in log if which is Lane.STOP)
    starts_after = [grant for which, _, grant in log if which is Lane.START and grant > last_stop]
    # the starts queue at most depth(START) = 0.5 s ahead (3 slots at 4/s); every other start waits for the stops
    assert len(starts_after) >= 12 - 3 - 1


def test_a_lane_that_cannot_get_in_within_max_wait_is_refused_with_its_retry_after(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    lanes = Lanes(horizon=4.0)  # reconcile: 0.5 s deep
    vt = VirtualTime(clock)
    make = limiter_factory(backend, clock, vt, request, rate=1.0, burst=1, max_wait=2.0, lanes=lanes)
    t0 = clock.now()
    log: list[tuple[Lane, float, float]] = []
    # two interactive calls: slots at t0 and t0 + 1; a reconcile call at t0 + 0.5 finds 0.5 s queued: it joins
    vt.run(
        [caller(make, vt, Lane.INTERACTIVE, t0, log) for _ in range(2)]
        + [caller(make, vt, Lane.RECONCILE, t0 + 0.5, log)]
    )
    assert sorted(grant - t0 for _, _, grant in log) == pytest.approx([0.0, 1.0, 2.0], abs=EPS)

    clock.advance(60)
    vt = VirtualTime(clock)
    make = limiter_factory(backend, clock, vt, request, rate=1.0, burst=1, max_wait=2.0, lanes=lanes)
    t1 = clock.now()
    refused: list[AgoraRateLimitedError] = []

    def reconcile_behind_a_deep_queue() -> None:
        limiter = make()
        vt.sleep(0.25)
        with lane(Lane.RECONCILE), pytest.raises(AgoraRateLimitedError) as error:
            limiter.acquire()
        refused.append(error.value)

    # three interactive calls queue up to t1 + 2; at t1 + 0.25 the reconcile lane would get in only at t1 + 2.5
    # and its slot (t1 + 3) is 2.75 s away, past max_wait: refused at once, told when it may try again
    vt.run([caller(make, vt, Lane.INTERACTIVE, t1, log) for _ in range(3)] + [reconcile_behind_a_deep_queue])
    assert len(refused) == 1
    assert refused[0].retry_after == pytest.approx(2.25, abs=EPS)
