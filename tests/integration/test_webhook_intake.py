"""The NCS intake handler end to end on moto: DynamoDB inbox (with stream) + Secrets Manager.

Calls ``service.webhooks.intake.handler`` with API Gateway HTTP API (payload v2) events, as Lambda would.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from agorakit.ncs.signature import signature_headers
from moto import mock_aws

from tests.support.fixtures import ncs_examples

RTC_SECRET = "rtc-S3cret-Value-9f1c"
REC_SECRET = "rec-S3cret-Value-77aa"
DEFAULT_SECRET = "default-S3cret-Value-0b2e"
INBOX = "test-inbox"
SECRET_NAME = "test/ncs-secrets"
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}

RTC_EVENT: dict[str, Any] = {
    "noticeId": "2000001428:4330:103",
    "productId": 1,
    "eventType": 103,
    "notifyMs": 1611566412672,
    "payload": {
        "channelName": "test_webhook",
        "uid": 2845863044,
        "platform": 1,
        "clientSeq": 1625051030746,
        "ts": 1560396843,
        "account": "test",
    },
}
PROGRESS_EVENT: dict[str, Any] = {
    "noticeId": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "productId": 3,
    "eventType": 33,
    "notifyMs": 1619172530211,
    "sid": "38f8e3cfdc474cd56fc1ceba380d7e1a",
    "payload": {
        "cname": "httpClient463224",
        "uid": "527841",
        "sid": "38f8e3cfdc474cd56fc1ceba380d7e1a",
        "sequence": 17,
        "sendts": 1619172530190,
        "serviceType": 2,
        "details": {"msgName": "uploading_progress", "progress": 8542},
    },
}


def _body(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _event(body: bytes, headers: dict[str, str], *, base64_body: bool = False, lower: bool = True) -> dict:
    if lower:
        headers = {k.lower(): v for k, v in headers.items()}
    try:
        body.decode()
    except UnicodeDecodeError:
        base64_body = True  # API Gateway base64-encodes bodies that are not text
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/agora",
        "rawPath": "/webhooks/agora",
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {"http": {"method": "POST", "path": "/webhooks/agora", "sourceIp": "203.0.113.9"}},
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


CONTEXT = SimpleNamespace(
    function_name="intake",
    function_version="$LATEST",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:intake",
    aws_request_id="req-1",
)


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("INBOX_TABLE", INBOX)
        monkeypatch.setenv("NCS_SECRET_NAME", SECRET_NAME)
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=INBOX,
            KeySchema=[{"AttributeName": "noticeId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "noticeId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(
            Name=SECRET_NAME,
            SecretString=json.dumps({"1": RTC_SECRET, "3": [REC_SECRET, "rotated-old-value"]}),
        )
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        from service.webhooks import intake

        intake.reset()  # a new environment: the first call builds the app from this test's variables
        calls: Counter[str] = Counter()

        def count(event_name: str, **_: object) -> None:
            calls[event_name.rsplit(".", 1)[-1]] += 1

        aws_adapter.client("dynamodb").meta.events.register("before-call.dynamodb", count)
        secret_calls: Counter[str] = Counter()
        aws_adapter.client("secretsmanager").meta.events.register(
            "before-call.secrets-manager", lambda event_name, **_: secret_calls.update([event_name])
        )
        yield SimpleNamespace(intake=intake, ddb=ddb, secrets=secrets, calls=calls, secret_calls=secret_calls)
        intake.reset()
        aws_adapter.reset_clients()


def _send(aws, document_or_body, secret: str = RTC_SECRET, **kw) -> dict:
    body = document_or_body if isinstance(document_or_body, bytes) else _body(document_or_body)
    headers = kw.pop("headers", None)
    if headers is None:
        headers = signature_headers(secret, body)
    return aws.intake.handler(_event(body, headers, **kw), CONTEXT)


def _items(aws) -> list[dict]:
    return aws.ddb.scan(TableName=INBOX, ConsistentRead=True)["Items"]


def _stream_inserts() -> list[dict]:
    """What the inbox's stream holds (moto keeps it in memory; its streams API is not usable with this botocore)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[INBOX]
    assert table.stream_shard is not None
    return [r.to_json() for r in table.stream_shard.items if r.to_json()["eventName"] == "INSERT"]


