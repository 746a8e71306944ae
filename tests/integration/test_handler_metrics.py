"""The webhook functions' metrics as CloudWatch receives them: the EMF documents their handlers print.

The real intake and processor handlers on moto (inbox with its stream, presence table, NCS secret): NCS
deliveries in, the inbox stream's records through the processor, and the printed EMF read back.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from agorakit.ncs.signature import signature_headers
from moto import mock_aws

from tests.support import emf

INBOX = "metrics-inbox"
PRESENCE = "metrics-presence"
SECRET_NAME = "metrics/ncs-secrets"
RTC_SECRET = "rtc-S3cret-Value-metrics"
CONTEXT = SimpleNamespace(
    function_name="webhooks",
    function_version="$LATEST",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:webhooks",
    aws_request_id="req-metrics",
)


def _table(ddb: Any, name: str, keys: list[tuple[str, str]], stream: bool = False) -> None:
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


@pytest.fixture
def stack(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("INBOX_TABLE", INBOX)
        monkeypatch.setenv("NCS_SECRET_NAME", SECRET_NAME)
        monkeypatch.setenv("PRESENCE_TABLE", PRESENCE)
        monkeypatch.setenv("NCS_MAX_BODY_BYTES", "4096")
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "webhooks")
        ddb = boto3.client("dynamodb")
        _table(ddb, INBOX, [("noticeId", "HASH")], stream=True)
        _table(ddb, PRESENCE, [("channel", "HASH"), ("uid", "RANGE")])
        boto3.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=json.dumps({"1": RTC_SECRET}))
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        from service.webhooks import intake, processor

        intake.reset()  # new environments: the first call builds each app from this test's variables
        processor.reset()
        yield SimpleNamespace(intake=intake, processor=processor)
        intake.reset()
        processor.reset()
        aws_adapter.reset_clients()


def _notice(n: int, event_type: int, notify_ms: int, **payload: Any) -> dict[str, Any]:
    return {"noticeId": f"metrics-{n}", "productId": 1, "eventType": event_type, "notifyMs": notify_ms,
            "payload": {"channelName": "metrics", **payload}}  # fmt: skip


def _deliver(stack: Any, document: dict[str, Any] | bytes, secret: str = RTC_SECRET) -> int:
    body = document if isinstance(document, bytes) else json.dumps(document, separators=(",", ":")).encode()
    headers = {k.lower(): v for k, v in signature_headers(secret, body).items()}
    request = {"headers": headers, "body": body.decode(), "isBase64Encoded": False, "requestContext": {"http": {}}}
    return int(stack.intake.handler(request, CONTEXT)["statusCode"])


def _stream_records() -> list[dict[str, Any]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[INBOX]
    assert table.stream_shard is not None
    records = []
    for record in table.stream_shard.items:
        data = json.loads(json.dumps(record.to_json(), default=str))
        data["eventSourceARN"] = f"arn:aws:dynamodb:us-east-1:123456789012:table/{INBOX}/stream/x"
        records.append(data)
    return records


def test_intake_counts_accepted_duplicate_and_rejected_notices_with_their_bytes(stack, capsys):
    capsys.readouterr()
    first = _notice(1, 105, 1_700_000_000_000, uid=7, platform=1, clientSeq=1, ts=1)
    body = json.dumps(first, separators=(",", ":")).encode()
    assert _deliver(stack, first) == 200
    assert _deliver(stack, first) == 200  # NCS's retry: a duplicate
    assert _deliver(stack, first, secret="not-the-secret") == 401
    assert _deliver(stack, b"x" * 5000) == 413
    docs = emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "NoticesAccepted") == [1.0]
    assert emf.values(docs, "NoticesDuplicate") == [1.0]
    assert emf.values(docs, "NoticesRejected", {"Reason": "unauthorized"}) == [1.0]
    assert emf.values(docs, "NoticesRejected", {"Reason": "payload_too_large"}) == [1.0]
    assert emf.values(docs, "NoticeBytes") == [float(len(body))] * 3  # the 413 is refused before it is read
    assert "IntakeErrors" not in emf.names(docs)
    assert emf.units(docs)["NoticeBytes"] == "Bytes"
    # the namespace and the service are the ones the module's Metrics took at import (POWERTOOLS_METRICS_NAMESPACE
    # and POWERTOOLS_SERVICE_NAME at cold start, as in a Lambda container): this process's first import of the
    # handler may have been another module's, with its stack's variables (the local stack's "AgoraServerless")
    namespace = stack.intake.metrics.namespace
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {namespace}
    assert namespace in ("AgoraServerlessTest", "AgoraServerless"), namespace
    assert {d["service"] for d in docs} == {stack.intake.metrics.service} and stack.intake.metrics.service


def _throttle_dynamodb() -> None:
    """DynamoDB answers every call with a throttling error from now on (botocore's own error class)."""
    from botocore.exceptions import ClientError
    from service.adapters import aws as aws_adapter

    def throttled(**kwargs: Any) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}}
        raise ClientError(error, kwargs.get("event_name", "dynamodb").rsplit(".", 1)[-1])

    aws_adapter.client("dynamodb").meta.events.register("before-call.dynamodb", throttled)


