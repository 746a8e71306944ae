"""The botocore-free client against botocore, call by call, on a moto server that VERIFIES signatures.

moto normally accepts any signature; started with ``INITIAL_NO_AUTH_ACTION_COUNT`` it authenticates every
request after the first few against its IAM users, recomputing SigV4 with botocore's signer. So a wrong
signature here is a 403, as on AWS. Each operation :data:`awsfast.OPERATIONS` lists is made by both
clients and the answers compared (``ResponseMetadata`` aside); errors, retries, fallbacks and binary values
are covered too.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import awsfast
import boto3
import pytest
from awsfast import s3 as awsfast_s3
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.support.servers import serving

REGION = "us-east-1"
SETUP_CALLS = 3  # create_user, put_user_policy, create_access_key: unauthenticated; everything after is checked


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def aws():
    """A moto server in its own process with authentication on, an IAM user allowed everything, its keys."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_CALLS), "MOTO_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        setup = {"endpoint_url": url, "region_name": REGION, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
        iam = boto3.client("iam", **setup)
        iam.create_user(UserName="fast")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="fast", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="fast")["AccessKey"]
        environ = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": url,
        }
        yield environ
    finally:
        server.terminate()
        server.wait(timeout=10)


def botocore_client(service: str, environ: dict[str, str]):
    return boto3.client(
        service,
        endpoint_url=environ["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id=environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
    )


def fast_client(service: str, environ: dict[str, str], **kw):
    return awsfast.FastClient(service, fallback=lambda: botocore_client(service, environ), environ=environ, **kw)


def same(a: dict, b: dict) -> None:
    a, b = dict(a), dict(b)
    ma, mb = a.pop("ResponseMetadata"), b.pop("ResponseMetadata")
    assert a == b
    assert ma["HTTPStatusCode"] == mb["HTTPStatusCode"]


@pytest.fixture(scope="module")
def table(aws):
    ddb = botocore_client("dynamodb", aws)
    ddb.create_table(
        TableName="fast",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return "fast"


def test_a_wrong_secret_key_is_refused_so_signatures_are_really_checked(aws, table):
    wrong = {**aws, "AWS_SECRET_ACCESS_KEY": aws["AWS_SECRET_ACCESS_KEY"] + "x"}
    with pytest.raises(ClientError) as err:
        fast_client("dynamodb", wrong).get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": "a"}})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)


def test_dynamodb_item_operations_answer_as_botocore_does(aws, table):
    fast, boto = fast_client("dynamodb", aws), botocore_client("dynamodb", aws)
    item = {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "7"}, "l": {"L": [{"S": "x"}, {"BOOL": True}]},
            "m": {"M": {"B": {"S": "named B"}}}, "ns": {"NS": ["1", "2"]}, "null": {"NULL": True}}  # fmt: skip
    same(fast.put_item(TableName=table, Item=item), boto.put_item(TableName=table, Item=item))
    key = {"pk": {"S": "p"}, "sk": {"S": "1"}}
    same(fast.get_item(TableName=table, Key=key), boto.get_item(TableName=table, Key=key))
    assert fast.get_item(TableName=table, Key=key)["Item"] == item
    update = {"TableName": table, "Key": key, "UpdateExpression": "ADD n :one", "ReturnValues": "UPDATED_NEW",
              "ExpressionAttributeValues": {":one": {"N": "1"}}}  # fmt: skip
    first, second = fast.update_item(**update), boto.update_item(**update)
    assert first["Attributes"] == {"n": {"N": "8"}} and second["Attributes"] == {"n": {"N": "9"}}
    query = {"TableName": table, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}}
    same(fast.query(**query), boto.query(**query))
    batch = {"RequestItems": {table: {"Keys": [key]}}}
    same(fast.batch_get_item(**batch), boto.batch_get_item(**batch))
    same(
        fast.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
        boto.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}]),
    )
    writes = {"RequestItems": {table: [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"S": "1"}}}}]}}
    same(fast.batch_write_item(**writes), boto.batch_write_item(**writes))
    deleted = fast.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD")
    assert deleted["Attributes"] == {**item, "n": {"N": "9"}}
    assert "Item" not in boto.get_item(TableName=table, Key=key)