def test_accepted_event_is_stored_verbatim_with_one_write(aws):
    body = _body(RTC_EVENT)
    response = _send(aws, body)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ok": True}
    assert response["headers"]["Content-Type"] == "application/json"
    items = _items(aws)
    assert len(items) == 1
    item = items[0]
    assert item["noticeId"]["S"] == f"1:{RTC_EVENT['noticeId']}"  # keyed on product + notice
    assert item["ncsNoticeId"]["S"] == RTC_EVENT["noticeId"]
    assert item["body"]["S"].encode() == body  # the exact bytes, re-verifiable
    assert (item["productId"]["N"], item["eventType"]["N"], item["cname"]["S"]) == ("1", "103", "test_webhook")
    assert item["signature"]["S"] == "v2"
    ttl = int(item["expiresAt"]["N"]) - time.time()
    assert 29 * 86400 < ttl <= 30 * 86400
    assert sum(n for op, n in aws.calls.items() if op in WRITE_OPS) == 1
    assert set(aws.calls) == {"PutItem"}  # no reads either
    inserts = _stream_inserts()
    assert [r["dynamodb"]["NewImage"]["ncsNoticeId"]["S"] for r in inserts] == [RTC_EVENT["noticeId"]]


def test_exactly_one_dynamodb_write_per_delivery(aws):
    deliveries = 0
    for i in range(20):
        event = copy.deepcopy(RTC_EVENT)
        event["noticeId"] = f"2000001428:4330:{i}"
        for attempt in range(1 + i % 3):  # NCS resends with a new notifyMs each time
            event["notifyMs"] = RTC_EVENT["notifyMs"] + attempt
            assert _send(aws, event)["statusCode"] == 200
            deliveries += 1
    assert len(_items(aws)) == 20
    assert aws.calls == Counter({"PutItem": deliveries})
    assert len(_stream_inserts()) == 20  # duplicates reach neither the table nor the processor
    assert sum(aws.secret_calls.values()) == 1  # the secret is cached for the warm function


def test_duplicate_is_200_and_a_no_op(aws):
    first = _body(RTC_EVENT)
    assert _send(aws, first)["statusCode"] == 200
    resend = copy.deepcopy(RTC_EVENT)
    resend["notifyMs"] += 5000
    response = _send(aws, resend)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ok": True, "duplicate": True}
    items = _items(aws)
    assert len(items) == 1
    assert items[0]["body"]["S"].encode() == first  # the first delivery stays


def test_base64_body_and_mixed_case_headers(aws):
    body = _body(RTC_EVENT)
    headers = signature_headers(RTC_SECRET, body)
    assert _send(aws, body, headers=headers, base64_body=True, lower=False)["statusCode"] == 200
    assert _items(aws)[0]["body"]["S"].encode() == body


def test_v1_only_is_accepted(aws):
    body = _body(RTC_EVENT)
    headers = {"Agora-Signature": signature_headers(RTC_SECRET, body)["Agora-Signature"]}
    assert _send(aws, body, headers=headers)["statusCode"] == 200
    assert _items(aws)[0]["signature"]["S"] == "v1"


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {},
        lambda body: {"Agora-Signature-V2": "0" * 64},
        lambda body: signature_headers("wrong-secret", body),
        lambda body: {
            "Agora-Signature-V2": "0" * 64,
            "Agora-Signature": signature_headers(RTC_SECRET, body)["Agora-Signature"],
        },
        lambda body: {"Agora-Signature-V2": signature_headers(RTC_SECRET, body + b" ")["Agora-Signature-V2"]},
    ],
    ids=["missing", "garbage", "wrong-secret", "bad-v2-good-v1", "other-body"],
)
def test_bad_or_missing_signature_is_401_and_nothing_stored(aws, make_headers):
    body = _body(RTC_EVENT)
    response = _send(aws, body, headers=make_headers(body))
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "unauthorized"
    assert _items(aws) == []
    assert not any(op in WRITE_OPS for op in aws.calls)