def test_intake_counts_a_store_that_failed_as_rejected_unavailable(stack, capsys):
    assert _deliver(stack, _notice(2, 105, 1, uid=7, platform=1, clientSeq=1, ts=1)) == 200
    _throttle_dynamodb()
    capsys.readouterr()
    assert _deliver(stack, _notice(3, 105, 1, uid=8, platform=1, clientSeq=1, ts=1)) == 503  # NCS delivers again
    docs = emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "NoticesRejected", {"Reason": "unavailable"}) == [1.0]
    assert "NoticesAccepted" not in emf.names(docs)


def test_processor_counts_applied_stale_ignored_and_invalid_notices_and_their_lag(stack, capsys):
    sent = int(time.time() * 1000) - 5_000  # Agora notified 5 s before these notices reach the processor
    notices = [
        _notice(10, 105, sent, uid=9, platform=1, clientSeq=20, ts=100),  # audience join: applied
        _notice(11, 106, sent, uid=9, platform=1, clientSeq=19, ts=99, reason=1, duration=1),  # older leave: stale
        _notice(12, 999, sent, uid=9, clientSeq=21, ts=101),  # an event type we do not handle
        {"noticeId": "metrics-13", "productId": 1, "eventType": 105, "notifyMs": sent, "payload": "not an object"},
    ]
    for notice in notices:
        assert _deliver(stack, notice) == 200
    records = _stream_records()
    assert len(records) == 4
    capsys.readouterr()
    answer = stack.processor.handler({"Records": records}, CONTEXT)
    assert answer == {"batchItemFailures": []}
    docs = emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "NoticesApplied") == [1.0]
    assert emf.values(docs, "NoticesStale") == [1.0]
    assert emf.values(docs, "NoticesIgnored") == [1.0]
    assert emf.values(docs, "NoticesInvalid") == [1.0]
    lags = emf.values(docs, "NoticeProcessingLagMs")
    assert len(lags) == 3  # every notice but the invalid one
    assert all(lag >= 5_000 for lag in lags), lags
    assert emf.units(docs)["NoticeProcessingLagMs"] == "Milliseconds"


def test_processor_counts_a_record_that_failed(stack, capsys):
    assert _deliver(stack, _notice(20, 105, 1, uid=3, platform=1, clientSeq=1, ts=1)) == 200
    records = _stream_records()
    stack.processor.default_app()  # built (and its DynamoDB client) before DynamoDB starts throttling
    _throttle_dynamodb()
    capsys.readouterr()
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):  # every record failed: Lambda retries the whole batch
        stack.processor.handler({"Records": records}, CONTEXT)
    docs = emf.documents(capsys.readouterr().out)  # flushed all the same
    assert emf.values(docs, "NoticesFailed") == [1.0]
    assert "NoticesApplied" not in emf.names(docs)
