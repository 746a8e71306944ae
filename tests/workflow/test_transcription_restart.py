"""The 72-hour restart of a transcription, executed by moto: the synthesized restart workflow (a Step Functions
Wait state until ``restartAt``, then the restart task) joins the next Real-Time STT agent before the current one's
end and lets the old one leave; a stopped transcription ends the execution. Time is scaled: a 20-second
"lifetime" with an 18-second margin (CDK context) puts the restart 2 seconds after the start."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from local.event_filter import stream_record
from local.pumps import streams_client
from tests.support.event_contracts import assert_valid
from tests.workflow.recording_env import RecordingStack, api_event, recording_stack, response_json, wait_for

CONTEXT = {"transcriptionLifetimeSeconds": 20, "transcriptionRestartMarginSeconds": 18}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(context=CONTEXT) as stack:
        yield stack


def api(rs: RecordingStack, method: str, path: str, **kw) -> tuple[int, dict]:
    response = rs.dispatcher.invoke(rs.function_name("TranscriptionsTranscriptionsFunction"),
                                    api_event(method, path, **kw), source="test")  # fmt: skip
    return response["statusCode"], response_json(response)


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
    assert wait_for(lambda: api(rs, "GET", f"/transcriptions/{tid}")[1]["generation"] >= 1)
    _, after = api(rs, "GET", f"/transcriptions/{tid}")
    assert after["agents"][0] == first and after["agent_id"] != first and after["status"] in ("STARTING", "RUNNING")

    def agents_now() -> dict[str, dict]:
        return {a["agent_id"]: a for a in rs.emulator.stt_history() if a["channel"] == "restart-room"}

    # the old agent leaves after the new one joined (the record shows the new generation between the two calls)
    assert wait_for(lambda: agents_now()[first]["status"] == "STOPPED")
    agents = agents_now()
    assert agents[after["agent_id"]]["status"] in ("STARTING", "RUNNING")
    new_start = agents[after["agent_id"]]["started_at"]
    assert agents[first]["ended_at"] >= new_start  # the handover overlaps: no gap in the captions
    assert rs.emulator.stt_overlaps() == []  # never two agents of one generation's name
    states = [e["type"] for e in rs.sfn.get_execution_history(executionArn=arn)["events"]]
    assert "WaitStateEntered" in states and "TaskStateEntered" in states
    status, stopped = api(rs, "DELETE", f"/transcriptions/{tid}")
    assert status == 200 and stopped["status"] in ("STOPPING", "STOPPED")
    assert wait_for(lambda: rs.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"), rs.trail(arn=arn)
    assert rs.sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    live = [
        a
        for a in rs.emulator.stt_history()
        if a["channel"] == "restart-room" and a["status"] not in ("STOPPED", "FAILED")
    ]
    assert live == []


def test_the_restart_reaches_the_bus_through_the_deployed_publisher(rs: RecordingStack) -> None:
    """The synthesized wiring: the TranscriptionsTable's stream (as the template declares it) handed, as Lambda
    would, to the template's publisher function (its environment from the template) -> the stack's bus -> an app's
    queue: one transcription's Requested, Started, Restarted (the workflow's hand-over) and Stopped."""
    rs.emulator.join("restart-bus", 1002)
    status, started = api(rs, "POST", "/transcriptions", body={"channel": "restart-bus", "languages": ["en-US"]})
    assert status == 201, started
    tid = started["id"]
    assert wait_for(lambda: api(rs, "GET", f"/transcriptions/{tid}")[1]["generation"] >= 1)
    assert api(rs, "DELETE", f"/transcriptions/{tid}")[0] == 200
    assert wait_for(lambda: api(rs, "GET", f"/transcriptions/{tid}")[1]["status"] == "STOPPED")

    events, sqs = boto3.client("events"), boto3.client("sqs")
    publisher = rs.stack.function("EventsPublisherFunction")
    assert publisher is not None
    bus = publisher.environment["EVENT_BUS_NAME"]
    events.create_event_bus(Name=bus)  # the provisioner leaves the bus to the local events module
    queue = sqs.create_queue(QueueName="restart-app-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="app", EventBusName=bus, EventPattern=json.dumps({"source": ["agora-serverless.transcriptions"]})
    )
    events.put_targets(Rule="app", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    table = publisher.environment["TRANSCRIPTIONS_TABLE"]
    stream_arn = rs.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = streams_client(boto3.session.Session())
    records: list[dict] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
        records += [stream_record(r, stream_arn=stream_arn, region="us-east-1")
                    for r in streams.get_records(ShardIterator=iterator)["Records"]]  # fmt: skip
    answer = rs.dispatcher.invoke(publisher.name, {"Records": records}, source="test")
    assert answer == {"batchItemFailures": []}

    received = []
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in got:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    mine = sorted((e for e in received if e["detail"]["transcription_id"] == tid),
                  key=lambda e: int(e["detail"]["sequence"]))  # fmt: skip
    for envelope in mine:
        assert_valid(envelope)
    # no NCS 20 is delivered in this stack and nothing settles it before the workflow's restart: never seen RUNNING
    assert [e["detail-type"] for e in mine] == [
        "Transcription Requested", "Transcription Started", "Transcription Restarted", "Transcription Stopped",
    ]  # fmt: skip
    restarted = mine[2]["detail"]
    assert restarted["previous_agent_id"] == started["agent_id"] and restarted["generation"] == 1
    assert {e["detail"]["ordering_key"] for e in mine} == {f"transcription:{tid}"}
