"""A stack torn down with an execution in flight leaves nothing running in the process.

moto runs each execution in a thread that outlives ``mock_aws``; the next stack in the same pytest worker has
functions of the same names, so a leftover execution's next step would run in it (against its limiter and its
dispatcher). ``local.patches.lambda_dispatch`` stops every running execution on its way out."""

from __future__ import annotations

import threading

import pytest

from tests.workflow.recording_env import recording_stack

pytestmark = pytest.mark.slow


def test_an_execution_in_a_long_wait_ends_with_its_stack() -> None:
    before = set(threading.enumerate())
    with recording_stack(context={"recordingMaxDurationSeconds": 3600}) as rs:
        rs.emulator.join("teardown", 1001, role="host")
        status, body = rs.api("POST", "/recordings", body={"channel": "teardown"})
        assert status == 202, body
        rs.wait_status(body["recording_id"], "RECORDING", timeout=30)
        arn = rs.execution_arn(body["recording_id"])
        assert rs.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"  # waiting out the hour
        during = set(threading.enumerate()) - before
        assert during, "the execution runs in a thread of its own"
    for thread in during:  # the emulator's, the link's and the execution's threads all end
        thread.join(timeout=15)
    assert not [t.name for t in during if t.is_alive()]
