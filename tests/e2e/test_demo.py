"""``make demo`` as a test: the scripted scenario on a fresh local stack must pass every step.

It runs in its own interpreter (the stack hosts every handler in-process with the stack's environment,
which must not leak into, or be polluted by, the other tests' imports).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_scenario_passes_every_step() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.demo"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr[-3000:]
    summary = lines[-1]
    assert result.returncode == 0 and summary.startswith("demo: PASSED"), (
        "\n".join(lines[-40:]) + "\n--- stderr ---\n" + result.stderr[-3000:]
    )