def test_reserialized_body_is_401(aws):
    body = _body(RTC_EVENT)
    headers = signature_headers(RTC_SECRET, body)
    pretty = json.dumps(RTC_EVENT).encode()  # what a JSON-parsing proxy or framework would hand over
    assert _send(aws, pretty, headers=headers)["statusCode"] == 401
    assert _items(aws) == []


def test_secret_must_belong_to_the_product(aws):
    # the RTC secret signs a Cloud Recording envelope: a valid HMAC, but not with productId 3's secret
    response = _send(aws, PROGRESS_EVENT, secret=RTC_SECRET)
    assert response["statusCode"] == 401
    assert "productId 3" in json.loads(response["body"])["error"]["message"]
    assert _items(aws) == []
    # its own secret (and the older rotated one) are accepted
    assert _send(aws, PROGRESS_EVENT, secret="rotated-old-value")["statusCode"] == 200


def test_progress_events_get_a_short_ttl(aws):
    assert _send(aws, PROGRESS_EVENT, secret=REC_SECRET)["statusCode"] == 200
    item = _items(aws)[0]
    assert item["sid"]["S"] == PROGRESS_EVENT["sid"]
    ttl = int(item["expiresAt"]["N"]) - time.time()
    assert 0 < ttl <= 86400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "not valid JSON"),
        (b"[1,2,3]", "JSON object"),
        (b'{"productId":1,"eventType":103,"payload":{}}', "noticeId"),
        (b'{"noticeId":"n1","eventType":103}', "productId"),
        (b'{"noticeId":"n1","productId":1}', "eventType"),
        (b'{"noticeId":"n1","productId":1,"eventType":"x"}', "eventType"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"", "not valid JSON"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "not valid JSON"),  # was a RecursionError -> 500
        (b'{"noticeId":"n1","productId":1e308,"eventType":103}', "productId"),  # was a DynamoDB error -> 503
        (b'{"noticeId":"n1","productId":1,"eventType":"99999999999999999999999"}', "eventType"),
    ],
)
def test_signed_but_invalid_body_is_400_and_nothing_stored(aws, body, message):
    response = _send(aws, body, secret=RTC_SECRET)
    assert response["statusCode"] == 400
    assert message in json.loads(response["body"])["error"]["message"]
    assert _items(aws) == []


def test_unsigned_garbage_is_401_not_400(aws):
    """No oracle: without a valid signature the caller cannot learn whether its body would parse."""
    assert _send(aws, b"not json", headers={})["statusCode"] == 401


@pytest.mark.parametrize("base64_body", [False, True])
def test_oversized_body_is_413_before_any_work(aws, base64_body):
    event = copy.deepcopy(RTC_EVENT)
    event["payload"]["account"] = "x" * (256 * 1024)
    response = _send(aws, event, base64_body=base64_body)
    assert response["statusCode"] == 413
    assert _items(aws) == []
    assert sum(aws.secret_calls.values()) == 0  # rejected before the secret was even needed


def test_body_limit_is_configurable(aws, monkeypatch):
    monkeypatch.setenv("NCS_MAX_BODY_BYTES", "2048")
    intake = aws.intake
    intake.reset()  # a new environment, configured with the lower limit
    event = copy.deepcopy(RTC_EVENT)
    event["payload"]["account"] = "x" * 2048
    assert (
        intake.handler(_event(_body(event), signature_headers(RTC_SECRET, _body(event))), CONTEXT)["statusCode"] == 413
    )
    assert (
        intake.handler(_event(_body(RTC_EVENT), signature_headers(RTC_SECRET, _body(RTC_EVENT))), CONTEXT)["statusCode"]
        == 200
    )


