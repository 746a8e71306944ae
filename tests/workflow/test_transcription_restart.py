"""The 72-hour restart of a transcription, executed by moto: the synthesized restart workflow (a Step Functions
Wait state until ``restartAt``, then the restart task) joins the next Real-Time STT agent before the current one's
end and lets the old one leave; a stopped transcription ends the execution. Time is scaled: a 20-second
"lifetime" with an 18-second margin (CDK context) puts the restart 2 seconds after the start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflow.recording_env import RecordingStack, api_event, recording_stack, response_json

CONTEXT = {"transcriptionLifetimeSeconds": 20, "transcriptionRestartMarginSeconds": 18}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(context=CONTEXT) as stack:
        yield stack


def api(rs: RecordingStack, method: str, path: str, **kw) -> tuple[int, dict]:
    response = rs.dispatcher.invoke(rs.function_name("TranscriptionsTranscriptionsFunction"),
                                    api_event(method, path, **kw), source="test")  # fmt: skip
    return response["statusCode"], response_json(response)


def wait(predicate, timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def test_the_workflow_restarts_before_the_end_and_ends_with_the_transcription(rs: RecordingStack) -> None:
    rs.emulator.join("restart-room", 1001)
    status, started = api(rs, "POST", "/transcriptions", body={"channel": "restart-room", "languages": ["en-US"]})
    assert status == 201, started
    tid, first = started["id"], started["agent_id"]
    # the bot's token (24 h, signed from the App Certificate) is the other deadline: the restart comes first here
    assert started["token_expires_ms"] is not None
    assert started["restart_due_ms"] <= started["token_expires_ms"] - 18_000
    machine = rs.stack.physical("TranscriptionsRestartWorkflow")
    arn = machine.replace(":stateMachine:", ":execution:") + f":{tid}"
    assert rs.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert wait(lambda: api(rs, "GET", f"/transcriptions/{tid}")[1]["generation"] >= 1)
    _, after = api(rs, "GET", f"/transcriptions/{tid}")
    assert after["agents"][0] == first and after["agent_id"] != first and after["status"] in ("STARTING", "RUNNING")

    def agents_now() -> dict[str, dict]:
        return {a["agent_id"]: a for a in rs.emulator.stt_history() if a["channel"] == "restart-room"}

    # the old agent leaves after the new one joined (the record shows the new generation between the two calls)
    assert wait(lambda: agents_now()[first]["status"] == "STOPPED")
    agents = agents_now()
    assert agents[after["agent_id"]]["status"] in ("STARTING", "RUNNING")
    new_start = agents[after["agent_id"]]["started_at"]
    assert agents[first]["ended_at"] >= new_start  # the handover overlaps: no gap in the captions
    assert rs.emulator.stt_overlaps() == []  # never two agents of one generation's name
    states = [e["type"] for e in rs.sfn.get_execution_history(executionArn=arn)["events"]]
    assert "WaitStateEntered" in states and "TaskStateEntered" in states
    status, stopped = api(rs, "DELETE", f"/transcriptions/{tid}")
    assert status == 200 and stopped["status"] in ("STOPPING", "STOPPED")
    assert wait(lambda: rs.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING")
    assert rs.sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    live = [
        a
        for a in rs.emulator.stt_history()
        if a["channel"] == "restart-room" and a["status"] not in ("STOPPED", "FAILED")
    ]
    assert live == []