def test_binary_values_go_through_botocore_and_come_back_as_bytes(aws, table):
    fast, boto = fast_client("dynamodb", aws), botocore_client("dynamodb", aws)
    item = {"pk": {"S": "bin"}, "sk": {"S": "1"}, "b": {"B": b"\x00\xffraw"}, "bs": {"BS": [b"a", b"\x01"]}}
    fast.put_item(TableName=table, Item=item)  # bytes cannot be JSON: this call is botocore's
    key = {"pk": {"S": "bin"}, "sk": {"S": "1"}}
    ours, theirs = fast.get_item(TableName=table, Key=key), boto.get_item(TableName=table, Key=key)
    same(ours, theirs)
    assert ours["Item"]["b"] == {"B": b"\x00\xffraw"}


def test_conditional_failures_are_botocores_client_error_with_the_same_content(aws, table):
    fast, boto = fast_client("dynamodb", aws), botocore_client("dynamodb", aws)
    item = {"pk": {"S": "c"}, "sk": {"S": "1"}}
    boto.put_item(TableName=table, Item=item)
    args = {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}  # fmt: skip
    errors = []
    for client in (fast, boto):
        with pytest.raises(ClientError) as err:
            client.put_item(**args)
        errors.append(err.value)
    assert errors[0].response["Error"] == errors[1].response["Error"]
    assert errors[0].response.get("Item") == errors[1].response.get("Item")
    assert errors[0].operation_name == errors[1].operation_name == "PutItem"
    transact = {"TransactItems": [{"Put": {"TableName": table, "Item": item,
                                           "ConditionExpression": "attribute_not_exists(pk)"}}]}  # fmt: skip
    reasons = []
    for client in (fast, boto):
        with pytest.raises(ClientError) as err:
            client.transact_write_items(**transact)
        reasons.append((err.value.response["Error"]["Code"], err.value.response.get("CancellationReasons")))
    assert reasons[0] == reasons[1] and reasons[0][0] == "TransactionCanceledException"


def test_secrets_and_step_functions_answer_as_botocore_does(aws):
    boto_secrets = botocore_client("secretsmanager", aws)
    boto_secrets.create_secret(Name="s1", SecretString='{"a":1}')
    boto_secrets.create_secret(Name="s2", SecretBinary=b"\x00\x01")
    fast = fast_client("secretsmanager", aws)
    for name in ("s1", "s2"):
        same(fast.get_secret_value(SecretId=name), boto_secrets.get_secret_value(SecretId=name))
    assert fast.get_secret_value(SecretId="s2")["SecretBinary"] == b"\x00\x01"
    with pytest.raises(ClientError) as err:
        fast.get_secret_value(SecretId="missing")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    boto_secrets.put_secret_value(SecretId="s1", SecretString='{"a":2}')  # two versions, AWSPREVIOUS too
    described = fast.describe_secret(SecretId="s1")
    theirs = boto_secrets.describe_secret(SecretId="s1")
    model = boto_secrets.meta.service_model.operation_model("DescribeSecret").output_shape.members
    assert not (set(described) - set(theirs)) & set(model)  # any more is moto's, outside the model botocore reads
    same({k: v for k, v in described.items() if k in theirs}, theirs)
    assert sorted(map(tuple, described["VersionIdsToStages"].values())) == [("AWSCURRENT",), ("AWSPREVIOUS",)]
    assert fast.list_secret_version_ids(SecretId="s1")["Name"] == "s1"  # not a fast operation: botocore's

    iam = botocore_client("iam", aws)
    principal = {"Service": "states.amazonaws.com"}
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    sfn_boto = botocore_client("stepfunctions", aws)
    arn = sfn_boto.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    sfn = fast_client("stepfunctions", aws)
    ours = sfn.start_execution(stateMachineArn=arn, name="e1", input="{}")
    theirs = sfn_boto.start_execution(stateMachineArn=arn, name="e2", input="{}")
    assert set(ours) == set(theirs) and type(ours["startDate"]) is type(theirs["startDate"])
    assert abs((ours["startDate"] - theirs["startDate"]).total_seconds()) < 3600
    for method, args in (
        ("send_task_success", {"taskToken": "t", "output": "{}"}),
        ("send_task_failure", {"taskToken": "t", "error": "E", "cause": "c"}),
        ("send_task_heartbeat", {"taskToken": "t"}),
    ):
        outcomes = []
        for client in (sfn, sfn_boto):
            try:
                outcomes.append({k: v for k, v in getattr(client, method)(**args).items() if k != "ResponseMetadata"})
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])
        assert outcomes[0] == outcomes[1], method


