"""Runs ``hostile_cases.py`` (a whole ``LocalRuntime`` in-process, every hostile Agora case) in a child pytest.

An in-process local stack sets environment variables, imports every handler with the stack's settings and
caches AWS clients pointed at its moto server; later test modules in the same process would inherit all of
that. A child process keeps the rest of the suite independent of test order, and one stack serves every case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.hostile_cases import CONTEXT
from tests.support.child import run_cases

pytestmark = pytest.mark.slow

CASES = Path(__file__).with_name("hostile_cases.py")


def test_every_hostile_agora_case_end_to_end_in_its_own_process() -> None:
    result = run_cases(CASES, timeout=2400, contexts=[CONTEXT])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
