"""Runs ``agent_cases.py`` (a whole ``LocalRuntime`` in-process) in a child pytest, like the hostile cases:
an in-process local stack leaves environment variables and cached clients that later modules must not inherit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.agent_cases import CONTEXT
from tests.support.child import run_cases

pytestmark = pytest.mark.slow

CASES = Path(__file__).with_name("agent_cases.py")


def test_conversational_agents_end_to_end_in_its_own_process() -> None:
    result = run_cases(CASES, timeout=1200, contexts=[CONTEXT])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