# ------------------------------------------------------------------------------ retries, on a scripted server


class Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next (status, headers, body) of ``script``; records what it got."""

    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[dict[str, str]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = type(self).script.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    thread = serving(server)
    thread.start()
    Scripted.script, Scripted.seen = [], []
    environ = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok",
               "AWS_REGION": REGION, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}"}  # fmt: skip
    yield environ
    server.shutdown()


def test_throttling_5xx_and_crc_mismatches_are_retried_with_botocores_backoff(scripted):
    throttled = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow"})
    ok = b'{"Item":{"pk":{"S":"a"},"b":{"B":"' + base64.b64encode(b"\x00z") + b'"}}}'
    Scripted.script = [
        (400, {}, throttled.encode()),
        (503, {}, b""),
        (200, {"x-amz-crc32": "1"}, ok),  # a corrupted body
        (200, {"x-amz-crc32": str(__import__("zlib").crc32(ok))}, ok),
    ]
    sleeps: list[float] = []
    client = fast_client("dynamodb", scripted, sleep=sleeps.append, rand=lambda: 1.0)
    result = client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert result["Item"] == {"pk": {"S": "a"}, "b": {"B": b"\x00z"}}
    assert result["ResponseMetadata"]["RetryAttempts"] == 3
    assert sleeps == [1.0, 0.05, 0.1]  # standard mode: throttling from 1 s, others from 25 ms (DynamoDB)
    assert Scripted.seen[0]["x-amz-target"] == "DynamoDB_20120810.GetItem"
    assert (
        "x-amz-security-token" in Scripted.seen[0]["authorization"]
        and Scripted.seen[0]["x-amz-security-token"] == "tok"
    )


def test_a_client_error_is_not_retried_and_attempts_are_bounded(scripted):
    validation = json.dumps({"__type": "com.amazon.coral.validate#ValidationException", "message": "bad"}).encode()
    Scripted.script = [(400, {}, validation)]
    client = fast_client("secretsmanager", scripted, sleep=lambda s: None)
    with pytest.raises(ClientError) as err:
        client.get_secret_value(SecretId="x")
    assert err.value.response["Error"] == {"Code": "ValidationException", "Message": "bad"}
    assert len(Scripted.seen) == 1
    Scripted.script = [(500, {}, b"{}")] * 3
    with pytest.raises(ClientError) as err:
        client.get_secret_value(SecretId="x")
    assert len(Scripted.seen) == 4  # 1 + the standard mode's 3 attempts
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_an_unreachable_endpoint_is_botocores_connection_error_after_the_attempts():
    environ = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": REGION,
               "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}"}  # fmt: skip
    sleeps: list[float] = []
    client = fast_client("dynamodb", environ, sleep=sleeps.append)
    with pytest.raises(EndpointConnectionError):
        client.get_item(TableName="t", Key={"pk": {"S": "a"}})
    assert len(sleeps) == 3  # the standard mode's 4 attempts for DynamoDB


def test_calls_are_observable_like_botocores_before_call(aws, table):
    seen: list[tuple[str, str]] = []
    awsfast.CALL_OBSERVERS.append(lambda service, operation, params: seen.append((service, operation)))
    try:
        fast_client("dynamodb", aws).get_item(TableName=table, Key={"pk": {"S": "none"}, "sk": {"S": "1"}})
    finally:
        awsfast.CALL_OBSERVERS.clear()
    assert seen == [("dynamodb", "GetItem")]


# ------------------------------------------------------------------------------------------------ S3 GetObject

S3_FIELDS = ("ContentLength", "ContentType", "ETag", "LastModified", "VersionId", "ContentRange", "Metadata")


def fast_s3(environ: dict[str, str]):
    return awsfast_s3.FastS3Client(fallback=lambda: botocore_client("s3", environ), environ=environ)


def test_s3_get_object_answers_as_botocore_does(aws):
    boto = botocore_client("s3", aws)
    boto.create_bucket(Bucket="fast-bucket")
    boto.put_bucket_versioning(Bucket="fast-bucket", VersioningConfiguration={"Status": "Enabled"})
    keys = ["recordings/a b/sid_room.m3u8", "unicode/é€/x+y=z&w.ts", "plain.txt"]
    versions = {}
    for key in keys:
        put = boto.put_object(Bucket="fast-bucket", Key=key, Body=b"#EXTM3U\n" * 1000, ContentType="application/x",
                              Metadata={"who": "agora"})  # fmt: skip
        versions[key] = put["VersionId"]
        boto.put_object(Bucket="fast-bucket", Key=key, Body=b"newer")  # the first version is no longer current
    fast = fast_s3(aws)
    for key in keys:
        for extra in ({}, {"VersionId": versions[key]}, {"Range": "bytes=2-9"}):
            ours = fast.get_object(Bucket="fast-bucket", Key=key, **extra)
            theirs = boto.get_object(Bucket="fast-bucket", Key=key, **extra)
            assert {f: ours.get(f) for f in S3_FIELDS} == {f: theirs.get(f) for f in S3_FIELDS}, (key, extra)
            assert b"".join(ours["Body"].iter_chunks(chunk_size=100)) == theirs["Body"].read()
            ours["Body"].close()
        etag = boto.head_object(Bucket="fast-bucket", Key=key)["ETag"]
        assert fast.get_object(Bucket="fast-bucket", Key=key, IfMatch=etag)["Body"].read() == b"newer"
    codes = []
    for client in (fast, boto):
        for request in ({"Key": "missing"}, {"Key": keys[0], "IfMatch": '"0000"'}):
            with pytest.raises(ClientError) as err:
                client.get_object(Bucket="fast-bucket", **request)
            codes.append(err.value.response["Error"]["Code"])
    assert codes[:2] == codes[2:] == ["NoSuchKey", "PreconditionFailed"]
    # anything else is botocore's
    assert (
        fast.get_object(Bucket="fast-bucket", Key="plain.txt", ResponseContentType="text/x")["ContentType"] == "text/x"
    )
    assert fast.head_object(Bucket="fast-bucket", Key="plain.txt")["ContentLength"] == 5


class ShortBody(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "10")
        self.end_headers()
        self.wfile.write(b"12345")  # and the connection closes

    def log_message(self, *args):
        pass


def test_a_short_s3_body_is_botocores_incomplete_read_error():
    from botocore.exceptions import IncompleteReadError

    server = ThreadingHTTPServer(("127.0.0.1", 0), ShortBody)
    serving(server).start()
    try:
        environ = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": REGION,
                   "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}"}  # fmt: skip
        body = fast_s3(environ).get_object(Bucket="b", Key="k")["Body"]
        with pytest.raises(IncompleteReadError):
            body.read()
    finally:
        server.shutdown()
