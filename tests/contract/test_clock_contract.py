"""``Clock``: ``fakes.FakeClock`` against ``time.time`` (what ``RecordingDependencies.clock`` defaults to).

Both are called for seconds since the epoch, as a float, and never go back; the fake moves only when told
(``advance``), which is what lets a test run hours of resource TTL or resolve windows at once.
"""

from __future__ import annotations

import time

import pytest
from service.recordings.fakes import FakeClock
from service.recordings.ports import Clock


@pytest.fixture
def a_clock(backend: str, clock: FakeClock) -> Clock:
    return clock if backend == "fake" else time.time


def test_seconds_since_the_epoch_that_never_go_back(a_clock: Clock) -> None:
    first = a_clock()
    assert isinstance(first, float) and first > 1_600_000_000  # after September 2020: an epoch, not a monotonic
    readings = [a_clock() for _ in range(100)]
    assert readings == sorted(readings) and readings[0] >= first


def test_the_fake_moves_only_when_told() -> None:
    clock = FakeClock(1_700_000_000.0)
    assert clock() == clock.now() == 1_700_000_000.0
    clock.advance(3600.5)
    clock.sleep(0.5)
    assert clock() == 1_700_003_601.0
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
