"""Client-side rate limiting: wait for a slot instead of meeting Agora's 429.

Agora's QPS limit is per App ID / account, so every caller must draw from one budget. The client
calls ``limiter.acquire()`` before every HTTP attempt (retries included). ``LocalTokenBucket`` serves
one process; the DynamoDB-backed bucket in ``service.adapters.agora`` is shared by all Lambdas.

Both buckets are "reservation" buckets (GCRA): a caller takes a token at once, possibly driving the
balance negative, then sleeps until the moment its token would have existed. Grants are therefore
spaced exactly, in order, and the number granted in any interval T is at most ``burst + rate * T``.

Priority lanes (``Lane``): interactive API calls, then stops, then starts, then reconciler queries. A lane may
join the bucket's queue only while the queue is at most ``share * horizon`` seconds deep (``Lanes.depth``); a
caller whose lane finds it deeper waits until it drains to that depth, then reserves. So a burst of starts
keeps at most ``share(START) * horizon`` seconds queued, and an interactive call behind it waits no longer than
that plus one interval, whatever the burst's size; with no interactive traffic the starts still get the whole
rate (the bucket is work-conserving). The lane is named with ``with lane(Lane.START): ...`` around the calls
(a context variable, so one client serves steps of several lanes) or as a bucket's ``default_lane``; a caller
that names none is unlaned (its depth is unbounded, only ``max_wait`` limits it).

``SplitBucket`` spreads one budget over N buckets of ``rate / N`` (N DynamoDB items when Agora raises the quota
past what one item should take; see docs/scale.md).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol, runtime_checkable

from agorakit.agora.errors import AgoraRateLimitedError

__all__ = [
    "DEFAULT_LANES",
    "Lane",
    "Lanes",
    "LocalTokenBucket",
    "RateLimiter",
    "Reservation",
    "SplitBucket",
    "TryReserve",
    "Waiting",
    "bucket_for_qps",
    "current_lane",
    "lane",
    "wait_for_slot",
]

#: The fraction of Agora's QPS a bucket leaves unused by default: it absorbs the jitter between the moment a
#: slot is granted and the moment the request reaches Agora's counter. 20 % leaves 250 ms at 10 QPS, more
#: than the bench's model of Lambda clock skew (+-25 ms) plus network delay (up to 150 ms); 8 % (87 ms) met
#: Agora's limit in the soak and in bench_ratelimit (docs/decisions.md, "Agora's rate limit").
DEFAULT_HEADROOM = 0.2


@runtime_checkable
class RateLimiter(Protocol):
    def acquire(self, permits: int = 1) -> float:
        """Block until ``permits`` requests may be sent; returns the seconds it waited (0.0: a slot was free).

        The wait is returned, not published: whoever owns the limiter (the service layer) decides whether it
        becomes a metric."""
        ...


class Lane(IntEnum):
    """The limiter's priority lanes, highest first."""

    INTERACTIVE = 0  # API calls a person waits for (recordings API, channels, projects)
    STOP = 1  # workflow stops, finalize and fail: a recorder left running costs money
    START = 2  # workflow acquires, starts and their resolution
    RECONCILE = 3  # the reconciler's queries: background, may yield to everything else


