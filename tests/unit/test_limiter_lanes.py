"""The limiter's lanes as configured and as the callers name them: ``Lanes`` parsing and its refusals, the split
bucket's bound, ``build_rate_limiter`` from the environment's settings, and the lane each caller's Agora calls
are made in (workflow steps, the reconciler, the API). The lanes' timing properties are in
``tests/contract/test_rate_limiter_lanes.py``."""

from __future__ import annotations

import random

import pytest
from agorakit.agora.ratelimit import DEFAULT_LANES, Lane, Lanes, LocalTokenBucket, SplitBucket, current_lane, lane
from service.adapters.agora import (
    INTERACTIVE,
    AgoraAccessSettings,
    DynamoDBTokenBucket,
    ObservedLimiter,
    build_rate_limiter,
    limiter_keys,
)
from service.recordings import reconciler_handler, workflow_tasks_handler
from service.recordings.fakes import FakeClock

from tests.unit.recording_world import World, world

APP_ID = "0123456789abcdef0123456789abcdef"


def test_the_default_lanes_put_interactive_first_and_the_reconciler_last() -> None:
    depths = [DEFAULT_LANES.depth(one) for one in Lane]
    assert depths == sorted(depths, reverse=True) and depths[0] == DEFAULT_LANES.horizon
    assert DEFAULT_LANES.depth(None) == float("inf")  # an unlaned caller: only its max_wait bounds it


def test_lane_shares_parse_and_keep_the_defaults_of_the_lanes_they_omit() -> None:
    lanes = Lanes.parse(" start = 0.2, reconcile=0.05 ", horizon=2.0)
    assert lanes.shares[Lane.START] == 0.2 and lanes.shares[Lane.RECONCILE] == 0.05
    assert lanes.shares[Lane.STOP] == DEFAULT_LANES.shares[Lane.STOP]
    assert lanes.depth(Lane.START) == pytest.approx(0.4)
    assert Lanes.parse("") == DEFAULT_LANES


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("start=0.9", "exceeds a higher lane's"),  # starts may not queue deeper than stops
        ("bulk=0.5", "is not name=number"),
        ("start=lots", "is not name=number"),
        ("start", "is not name=number"),
        ("reconcile=0", "must be in (0, 1]"),
        ("interactive=1.5", "must be in (0, 1]"),
    ],
)
def test_bad_lane_shares_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        Lanes.parse(text)
    assert says in str(refused.value)


def test_current_lane_is_the_innermost_block_and_ends_with_it() -> None:
    assert current_lane() is None and current_lane(Lane.STOP) is Lane.STOP
    with lane(Lane.START):
        assert current_lane(Lane.INTERACTIVE) is Lane.START
        with lane(Lane.RECONCILE):
            assert current_lane() is Lane.RECONCILE
        assert current_lane() is Lane.START
    assert current_lane() is None


def test_a_split_bucket_never_grants_more_than_its_parts_bursts_plus_the_rate() -> None:
    clock = FakeClock()
    rate, parts = 8.0, 4
    split = SplitBucket(
        [LocalTokenBucket(rate / parts, 1, clock=clock, sleep=clock.sleep) for _ in range(parts)],
        rng=random.Random(7),
    )
    grants = []
    for _ in range(200):
        split.acquire()
        grants.append(clock.now())
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            assert j - i + 1 <= parts + rate * (grants[j] - grants[i]) + 1e-9
    # one caller in turn waits on a random part, so it gets less than the whole rate: the price of the split
    assert 200 / (grants[-1] - grants[0]) <= rate


def test_the_limiter_from_settings_is_split_over_n_items_each_at_its_share_of_the_rate() -> None:
    settings = AgoraAccessSettings(
        agora_app_id=APP_ID, agora_rest_secret_name="s", agora_rate_limit_table="t", agora_qps=100,
        agora_limiter_shards=4, agora_lane_shares="start=0.2", agora_limiter_horizon_seconds=3,
    )  # fmt: skip
    limiter = build_rate_limiter(settings, max_wait=10, lane=Lane.STOP)
    assert isinstance(limiter, SplitBucket)
    parts = [p for p in limiter.parts if isinstance(p, DynamoDBTokenBucket)]
    assert len(parts) == len(limiter.parts) == 4
    assert [p.key for p in parts] == limiter_keys(4) == [f"agora-account#{i}" for i in range(4)]
    assert {p.rate for p in parts} == {20.0}  # 100 QPS less 20 % headroom, over 4 items
    assert {p.default_lane for p in parts} == {Lane.STOP}
    assert [p.lanes.depth(Lane.START) for p in parts] == [pytest.approx(0.6)] * 4
    one = build_rate_limiter(AgoraAccessSettings(agora_app_id=APP_ID, agora_rest_secret_name="s",
                                                 agora_rate_limit_table="t"))  # fmt: skip
    assert isinstance(one, DynamoDBTokenBucket) and one.key == "agora-account"  # one item keeps its old key
    local = build_rate_limiter(AgoraAccessSettings(agora_app_id=APP_ID, agora_rest_secret_name="s"),
                               on_wait=lambda _: None, lane=INTERACTIVE.lane)  # fmt: skip
    assert isinstance(local, ObservedLimiter) and isinstance(local.inner, LocalTokenBucket)
    assert local.inner.default_lane is Lane.INTERACTIVE


def test_bad_limiter_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds a higher lane"):
        build_rate_limiter(
            AgoraAccessSettings(agora_app_id=APP_ID, agora_rest_secret_name="s", agora_lane_shares="reconcile=1")
        )
    with pytest.raises(ValueError, match="agora_limiter_shards"):
        AgoraAccessSettings(agora_app_id=APP_ID, agora_rest_secret_name="s", agora_limiter_shards=0)


@pytest.fixture
def w() -> World:
    return world()


def test_workflow_steps_call_agora_in_the_start_and_stop_lanes(w: World) -> None:
    tasks = workflow_tasks_handler.create_app(w.settings, w.deps)
    w.agora.join("room", 1001)
    recording_id = w.create("room")
    tasks({"action": "acquire", "recordingId": recording_id})
    tasks({"action": "start", "recordingId": recording_id})
    tasks({"action": "stop", "state": {"recordingId": recording_id}})
    assert [(op, which) for op, which in w.agora.lanes if op in ("acquire", "start", "stop")] == [
        ("acquire", Lane.START), ("start", Lane.START), ("stop", Lane.STOP)
    ]  # fmt: skip
    assert current_lane() is None  # the block ended with the step


def test_the_reconciler_queries_in_its_own_lane(w: World) -> None:
    w.recording_started()
    w.agora.lanes.clear()
    reconciler_handler.create_app(w.settings, w.deps)()
    queries = [which for op, which in w.agora.lanes if op == "query"]
    assert queries and set(queries) == {Lane.RECONCILE}


def test_the_api_and_channels_budget_is_the_interactive_lane() -> None:
    assert INTERACTIVE.lane is Lane.INTERACTIVE
