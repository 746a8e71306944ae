"""The fast client and the pinned botocore on the SAME scripted server, case by case (issue 22).

Each case plays one script to botocore's own client, then to ours, and compares what matters: how many
requests were sent, what they carried (idempotency tokens), which delays were slept, what the caller got.
botocore's sleeps are recorded instead of slept (its ``endpoint`` module's ``time``), ours through the
injected ``sleep``; our jitter is the injected ``rand``.
"""

from __future__ import annotations

import base64
import json
import types
import uuid
import zlib

import awsfast
import boto3
import botocore.endpoint
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.integration._scripted_aws import RESET, ScriptedAws

REGION = "us-east-1"
DDB = "com.amazonaws.dynamodb.v20120810#"


def _error(code: str, message: str = "m", **extra: object) -> bytes:
    return json.dumps({"__type": code, "message": message, **extra}).encode()


@pytest.fixture
def server():
    with ScriptedAws() as scripted:
        yield scripted


@pytest.fixture
def botocore_sleeps(monkeypatch):
    """botocore's retry sleeps, recorded instead of slept (the module's ``time`` only has ``sleep`` used)."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def environ(url: str, **extra: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": url, **extra}  # fmt: skip


def theirs(service: str, url: str):
    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id="AKIA",
                        aws_secret_access_key="s")  # fmt: skip


def ours(service: str, url: str, sleeps: list[float] | None = None, **extra: str):
    env = environ(url, **extra)
    return awsfast.FastClient(
        service, fallback=lambda: theirs(service, url), environ=env,
        sleep=(sleeps if sleeps is not None else []).append, rand=lambda: 0.5,
    )  # fmt: skip


RETRY_METADATA = ("RetryAttempts", "MaxAttemptsReached", "RetryQuotaReached")


def outcome(call):
    try:
        result = call()
    except ClientError as exc:
        metadata = exc.response["ResponseMetadata"]
        return ("error", exc.response["Error"]["Code"], {k: metadata[k] for k in RETRY_METADATA if k in metadata})
    metadata = result["ResponseMetadata"]
    return ("ok", None, {k: metadata[k] for k in RETRY_METADATA if k in metadata})


CALLS = {
    "dynamodb": ("get_item", {"TableName": "t", "Key": {"pk": {"S": "a"}}}),
    "dynamodb-put": ("put_item", {"TableName": "t", "Item": {"pk": {"S": "a"}}}),
    "secretsmanager": ("get_secret_value", {"SecretId": "s"}),
    "stepfunctions": ("send_task_heartbeat", {"taskToken": "t"}),
}
OK = (200, {}, b"{}")
CASES = {
    "ddb-500-to-exhaustion": ("dynamodb", [(500, {}, _error(DDB + "InternalServerError"))] * 6),
    "ddb-501-not-retried": ("dynamodb", [(501, {}, b"{}")]),
    "ddb-503-then-ok": ("dynamodb", [(503, {}, b""), OK]),
    "ddb-throttling-to-exhaustion": ("dynamodb", [(400, {}, _error(DDB + "ThrottlingException"))] * 6),
    "ddb-provisioned-throughput": ("dynamodb", [(400, {}, _error(DDB + "ProvisionedThroughputExceededException")), OK]),
    "ddb-validation-not-retried": ("dynamodb", [(400, {}, _error("com.amazon.coral.validate#ValidationException"))]),
    "ddb-429-empty-retried": ("dynamodb", [(429, {}, b""), OK]),
    "ddb-429-modeled-not-by-status": ("dynamodb", [(429, {}, _error(DDB + "ResourceNotFoundException"))]),
    "ddb-replicated-write-conflict": (
        "dynamodb-put",
        [(400, {}, _error(DDB + "ReplicatedWriteConflictException")), OK],
    ),
    "ddb-request-timeout": ("dynamodb", [(400, {}, _error("RequestTimeoutException")), OK]),
    "ddb-crc-mismatch": ("dynamodb", [(200, {"x-amz-crc32": "1"}, b"{}"), OK]),
    "ddb-connection-reset": ("dynamodb", [RESET, OK]),
    "secrets-500-to-exhaustion": ("secretsmanager", [(500, {}, _error("InternalServiceError"))] * 5),
    "secrets-not-found": ("secretsmanager", [(400, {}, _error("ResourceNotFoundException"))]),
    "sfn-502-503-ok": ("stepfunctions", [(502, {}, b""), (503, {}, b""), OK]),
    "sfn-throttled": ("stepfunctions", [(400, {}, _error("ThrottlingException")), OK]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_retry_decisions_and_attempts_equal_botocores(case, server, botocore_sleeps):
    service, script = CASES[case]
    method, params = CALLS[service]
    service = service.split("-")[0]
    server.play(script)
    expected = outcome(lambda: getattr(theirs(service, server.url), method)(**params))
    botocore_requests = len(server.requests)
    server.play(script)
    got = outcome(lambda: getattr(ours(service, server.url), method)(**params))
    assert (got, len(server.requests)) == (expected, botocore_requests)


def test_backoff_is_botocores_full_jitter_exponential_with_throttling_scale():
    assert [awsfast.backoff("dynamodb", n, False, {}, 0.5) for n in (1, 2, 3)] == [0.0125, 0.025, 0.05]
    assert [awsfast.backoff("secretsmanager", n, False, {}, 1.0) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert [awsfast.backoff("dynamodb", n, True, {}, 1.0) for n in (1, 2, 6)] == [1.0, 2.0, 20.0]
    assert awsfast.backoff("dynamodb", 1, False, {"x-amz-retry-after": "1500"}, 0.5) == 1.5
    assert awsfast.backoff("dynamodb", 1, False, {"x-amz-retry-after": "9000"}, 0.5) == 5.0125


def test_slept_delays_follow_the_backoff(server):
    server.play([(400, {}, _error(DDB + "ThrottlingException")), (500, {}, b""), (503, {}, b""), OK])
    sleeps: list[float] = []
    result = ours("dynamodb", server.url, sleeps).get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert result["ResponseMetadata"]["RetryAttempts"] == 3
    assert sleeps == [0.5, 0.025, 0.05]


def test_max_attempts_comes_from_aws_max_attempts(server, botocore_sleeps, monkeypatch):
    script = [(500, {}, b"")] * 10
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    server.play(script)
    expected = outcome(lambda: theirs("secretsmanager", server.url).get_secret_value(SecretId="s"))
    assert len(server.requests) == 7
    server.play(script)
    got = outcome(lambda: ours("secretsmanager", server.url, AWS_MAX_ATTEMPTS="7").get_secret_value(SecretId="s"))
    assert got == expected and len(server.requests) == 7


def test_the_retry_quota_stops_a_retry_storm_as_botocores_does(server, botocore_sleeps):
    """40 failing calls, then one success, then 5 failing calls: the same requests on both clients."""

    def storm(client) -> list[int]:
        counts = []
        for default, calls in (((500, {}, b""), 40), (OK, 1), ((500, {}, b""), 5)):
            server.default = default
            server.play([])
            for _ in range(calls):
                outcome(lambda: client.get_secret_value(SecretId="s"))
            counts.append(len(server.requests))
        return counts

    expected = storm(theirs("secretsmanager", server.url))
    sleeps: list[float] = []
    fast = ours("secretsmanager", server.url, sleeps)
    assert storm(fast) == expected
    assert expected[0] < 40 * 3  # the quota did cut retries
    assert fast.retrier.quota.available < awsfast.RETRY_COST


def test_legacy_and_adaptive_retry_modes_are_left_to_botocore():
    env = environ("http://127.0.0.1:1")
    assert awsfast.available("dynamodb", env)
    for mode in ("legacy", "adaptive"):
        assert not awsfast.available("dynamodb", {**env, "AWS_RETRY_MODE": mode})
    assert awsfast.available("dynamodb", {**env, "AWS_RETRY_MODE": "standard"})
    assert not awsfast.available("dynamodb", {**env, "AWS_MAX_ATTEMPTS": "many"})


# ------------------------------------------------------------------------------------ idempotency tokens


def _tokens(server: ScriptedAws) -> list[str | None]:
    return [json.loads(body).get("ClientRequestToken") for _, body in server.requests]


def test_transact_write_items_carries_one_client_request_token_reused_on_every_retry(server, botocore_sleeps):
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}}]
    script = [(500, {}, b""), RESET, OK]
    server.play(script)
    theirs("dynamodb", server.url).transact_write_items(TransactItems=items)
    botocore_tokens = _tokens(server)
    server.play(script)
    fast = ours("dynamodb", server.url)
    fast.transact_write_items(TransactItems=items)
    tokens = _tokens(server)
    assert len(tokens) == len(botocore_tokens) == 3
    assert len(set(tokens)) == len(set(botocore_tokens)) == 1
    assert uuid.UUID(str(tokens[0]))
    server.play([OK])
    fast.transact_write_items(TransactItems=items)
    assert _tokens(server)[0] not in tokens  # a new call, a new token
    server.play([OK])
    fast.transact_write_items(TransactItems=items, ClientRequestToken="mine")
    assert _tokens(server) == ["mine"]


# -------------------------------------------------------------------------- a connection dropped while idle


def test_a_keep_alive_connection_closed_while_idle_is_replaced_without_a_retry():
    with ScriptedAws(close_after_reply=True) as server:
        sleeps: list[float] = []
        fast = ours("dynamodb", server.url, sleeps)
        fast.get_item(TableName="t", Key={"pk": {"S": "a"}})
        assert server.closed.wait(10)  # the server closed the idle connection (as AWS does while frozen)
        result = fast.get_item(TableName="t", Key={"pk": {"S": "a"}})
        assert result["ResponseMetadata"]["RetryAttempts"] == 0
        assert sleeps == []
        assert len(server.requests) == 2


# ------------------------------------------------------------------------------------ errors, blobs, None


def test_errors_are_the_modeled_exception_classes_with_botocores_content(server):
    body = _error(DDB + "ConditionalCheckFailedException", "The conditional request failed",
                  Item={"pk": {"S": "a"}, "b": {"B": base64.b64encode(b"\x01").decode()}})  # fmt: skip
    server.play([(400, {}, body)])
    with pytest.raises(ClientError) as botocore_error:
        theirs("dynamodb", server.url).put_item(TableName="t", Item={"pk": {"S": "a"}})
    server.play([(400, {}, body)])
    fast = ours("dynamodb", server.url)
    with pytest.raises(fast.exceptions.ConditionalCheckFailedException) as fast_error:
        fast.put_item(TableName="t", Item={"pk": {"S": "a"}})
    mine, reference = dict(fast_error.value.response), dict(botocore_error.value.response)
    mine.pop("ResponseMetadata"), reference.pop("ResponseMetadata")
    assert mine == reference
    assert mine["message"] == "The conditional request failed" and mine["Item"]["b"] == {"B": b"\x01"}


def test_transaction_cancellation_reasons_carry_bytes_as_botocores_do(server):
    blob = base64.b64encode(b"\x02").decode()
    reasons = [{"Code": "ConditionalCheckFailed", "Message": "x", "Item": {"pk": {"S": "a"}, "b": {"BS": [blob]}}},
               {"Code": "None"}]  # fmt: skip
    body = _error(DDB + "TransactionCanceledException", "cancelled", CancellationReasons=reasons)
    items = [{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}}]
    server.play([(400, {}, body)])
    with pytest.raises(ClientError) as botocore_error:
        theirs("dynamodb", server.url).transact_write_items(TransactItems=items)
    server.play([(400, {}, body)])
    fast = ours("dynamodb", server.url)
    with pytest.raises(fast.exceptions.TransactionCanceledException) as fast_error:
        fast.transact_write_items(TransactItems=items)
    assert fast_error.value.response["CancellationReasons"] == botocore_error.value.response["CancellationReasons"]
    assert fast_error.value.response["CancellationReasons"][0]["Item"]["b"] == {"BS": [b"\x02"]}


def test_blobs_given_as_text_are_base64_encoded_and_none_is_refused_as_botocore_does(server):
    item = {"pk": {"S": "a"}, "b": {"B": "text"}, "bs": {"BS": ["x", "y"]}}
    server.play([OK])
    theirs("dynamodb", server.url).put_item(TableName="t", Item=item)
    expected = json.loads(server.requests[0][1])
    server.play([OK])
    ours("dynamodb", server.url).put_item(TableName="t", Item=item)
    assert json.loads(server.requests[0][1]) == expected
    assert expected["Item"]["b"] == {"B": base64.b64encode(b"text").decode()}
    for client in (theirs("dynamodb", server.url), ours("dynamodb", server.url)):
        server.play([OK])
        with pytest.raises(ParamValidationError):
            client.get_item(TableName="t", Key={"pk": {"S": None}})
        assert server.requests == []


def test_a_corrupted_body_on_the_last_attempt_is_returned_as_botocore_returns_it(server, botocore_sleeps):
    body = b'{"Item":{"pk":{"S":"a"}}}'
    script = [(200, {"x-amz-crc32": str(zlib.crc32(body) + 1)}, body)] * 4
    server.play(script)
    expected = theirs("dynamodb", server.url).get_item(TableName="t", Key={"pk": {"S": "a"}})
    server.play(script)
    got = ours("dynamodb", server.url).get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert got["Item"] == expected["Item"]
    assert got["ResponseMetadata"]["RetryAttempts"] == expected["ResponseMetadata"]["RetryAttempts"] == 3


def test_s3_errors_are_botocores_modeled_exceptions_with_xml_entities_decoded(server, botocore_sleeps):
    from awsfast import s3

    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
        b"<Message>The key &lt;a&amp;b&gt; &quot;x&quot; does not exist</Message>"
        b"<Key>a&amp;b</Key></Error>"
    )
    server.play([(404, {"Content-Type": "application/xml"}, body)])
    with pytest.raises(ClientError) as botocore_error:
        theirs("s3", server.url).get_object(Bucket="bucket", Key="a&b")
    server.play([(404, {"Content-Type": "application/xml"}, body)])
    fast = s3.FastS3Client(fallback=lambda: theirs("s3", server.url), environ=environ(server.url))
    with pytest.raises(fast.exceptions.NoSuchKey) as fast_error:
        fast.get_object(Bucket="bucket", Key="a&b")
    assert fast_error.value.response["Error"] == botocore_error.value.response["Error"]
    assert fast_error.value.response["Error"]["Message"] == 'The key <a&b> "x" does not exist'


def _s3(url: str):
    from awsfast import s3

    return s3.FastS3Client(fallback=lambda: theirs("s3", url), environ=environ(url))


def test_s3_bodies_are_checked_against_their_checksum_as_botocore_checks_them(server):
    from botocore.exceptions import FlexibleChecksumError

    data = b"#EXTM3U\n" * 100
    good = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    sha = base64.b64encode(__import__("hashlib").sha256(data).digest()).decode()
    for headers, fails in (
        ({"x-amz-checksum-crc32": good}, False),
        ({"x-amz-checksum-crc32": "AAAAAA=="}, True),
        ({"x-amz-checksum-sha256": sha, "x-amz-checksum-crc64nvme": "AAAAAAAAAAA="}, False),
        ({"x-amz-checksum-crc32": "AAAAAA==-3"}, False),  # a composite (multipart) checksum: not checked
        ({"x-amz-checksum-crc64nvme": "AAAAAAAAAAA="}, False),  # not without awscrt
    ):
        results = []
        for client in (theirs("s3", server.url), _s3(server.url)):
            server.play([(200, headers, data)])
            response = client.get_object(Bucket="bucket", Key="k")
            try:
                results.append((response["Body"].read(), response["ResponseMetadata"].get("ChecksumAlgorithm")))
            except FlexibleChecksumError:
                results.append(("FlexibleChecksumError", None))
            assert server.requests[0][0].get("x-amz-checksum-mode") == "ENABLED"
        assert results[0] == results[1], headers
        assert (results[0][0] == "FlexibleChecksumError") == fails


def test_s3_reuses_its_connection_for_the_next_call(server):
    fast = _s3(server.url)
    server.play([(200, {}, b"one"), (404, {}, b"<Error><Code>NoSuchKey</Code></Error>"), (200, {}, b"two")])
    assert fast.get_object(Bucket="bucket", Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError):
        fast.get_object(Bucket="bucket", Key="k")
    assert fast.get_object(Bucket="bucket", Key="k")["Body"].read() == b"two"
    assert len(server.peers) == 3 and len(set(server.peers)) == 1