@dataclass(frozen=True)
class Lanes:
    """Each lane's share of the queue ``horizon`` (seconds of the bucket's rate): the deepest queue it may join.

    Shares are in (0, 1] and do not increase down the priority order, so a lower lane never queues deeper
    than a higher one: an acquisition in lane L is delayed by lower lanes' traffic by at most
    ``depth(lower) + one interval``. Parsed from ``"interactive=1,stop=0.5,start=0.25,reconcile=0.125"``."""

    horizon: float = 4.0
    shares: Mapping[Lane, float] = field(
        default_factory=lambda: {Lane.INTERACTIVE: 1.0, Lane.STOP: 0.5, Lane.START: 0.25, Lane.RECONCILE: 0.125}
    )

    def __post_init__(self) -> None:
        if not self.horizon > 0 or math.isinf(self.horizon):
            raise ValueError("the lanes' horizon must be a positive number of seconds")
        missing = [one.name.lower() for one in Lane if one not in self.shares]
        if missing:
            raise ValueError(f"lane shares missing for {', '.join(missing)}")
        previous = 1.0
        for one in Lane:
            share = self.shares[one]
            if not 0 < share <= 1:
                raise ValueError(f"the {one.name.lower()} lane's share must be in (0, 1], not {share:g}")
            if share > previous:
                raise ValueError(
                    f"the {one.name.lower()} lane's share ({share:g}) exceeds a higher lane's ({previous:g}): "
                    "shares must not increase from interactive to reconcile"
                )
            previous = share

    def depth(self, which: Lane | None) -> float:
        """Seconds of queue the lane may join; unbounded for an unlaned caller."""
        return math.inf if which is None else self.shares[which] * self.horizon

    @classmethod
    def parse(cls, text: str, horizon: float = 4.0) -> Lanes:
        shares = dict(DEFAULT_LANES.shares)
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            try:
                which = Lane[name.strip().upper()]
                shares[which] = float(value)
            except (KeyError, ValueError):
                raise ValueError(
                    f"lane share {part!r} is not name=number with name one of "
                    f"{', '.join(one.name.lower() for one in Lane)}"
                ) from None
            if not sep:
                raise ValueError(f"lane share {part!r} is not name=number")
        return cls(horizon=horizon, shares=shares)


DEFAULT_LANES = Lanes()

_lane: ContextVar[Lane | None] = ContextVar("agora_limiter_lane", default=None)


@contextmanager
def lane(which: Lane) -> Iterator[None]:
    """Every limiter acquisition inside the block (this thread or task) is in lane ``which``."""
    token = _lane.set(which)
    try:
        yield
    finally:
        _lane.reset(token)


def current_lane(default: Lane | None = None) -> Lane | None:
    """The lane named by the innermost ``lane(...)`` block, else ``default``."""
    named = _lane.get()
    return default if named is None else named


@dataclass(frozen=True)
class Reservation:
    """One non-blocking attempt: ``granted`` with ``wait`` seconds until the reserved slot, or not granted and
    ``wait`` seconds until the queue is shallow enough for the attempt's bound (nothing was taken)."""

    granted: bool
    wait: float
    #: not granted: how widely the caller should spread its next try (the shared bucket's waiters x interval)
    spread: float = 0.0


#: a slot this much past an attempt's bound still counts as within it: a float's rounding (or the DynamoDB bucket's
#: microseconds) must not make a caller that slept exactly until its lane may join miss it by a hair, forever
SLACK = 1e-6


class TryReserve(Protocol):
    def __call__(self, permits: int, bound: float, registered: bool = False) -> Reservation:
        """Take ``permits`` if their slot is at most ``bound`` seconds away, else say how long until it would.
        ``registered``: the caller counted itself among its lane's waiters (``Waiting``); a grant uncounts it."""
        ...


class Waiting(Protocol):
    def __call__(self, delta: int) -> float:
        """Count the caller in (+1) or out (-1) of its lane's waiters; counting in returns how widely to spread
        its retries (seconds): with n waiters, n - 1 intervals, so about one of them tries per slot."""
        ...


