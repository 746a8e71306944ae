"""Agora access for Lambda functions: the account-wide rate limiter and the one way to build an AgoraClient.

Agora's QPS limit is per App ID / account, while Lambda runs many copies at once; a limiter per
process would let N copies send N times the limit. ``DynamoDBTokenBucket`` keeps one bucket in a
DynamoDB item that every copy updates with atomic conditional writes, so bursts wait for a slot
instead of meeting HTTP 429.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agorakit.agora.errors import AgoraAuthError, AgoraRateLimitedError
from agorakit.agora.ratelimit import LocalTokenBucket, RateLimiter, bucket_for_qps
from agorakit.agora.regions import default_base_urls
from pydantic import Field

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import is_condition_failed
from service.adapters.secrets import SecretStore
from service.settings import FunctionSettings

if TYPE_CHECKING:
    from agorakit.agora.client import AgoraClient

__all__ = ["AgoraAccessSettings", "DynamoDBTokenBucket", "ObservedLimiter", "build_agora_client"]

#: Partition key attribute of the rate-limit table (the construct creates the table with it).
PARTITION_KEY = "pk"
#: TTL attribute: an unused bucket item disappears a day after its last use.
TTL_ATTRIBUTE = "expires_at"


class DynamoDBTokenBucket:
    """A token bucket in one DynamoDB item, shared by every process that names the same table and key.

    Stored as GCRA (the "generic cell rate algorithm", a token bucket written as one number): ``tat``,
    the time at which the bucket will be full again. With interval ``T = 1/rate``:

    - busy bucket (``tat > now``): one atomic ``SET tat = tat + T`` reserves the next slot, at
      ``new_tat - burst*T`` (now, if that is past). No read, and concurrent callers never conflict:
      DynamoDB applies the increments one after another.
    - idle bucket (``tat <= now``, i.e. full): ``SET tat = now + T`` conditioned on it still being idle.

    A caller whose guess of the regime was wrong gets the item back from the failed condition and
    takes the other path. At most ``burst + rate * L`` permits are granted in any interval L, across
    all callers. Times are wall-clock (``time.time``) because they are compared across machines.
    """

    def __init__(
        self,
        table_name: str,
        key: str = "agora-account",
        *,
        rate: float,
        burst: int,
        max_wait: float | None = 30.0,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_conflicts: int = 50,
        on_grant: Callable[[float], None] | None = None,
    ):
        if not table_name:
            raise ValueError("table_name is required")
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.table_name = table_name
        self.key = key
        self.rate = float(rate)
        self.burst = int(burst)
        self.max_wait = max_wait
        self.max_conflicts = max_conflicts
        # The interval is rounded UP to the microsecond stored, so rounding can only slow the bucket.
        self.interval = math.ceil(1_000_000 / self.rate) / 1_000_000
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._on_grant = on_grant  # called with each reserved slot (bucket time): metrics and tests
        self._tat: float | None = None  # last value seen: tells which regime to try first
        self.conflicts = 0  # wrong guesses of the regime so far (for tests and metrics)

    def __repr__(self) -> str:
        return (
            f"DynamoDBTokenBucket(table={self.table_name!r}, key={self.key!r}, rate={self.rate:g}, burst={self.burst})"
        )

    client = LazyClient("dynamodb")

    def acquire(self, permits: int = 1) -> float:
        if permits < 1:
            raise ValueError("permits must be at least 1")
        if permits > self.burst:
            raise ValueError(f"cannot take {permits} permits from a bucket of {self.burst}")
        with self._lock:  # one reservation at a time per process; waits happen outside the lock
            wait = self._reserve(permits)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self, permits: int) -> float:
        """Reserve ``permits``; returns how long to wait for the reserved slot."""
        step = permits * self.interval
        full = self.burst * self.interval
        busy = self._tat is not None and self._tat > self._clock()
        for _ in range(self.max_conflicts):
            now = self._clock()
            if busy:
                limit = None if self.max_wait is None else now + self.max_wait + full - step
                ok, tat = self._update(
                    "SET tat = tat + :step, #ttl = :ttl",
                    "tat > :now" + ("" if limit is None else " AND tat <= :limit"),
                    {":step": step, ":now": now, **({} if limit is None else {":limit": limit})},
                    now,
                )
                if ok:
                    assert tat is not None
                    self._tat = tat
                    self._granted(tat - full)
                    # Measured after the write: the slot is absolute, the round trip must not delay it.
                    return max(0.0, tat - full - self._clock())
                if tat is not None and limit is not None and tat > limit:
                    self._tat = tat
                    away = tat + step - full - now
                    refused = AgoraRateLimitedError(
                        f"Agora rate limiter: the next slot is {away:.1f}s away (max_wait {self.max_wait:g}s)"
                    )
                    refused.retry_after = away  # nothing was reserved: the caller may come back then
                    raise refused
            else:
                ok, tat = self._update(
                    "SET tat = :next, #ttl = :ttl",
                    "attribute_not_exists(tat) OR tat <= :now",
                    {":next": now + step, ":now": now},
                    now,
                )
                if ok:
                    self._tat = now + step
                    self._granted(now)
                    return 0.0
            self.conflicts += 1
            busy = not busy
        raise AgoraRateLimitedError(f"Agora rate limiter: no slot after {self.max_conflicts} attempts")

    def _granted(self, slot: float) -> None:
        if self._on_grant is not None:
            self._on_grant(slot)

    def _update(
        self, expression: str, condition: str, values: dict[str, float], now: float
    ) -> tuple[bool, float | None]:
        """One conditional UpdateItem: (True, new tat) or (False, tat as it is now, if known)."""
        attribute_values: dict[str, Any] = {name: {"N": _num(value)} for name, value in values.items()}
        attribute_values[":ttl"] = {"N": str(int(now) + 86_400)}
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": self.key}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues=attribute_values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not is_condition_failed(exc):
                raise
            return False, _tat((getattr(exc, "response", None) or {}).get("Item"))
        return True, _tat(response.get("Attributes"))


def _num(value: float) -> str:
    return f"{value:.6f}"


def _tat(item: dict[str, Any] | None) -> float | None:
    if not item or "tat" not in item:
        return None
    return float(item["tat"]["N"])


class AgoraAccessSettings(FunctionSettings):
    """Environment of every function that calls Agora (the AgoraAccess construct sets these variables)."""

    agora_app_id: str
    agora_rest_secret_name: str
    agora_rest_base_urls: str | None = None
    agora_rate_limit_table: str | None = None
    agora_qps: int = Field(default=10, ge=1, le=1000)
    aws_region: str | None = None  # set by Lambda; picks the neighbouring Agora regional hosts

    def base_urls(self) -> list[str]:
        if self.agora_rest_base_urls:
            urls = [u.strip() for u in self.agora_rest_base_urls.split(",") if u.strip()]
            if urls:
                return urls
        return default_base_urls(self.aws_region)


class ObservedLimiter:
    """A limiter that reports each wait it applied to ``on_wait`` (seconds; 0.0 when a slot was free).

    The domain limiter only returns its wait; this is where the service layer turns it into a metric
    (``service.observability.limiter_wait_observer``). A limiter that runs out of slots raises before any
    wait is reported: that failure is counted from the logs (``AgoraLimiterExhausted``)."""

    def __init__(self, inner: RateLimiter, on_wait: Callable[[float], None]):
        self.inner = inner
        self._on_wait = on_wait

    def __repr__(self) -> str:
        return f"ObservedLimiter({self.inner!r})"

    def acquire(self, permits: int = 1) -> float:
        wait = self.inner.acquire(permits) or 0.0
        self._on_wait(wait)
        return wait


def build_rate_limiter(
    settings: AgoraAccessSettings, *, max_wait: float = 30.0, on_wait: Callable[[float], None] | None = None
) -> RateLimiter:
    rate, burst = bucket_for_qps(settings.agora_qps)
    limiter: RateLimiter
    if settings.agora_rate_limit_table:
        limiter = DynamoDBTokenBucket(settings.agora_rate_limit_table, rate=rate, burst=burst, max_wait=max_wait)
    else:
        limiter = LocalTokenBucket(rate, burst, max_wait=max_wait)
    return limiter if on_wait is None else ObservedLimiter(limiter, on_wait)


@dataclass(frozen=True)
class CallBudget:
    """How long one Agora call may take, retries and rate-limit waits included."""

    timeout: float = 10.0
    max_attempts: int = 5
    backoff_cap: float = 20.0
    limiter_max_wait: float = 30.0


#: workflow tasks and background work: patient (Step Functions retries on top)
BACKGROUND = CallBudget()
#: behind API Gateway, which gives up after 30 s: at most about 3 x 4 s + 2 x 2 s backoff + 5 s waiting for a slot,
#: so a slow or rate-limiting Agora becomes our 503 with a message, not API Gateway's bare timeout
INTERACTIVE = CallBudget(timeout=4.0, max_attempts=3, backoff_cap=2.0, limiter_max_wait=5.0)


def build_agora_client(
    settings: AgoraAccessSettings,
    secrets: SecretStore,
    *,
    budget: CallBudget = BACKGROUND,
    on_wait: Callable[[float], None] | None = None,
) -> AgoraClient:
    """An AgoraClient with the credentials from Secrets Manager and the shared rate limiter.

    The REST secret is JSON ``{"customer_id": ..., "customer_secret": ...}``. Build once per cold start.
    ``on_wait`` hears the limiter's wait before every request (the caller's ``AgoraLimiterWaitMs`` metric).
    """
    from agorakit.agora.client import AgoraClient

    secret = secrets.get_json(settings.agora_rest_secret_name)
    customer_id = secret.get("customer_id")
    customer_secret = secret.get("customer_secret")
    if (
        not isinstance(customer_id, str)
        or not customer_id
        or not isinstance(customer_secret, str)
        or not customer_secret
    ):
        raise AgoraAuthError(
            f"secret {settings.agora_rest_secret_name!r} must be JSON with non-empty customer_id and customer_secret"
        )
    return AgoraClient(
        app_id=settings.agora_app_id,
        customer_id=customer_id,
        customer_secret=customer_secret,
        base_urls=settings.base_urls(),
        rate_limiter=build_rate_limiter(settings, max_wait=budget.limiter_max_wait, on_wait=on_wait),
        timeout=budget.timeout,
        max_attempts=budget.max_attempts,
        backoff_cap=budget.backoff_cap,
    )
