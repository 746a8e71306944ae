"""AgoraAccess in a tiny stack of its own: the rate-limit table, exact IAM scoping, the environment, cdk-nag."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from infra.constructs import agora_access
from infra.constructs.agora_access import AgoraAccess

APP_ID = "a" * 32
SECRET_NAME = "agora-serverless/rest-credentials"


def _stack(**access: Any) -> tuple[cdk.App, cdk.Stack, lambda_.Function]:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "AgoraAccessTest", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    construct = AgoraAccess(stack, "Agora", app_id=APP_ID, rest_secret_name=SECRET_NAME, **access)
    fn = lambda_.Function(
        stack,
        "Caller",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
    )
    construct.grant(fn)
    return app, stack, fn


@pytest.fixture(scope="module")
def template() -> Template:
    _, stack, _ = _stack(rest_base_urls=["https://api.agora.io", " https://api.sd-rtn.com "], qps=20)
    return Template.from_stack(stack)


def _table_logical_id(template: Template) -> str:
    (logical_id,) = template.find_resources("AWS::DynamoDB::GlobalTable")
    return logical_id


def test_rate_limit_table(template: Template):
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    template.has_resource(
        "AWS::DynamoDB::GlobalTable",
        {
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "Replicas": [
                    Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
                ],
            },
        },
    )


def test_the_table_matches_what_the_limiter_writes():
    from service.adapters import agora as adapter

    assert agora_access.PARTITION_KEY == adapter.PARTITION_KEY
    assert agora_access.TTL_ATTRIBUTE == adapter.TTL_ATTRIBUTE


def test_policy_is_exactly_the_secret_and_the_table(template: Template):
    policies = template.find_resources("AWS::IAM::Policy")
    assert len(policies) == 1
    (policy,) = policies.values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements == [
        {
            "Action": "secretsmanager:GetSecretValue",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        f":secretsmanager:eu-west-1:111111111111:secret:{SECRET_NAME}-??????",
                    ],
                ]
            },
        },
        {
            "Action": "dynamodb:UpdateItem",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [_table_logical_id(template), "Arn"]},
        },
    ]
    (role_ref,) = policy["Properties"]["Roles"]
    (fn,) = template.find_resources("AWS::Lambda::Function").values()
    assert fn["Properties"]["Role"]["Fn::GetAtt"][0] == role_ref["Ref"]


def test_environment_for_agora_access_settings(template: Template):
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "AGORA_APP_ID": APP_ID,
                    "AGORA_REST_SECRET_NAME": SECRET_NAME,
                    "AGORA_RATE_LIMIT_TABLE": {"Ref": _table_logical_id(template)},
                    "AGORA_QPS": "20",
                    "AGORA_REST_BASE_URLS": "https://api.agora.io,https://api.sd-rtn.com",
                }
            }
        },
    )


def test_settings_read_what_the_construct_sets():
    from service.adapters.agora import AgoraAccessSettings

    env = {"AGORA_APP_ID": APP_ID, "AGORA_REST_SECRET_NAME": SECRET_NAME, "AGORA_RATE_LIMIT_TABLE": "t",
           "AGORA_QPS": "20", "AGORA_REST_BASE_URLS": "https://api.agora.io,https://api.sd-rtn.com"}  # fmt: skip
    settings = AgoraAccessSettings.from_env(env)
    assert settings.base_urls() == ["https://api.agora.io", "https://api.sd-rtn.com"]
    assert (settings.agora_qps, settings.agora_rate_limit_table) == (20, "t")


def test_without_base_urls_the_variable_is_absent():
    _, stack, _ = _stack()
    variables = next(iter(Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()))["Properties"][
        "Environment"
    ]["Variables"]
    assert "AGORA_REST_BASE_URLS" not in variables
    assert variables["AGORA_QPS"] == "10"


@pytest.mark.parametrize(
    "kwargs",
    [{"app_id": ""}, {"rest_secret_name": ""}, {"qps": 0}, {"qps": 1001}],
)
def test_bad_arguments(kwargs: dict[str, Any]):
    stack = cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Bad")
    args = {"app_id": APP_ID, "rest_secret_name": SECRET_NAME, **kwargs}
    with pytest.raises(ValueError):
        AgoraAccess(stack, "Agora", **args)


def test_the_construct_adds_no_cdk_nag_findings():
    from cdk_nag import AwsSolutionsChecks

    from infra.nag import acknowledge

    app, _, fn = _stack()
    # Only the test's own bare function has findings; AgoraAccess must add none.
    acknowledge(fn, "AwsSolutions-L1", "the test function exists only to receive the grants under test")
    acknowledge(
        fn,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "the test function's default role is not what this test examines",
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises ValidationFailed on any finding