def wait_for_slot(
    try_reserve: TryReserve,
    permits: int,
    *,
    depth: float,
    max_wait: float | None,
    sleep: Callable[[float], None],
    which: Lane | None = None,
    waiting: Waiting | None = None,
    rng: random.Random | None = None,
    max_rounds: int = 1000,
) -> float:
    """Reserve ``permits`` in a lane that may join a queue at most ``depth`` seconds deep, within ``max_wait``.

    Sleeps until the lane may join, reserves, sleeps until the slot; returns the seconds waited in all. Raises
    ``AgoraRateLimitedError`` (with ``retry_after``) at once when the slot cannot come within ``max_wait``.

    With ``waiting`` (the shared bucket: every attempt is a write), a caller that must wait to join counts itself
    among its lane's waiters and retries at a random moment within its spread instead of at the moment the queue
    opens: n waiters would otherwise all try at every slot, n writes for one grant."""
    label = "" if which is None else f" for the {which.name.lower()} lane"
    rng = rng or random.Random()
    waited = 0.0
    spread = 0.0
    registered = False
    try:
        for _ in range(max_rounds):
            remaining = math.inf if max_wait is None else max(0.0, max_wait - waited)
            bound = min(depth, remaining)
            answer = try_reserve(permits, bound, registered)
            if answer.granted:
                registered = False  # the grant uncounted it
                if answer.wait > 0:
                    sleep(answer.wait)
                return waited + answer.wait
            if answer.wait + bound > remaining:
                error = AgoraRateLimitedError(
                    f"rate limiter: a slot is {answer.wait + bound:.2f}s away{label}, more than max_wait={max_wait:g}s"
                )
                error.retry_after = answer.wait
                raise error
            if waiting is not None and not registered:
                spread, registered = waiting(+1), True
            else:
                spread = answer.spread  # the count of waiters as the failed attempt saw it
            pause = answer.wait + rng.uniform(0.0, max(0.0, min(spread, remaining - bound - answer.wait)))
            sleep(pause)
            waited += pause
        raise AgoraRateLimitedError(f"rate limiter: no slot after {max_rounds} attempts")
    finally:
        if registered and waiting is not None:
            waiting(-1)


def bucket_for_qps(qps: float, headroom: float = DEFAULT_HEADROOM) -> tuple[float, int]:
    """(rate, burst) for a bucket that keeps every 1-second window at or below ``qps``.

    A window of one second sees at most ``floor(burst + rate)`` grants, so burst is 1 and the rate is
    ``qps * (1 - headroom)``: e.g. 10 QPS -> 8/s: 10 grants fit in a second, 11 need at least 1.25 s,
    which leaves 250 ms for the jitter between a grant and the request's arrival at Agora.
    """
    if qps <= 0:
        raise ValueError("qps must be positive")
    if not 0 <= headroom < 1:
        raise ValueError("headroom must be in [0, 1)")
    return max(qps * (1 - headroom), 0.01), 1


class LocalTokenBucket:
    """A thread-safe token bucket for one process."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_wait: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        lanes: Lanes = DEFAULT_LANES,
        default_lane: Lane | None = None,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self.max_wait = max_wait
        self.lanes = lanes
        self.default_lane = default_lane
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def __repr__(self) -> str:
        return f"LocalTokenBucket(rate={self.rate:g}, burst={self.burst})"

    def acquire(self, permits: int = 1) -> float:
        if permits < 1:
            raise ValueError("permits must be at least 1")
        if permits > self.burst:
            raise ValueError(f"cannot take {permits} permits from a bucket of {self.burst}")
        which = current_lane(self.default_lane)
        return wait_for_slot(
            self.try_reserve,
            permits,
            depth=self.lanes.depth(which),
            max_wait=self.max_wait,
            sleep=self._sleep,
            which=which,
        )

    def try_reserve(self, permits: int, bound: float, registered: bool = False) -> Reservation:
        """Take ``permits`` if their slot is at most ``bound`` seconds away; never sleeps (one process: no waiter
        count, ``registered`` is never set)."""
        with self._lock:
            now = self._clock()
            tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            wait = max(0.0, (permits - tokens) / self.rate)
            if wait > bound + SLACK:
                return Reservation(False, wait - bound)
            self._tokens = tokens - permits
            self._stamp = now
        return Reservation(True, wait)


class SplitBucket:
    """One budget spread over several buckets (each built with ``rate / N``): every acquisition draws from one of
    them, picked at random, so no single bucket (no single DynamoDB item) takes every request. In any interval L
    at most ``sum(burst) + rate * L`` are granted; a caller may wait on a busy part while another is idle, which
    costs at most one part's queue depth."""

    def __init__(self, parts: Sequence[RateLimiter], *, rng: random.Random | None = None):
        if not parts:
            raise ValueError("a split bucket needs at least one part")
        self.parts = list(parts)
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"SplitBucket({len(self.parts)} x {self.parts[0]!r})"

    def acquire(self, permits: int = 1) -> float:
        return self.parts[self._rng.randrange(len(self.parts))].acquire(permits)