def test_storage_failure_is_503_so_ncs_retries(aws):
    from botocore.exceptions import ClientError

    def throttle(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem"
        )

    from service.adapters.aws import client

    client("dynamodb").meta.events.register("before-call.dynamodb.PutItem", throttle)
    response = _send(aws, RTC_EVENT)
    assert response["statusCode"] == 503
    client("dynamodb").meta.events.unregister("before-call.dynamodb.PutItem", throttle)
    assert _send(aws, RTC_EVENT)["statusCode"] == 200  # NCS's resend is then stored


def test_missing_secret_is_503_and_nothing_stored(aws):
    aws.secrets.delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)
    response = _send(aws, RTC_EVENT)
    assert response["statusCode"] == 503
    assert _items(aws) == []


def test_misconfigured_secret_is_503(aws):
    aws.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({"rtc": RTC_SECRET}))
    response = _send(aws, RTC_EVENT)
    assert response["statusCode"] == 503
    assert RTC_SECRET not in response["body"]


def test_health_check_events_answer_json(aws):
    """Agora's console "Check" sends test events that must get a 200 with a JSON body within 10 s."""
    examples = ncs_examples()
    for key in ("101", "102", "103", "104"):
        response = _send(aws, examples[key])
        assert response["statusCode"] == 200
        assert json.loads(response["body"])["ok"] is True
    for key in ("4", "11", "31", "33", "40"):
        assert _send(aws, examples[key], secret=REC_SECRET)["statusCode"] == 200
    assert len(_items(aws)) == 9


def test_one_log_line_per_event_and_no_secrets_in_logs(aws, caplog):
    caplog.set_level("INFO")
    body = _body(RTC_EVENT)
    good = signature_headers(RTC_SECRET, body)
    bad = signature_headers("attacker-guess", body)
    _send(aws, body, headers=good)
    _send(aws, body, headers=good)
    _send(aws, body, headers=bad)
    _send(aws, b"{", secret=RTC_SECRET)
    _send(aws, PROGRESS_EVENT, secret=REC_SECRET)
    aws.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps({"bad": DEFAULT_SECRET}))
    aws.intake.default_app().deps.keyring._secrets.clear()
    _send(aws, RTC_EVENT)
    # the exact JSON lines the function writes, rendered by its own Powertools formatter
    formatter = aws.intake.logger.registered_formatter
    records = [r for r in caplog.records if r.name == aws.intake.logger.name]
    rendered = [formatter.format(r) for r in records]
    output = "\n".join(rendered) + caplog.text
    lines = [json.loads(line) for line in rendered]
    assert len(lines) == 6
    assert [line["outcome"] for line in lines] == [
        "stored", "duplicate", "unauthorized", "bad_request", "stored", "unavailable"
    ]  # fmt: skip
    stored = lines[0]
    assert (stored["noticeId"], stored["productId"], stored["eventType"], stored["cname"]) == (
        RTC_EVENT["noticeId"], 1, 103, "test_webhook"
    )  # fmt: skip
    assert lines[4]["sid"] == PROGRESS_EVENT["sid"]
    for secret in (RTC_SECRET, REC_SECRET, DEFAULT_SECRET, "rotated-old-value", "attacker-guess"):
        assert secret not in output
    for value in (*good.values(), *bad.values()):
        assert value not in output


