"""The token capability in the synthesized template: function shape, exact IAM scope, authorized route."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match


def _token_function(template_json):
    functions = {
        k: v
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("Handler") == "service.tokens.handler.handler"
    }
    assert len(functions) == 1, functions.keys()
    return next(iter(functions.items()))


def test_token_function_runtime_and_environment(template_json):
    _, fn = _token_function(template_json)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    env = props["Environment"]["Variables"]
    assert set(env) >= {"AGORA_APP_ID", "APP_CERTIFICATE_SECRET_NAME", "USERS_TABLE", "GROUPS_CLAIM", "PUBLISHER_GROUP"}
    assert env["XRAY_SDK"] == "false"
    assert env["PUBLISHER_DENIED"] == "forbid"
    # no secret value is ever in the template: only the secret's name
    assert env["APP_CERTIFICATE_SECRET_NAME"] == "agora-serverless/app-certificate"
    assert len(props["Layers"]) == 2


def test_users_table_is_retained_and_recoverable(template):
    template.has_resource(
        "AWS::DynamoDB::GlobalTable",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "Replicas": [
                        Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
                    ],
                }
            ),
        },
    )


def test_token_role_is_scoped_to_its_table_and_secret(template_json):
    _logical_id, fn = _token_function(template_json)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        v
        for v in template_json["Resources"].values()
        if v["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in v["Properties"].get("Roles", [])
    ]
    assert len(policies) == 1
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    by_action = {tuple(sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])): s for s in statements}
    dynamo = by_action[("dynamodb:GetItem", "dynamodb:PutItem")]
    assert dynamo["Resource"]["Fn::GetAtt"][0].startswith("TokensUsersTable")
    secret = by_action[("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue")]
    assert "secret:agora-serverless/app-certificate-??????" in json.dumps(secret["Resource"])
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [sorted(s["Action"]) for s in wildcard] == [["xray:PutTelemetryRecords", "xray:PutTraceSegments"]]
    # nothing else: no managed policies on the role
    role = template_json["Resources"][role_id]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_post_tokens_route_requires_jwt(template_json):
    routes = [v for v in template_json["Resources"].values() if v["Type"] == "AWS::ApiGatewayV2::Route"]
    token_routes = [r for r in routes if r["Properties"]["RouteKey"] == "POST /tokens"]
    assert len(token_routes) == 1
    assert token_routes[0]["Properties"]["AuthorizationType"] == "JWT"
    authorizers = [v for v in template_json["Resources"].values() if v["Type"] == "AWS::ApiGatewayV2::Authorizer"]
    assert len(authorizers) == 1
    assert authorizers[0]["Properties"]["AuthorizerType"] == "JWT"
    assert authorizers[0]["Properties"]["IdentitySource"] == ["$request.header.Authorization"]


def test_cognito_pool_has_publisher_and_admin_groups(template):
    template.resource_count_is("AWS::Cognito::UserPool", 1)
    template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "hosts"})
    template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "admins"})
    template.has_resource_properties(
        "AWS::Cognito::UserPool", {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}}
    )


def test_api_stage_has_access_logs_and_throttling(template):
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value()}),
            "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200}),
        },
    )
