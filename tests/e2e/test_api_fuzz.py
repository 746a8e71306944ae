"""The whole API fuzzed from docs/openapi.json (schemathesis) against a LocalRuntime: see tests/e2e/api_fuzz.py.

Bounded and derandomized so it is the same run on every machine; ``make fuzz`` runs a larger budget. The
fuzz runs in a child process: its in-process local stack sets environment variables, imports every handler
and caches AWS clients, which later test modules in this process must not inherit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.child import warm_template

ROOT = Path(__file__).resolve().parents[2]
#: examples per operation, mode and role (admins get all, viewers and owners fewer)
BUDGET = os.environ.get("FUZZ_EXAMPLES", "12")


@pytest.mark.slow
def test_api_fuzz_no_5xx_every_answer_documented_every_status_reached() -> None:
    warm_template()  # the fuzz's stack: no web example
    env = {**os.environ, "FUZZ_EXAMPLES": BUDGET, "FUZZ_SEED": "12"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.e2e.api_fuzz"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=1800, check=False,
    )  # fmt: skip
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
