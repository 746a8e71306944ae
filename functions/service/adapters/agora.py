"""Agora access for Lambda functions: the account-wide rate limiter and the one way to build an AgoraClient.

Agora's QPS limit is per App ID / account, while Lambda runs many copies at once; a limiter per
process would let N copies send N times the limit. ``DynamoDBTokenBucket`` keeps one bucket in a
DynamoDB item that every copy updates with a conditional write (optimistic concurrency on a version
number), so bursts wait for a slot instead of meeting HTTP 429.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agorakit.agora.errors import AgoraAuthError, AgoraRateLimitedError
from agorakit.agora.ratelimit import LocalTokenBucket, RateLimiter, bucket_for_qps
from agorakit.agora.regions import default_base_urls
from pydantic import Field

from service.adapters.secrets import SecretStore
from service.settings import FunctionSettings

if TYPE_CHECKING:
    from agorakit.agora.client import AgoraClient

__all__ = ["AgoraAccessSettings", "DynamoDBTokenBucket", "build_agora_client"]

#: Partition key attribute of the rate-limit table (the construct creates the table with it).
PARTITION_KEY = "pk"
#: TTL attribute: an unused bucket item disappears a day after its last use.
TTL_ATTRIBUTE = "expires_at"


class DynamoDBTokenBucket:
    """A token bucket in one DynamoDB item, shared by every process that names the same table and key.

    Reservation semantics (see ``agorakit.agora.ratelimit``): a caller reserves a token with one
    conditional UpdateItem (the balance may go negative), then sleeps until its slot. At most
    ``burst + rate * T`` permits are granted in any interval T, whatever the number of callers.
    On a lost race the write fails with the item's current state (ReturnValuesOnConditionCheckFailure),
    so a conflict costs one extra write and no read. Times are wall-clock (``time.time``) because
    they are compared across machines.
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
        max_conflicts: int = 100,
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
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._state: tuple[float, float, int] | None = None  # (tokens, stamp, version), last seen
        self.conflicts = 0  # lost races so far (for tests and metrics)

    def __repr__(self) -> str:
        return (
            f"DynamoDBTokenBucket(table={self.table_name!r}, key={self.key!r}, rate={self.rate:g}, burst={self.burst})"
        )

    @property
    def client(self) -> Any:
        if self._client is None:
            from service.adapters.aws import client

            self._client = client("dynamodb")
        return self._client

    def acquire(self, permits: int = 1) -> None:
        if permits < 1:
            raise ValueError("permits must be at least 1")
        if permits > self.burst:
            raise ValueError(f"cannot take {permits} permits from a bucket of {self.burst}")
        # Threads of one process reserve one at a time: they would only race each other on the item.
        with self._lock:
            wait = self._reserve(permits)
        if wait > 0:
            self._sleep(wait)

    def _reserve(self, permits: int) -> float:
        """Take ``permits`` from the shared bucket; returns how long to wait for the reserved slot."""
        state = self._state
        for _ in range(self.max_conflicts):
            if state is None:
                state = self._read()
            now = self._clock()
            if state is None:
                tokens, stamp, version = float(self.burst), now, 0
            else:
                tokens, stamp, version = state
            new_stamp = max(now, stamp)  # never let a slow clock on one machine move the bucket backwards
            available = min(float(self.burst), tokens + (new_stamp - stamp) * self.rate)
            new_tokens = available - permits
            wait = max(0.0, -new_tokens / self.rate) + max(0.0, new_stamp - now)
            if self.max_wait is not None and wait > self.max_wait:
                self._state = state
                raise AgoraRateLimitedError(
                    f"Agora rate limiter: the next slot is {wait:.1f}s away (max_wait {self.max_wait:g}s)"
                )
            won, current = self._write(state, new_tokens, new_stamp, version + 1)
            if won:
                self._state = (new_tokens, new_stamp, version + 1)
                return wait
            self.conflicts += 1
            state = current
            time.sleep(random.random() * 0.002)  # de-synchronise racing processes a little
        self._state = None
        raise AgoraRateLimitedError(f"Agora rate limiter: {self.max_conflicts} lost races in a row")

    def _read(self) -> tuple[float, float, int] | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={PARTITION_KEY: {"S": self.key}}, ConsistentRead=True
        ).get("Item")
        return _parse(item)

    def _write(
        self, expected: tuple[float, float, int] | None, tokens: float, stamp: float, version: int
    ) -> tuple[bool, tuple[float, float, int] | None]:
        """Conditional write; on a lost race returns the item as it is now (None: re-read it)."""
        values: dict[str, Any] = {
            ":t": {"N": _num(tokens)},
            ":s": {"N": _num(stamp)},
            ":v": {"N": str(version)},
            ":e": {"N": str(int(stamp) + 86_400)},
        }
        if expected is None:
            condition = f"attribute_not_exists({PARTITION_KEY})"
        else:
            condition = "v = :old"
            values[":old"] = {"N": str(expected[2])}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": self.key}},
                UpdateExpression=f"SET tokens = :t, stamp = :s, v = :v, {TTL_ATTRIBUTE} = :e",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            response = getattr(exc, "response", None) or {}
            if response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False, _parse(response.get("Item"))
        return True, None


def _num(value: float) -> str:
    return f"{value:.6f}"


def _parse(item: dict[str, Any] | None) -> tuple[float, float, int] | None:
    if not item or "v" not in item:
        return None
    return float(item["tokens"]["N"]), float(item["stamp"]["N"]), int(item["v"]["N"])


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


def build_rate_limiter(settings: AgoraAccessSettings) -> RateLimiter:
    rate, burst = bucket_for_qps(settings.agora_qps)
    if settings.agora_rate_limit_table:
        return DynamoDBTokenBucket(settings.agora_rate_limit_table, rate=rate, burst=burst)
    return LocalTokenBucket(rate, burst)


def build_agora_client(settings: AgoraAccessSettings, secrets: SecretStore) -> AgoraClient:
    """An AgoraClient with the credentials from Secrets Manager and the shared rate limiter.

    The REST secret is JSON ``{"customer_id": ..., "customer_secret": ...}``. Build once per cold start.
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
        rate_limiter=build_rate_limiter(settings),
    )