def test_rotated_secret_is_picked_up_at_once_and_bad_signatures_do_not_drive_secret_reads(aws):
    assert _send(aws, RTC_EVENT)["statusCode"] == 200  # the warm function caches the secret
    assert sum(aws.secret_calls.values()) == 1
    aws.secrets.put_secret_value(
        SecretId=SECRET_NAME, SecretString=json.dumps({"1": "new-rtc-S3cret", "3": REC_SECRET})
    )
    event = copy.deepcopy(RTC_EVENT)
    event["noticeId"] = "after-rotation"
    assert _send(aws, event, secret="new-rtc-S3cret")["statusCode"] == 200  # one re-read, then accepted
    assert sum(aws.secret_calls.values()) == 2
    for _ in range(5):  # a flood of bad signatures: at most one re-read per minute
        assert _send(aws, event, secret="bogus")["statusCode"] == 401
    assert sum(aws.secret_calls.values()) == 2
    assert _send(aws, RTC_EVENT, secret=RTC_SECRET)["statusCode"] == 401  # the old secret is gone


def test_same_notice_id_in_another_product_is_a_new_event(aws):
    """Regression: the inbox was keyed on noticeId alone, so a cloud-recording notice reusing an RTC notice's
    id was acknowledged as a duplicate and dropped. Agora's ids are unique per product only."""
    assert _send(aws, RTC_EVENT)["statusCode"] == 200
    recording = copy.deepcopy(PROGRESS_EVENT)
    recording["noticeId"] = RTC_EVENT["noticeId"]
    response = _send(aws, recording, secret=REC_SECRET)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ok": True}  # stored, not "duplicate"
    items = sorted(_items(aws), key=lambda i: i["noticeId"]["S"])
    assert [(i["noticeId"]["S"], i["ncsNoticeId"]["S"]) for i in items] == [
        (f"1:{RTC_EVENT['noticeId']}", RTC_EVENT["noticeId"]),
        (f"3:{RTC_EVENT['noticeId']}", RTC_EVENT["noticeId"]),
    ]
    # and the same product's resend is still a duplicate
    assert json.loads(_send(aws, recording, secret=REC_SECRET)["body"]) == {"ok": True, "duplicate": True}


def test_notice_that_can_never_be_stored_is_413_with_a_reason_not_503(aws, caplog):
    """Regression: a signed 250 KB notice with a 180 KB channel name passed the body limit, failed DynamoDB's
    400 KB item limit (body + cname attribute) and got 503 on every delivery: NCS retried it forever."""
    event = copy.deepcopy(RTC_EVENT)
    event["payload"]["channelName"] = "c" * (180 * 1024)
    event["payload"]["account"] = "a" * (70 * 1024)
    body = _body(event)
    assert 240 * 1024 < len(body) < 256 * 1024  # under the body limit: only the item is too large
    caplog.set_level(logging.WARNING)
    for _ in range(2):  # every delivery gets the same final answer
        response = _send(aws, body)
        assert response["statusCode"] == 413
        error = json.loads(response["body"])["error"]
        assert error["code"] == "notice_too_large"
        assert "400" in error["message"] and "item" in error["message"]
    assert _items(aws) == []
    assert aws.calls["PutItem"] == 0  # refused before the write
    assert any("notice_too_large" in r.getMessage() or "notice_too_large" in str(r.__dict__) for r in caplog.records)


def test_item_size_error_from_dynamodb_is_413_not_503(aws):
    """If DynamoDB refuses an item for its size anyway (our estimate missed), that is final: 413."""
    from botocore.exceptions import ClientError

    def too_big(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum allowed size"}},
            "PutItem",
        )

    from service.adapters.aws import client

    client("dynamodb").meta.events.register("before-call.dynamodb.PutItem", too_big)
    try:
        response = _send(aws, RTC_EVENT)
    finally:
        client("dynamodb").meta.events.unregister("before-call.dynamodb.PutItem", too_big)
    assert response["statusCode"] == 413
    assert "Item size" in json.loads(response["body"])["error"]["message"]


def test_integer_of_thousands_of_digits_is_400_not_500(aws):
    body = b'{"noticeId":"n1","productId":1,"eventType":' + b"9" * 5000 + b',"payload":{}}'
    response = _send(aws, body)
    assert response["statusCode"] == 400
