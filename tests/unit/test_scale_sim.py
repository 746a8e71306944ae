"""``bench.scale``: a small seeded run of the simulation keeps the invariants that hold whatever the result."""

from __future__ import annotations

import json
import math

import pytest

from bench.scale.sim import Scenario, simulate

#: a burst three times Agora's task limit at its default QPS: the recordings past the limit wait for a slot
SMALL = Scenario(recordings=24, start_window=0, duration_minutes=1, agora_qps=10, agora_max_tasks=8, seed=3)


@pytest.fixture(scope="module")
def result() -> dict:
    return simulate(SMALL)


def test_every_recording_is_started_failed_or_still_queued(result):
    assert result["started"] + result["failed"] + result["queued"] == SMALL.recordings
    assert sum(result["failed_by_reason"].values()) == result["failed"]
    assert result["started"] >= SMALL.agora_max_tasks  # the first eight fit at once


def test_no_channel_ever_has_two_recorders_and_none_is_left_running(result):
    assert result["overlapping_tasks"] == 0
    assert result["orphaned_tasks"] == 0
    assert result["agora_tasks_max"] <= SMALL.agora_max_tasks


def test_the_limiter_keeps_agora_under_its_qps(result):
    assert result["agora_429"] == 0
    # the burst did meet the task limit, queued by admission or refused by Agora: the run is not trivially green
    assert result["queued_max"] > 0 or result["agora_406"] > 0


def test_cost_lines_sum_to_the_total(result):
    lines = result["cost_lines_per_1000_usd"]
    assert len(lines) >= 10
    assert math.isclose(sum(lines.values()), result["cost_per_1000_usd"], abs_tol=0.001 * len(lines))


def test_the_same_seed_is_the_same_run(result):
    assert json.dumps(simulate(SMALL), sort_keys=True) == json.dumps(result, sort_keys=True)


def test_the_media_queue_gets_one_notification_per_slice_not_one_per_put(result):
    """Agora PUTs a .ts and the rewritten .m3u8 each slice; only the .m3u8 notifies the media queue."""
    from bench.scale.cost import PRICES

    puts = result["cost_lines_per_1000_usd"]["S3 PUTs by Agora (.ts + .m3u8 per slice)"] / PRICES["s3_put"]
    puts *= SMALL.recordings / 1000
    assert result["media_queue_messages"] > 0
    assert math.isclose(result["media_queue_messages"], puts / 2, rel_tol=0.05)  # 5-s sampling of the recordings
