"""Runs ``local_surface_cases.py`` (a whole ``LocalRuntime`` in-process) in a child pytest.

An in-process local stack sets environment variables, imports every handler with the stack's settings and
caches AWS clients pointed at its moto server; later test modules in the same process would inherit all of
that. A child process keeps the rest of the suite independent of test order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.child import run_cases

pytestmark = pytest.mark.slow

CASES = Path(__file__).with_name("local_surface_cases.py")


def test_the_whole_stack_cases_pass_in_their_own_process() -> None:
    result = run_cases(CASES, timeout=1800, stacks=[{"web_port": 0}])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
