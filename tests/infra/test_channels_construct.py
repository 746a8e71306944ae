"""The channels capability in the synthesized template: the kicking-rules table, the channels function's
environment and exact permissions, and its JWT-authorized routes."""

from __future__ import annotations

import json

from infra.constructs.channels import PRESENCE_ACTIONS, ROUTES, RULES_TABLE_ACTIONS
from tests.infra.template_helpers import actions, function_by_handler, one, resources

HANDLER = "service.channels.handler.handler"


def test_kicking_rules_table(template_json):
    _, table = one(template_json, "AWS::DynamoDB::GlobalTable", "ChannelsKickingRulesTable")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "N"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "purgeAt", "Enabled": True}
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_channels_function_environment(template_json):
    rules_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "ChannelsKickingRulesTable")
    presence_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksPresenceTable")
    limiter_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "AgoraAccessRateLimitTable")
    _, fn = function_by_handler(template_json, HANDLER)
    props = fn["Properties"]
    env = props["Environment"]["Variables"]
    assert env["KICKING_RULES_TABLE"] == {"Ref": rules_id}
    assert env["PRESENCE_TABLE"] == {"Ref": presence_id}
    assert env["AGORA_RATE_LIMIT_TABLE"] == {"Ref": limiter_id}  # one account-wide bucket for every function
    assert env["AGORA_REST_SECRET_NAME"] == "agora-serverless/rest-credentials"
    assert env["ADMIN_GROUP"] == "admins"
    assert env["CHANNELS_CACHE_SECONDS"] == "5"
    assert 20 <= props["Timeout"] <= 29  # Agora advises >= 20 s for a kicking-rule POST; API Gateway stops at 30 s


def test_channels_function_permissions_are_exact(template_json):
    rules_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "ChannelsKickingRulesTable")
    presence_id, _ = one(template_json, "AWS::DynamoDB::GlobalTable", "WebhooksPresenceTable")
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
        by_target.setdefault(json.dumps(statement["Resource"]), set()).update(actions(statement))
    assert by_target.pop(json.dumps({"Fn::GetAtt": [rules_id, "Arn"]})) == set(RULES_TABLE_ACTIONS)
    assert by_target.pop(json.dumps({"Fn::GetAtt": [presence_id, "Arn"]})) == set(PRESENCE_ACTIONS)
    assert by_target.pop(json.dumps({"Fn::GetAtt": [limiter_id, "Arn"]})) == {"dynamodb:UpdateItem"}
    secret = [k for k in by_target if "secret:agora-serverless/rest-credentials-??????" in k]
    assert len(secret) == 1
    assert by_target.pop(secret[0]) == {"secretsmanager:GetSecretValue"}
    assert by_target.pop(json.dumps("*")) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    logs = [k for k in by_target if "ChannelsChannelsFunctionLogs" in k]
    assert len(logs) == 1
    by_target.pop(logs[0])
    assert by_target == {}  # nothing else (no NCS secret, no inbox, no other table)


def test_routes_are_jwt_authorized_and_reach_the_channels_function(template_json):
    fn_id, _ = function_by_handler(template_json, HANDLER)
    routes = resources(template_json, "AWS::ApiGatewayV2::Route")
    expected = {f"{method.value} {path}" for path, methods in ROUTES for method in methods}
    assert expected == {
        "GET /channels",
        "GET /channels/{name}/users",
        "GET /channels/{name}/users/{uid}",
        "GET /channels/{name}/hosts",
        "POST /channels/{name}/kick",
        "GET /kicking-rules",
        "POST /kicking-rules",
        "PUT /kicking-rules/{id}",
        "DELETE /kicking-rules/{id}",
        "GET /ncs/ips",
    }
    found = {v["Properties"]["RouteKey"]: v["Properties"] for v in routes.values()}
    for key in expected:
        props = found[key]
        assert props["AuthorizationType"] == "JWT", key
        assert "AuthorizerId" in props
        integration_id = props["Target"]["Fn::Join"][1][1]["Ref"]
        integration = template_json["Resources"][integration_id]["Properties"]
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [fn_id, "Arn"]}, key
