"""``RateLimiter``: ``LocalTokenBucket`` (the in-memory one, beside the Protocol in ``agorakit.agora.ratelimit``)
against ``DynamoDBTokenBucket`` on moto, both on a ``FakeClock`` whose ``sleep`` passes virtual time.

The same grants at the same moments: a full bucket grants ``burst`` at once, then one permit every
``1/rate`` seconds, in order; a slot further away than ``max_wait`` is refused (``AgoraRateLimitedError``) and
takes nothing; an idle bucket fills up again.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from agorakit.agora.errors import AgoraRateLimitedError
from agorakit.agora.ratelimit import LocalTokenBucket, RateLimiter
from service.recordings.fakes import FakeClock

TABLE = "contract-rate-limit"


def close(seconds: float) -> Any:
    """The DynamoDB bucket stores times to the microsecond (epoch seconds: a float keeps ~0.2 us of them)."""
    return pytest.approx(seconds, abs=1e-5)


_keys = count(1)


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


def bucket(backend: str, clock: FakeClock, request: pytest.FixtureRequest, **options: Any) -> RateLimiter:
    if backend == "fake":
        return LocalTokenBucket(clock=clock, sleep=clock.sleep, **options)
    from service.adapters.agora import DynamoDBTokenBucket

    return DynamoDBTokenBucket(
        TABLE, f"bucket-{next(_keys)}", client=request.getfixturevalue("ddb"), clock=clock, sleep=clock.sleep, **options
    )


def test_a_full_bucket_grants_its_burst_then_one_permit_per_interval(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    limiter = bucket(backend, clock, request, rate=4.0, burst=2, max_wait=None)
    start = clock.now()
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, close(0.25), close(0.25), close(0.25)]
    assert clock.now() - start == close(0.75)


def test_a_slot_beyond_max_wait_is_refused_and_takes_nothing(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    limiter = bucket(backend, clock, request, rate=2.0, burst=1, max_wait=0.6)
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == close(0.5)  # within max_wait: waited (virtually)
    limiter_far = bucket(backend, clock, request, rate=0.5, burst=1, max_wait=1.0)
    assert limiter_far.acquire() == 0.0
    with pytest.raises(AgoraRateLimitedError):
        limiter_far.acquire()  # the next slot is 2 s away
    clock.advance(2.0)
    assert limiter_far.acquire() == 0.0  # the refused call took no slot


def test_an_idle_bucket_fills_up_again(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> None:
    limiter = bucket(backend, clock, request, rate=10.0, burst=3, max_wait=None)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.advance(3600)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire() == close(0.1)
