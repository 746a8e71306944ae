"""An agent's durable lifecycle, executed by moto: ``POST /agents`` starts the synthesized lifecycle workflow (one
execution named by the agent id: lifecycle step -> done? -> Wait until ``waitUntil`` -> step), which ends the agent
at its hard maximum (history saved first) and then succeeds; a DELETE ends the execution at its next step; the
scheduled reconciler's function ends what Agora no longer lists. Time is scaled: the shortest maximum is 2 seconds
(CDK context ``agentsMinDurationSeconds``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import RecordingStack, api_event, recording_stack, response_json, wait_for

CONTEXT = {"agentsMinDurationSeconds": 2}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    # the emulator on real time: bot tokens are signed on the wall clock, and a scaled emulator clock would see
    # them expire within seconds (Agora drops an agent whose token expired: "token expired")
    with recording_stack(context=CONTEXT, emulator_kwargs={"time_scale": 1.0}) as stack:
        yield stack


def api(rs: RecordingStack, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    response = rs.dispatcher.invoke(rs.function_name("AgentsAgentsFunction"), api_event(method, path, **kw),
                                    source="test")  # fmt: skip
    return response["statusCode"], response_json(response)


def execution_arn(rs: RecordingStack, agent_id: str) -> str:
    machine = rs.stack.physical("AgentsLifecycleWorkflow")
    return machine.replace(":stateMachine:", ":execution:") + f":{agent_id}"


def status_of(rs: RecordingStack, arn: str) -> str:
    return str(rs.sfn.describe_execution(executionArn=arn)["status"])


def test_the_workflow_ends_the_agent_at_its_maximum_and_keeps_the_history(rs: RecordingStack) -> None:
    body = {"channel": "agent-room", "profile": "assistant", "remoteUids": [1001], "maxDurationSeconds": 3}
    status, started = api(rs, "POST", "/agents", body=body)
    assert status == 201, started
    agent_id = started["agentId"]
    arn = execution_arn(rs, agent_id)
    assert status_of(rs, arn) in ("RUNNING", "SUCCEEDED")
    assert wait_for(lambda: status_of(rs, arn) == "SUCCEEDED"), rs.sfn.get_execution_history(executionArn=arn)
    _, ended = api(rs, "GET", f"/agents/{agent_id}")
    # left at the maximum; STOPPED once Agora's 102 arrives (no NCS intake in this harness)
    assert ended["state"] in ("STOPPING", "STOPPED") and ended["endReason"] == "max_duration", ended
    events = [e["type"] for e in rs.sfn.get_execution_history(executionArn=arn)["events"]]
    assert "WaitStateEntered" in events and events.count("TaskStateEntered") >= 2

    def emulated() -> dict[str, Any]:
        return next(a for a in rs.emulator.agents_state()["agents"] if a["agent_id"] == ended["agoraAgentId"])

    assert wait_for(lambda: emulated()["status"] == "STOPPED"), emulated()
    assert emulated()["leave_reason"] != "token expired"
    assert rs.emulator.agents_state()["overlaps"] == []
    if ended["history"] is not None:  # turns exist once the emulated conversation ran: kept after the end
        bucket = rs.stack.environment()["RECORDINGS_BUCKET"]
        import boto3

        doc = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=ended["history"]["key"])["Body"].read())
        assert doc["agentId"] == agent_id and len(doc["turns"]) == ended["history"]["turns"]


def test_a_deleted_agent_ends_its_execution_at_the_next_step(rs: RecordingStack) -> None:
    body = {"channel": "agent-room-2", "profile": "assistant", "remoteUids": [1002], "maxDurationSeconds": 4}
    status, started = api(rs, "POST", "/agents", body=body)
    assert status == 201, started
    arn = execution_arn(rs, started["agentId"])
    status, left = api(rs, "DELETE", f"/agents/{started['agentId']}")
    assert status == 200 and left["state"] in ("STOPPING", "STOPPED"), left
    assert wait_for(lambda: status_of(rs, arn) == "SUCCEEDED")
    _, after = api(rs, "GET", f"/agents/{started['agentId']}")
    assert after["endReason"] != "max_duration"  # the DELETE ended it, the maximum did not


def test_the_scheduled_reconciler_ends_an_agent_agora_dropped(
    rs: RecordingStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the deployed grace (120 s) protects an agent that just changed state; this function's cold start reads 0
    monkeypatch.setenv("AGENTS_RECONCILE_GRACE_SECONDS", "0")
    rs.emulator.join("agent-room-3", 1003)  # the user it listens to is there: no idle end
    body = {"channel": "agent-room-3", "profile": "assistant", "remoteUids": [1003], "maxDurationSeconds": 60}
    status, started = api(rs, "POST", "/agents", body=body)
    assert status == 201, started
    agent_id = started["agentId"]
    assert wait_for(lambda: api(rs, "GET", f"/agents/{agent_id}")[1]["agoraAgentId"] is not None)
    agora_id = api(rs, "GET", f"/agents/{agent_id}")[1]["agoraAgentId"]
    rs.emulator.world.agent_leave(agora_id)  # Agora drops it; no notice reaches us
    report = rs.dispatcher.invoke(rs.function_name("AgentsAgentsReconcilerFunction"), {}, source="test")
    assert agent_id in report["ended"], report
    _, ended = api(rs, "GET", f"/agents/{agent_id}")
    assert ended["state"] == "STOPPED" and "reconciler" in (ended["endReason"] or ""), ended
    assert wait_for(lambda: status_of(rs, execution_arn(rs, agent_id)) == "SUCCEEDED")  # its lifecycle ends too
    assert rs.emulator.agents_state()["overlaps"] == []
