"""Runs ``admission_cases.py`` (a whole ``LocalRuntime`` in-process: a burst past the emulator's task limit)
in a child pytest, for the reason ``test_hostile_e2e.py`` gives: an in-process stack changes the process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.admission_cases import CONTEXT
from tests.support.child import run_cases

pytestmark = pytest.mark.slow

CASES = Path(__file__).with_name("admission_cases.py")


def test_a_burst_past_the_task_limit_end_to_end_in_its_own_process() -> None:
    result = run_cases(CASES, timeout=1200, contexts=[CONTEXT])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
