"""The events capability in the synthesized template: the bus and its policy, the archive, the publisher
(six stream mappings with bisect, retries, ReportBatchItemFailures and a DLQ; PutEvents on this bus only),
and, with ``-c eventTargets``, one rule + target + retry policy + DLQ + two alarms per subscriber; cdk-nag
stays clean in both templates (synthesis raises on an unacknowledged finding)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.events import BATCH_SIZE, RETRY_ATTEMPTS, TARGET_RETRY_ATTEMPTS
from tests.infra.conftest import NO_BUNDLING
from tests.infra.template_helpers import actions, function_by_handler, one, resources

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "service.events.publisher.handler"
TARGETS = [
    {"type": "sqs", "name": "Billing", "arn": "arn:aws:sqs:us-east-1:123456789012:billing-events"},
    {"type": "lambda", "arn": "arn:aws:lambda:us-east-1:123456789012:function:on-recording",
     "detailTypes": ["Recording Files Ready"]},
    {"type": "https", "name": "AppHook", "url": "https://app.example.com/hooks", "apiKeySecretName": "app/events-key"},
]  # fmt: skip


@pytest.fixture(scope="module")
def with_targets() -> dict[str, Any]:
    from aws_cdk.assertions import Template

    from app import build_app

    _, stack = build_app(context={**NO_BUNDLING, "eventTargets": json.dumps(TARGETS), "eventArchiveDays": "90"})
    return Template.from_stack(stack).to_json()


def _policy_statements(template_json: dict[str, Any], fn: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        s
        for v in resources(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in v["Properties"].get("Roles", [])
        for s in v["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_one_bus_named_after_the_stack_with_an_archive(template_json):
    _, bus = one(template_json, "AWS::Events::EventBus", "Events")
    assert bus["Properties"]["Name"] == "AgoraServerless-events"
    _, archive = one(template_json, "AWS::Events::Archive", "Events")
    assert archive["Properties"]["RetentionDays"] == 30
    assert archive["Properties"]["EventPattern"] == {"source": [{"prefix": "agora-serverless."}]}


def test_archive_retention_follows_the_setting(with_targets):
    _, archive = one(with_targets, "AWS::Events::Archive", "Events")
    assert archive["Properties"]["RetentionDays"] == 90


STREAMED = (
    "RecordingRecordingsTable", "MediaMediaTable", "WebhooksPresenceTable", "ChannelsKickingRulesTable",
    "AgentsAgentsTable", "TranscriptionsTranscriptionsTable",
)  # fmt: skip


def test_the_six_tables_stream_old_and_new_images(template_json):
    for prefix in STREAMED:
        _, table = one(template_json, "AWS::DynamoDB::GlobalTable", prefix)
        assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}, prefix


def test_publisher_reads_each_stream_with_partial_failures_bisect_and_a_dlq(template_json):
    fn_id, _ = function_by_handler(template_json, HANDLER)
    mappings = [m for m in resources(template_json, "AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": fn_id}]  # fmt: skip
    assert len(mappings) == len(STREAMED)
    dlq_id, dlq = one(template_json, "AWS::SQS::Queue", "EventsPublisherDlq")
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    sources = set()
    for mapping in mappings:
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BisectBatchOnFunctionError"] is True
        assert props["MaximumRetryAttempts"] == RETRY_ATTEMPTS and props["BatchSize"] == BATCH_SIZE
        assert props["StartingPosition"] == "TRIM_HORIZON"
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
        assert "FilterCriteria" not in props  # removals matter too (a lifted kicking rule)
        sources.add(props["EventSourceArn"]["Fn::GetAtt"][0])
    assert sorted(re.sub(r"[0-9A-F]{8}$", "", s) for s in sources) == sorted(STREAMED)


def test_the_publisher_reads_exactly_the_six_streams_and_no_item(template_json):
    """Least privilege: the stream actions name only the six tables' streams; the only table call is the media
    events' bySid Query (the agents' and transcriptions' events need no read beyond the stream images)."""
    _, fn = function_by_handler(template_json, HANDLER)
    statements = _policy_statements(template_json, fn)
    streamed = [s for s in statements if "dynamodb:GetRecords" in actions(s)]
    arns = [r for s in streamed for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    tables = sorted(re.sub(r"[0-9A-F]{8}$", "", arn["Fn::GetAtt"][0]) for arn in arns)
    assert tables == sorted(STREAMED), tables
    assert all(arn["Fn::GetAtt"][1] == "StreamArn" for arn in arns)
    table_calls = {a for s in statements for a in actions(s) if a.startswith("dynamodb:")} - {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
    }  # fmt: skip
    assert table_calls == {"dynamodb:Query"}


def test_only_the_publishers_may_put_events_and_only_on_this_bus(template_json):
    bus_id, _ = one(template_json, "AWS::Events::EventBus", "Events")
    _fn_id, fn = function_by_handler(template_json, HANDLER)
    _, projects = function_by_handler(template_json, "service.projects.handler.handler")
    for publisher in (fn, projects):
        put = [s for s in _policy_statements(template_json, publisher) if "events:PutEvents" in actions(s)]
        assert put == [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus_id, "Arn"]}}]
    assert projects["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": bus_id}
    holders = [k for k, v in resources(template_json, "AWS::IAM::Policy").items() if "events:PutEvents" in str(v)]
    assert len(holders) == 2
    (policy,) = resources(template_json, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "events:PutEvents"
    assert statement["Principal"] == {"AWS": "*"}
    roles = [{"Fn::GetAtt": [f["Properties"]["Role"]["Fn::GetAtt"][0], "Arn"]} for f in (fn, projects)]
    assert statement["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": roles}}


