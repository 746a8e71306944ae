"""The webhook capability in the synthesized template: inbox (stream, TTL, PITR), presence, the stream's
event source mapping (INSERT filter, ReportBatchItemFailures, bisect, retries, encrypted DLQ), the only
unauthenticated route, and exactly scoped IAM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.constructs.webhooks import BATCH_SIZE, PUBLIC_REASON, RETRY_ATTEMPTS, WEBHOOK_PATH

ROOT = Path(__file__).resolve().parents[2]


def _resources(template_json: dict[str, Any], res_type: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == res_type and k.startswith(prefix)}


def _one(template_json: dict[str, Any], res_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    found = _resources(template_json, res_type, prefix)
    assert len(found) == 1, list(found)
    return next(iter(found.items()))


def _function(template_json: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    found = {
        k: v
        for k, v in _resources(template_json, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == handler
    }
    assert len(found) == 1, list(found)
    return next(iter(found.items()))


def _statements(template_json: dict[str, Any], fn: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        v
        for v in _resources(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in v["Properties"].get("Roles", [])
    ]
    assert len(policies) == 1
    assert "ManagedPolicyArns" not in template_json["Resources"][role_id]["Properties"]
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return sorted(action if isinstance(action, list) else [action])


def _targets(statement: dict[str, Any]) -> str:
    return json.dumps(statement["Resource"])


def test_inbox_table_has_stream_ttl_and_pitr(template_json):
    _, inbox = _one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksInboxTable")
    props = inbox["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "noticeId", "KeyType": "HASH"}]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert inbox["DeletionPolicy"] == "Retain"


def test_presence_table_keys_and_ttl(template_json):
    _, presence = _one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksPresenceTable")
    props = presence["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "channel", "KeyType": "HASH"},
        {"AttributeName": "uid", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "channel": "S",
        "uid": "S",  # uids reach 2^32-1: stored as decimal strings, never int32
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    # old and new images for the events publisher (a TTL removal publishes nothing: service.events.presence)
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_stream_mapping_reports_batch_failures_and_has_a_dlq(template_json):
    inbox_id, _ = _one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksInboxTable")
    processor_id, _ = _function(template_json, "service.webhooks.processor.handler")
    dlq_id, dlq = _one(template_json, "AWS::SQS::Queue", "WebhooksProcessorDlq")
    _, mapping = _one(template_json, "AWS::Lambda::EventSourceMapping", "WebhooksProcessorFunction")
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [inbox_id, "StreamArn"]}
    assert props["FunctionName"] == {"Ref": processor_id}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == RETRY_ATTEMPTS
    assert props["BatchSize"] == BATCH_SIZE
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}}
    assert [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]] == [{"eventName": ["INSERT"]}]
    # the DLQ is encrypted and refuses anything but TLS
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    _, policy = _one(template_json, "AWS::SQS::QueuePolicy", "WebhooksProcessorDlq")
    deny = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_webhook_is_the_only_public_route(template_json):
    routes = _resources(template_json, "AWS::ApiGatewayV2::Route")
    public = {v["Properties"]["RouteKey"] for v in routes.values() if v["Properties"].get("AuthorizationType") != "JWT"}
    assert public == {f"POST {WEBHOOK_PATH}"}
    route = next(v for v in routes.values() if v["Properties"]["RouteKey"] == f"POST {WEBHOOK_PATH}")
    assert route["Properties"]["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in route["Properties"]
    assert "HMAC-SHA256" in PUBLIC_REASON  # the reason given to cdk-nag's APIG4 acknowledgement
    # and it reaches the intake function
    integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
    integration = template_json["Resources"][integration_id]["Properties"]
    intake_id, _ = _function(template_json, "service.webhooks.intake.handler")
    assert integration["IntegrationUri"] == {"Fn::GetAtt": [intake_id, "Arn"]}
    assert integration["PayloadFormatVersion"] == "2.0"


def test_intake_function_can_only_put_into_the_inbox_and_read_the_ncs_secret(template_json):
    inbox_id, _ = _one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksInboxTable")
    _, intake = _function(template_json, "service.webhooks.intake.handler")
    env = intake["Properties"]["Environment"]["Variables"]
    assert env["INBOX_TABLE"] == {"Ref": inbox_id}
    assert env["NCS_SECRET_NAME"] == "agora-serverless/ncs-secrets"
    assert env["NCS_MAX_BODY_BYTES"] == str(256 * 1024)
    assert env["XRAY_SDK"] == "false"
    assert intake["Properties"]["Timeout"] < 10  # Agora waits 10 s for the answer
    statements = _statements(template_json, intake)
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert len(dynamo) == 1
    assert _actions(dynamo[0]) == ["dynamodb:PutItem"]
    assert dynamo[0]["Resource"] == {"Fn::GetAtt": [inbox_id, "Arn"]}
    secrets = [s for s in statements if any(a.startswith("secretsmanager:") for a in _actions(s))]
    assert len(secrets) == 1
    assert "secret:agora-serverless/ncs-secrets-??????" in _targets(secrets[0])
    others = {a for s in statements for a in _actions(s)} - {
        "dynamodb:PutItem",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert not others


def test_processor_reads_the_stream_and_writes_presence_only(template_json):
    inbox_id, _ = _one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksInboxTable")
    presence_id, _ = _one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksPresenceTable")
    dlq_id, _ = _one(template_json, "AWS::SQS::Queue", "WebhooksProcessorDlq")
    _, processor = _function(template_json, "service.webhooks.processor.handler")
    env = processor["Properties"]["Environment"]["Variables"]
    assert env["PRESENCE_TABLE"] == {"Ref": presence_id}
    statements = _statements(template_json, processor)
    by_target: dict[str, set[str]] = {}
    for statement in statements:
        by_target.setdefault(_targets(statement), set()).update(_actions(statement))
    stream = json.dumps({"Fn::GetAtt": [inbox_id, "StreamArn"]})
    assert by_target[stream] == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
    assert by_target[json.dumps({"Fn::GetAtt": [presence_id, "Arn"]})] == {"dynamodb:UpdateItem", "dynamodb:Query"}
    assert by_target[json.dumps({"Fn::GetAtt": [dlq_id, "Arn"]})] == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    # nothing may write the inbox or touch it other than through its stream
    assert json.dumps({"Fn::GetAtt": [inbox_id, "Arn"]}) not in by_target
    # recording events: exactly what grant_events gives (the recordings table, task responses)
    recording = [s for s in statements if "RecordingRecordingsTable" in _targets(s)]
    assert {a for s in recording for a in _actions(s)} == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    assert "RECORDINGS_TABLE" in env
    wildcards = [s for s in statements if s["Resource"] == "*"]
    assert [_actions(s) for s in wildcards] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]]


def test_handler_strings_point_at_real_functions(template_json):
    for handler in ("service.webhooks.intake.handler", "service.webhooks.processor.handler"):
        _function(template_json, handler)
        module, name = handler.rsplit(".", 1)
        source = (ROOT / "functions" / (module.replace(".", "/") + ".py")).read_text()
        assert f"def {name}(" in source


def test_the_abnormal_leave_kick_is_off_by_default_and_brings_agora_access_when_on(template_json):
    from aws_cdk.assertions import Template

    from app import build_app

    _, default = _function(template_json, "service.webhooks.processor.handler")
    assert "ABNORMAL_LEAVE_ACTION" not in default["Properties"]["Environment"]["Variables"]
    assert not any("secretsmanager:GetSecretValue" in str(s["Action"]) for s in _statements(template_json, default))

    app, stack = build_app(context={"aws:cdk:bundling-stacks": [], "abnormalLeaveAction": "kick"})
    app.synth()  # cdk-nag too
    kick = Template.from_stack(stack).to_json()
    _, processor = _function(kick, "service.webhooks.processor.handler")
    env = processor["Properties"]["Environment"]["Variables"]
    assert env["ABNORMAL_LEAVE_ACTION"] == "kick" and "AGORA_REST_SECRET_NAME" in env
    actions = {a for s in _statements(kick, processor) for a in ([s["Action"]] if isinstance(s["Action"], str)
               else s["Action"])}  # fmt: skip
    assert "secretsmanager:GetSecretValue" in actions
