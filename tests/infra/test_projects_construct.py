"""The projects capability in the synthesized template: the usage table, the projects function's environment
and exact permissions (PutSecretValue on the certificate secret only), the owners group and its routes."""

from __future__ import annotations

import json

from infra.constructs.projects import CERTIFICATE_ACTIONS, ROUTES, USAGE_TABLE_ACTIONS
from tests.infra.template_helpers import actions, function_by_handler, one, resources

HANDLER = "service.projects.handler.handler"


def test_usage_table(template_json):
    _, table = one(template_json, "AWS::DynamoDB::GlobalTable", "ProjectsUsageTable")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_projects_function_environment(template_json):
    usage_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "ProjectsUsageTable")
    limiter_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "AgoraAccessRateLimitTable")
    _, fn = function_by_handler(template_json, HANDLER)
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["USAGE_TABLE"] == {"Ref": usage_id}
    assert env["AGORA_RATE_LIMIT_TABLE"] == {"Ref": limiter_id}
    assert env["APP_CERTIFICATE_SECRET_NAME"] == "agora-serverless/app-certificate"
    assert env["AGORA_REST_SECRET_NAME"] == "agora-serverless/rest-credentials"
    assert env["OWNERS_GROUP"] == "owners"
    assert env["SIGNER_CERTIFICATE_CHECK_SECONDS"] == "1"  # the token function's CERTIFICATE_CHECK_SECONDS
    assert fn["Properties"]["Timeout"] <= 29


def test_projects_function_permissions_are_exact(template_json):
    usage_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "ProjectsUsageTable")
    limiter_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "AgoraAccessRateLimitTable")
    _, fn = function_by_handler(template_json, HANDLER)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in template_json["Resources"][role_id]["Properties"]
    policies = [
        v
        for v in resources(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in v["Properties"].get("Roles", [])
    ]
    assert len(policies) == 1
    by_target: dict[str, set[str]] = {}
    for statement in policies[0]["Properties"]["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        by_target.setdefault(json.dumps(statement["Resource"]), set()).update(actions(statement))
    usage = [k for k in by_target if usage_id in k]
    assert len(usage) == 1 and by_target.pop(usage[0]) == set(USAGE_TABLE_ACTIONS)
    # the limiter's one call is a conditional UpdateItem (infra/grants.py)
    assert by_target.pop(json.dumps({"Fn::GetAtt": [limiter_id, "Arn"]})) == {"dynamodb:UpdateItem"}
    rest = [k for k in by_target if "secret:agora-serverless/rest-credentials-??????" in k]
    assert len(rest) == 1
    assert by_target.pop(rest[0]) == {"secretsmanager:GetSecretValue"}
    certificate = [k for k in by_target if "secret:agora-serverless/app-certificate-??????" in k]
    assert len(certificate) == 1
    assert by_target.pop(certificate[0]) == set(CERTIFICATE_ACTIONS) == {"secretsmanager:PutSecretValue"}
    assert by_target.pop(json.dumps("*")) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    logs = [k for k in by_target if "ProjectsProjectsFunctionLogs" in k]
    assert len(logs) == 1
    by_target.pop(logs[0])
    # Certificate Rotated, on the stack's events bus only (infra/constructs/events.py)
    bus_id, _ = one(template_json, "AWS::Events::EventBus", "EventsBus")
    assert by_target.pop(json.dumps({"Fn::GetAtt": [bus_id, "Arn"]})) == {"events:PutEvents"}
    assert by_target == {}  # nothing else: no certificate read, no other table


def test_the_token_function_still_only_reads_the_certificate(template_json):
    tokens = [
        v
        for v in resources(template_json, "AWS::IAM::Policy").values()
        if "app-certificate" in json.dumps(v) and "PutSecretValue" in json.dumps(v)
    ]
    assert len(tokens) == 1  # the projects function's policy alone may write the certificate


def test_owners_group_and_routes(template_json):
    groups = {v["Properties"]["GroupName"] for v in resources(template_json, "AWS::Cognito::UserPoolGroup").values()}
    assert "owners" in groups
    fn_id, _ = function_by_handler(template_json, HANDLER)
    expected = {f"{method.value} {path}" for path, methods in ROUTES for method in methods}
    assert expected == {
        "GET /projects",
        "GET /projects/{project}",
        "PUT /projects/{project}/status",
        "GET /projects/{project}/usage",
        "POST /projects/{project}/certificate/reset",
        "POST /projects/{project}/certificate/sync",
    }
    found = {
        v["Properties"]["RouteKey"]: v["Properties"]
        for v in resources(template_json, "AWS::ApiGatewayV2::Route").values()
    }
    for key in expected:
        props = found[key]
        assert props["AuthorizationType"] == "JWT", key
        integration_id = props["Target"]["Fn::Join"][1][1]["Ref"]
        integration = template_json["Resources"][integration_id]["Properties"]
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [fn_id, "Arn"]}, key
