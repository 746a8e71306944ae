"""``WorkflowControl``: ``fakes.FakeWorkflowControl`` against ``StepFunctionsControl`` on moto.

Starting is idempotent for the same name and input; another input under the name is refused; an execution's
status is RUNNING until it ends, and MISSING when there is none. (moto does not run states, so no task token
exists there: the tokens' once-only completion is the fake's own promise, proved by tests/workflow with the
local stack.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from service.recordings.fakes import FakeWorkflowControl
from service.recordings.ports import WorkflowControl

ROLE = "arn:aws:iam::123456789012:role/recording-workflow"


@dataclass
class Side:
    control: WorkflowControl
    machine: str
    #: the execution ``name`` ends with a status, from outside (an operator)
    end: Callable[[str, str], None]


@pytest.fixture(scope="module")
def moto_machine() -> Iterator[tuple[Any, str]]:
    import boto3
    from moto import mock_aws

    # said explicitly: moto's config is process-wide, and a local stack started earlier in this worker leaves
    # execute_state_machine on (then StopExecution races the running execution: CI saw RUNNING after the stop)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):  # type: ignore[arg-type]
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
        machine = sfn.create_state_machine(name="recording", definition=json.dumps(definition), roleArn=ROLE)
        yield sfn, machine["stateMachineArn"]


@pytest.fixture
def side(backend: str, request: pytest.FixtureRequest) -> Side:
    if backend == "fake":
        fake = FakeWorkflowControl()
        return Side(fake, "arn:aws:states:us-east-1:123456789012:stateMachine:recording", fake.end)
    from service.adapters.stepfunctions import StepFunctionsControl

    sfn, machine = request.getfixturevalue("moto_machine")

    def end(name: str, status: str) -> None:
        assert status == "ABORTED"  # the one ending moto can cause without running states
        sfn.stop_execution(executionArn=_execution(machine, name))

    return Side(StepFunctionsControl(client=sfn), machine, end)


def _execution(machine: str, name: str) -> str:
    from service.recordings.logic import execution_arn

    return execution_arn(machine, name)


def test_a_started_execution_runs_until_it_ends(side: Side, backend: str) -> None:
    name = f"run-{backend}"
    side.control.start(side.machine, name, {"recordingId": name})
    assert side.control.execution_status(_execution(side.machine, name)) == "RUNNING"
    side.end(name, "ABORTED")
    assert side.control.execution_status(_execution(side.machine, name)) == "ABORTED"


def test_starting_the_same_execution_again_is_harmless_but_not_with_another_input(side: Side, backend: str) -> None:
    name = f"again-{backend}"
    side.control.start(side.machine, name, {"recordingId": name})
    side.control.start(side.machine, name, {"recordingId": name})
    with pytest.raises(Exception, match="ExecutionAlreadyExists"):
        side.control.start(side.machine, name, {"recordingId": "another"})


def test_an_unknown_execution_is_missing(side: Side) -> None:
    assert side.control.execution_status(_execution(side.machine, "never-started")) == "MISSING"
