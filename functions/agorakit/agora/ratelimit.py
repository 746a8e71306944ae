"""Client-side rate limiting: wait for a slot instead of meeting Agora's 429.

Agora's QPS limit is per App ID / account, so every caller must draw from one budget. The client
calls ``limiter.acquire()`` before every HTTP attempt (retries included). ``LocalTokenBucket`` serves
one process; the DynamoDB-backed bucket in ``service.adapters.agora`` is shared by all Lambdas.

Both buckets are "reservation" buckets (GCRA): a caller takes a token at once, possibly driving the
balance negative, then sleeps until the moment its token would have existed. Grants are therefore
spaced exactly, in order, and the number granted in any interval T is at most ``burst + rate * T``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from agorakit.agora.errors import AgoraRateLimitedError

__all__ = ["LocalTokenBucket", "RateLimiter", "bucket_for_qps"]

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
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self.max_wait = max_wait
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
        with self._lock:
            now = self._clock()
            tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            wait = max(0.0, (permits - tokens) / self.rate)
            if self.max_wait is not None and wait > self.max_wait:
                refused = AgoraRateLimitedError(
                    f"rate limiter: a slot is {wait:.2f}s away, more than max_wait={self.max_wait:g}s"
                )
                refused.retry_after = wait
                raise refused
            self._tokens = tokens - permits
            self._stamp = now
        if wait > 0:
            self._sleep(wait)
        return wait
