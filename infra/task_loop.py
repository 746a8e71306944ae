"""The state machine of a one-function loop: a Standard workflow whose only task invokes one function (an agent's
lifecycle, a transcription's 72-hour restart), logged without execution data and traced, with the two cdk-nag
findings every such machine raises acknowledged once, with their reasons."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.function_factory import retention
from infra.nag import acknowledge


def task_loop_machine(
    scope: Construct,
    name: str,
    *,
    definition: sfn.IChainable,
    function: lambda_.IFunction,
    role: str,
    comment: str,
    log_retention_days: int,
    logs_id: str,
) -> sfn.StateMachine:
    """``name``: the state machine's construct id; ``role``: what ``function`` is, for the acknowledgement
    ("the lifecycle function"); ``logs_id``: the log group's construct id (kept, so logical ids do not move)."""
    log_group = logs.LogGroup(
        scope, logs_id, retention=retention(log_retention_days), removal_policy=RemovalPolicy.DESTROY
    )
    machine = sfn.StateMachine(
        scope, name, definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD, comment=comment,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=True,
    )  # fmt: skip
    acknowledge(
        machine,
        "AwsSolutions-IAM5[Resource::*]",
        "Step Functions' log delivery (logs:CreateLogDelivery, ...) and X-Ray tracing actions support no "
        "resource-level permissions; AWS documents '*' as the only accepted resource for them.",
    )
    fn_id = Stack.of(scope).get_logical_id(function.node.default_child)  # type: ignore[arg-type]
    acknowledge(
        machine,
        f"AwsSolutions-IAM5[Resource::<{fn_id}.Arn>:*]",
        f"The state machine invokes only {role}; ':*' covers that same function's versions and aliases (CDK's "
        "LambdaInvoke grant), no other function.",
    )
    return machine
