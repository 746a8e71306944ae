"""Runs ``admission_cases.py`` (a whole ``LocalRuntime`` in-process: a burst past the emulator's task limit)
in a child pytest, for the reason ``test_hostile_e2e.py`` gives: an in-process stack changes the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CASES = Path(__file__).with_name("admission_cases.py")


def test_a_burst_past_the_task_limit_end_to_end_in_its_own_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES)],
        cwd=CASES.parents[2], env=os.environ.copy(), capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
