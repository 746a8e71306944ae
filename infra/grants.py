"""Grants narrower than CDK's ``grant_*`` helpers, for what the code actually calls.

``Secret.grant_read`` adds ``DescribeSecret`` and ``grant_task_response`` adds ``SendTaskFailure`` and
``SendTaskHeartbeat``; the functions call only ``GetSecretValue`` and ``SendTaskSuccess``.
tests/infra/test_iam_exact.py holds every role to the actions its code calls.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn


def grant_secret_value(fn: lambda_.Function, secret: secretsmanager.ISecret, *, describe: bool = False) -> None:
    """``secretsmanager:GetSecretValue`` on ``secret`` (by name: the 6-character suffix AWS appends); with
    ``describe``, ``DescribeSecret`` too (a signer confirming the App Certificate's current version)."""
    arn = Stack.of(fn).format_arn(
        service="secretsmanager", resource="secret", resource_name=f"{secret.secret_name}-??????",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )  # fmt: skip
    actions = ["secretsmanager:GetSecretValue", *(["secretsmanager:DescribeSecret"] if describe else [])]
    fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[arn]))


def grant_task_success(fn: lambda_.Function, state_machine: sfn.IStateMachine, *, start: bool = False) -> None:
    """``states:SendTaskSuccess`` for tasks of ``state_machine`` (the only callback the code sends); ``start``:
    ``states:StartExecution`` of it too (the API, and the admission queue's pumps)."""
    actions = ["states:SendTaskSuccess", *(["states:StartExecution"] if start else [])]
    fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[state_machine.state_machine_arn]))
