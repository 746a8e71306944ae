# ruff: noqa: E501 - the template reads best as compact CloudFormation JSON
"""The local pumps against moto: DynamoDB streams and SQS delivered to real handlers, with partial failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.provision import LocalStack, lambda_dispatch, provision
from local.pumps import Pumps

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
BATCHES: list[dict[str, Any]] = []
FAIL_ONCE: set[str] = set()  # keys/bodies that fail on their first delivery only
FAIL_ALWAYS: set[str] = set()
_lock = threading.Lock()


def _key(record: dict[str, Any]) -> str:
    if record.get("eventSource") == "aws:sqs":
        return str(record["body"])
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def collector(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with _lock:
        BATCHES.append(event)
    failures = []
    for record in event.get("Records", []):
        key = _key(record)
        if key in FAIL_ALWAYS or key in FAIL_ONCE:
            FAIL_ONCE.discard(key)
            ident = record.get("messageId") or record["dynamodb"]["SequenceNumber"]
            failures.append({"itemIdentifier": ident})
    return {"batchItemFailures": failures}


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "EventsTable1234ABCD": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"}}},
        "JobsDlq1234ABCD": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "JobsQueue1234ABCD": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": 30,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["JobsDlq1234ABCD", "Arn"]}, "maxReceiveCount": 2}}},
        "Collector1234ABCD": {"Type": "AWS::Lambda::Function", "Properties": {
            "Handler": f"{__name__}.collector", "Runtime": "python3.14", "Role": "arn:aws:iam::123456789012:role/r",
            "Code": {"S3Bucket": "b", "S3Key": "k"}}},
        "StreamMapping1234ABCD": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "Collector1234ABCD"}, "EventSourceArn": {"Fn::GetAtt": ["EventsTable1234ABCD", "StreamArn"]},
            "StartingPosition": "LATEST", "BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]}}},
        "QueueMapping1234ABCD": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "Collector1234ABCD"}, "EventSourceArn": {"Fn::GetAtt": ["JobsQueue1234ABCD", "Arn"]},
            "BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]}},
        "TickRule1234ABCD": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "rate(1 day)", "Targets": [{"Arn": {"Fn::GetAtt": ["Collector1234ABCD", "Arn"]}, "Id": "t"}]}},
    }
}  # fmt: skip


@pytest.fixture
def running() -> Iterator[tuple[LocalStack, Pumps]]:
    BATCHES.clear()
    FAIL_ONCE.clear()
    FAIL_ALWAYS.clear()
    with mock_aws(config=MOTO_CONFIG):
        stack = provision(json.loads(json.dumps(TEMPLATE)), stack_name="Pumps")
        with lambda_dispatch(stack) as dispatcher:
            pumps = Pumps(stack, dispatcher, boto3.session.Session(), poll_interval=0.02, sqs_retry_delay=0)
            pumps.start()
            try:
                yield stack, pumps
            finally:
                pumps.stop()


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s; batches: {BATCHES}")


def _delivered(source: str) -> list[str]:
    return [_key(r) for b in BATCHES for r in b.get("Records", []) if r.get("eventSource") == source]


def test_stream_records_reach_the_handler_filtered_and_shaped(running: tuple[LocalStack, Pumps]) -> None:
    stack, _ = running
    ddb = boto3.client("dynamodb")
    table = stack.physical("EventsTable")
    for key in ("a", "b"):
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "v": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "v": {"N": "2"}})  # MODIFY: filtered out
    ddb.put_item(TableName=table, Item={"pk": {"S": "c"}})
    _until(lambda: _delivered("aws:dynamodb") == ["a", "b", "c"])
    record = next(r for b in BATCHES for r in b["Records"] if r.get("eventSource") == "aws:dynamodb")
    assert record["eventName"] == "INSERT" and record["eventSourceARN"] == stack.attr("EventsTable", "StreamArn")
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)


def test_an_idle_stream_pump_wakes_on_the_next_record_not_on_a_timer(running: tuple[LocalStack, Pumps]) -> None:
    stack, pumps = running
    stream_pump = next(p for p in pumps.pumps if p.name.startswith("stream:"))
    stream_pump.idle_poll = 3600.0  # type: ignore[attr-defined]  # its safety-net poll: out of the picture
    ddb = boto3.client("dynamodb")
    table = stack.physical("EventsTable")
    ddb.put_item(TableName=table, Item={"pk": {"S": "first"}})
    _until(lambda: _delivered("aws:dynamodb") == ["first"], timeout=30)
    polls = stream_pump.batches
    # now idle for an hour unless moto's next stream record wakes it
    ddb.put_item(TableName=table, Item={"pk": {"S": "second"}})
    _until(lambda: _delivered("aws:dynamodb") == ["first", "second"], timeout=30)
    assert stream_pump.batches == polls + 1


def test_stream_partial_failure_checkpoints_before_the_failed_record(running: tuple[LocalStack, Pumps]) -> None:
    stack, pumps = running
    FAIL_ONCE.add("b")
    ddb = boto3.client("dynamodb")
    # write all three before the pump can see them, so they arrive in one batch
    stream_pump = next(p for p in pumps.pumps if p.name.startswith("stream:"))
    stream_pump.stop()
    stream_pump.join(2)
    for key in ("a", "b", "c"):
        ddb.put_item(TableName=stack.physical("EventsTable"), Item={"pk": {"S": key}})
    stream_pump.step()  # first delivery: a ok, b fails -> a is checkpointed
    stream_pump.step()  # retry from b
    assert _delivered("aws:dynamodb") == ["a", "b", "c", "b", "c"]


def test_queue_deletes_successes_and_redrives_persistent_failures(running: tuple[LocalStack, Pumps]) -> None:
    stack, _ = running
    FAIL_ALWAYS.add("poison")
    FAIL_ONCE.add("flaky")
    sqs = boto3.client("sqs")
    for body in ("ok-1", "flaky", "poison"):
        sqs.send_message(QueueUrl=stack.physical("JobsQueue"), MessageBody=body)
    dlq = stack.physical("JobsDlq")

    def poison_in_dlq() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return attrs["ApproximateNumberOfMessages"] == "1"

    _until(poison_in_dlq)
    delivered = _delivered("aws:sqs")
    assert delivered.count("ok-1") == 1 and delivered.count("flaky") == 2 and delivered.count("poison") == 2
    body = sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"]
    assert body == "poison"
    main = sqs.get_queue_attributes(QueueUrl=stack.physical("JobsQueue"), AttributeNames=["All"])["Attributes"]
    assert main["ApproximateNumberOfMessages"] == "0" and main["ApproximateNumberOfMessagesNotVisible"] == "0"
    record = next(r for b in BATCHES for r in b["Records"] if r.get("eventSource") == "aws:sqs")
    assert record["eventSourceARN"] == stack.arn("JobsQueue") and record["receiptHandle"]


def test_schedule_fires_on_demand_with_an_eventbridge_event(running: tuple[LocalStack, Pumps]) -> None:
    _, pumps = running
    assert pumps.schedules is not None
    assert pumps.schedules.fire("TickRule") == 1
    _until(lambda: any(b.get("detail-type") == "Scheduled Event" for b in BATCHES))
    event = next(b for b in BATCHES if b.get("detail-type") == "Scheduled Event")
    assert event["source"] == "aws.events" and event["resources"][0].endswith(":rule/Pumps-TickRule1234ABCD")
    with pytest.raises(KeyError):
        pumps.schedules.fire("Nope")
