"""A stack torn down with an execution in flight leaves nothing running in the process.

moto runs each execution in threads that outlive ``mock_aws``; the next stack in the same pytest worker has
functions of the same names, so a leftover execution's next step would run in it (against its limiter and its
dispatcher). ``local.patches.lambda_dispatch`` stops every running execution on its way out."""

from __future__ import annotations

import threading

import pytest

from tests.workflow.recording_env import recording_stack
from tests.workflow.test_recording_capacity import CONTEXT  # 30 s recordings; one more context is one more synth

pytestmark = pytest.mark.slow


def test_an_execution_waiting_for_its_stop_runs_no_step_after_its_stack() -> None:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    before = set(threading.enumerate())
    with recording_stack(context=CONTEXT) as rs:
        rs.emulator.join("teardown", 1001, role="host")
        status, body = rs.api("POST", "/recordings", body={"channel": "teardown"})
        assert status == 202, body
        rs.wait_status(body["recording_id"], "RECORDING", timeout=60)
        arn = rs.execution_arn(body["recording_id"])
        backend = stepfunctions_parser_backends[rs.stack.account][rs.stack.region]
        execution = next(e for m in backend.state_machines for e in m.executions if e.execution_arn == arn)
        assert execution.status == "RUNNING"  # waiting for its stop (WaitForStop, a task token)
        steps_run = _lambda_steps(execution)
        running = [t for t in set(threading.enumerate()) - before if _runs_moto_step_functions(t)]
        assert running, "the execution runs in threads of its own"
    for thread in running:
        thread.join(timeout=40)
    assert not [t.name for t in running if t.is_alive()]
    # no step ran after the stack stopped (left alone, it would invoke its Stop step at its 30 s maximum, in
    # whatever stack this process runs next)
    assert _lambda_steps(execution) == steps_run, (execution.status, execution.error, execution.cause)


def _lambda_steps(execution: object) -> int:
    events = execution.to_history_output()["events"]  # type: ignore[attr-defined]
    return sum(1 for e in events if e["type"] == "LambdaFunctionScheduled")


def _runs_moto_step_functions(thread: threading.Thread) -> bool:
    target = getattr(thread, "_target", None)  # the function the thread runs (set while it runs)
    return str(getattr(target, "__module__", "")).startswith("moto.stepfunctions")
