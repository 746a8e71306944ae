"""Runs the local stack's e2e cases files (each a whole ``LocalRuntime`` in-process) in ONE child pytest, one file
after another, and checks each file's cases in a test of its own.

A child process because an in-process local stack sets environment variables, imports every handler with the
stack's settings and caches AWS clients pointed at its moto server: later test modules of this worker would
inherit all of that. One child for the five files because each child paid a Python start, pytest's and the
stack's imports and moto's first use of every service again (a stack's start: 8.7 s for the first in a process,
2.1 s for the next, at load 6.5); each file still starts its own stack (``hostile_cases.local_stack``), with its
own emulator options and context, and empties moto's backends after it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e import admission_cases, hostile_cases
from tests.support.child import run_cases

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
#: the cases files, in the order the child runs them
CASES = ("hostile_cases.py", "admission_cases.py", "events_cases.py", "agent_cases.py", "transcription_cases.py")


class ChildRun:
    """The child's outcome: its output, and each file's cases (name -> outcome) from its JUnit report."""

    def __init__(self, returncode: int, output: str, report: Path):
        self.returncode, self.output = returncode, output
        self.cases: dict[str, dict[str, str]] = {}
        if report.is_file():
            for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own child wrote it
                module = case.get("classname", "").rsplit(".", 1)[-1] + ".py"
                outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
                self.cases.setdefault(module, {})[case.get("name", "")] = outcome

    def assert_passed(self, cases_file: str) -> None:
        """Every case of ``cases_file`` ran and passed (none failed, errored or was skipped)."""
        got = self.cases.get(cases_file)
        assert got, f"no case of {cases_file} ran (exit {self.returncode}):\n{self.output[-8000:]}"
        bad = {name: outcome for name, outcome in got.items() if outcome != "passed"}
        assert not bad, f"{cases_file}: {bad}\n{self.output[-8000:]}"


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> ChildRun:
    report = tmp_path_factory.mktemp("e2e-child") / "report.xml"
    result = run_cases(
        [HERE / name for name in CASES], timeout=3600,
        stacks=[{"context": hostile_cases.CONTEXT}, {"context": admission_cases.CONTEXT}],
        args=["--junitxml", str(report)],
    )  # fmt: skip
    return ChildRun(result.returncode, result.stdout + result.stderr[-3000:], report)


def test_every_hostile_agora_case_end_to_end_in_its_own_process(child: ChildRun) -> None:
    child.assert_passed("hostile_cases.py")


def test_a_burst_past_the_task_limit_end_to_end_in_its_own_process(child: ChildRun) -> None:
    child.assert_passed("admission_cases.py")


def test_a_recording_followed_through_events_end_to_end_in_its_own_process(child: ChildRun) -> None:
    child.assert_passed("events_cases.py")


def test_conversational_agents_end_to_end_in_its_own_process(child: ChildRun) -> None:
    child.assert_passed("agent_cases.py")


def test_live_transcription_end_to_end_in_its_own_process(child: ChildRun) -> None:
    child.assert_passed("transcription_cases.py")


def test_the_child_ran_every_cases_file_and_exited_cleanly(child: ChildRun) -> None:
    assert sorted(child.cases) == sorted(CASES), sorted(child.cases)
    assert child.returncode == 0, child.output[-8000:]
