# ruff: noqa: E501 - the synthetic template reads best as compact CloudFormation JSON
"""The local provisioner against moto: a synthetic template covering every supported resource type, and
the project's real synthesized template.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws

from local.provision import FunctionError, LocalStack, lambda_dispatch, provision, synth_template

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
HERE = __name__

# ---- handlers hosted by the synthetic template --------------------------------------------------
CALLS: dict[str, list[Any]] = {"echo": [], "flaky": [], "failing": []}


def echo_handler(event: Any, context: Any) -> dict[str, Any]:
    CALLS["echo"].append(event)
    return {"echo": event, "function": context.function_name, "remaining": context.get_remaining_time_in_millis()}


def flaky_handler(event: Any, context: Any) -> dict[str, Any]:
    CALLS["flaky"].append(event)
    if len(CALLS["flaky"]) == 1:
        raise RuntimeError("first call fails")
    return {"attempt": len(CALLS["flaky"])}


def failing_handler(event: Any, context: Any) -> None:
    CALLS["failing"].append(event)
    raise ValueError("always fails")


def _fn(handler: str, env: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {
        "Handler": f"{HERE}.{handler}", "Runtime": "python3.14", "Timeout": 5, "MemorySize": 256,
        "Role": {"Fn::GetAtt": ["ServiceRoleAB12CD34", "Arn"]},
        "Code": {"S3Bucket": {"Fn::Sub": "cdk-assets-${AWS::AccountId}-${AWS::Region}"}, "S3Key": "x.zip"},
        "Layers": [{"Ref": "PowertoolsParameter"}], "Environment": {"Variables": env or {}}}}  # fmt: skip


def _machine_definition() -> dict[str, Any]:
    # the same shape CDK synthesizes: a Fn::Join of string pieces and GetAtt/Ref tokens
    return {"Fn::Join": ["", [
        '{"StartAt":"Echo","States":{"Echo":{"Type":"Task","Resource":"arn:', {"Ref": "AWS::Partition"},
        ':states:::lambda:invoke","Parameters":{"FunctionName":"', {"Fn::GetAtt": ["EchoFunction11111111", "Arn"]},
        '","Payload.$":"$"},"ResultSelector":{"echoed.$":"$.Payload.echo"},"ResultPath":"$.echo","Next":"Flaky"},'
        '"Flaky":{"Type":"Task","Resource":"', {"Fn::GetAtt": ["FlakyFunction22222222", "Arn"]},
        '","Retry":[{"ErrorEquals":["RuntimeError"],"IntervalSeconds":1,"MaxAttempts":2}],"ResultPath":"$.flaky",'
        '"Next":"Notify"},"Notify":{"Type":"Task","Resource":"arn:', {"Ref": "AWS::Partition"},
        ':states:::sqs:sendMessage","Parameters":{"QueueUrl":"${QueueUrl}","MessageBody.$":"$.id"},'
        '"ResultPath":null,"Next":"Save"},"Save":{"Type":"Task","Resource":"arn:', {"Ref": "AWS::Partition"},
        ':states:::dynamodb:putItem","Parameters":{"TableName":"', {"Ref": "ItemsTable1A2B3C4D"},
        '","Item":{"pk":{"S.$":"$.id"},"sk":{"S":"run"}}},"ResultPath":null,"End":true}}}',
    ]]}  # fmt: skip


SYNTHETIC: dict[str, Any] = {
    "Parameters": {
        "PowertoolsParameter": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/aws/service/powertools"},
    },
    "Conditions": {"InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
    "Resources": {
        "ServiceRoleAB12CD34": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        "UploaderKey0A1B2C3D": {"Type": "AWS::IAM::AccessKey", "Properties": {"UserName": "uploader"}},
        "UploaderSecret0A1B2C3D": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": {"Fn::Join": ["", [
            '{"access_key":"', {"Ref": "UploaderKey0A1B2C3D"}, '","secret_key":"', {"Fn::GetAtt": ["UploaderKey0A1B2C3D", "SecretAccessKey"]},
            '","user":"', {"Fn::GetAtt": ["ServiceRoleAB12CD34", "RoleId"]}, '","other":"', {"Fn::GetAtt": ["ServiceRoleAB12CD34", "Whatever"]}, '"}']]}}},
        "AppSecretC0FFEE00": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
            "SecretStringTemplate": '{"user":"u"}', "GenerateStringKey": "password", "PasswordLength": 24}}},
        "ItemsTable1A2B3C4D": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"},
                                     {"AttributeName": "status", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{"IndexName": "byStatus", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "ALL"}}],
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True}}},
        "UsersTableABCDEF12": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "uid", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{"IndexName": "byUid", "KeySchema": [{"AttributeName": "uid", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "KEYS_ONLY"}}],
            "Replicas": [{"Region": "us-east-1"}]}},
        "WorkQueue0A0A0A0A": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": 30,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters0B0B0B0B", "Arn"]}, "maxReceiveCount": 3}}},
        "DeadLetters0B0B0B0B": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "AlertsTopic0C0C0C0C": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "AlertsSubscription0D0D0D0D": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "AlertsTopic0C0C0C0C"}, "Protocol": "sqs", "RawMessageDelivery": True,
            "Endpoint": {"Fn::GetAtt": ["WorkQueue0A0A0A0A", "Arn"]}}},
        "MediaBucket0E0E0E0E": {"Type": "AWS::S3::Bucket", "Properties": {
            "VersioningConfiguration": {"Status": "Enabled"},
            "NotificationConfiguration": {"QueueConfigurations": [{
                "Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["WorkQueue0A0A0A0A", "Arn"]},
                "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".m3u8"}]}}}]}}},
        "UploadsBucket0F0F0F0F": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "UploadsNotifications10101010": {"Type": "Custom::S3BucketNotifications", "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["BucketNotificationsHandler", "Arn"]},
            "BucketName": {"Ref": "UploadsBucket0F0F0F0F"}, "Managed": True,
            "NotificationConfiguration": {"LambdaFunctionConfigurations": [{
                "Events": ["s3:ObjectCreated:*"], "LambdaFunctionArn": {"Fn::GetAtt": ["EchoFunction11111111", "Arn"]},
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".json"}]}}}]}}},
        "EchoFunction11111111": _fn("echo_handler", {
            "ITEMS_TABLE": {"Ref": "ItemsTable1A2B3C4D"}, "WORK_QUEUE_URL": {"Ref": "WorkQueue0A0A0A0A"},
            "ITEMS_STREAM_ARN": {"Fn::GetAtt": ["ItemsTable1A2B3C4D", "StreamArn"]},
            "APP_SECRET_ARN": {"Ref": "AppSecretC0FFEE00"}, "ALERTS_TOPIC_ARN": {"Ref": "AlertsTopic0C0C0C0C"},
            "MODE": {"Fn::If": ["InUsEast1", "primary", "replica"]}, "POWERTOOLS_SERVICE_NAME": "echo"}),
        "FlakyFunction22222222": _fn("flaky_handler", {"ITEMS_TABLE": {"Ref": "ItemsTable1A2B3C4D"},
                                                        "POWERTOOLS_SERVICE_NAME": "flaky"}),
        "FailingFunction33333333": _fn("failing_handler"),
        "FlowStateMachine44444444": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "RoleArn": {"Fn::GetAtt": ["ServiceRoleAB12CD34", "Arn"]}, "DefinitionString": _machine_definition(),
            "DefinitionSubstitutions": {"QueueUrl": {"Ref": "WorkQueue0A0A0A0A"}}}},
        "FailFlowStateMachine55555555": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "RoleArn": "arn:aws:iam::123456789012:role/x",
            "Definition": {"StartAt": "Call", "States": {
                "Call": {"Type": "Task", "Resource": "${FailingArn}", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], "End": True},
                "Failed": {"Type": "Fail", "Error": "Caught", "Cause": "handler failed"}}},
            "DefinitionSubstitutions": {"FailingArn": {"Fn::GetAtt": ["FailingFunction33333333", "Arn"]}}}},
        "ItemsStreamMapping66666666": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "EchoFunction11111111"},
            "EventSourceArn": {"Fn::GetAtt": ["ItemsTable1A2B3C4D", "StreamArn"]}, "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 25, "FunctionResponseTypes": ["ReportBatchItemFailures"], "MaximumRetryAttempts": 2,
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]},
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["DeadLetters0B0B0B0B", "Arn"]}}}}},
        "QueueMapping77777777": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "EchoFunction11111111"}, "EventSourceArn": {"Fn::GetAtt": ["WorkQueue0A0A0A0A", "Arn"]}}},
        "SweepRule88888888": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "rate(5 minutes)", "State": "ENABLED",
            "Targets": [{"Arn": {"Fn::GetAtt": ["EchoFunction11111111", "Arn"]}, "Id": "T", "Input": '{"sweep":true}'}]}},
        "UserPool99999999": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
        "UserPoolClientAAAAAAAA": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"UserPoolId": {"Ref": "UserPool99999999"}}},
        "HttpApiBBBBBBBB": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
        "AuthorizerCCCCCCCC": {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
            "ApiId": {"Ref": "HttpApiBBBBBBBB"}, "AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Audience": [{"Ref": "UserPoolClientAAAAAAAA"}], "Issuer": {"Fn::Join": ["", [
                "https://cognito-idp.", {"Ref": "AWS::Region"}, ".amazonaws.com/", {"Ref": "UserPool99999999"}]]}}}},
        "EchoIntegrationDDDDDDDD": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": {"Ref": "HttpApiBBBBBBBB"}, "IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0",
            "IntegrationUri": {"Fn::GetAtt": ["EchoFunction11111111", "Arn"]}}},
        "GetItemRouteEEEEEEEE": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": {"Ref": "HttpApiBBBBBBBB"}, "RouteKey": "GET /items/{id}", "AuthorizationType": "JWT",
            "AuthorizerId": {"Ref": "AuthorizerCCCCCCCC"}, "AuthorizationScopes": ["items/read"],
            "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegrationDDDDDDDD"}]]}}},
        "WebhookRouteFFFFFFFF": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": {"Ref": "HttpApiBBBBBBBB"}, "RouteKey": "POST /webhooks", "AuthorizationType": "NONE",
            "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegrationDDDDDDDD"}]]}}},
    },
}  # fmt: skip


@pytest.fixture
def aws() -> Iterator[None]:
    for calls in CALLS.values():
        calls.clear()
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def stack(aws: None) -> LocalStack:
    return provision(json.loads(json.dumps(SYNTHETIC)), stack_name="Test")


def _wait_execution(sfn: Any, arn: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} still RUNNING after {timeout}s")


def test_tables_queues_topics_buckets_and_secrets_are_created(stack: LocalStack) -> None:
    ddb = boto3.client("dynamodb")
    items = ddb.describe_table(TableName=stack.physical("ItemsTable"))["Table"]
    assert items["TableName"] == "Test-ItemsTable1A2B3C4D"
    assert [g["IndexName"] for g in items["GlobalSecondaryIndexes"]] == ["byStatus"]
    assert items["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert stack.attr("ItemsTable", "StreamArn") == items["LatestStreamArn"]
    ttl = ddb.describe_time_to_live(TableName=stack.physical("ItemsTable"))["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at" and ttl["TimeToLiveStatus"] == "ENABLED"
    users = ddb.describe_table(TableName=stack.physical("UsersTable"))["Table"]
    assert users["GlobalSecondaryIndexes"][0]["Projection"]["ProjectionType"] == "KEYS_ONLY"

    sqs = boto3.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=stack.physical("WorkQueue"), AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"] == stack.arn("DeadLetters")
    assert attrs["VisibilityTimeout"] == "30"

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=stack.physical("AppSecret"))
    value = json.loads(secret["SecretString"])
    assert value["user"] == "u" and len(value["password"]) == 24
    uploader = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=stack.physical("UploaderSecret"))["SecretString"]
    )
    assert (
        uploader["access_key"].startswith("AKIA")
        and len(uploader["access_key"]) == 20
        and len(uploader["secret_key"]) == 40
    )
    assert (
        uploader["user"].startswith("AROA") and uploader["other"] == "local-ServiceRoleAB12CD34-Whatever"
    )  # skipped type
    assert stack.physical("AlertsTopic").startswith("arn:aws:sns:us-east-1:")
    assert boto3.client("s3").get_bucket_versioning(Bucket=stack.physical("MediaBucket"))["Status"] == "Enabled"
    assert stack.physical("MediaBucket") == "test-mediabucket0e0e0e0e"


def test_functions_get_resolved_environment_and_moto_functions(stack: LocalStack) -> None:
    echo = stack.function("EchoFunction")
    assert echo is not None and echo.handler == f"{HERE}.echo_handler" and echo.timeout == 5
    assert echo.environment["ITEMS_TABLE"] == stack.physical("ItemsTable")
    assert echo.environment["WORK_QUEUE_URL"] == stack.physical("WorkQueue")
    assert echo.environment["ITEMS_STREAM_ARN"] == stack.attr("ItemsTable", "StreamArn")
    assert echo.environment["APP_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    assert echo.environment["MODE"] == "primary"
    assert stack.function(echo.arn) is echo and stack.function(echo.arn + ":$LATEST") is echo
    cfg = boto3.client("lambda").get_function(FunctionName=echo.name)["Configuration"]
    assert cfg["Handler"] == echo.handler and cfg["Environment"]["Variables"] == echo.environment
    env = stack.environment()
    assert env["ITEMS_TABLE"] == stack.physical("ItemsTable") and env["POWERTOOLS_SERVICE_NAME"] == "echo"
    assert stack.environment_conflicts() == {}
    target: dict[str, str] = {}
    stack.apply_environment(target)
    assert target["WORK_QUEUE_URL"] == stack.physical("WorkQueue")
    assert "AWS::IAM::Role" in stack.skipped and "AWS::Cognito::UserPool" in stack.skipped


def test_wiring_moto_does_not_run_is_recorded(stack: LocalStack) -> None:
    by_kind = {es.kind: es for es in stack.event_sources}
    stream = by_kind["dynamodb"]
    assert stream.function == stack.physical("EchoFunction")
    assert stream.source_arn == stack.attr("ItemsTable", "StreamArn")
    assert stream.batch_size == 25 and stream.report_batch_item_failures and stream.maximum_retry_attempts == 2
    assert stream.filters == [{"eventName": ["INSERT"]}] and stream.on_failure_arn == stack.arn("DeadLetters")
    assert by_kind["sqs"].source_arn == stack.arn("WorkQueue") and by_kind["sqs"].batch_size == 10
    (rule,) = stack.schedules
    assert rule.expression == "rate(5 minutes)" and rule.targets[0].arn == stack.function("EchoFunction").arn  # type: ignore[union-attr]
    routes = {r.route_key: r for r in stack.routes}
    get_item = routes["GET /items/{id}"]
    assert get_item.method == "GET" and get_item.path == "/items/{id}" and get_item.scopes == ["items/read"]
    assert get_item.function == stack.physical("EchoFunction") and get_item.payload_version == "2.0"
    assert get_item.authorizer is not None
    pool_id = stack.physical("UserPool99999999")
    assert pool_id.startswith("us-east-1_") and len(pool_id) == len("us-east-1_") + 9
    assert get_item.authorizer.issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    assert get_item.authorizer.audience == [stack.physical("UserPoolClient")]
    assert routes["POST /webhooks"].authorizer is None


def test_state_machine_from_template_runs_real_handlers(stack: LocalStack) -> None:
    sfn = boto3.client("stepfunctions")
    with lambda_dispatch(stack):
        arn = sfn.start_execution(
            stateMachineArn=stack.physical("FlowStateMachine"), name="run-1", input='{"id":"abc"}'
        )
        desc = _wait_execution(sfn, arn["executionArn"])
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["echo"] == {"echoed": {"id": "abc"}}
    assert output["flaky"] == {"attempt": 2} and len(CALLS["flaky"]) == 2  # one Retry after RuntimeError
    item = boto3.client("dynamodb").get_item(
        TableName=stack.physical("ItemsTable"), Key={"pk": {"S": "abc"}, "sk": {"S": "run"}}
    )
    assert "Item" in item
    msgs = boto3.client("sqs").receive_message(QueueUrl=stack.physical("WorkQueue"), MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in msgs if "s3:TestEvent" not in m["Body"]] == ["abc"]


def test_handler_errors_reach_catch_as_on_aws(stack: LocalStack) -> None:
    sfn = boto3.client("stepfunctions")
    with lambda_dispatch(stack):
        arn = sfn.start_execution(stateMachineArn=stack.physical("FailFlowStateMachine"), name="run-f", input="{}")
        desc = _wait_execution(sfn, arn["executionArn"])
    assert desc["status"] == "FAILED" and desc["error"] == "Caught"
    history = sfn.get_execution_history(executionArn=arn["executionArn"])["events"]
    failed = [e["lambdaFunctionFailedEventDetails"] for e in history if e["type"] == "LambdaFunctionFailed"]
    assert failed and failed[0]["error"] == "ValueError"
    assert len(CALLS["failing"]) == 1


def test_sdk_invoke_sync_async_and_error(stack: LocalStack) -> None:
    lam = boto3.client("lambda")
    with lambda_dispatch(stack) as dispatcher:
        resp = lam.invoke(FunctionName=stack.physical("EchoFunction"), Payload=b'{"a":1}')
        body = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp and body["echo"] == {"a": 1}
        assert body["function"] == stack.physical("EchoFunction") and 0 < body["remaining"] <= 5000
        resp = lam.invoke(FunctionName=stack.arn("FailingFunction"), Payload=b"{}")
        assert resp["FunctionError"] == "Unhandled"
        assert json.loads(resp["Payload"].read()) == {"errorType": "ValueError", "errorMessage": "always fails"}
        resp = lam.invoke(FunctionName=stack.physical("EchoFunction"), InvocationType="Event", Payload=b'{"b":2}')
        assert resp["StatusCode"] == 202
        assert dispatcher.drain(5)
        with pytest.raises(FunctionError, match="always fails"):
            dispatcher.invoke("FailingFunction", {})
    assert {"b": 2} in CALLS["echo"]
    assert [i.ok for i in dispatcher.invocations if i.function == stack.physical("FailingFunction")] == [False, False]


def test_s3_and_sns_notifications_are_delivered(stack: LocalStack) -> None:
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    queue = stack.physical("WorkQueue")
    sqs.purge_queue(QueueUrl=queue)  # S3 sends an s3:TestEvent when notifications are configured, as on AWS
    with lambda_dispatch(stack) as dispatcher:
        s3.put_object(Bucket=stack.physical("MediaBucket"), Key="recordings/a b/index.m3u8", Body=b"#EXTM3U")
        s3.put_object(Bucket=stack.physical("MediaBucket"), Key="recordings/x.ts", Body=b"ts")
        s3.put_object(Bucket=stack.physical("UploadsBucket"), Key="in/doc.json", Body=b"{}")
        s3.put_object(Bucket=stack.physical("UploadsBucket"), Key="in/doc.txt", Body=b"")
        boto3.client("sns").publish(TopicArn=stack.physical("AlertsTopic"), Message="alert!")
        assert dispatcher.drain(5)
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    keys = [
        unquote_plus(r["s3"]["object"]["key"])
        for b in bodies
        if b.startswith("{")
        for r in json.loads(b).get("Records", [])
    ]
    assert keys == ["recordings/a b/index.m3u8"] and "alert!" in bodies
    s3_events = [e for e in CALLS["echo"] if isinstance(e, dict) and "Records" in e]
    assert [unquote_plus(r["s3"]["object"]["key"]) for e in s3_events for r in e["Records"]] == ["in/doc.json"]


def test_powertools_current_event_is_per_thread_while_dispatching(stack: LocalStack) -> None:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    seen: dict[str, Any] = {}
    with lambda_dispatch(stack):
        BaseRouter.current_event = "main"  # type: ignore[assignment]

        def other() -> None:
            seen["before"] = getattr(BaseRouter, "current_event", None)
            BaseRouter.current_event = "other"  # type: ignore[assignment]

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert BaseRouter.current_event == "main" and seen["before"] is None
    assert type(BaseRouter).__name__ == "ABCMeta"


# ---- the project's real template ----------------------------------------------------------------
@pytest.mark.slow
def test_current_template_provisions_and_every_handler_imports(aws: None) -> None:
    template = synth_template()
    stack = provision(template)
    assert stack.functions, "the stack has no Lambda function"
    assert stack.environment_conflicts() == {}, "an env var means different things in different functions"
    names = {f.name for f in stack.functions.values()}
    for route in stack.routes:
        assert route.function in names
        assert route.path.startswith("/") or route.route_key == "$default"
    for source in stack.event_sources:
        assert source.function in names
    for arn in stack.state_machines.values():
        definition = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
        assert "Fn::" not in definition and "${Token" not in definition
        for state_arn in _lambda_arns(json.loads(definition)):
            assert stack.function(state_arn) is not None, f"{state_arn} in {arn} is not a provisioned function"
    with lambda_dispatch(stack) as dispatcher:
        for spec in stack.functions.values():
            module = importlib.import_module(spec.handler.rpartition(".")[0])
            assert callable(getattr(module, spec.handler.rpartition(".")[2]))
            assert callable(dispatcher.handler(spec))


def _lambda_arns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                isinstance(value, str)
                and ":lambda:" in value
                and ":function:" in value
                and key in ("Resource", "FunctionName")
            ):
                yield value
            else:
                yield from _lambda_arns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _lambda_arns(value)
