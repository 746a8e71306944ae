"""Runs ``events_cases.py`` (a whole ``LocalRuntime`` in-process, an app following a recording through events)
in a child pytest, for the same reason as ``test_hostile_e2e.py``: the in-process stack's environment and cached
clients must not leak into the rest of the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.events_cases import CONTEXT
from tests.support.child import run_cases

pytestmark = pytest.mark.slow

CASES = Path(__file__).with_name("events_cases.py")


def test_a_recording_followed_through_events_end_to_end_in_its_own_process() -> None:
    result = run_cases(CASES, timeout=1200, contexts=[CONTEXT])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