def test_publisher_environment_names_the_bus_and_the_tables(template_json):
    bus_id, _ = one(template_json, "AWS::Events::EventBus", "Events")
    _, fn = function_by_handler(template_json, HANDLER)
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["EVENT_BUS_NAME"] == {"Ref": bus_id}
    for key in (
        "RECORDINGS_TABLE",
        "MEDIA_TABLE",
        "PRESENCE_TABLE",
        "KICKING_RULES_TABLE",
        "AGENTS_TABLE",
        "TRANSCRIPTIONS_TABLE",
    ):
        assert "Ref" in env[key], key


def test_publisher_alarms_exist_with_runbook_lines(template_json):
    names = {a["Properties"]["AlarmName"] for a in resources(template_json, "AWS::CloudWatch::Alarm").values()}
    runbook = set(re.findall(r"^- \*\*(\w+)\*\*", (ROOT / "docs" / "operations.md").read_text(), re.M))
    for alarm in ("EventsIteratorAge", "EventsPublisherDeadLetters", "PublisherFunctionErrors"):
        assert f"AgoraServerless-{alarm}" in names and alarm in runbook, alarm


def test_no_targets_no_rules(template_json):
    assert resources(template_json, "AWS::Events::Rule", "EventsBilling") == {}
    assert not [r for r in resources(template_json, "AWS::Events::Rule").values() if "EventBusName" in r["Properties"]]


def test_each_target_has_a_rule_retries_a_dlq_and_two_alarms(with_targets):
    bus_id, _ = one(with_targets, "AWS::Events::EventBus", "Events")
    rules = dict(resources(with_targets, "AWS::Events::Rule", "Events").items())
    assert len(rules) == 3
    alarms = {a["Properties"]["AlarmName"]: a for a in resources(with_targets, "AWS::CloudWatch::Alarm").values()}
    for name in ("Billing", "LambdaOnRecording", "AppHook"):
        rule_id, rule = one(with_targets, "AWS::Events::Rule", f"Events{name}Rule")
        assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {
            "MaximumEventAgeInSeconds": 86400,
            "MaximumRetryAttempts": TARGET_RETRY_ATTEMPTS,
        }
        dlq_id, dlq = one(with_targets, "AWS::SQS::Queue", f"Events{name}Dlq")
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert dlq["Properties"]["SqsManagedSseEnabled"] is True
        for alarm in (f"EventTarget{name}FailedInvocations", f"EventTarget{name}DeadLetters"):
            assert f"AgoraServerless-{alarm}" in alarms, alarm
        failed = alarms[f"AgoraServerless-EventTarget{name}FailedInvocations"]["Properties"]
        assert failed["Namespace"] == "AWS/Events" and failed["Dimensions"] == [
            {"Name": "RuleName", "Value": {"Ref": rule_id}}
        ]
    assert (
        one(with_targets, "AWS::Events::Rule", "EventsBillingRule")[1]["Properties"]["Targets"][0]["Arn"]
        == TARGETS[0]["arn"]
    )
    lambda_rule = one(with_targets, "AWS::Events::Rule", "EventsLambdaOnRecordingRule")[1]["Properties"]
    assert lambda_rule["EventPattern"] == {
        "source": [{"prefix": "agora-serverless."}],
        "detail-type": ["Recording Files Ready"],
    }
    # the function lets this rule (only) invoke it
    perms = [p["Properties"] for p in resources(with_targets, "AWS::Lambda::Permission", "Events").values()]
    assert len(perms) == 1 and perms[0]["FunctionName"] == TARGETS[1]["arn"]
    assert perms[0]["Principal"] == "events.amazonaws.com"
    assert perms[0]["SourceArn"] == {
        "Fn::GetAtt": [one(with_targets, "AWS::Events::Rule", "EventsLambdaOnRecordingRule")[0], "Arn"]
    }


def test_https_target_is_an_api_destination_with_a_secret_api_key(with_targets):
    _, connection = one(with_targets, "AWS::Events::Connection", "Events")
    auth = connection["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert auth["ApiKeyName"] == "x-api-key"
    assert "{{resolve:secretsmanager:app/events-key" in json.dumps(auth["ApiKeyValue"])
    _, destination = one(with_targets, "AWS::Events::ApiDestination", "Events")
    assert destination["Properties"]["InvocationEndpoint"] == "https://app.example.com/hooks"
    assert destination["Properties"]["HttpMethod"] == "POST"


def test_dashboard_has_the_events_rows(with_targets):
    (dashboard,) = resources(with_targets, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Events: publisher errors and iterator age", "Events: published, publisher DLQ",
                  "Event target Billing: failed invocations, DLQ depth", "Event target AppHook"):  # fmt: skip
        assert title in body, title
