"""Conversational AI agents (Agora Conversational AI Engine v2): the AgentsTable, the ``/agents*`` API function
(JWT-authorized; the function itself requires the admin group or ``agentsGroup``), the lifecycle state machine
(one execution per agent: renew the bot's token before it expires, end the agent at its hard maximum), the
reconciler on a schedule, and the profiles' secret. The webhook processor gets the table (``grant_events``) to
apply NCS product 17.

Profiles (``service.agents.profiles``) come from ``StackSettings.agents_profiles`` (CDK context ``agentsProfiles``,
validated there); without it one profile, ``assistant``, reads its vendor keys from the secret this construct creates
(``<stack>/agents/assistant``: put the LLM and TTS keys there). Every secret a profile names is granted read-only, by
name, and nothing else. The other keys (``agentsGroup``, ``agentsMinDurationSeconds``, ``agentsMaxRunning``) are
settings too (infra/settings.py, docs/configuration.md): no context is read here.

Least privilege: Agora access through ``AgoraAccess.grant`` (REST secret + rate-limit table); the table with exactly
the calls ``service.agents.repository`` makes; the App Certificate (the bot's token) read-only; conversations
written under ``agents/`` of the recordings bucket (PutObject only, nothing read back).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs.agora_access import AgoraAccess
from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.recording_workflow import LAMBDA_SERVICE_ERRORS
from infra.grants import grant_secret_value
from infra.nag import acknowledge
from infra.retention import data_removal_policy
from infra.settings import StackSettings
from infra.task_loop import task_loop_machine

#: service.agents.repository's calls: GetItem (record, slot, pointer, running count), PutItem (saves, pointers; the
#: create and end transactions' Puts), DeleteItem (a slot released or taken over; the end transaction's Delete),
#: UpdateItem (the running counter in the create and end transactions), Query (the byChannel / byKind indexes)
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:Query")
#: NCS product 17 (service.agents.usecases.apply_event): pointer and record reads, conditional saves (which may
#: release the slot and give the running place back), the history link
EVENT_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem")
HISTORY_PREFIX = "agents/"
ROUTES: tuple[tuple[str, tuple[apigw.HttpMethod, ...]], ...] = (
    ("/agents", (apigw.HttpMethod.GET, apigw.HttpMethod.POST)),
    ("/agents/{id}", (apigw.HttpMethod.GET, apigw.HttpMethod.DELETE)),
    ("/agents/{id}/speak", (apigw.HttpMethod.POST,)),
    ("/agents/{id}/interrupt", (apigw.HttpMethod.POST,)),
)
#: the profile used when ``agentsProfiles`` is not set: its keys are fields of the construct's own secret
DEFAULT_PROFILE: dict[str, Any] = {
    "llm": {"url": "https://api.openai.com/v1/chat/completions", "api_key": "{{secret:llm_api_key}}",
            "system_messages": [{"role": "system", "content": "You are a helpful voice assistant. Answer briefly."}],
            "max_history": 32, "params": {"model": "gpt-4o-mini"}},
    "tts": {"vendor": "microsoft", "params": {"key": "{{secret:tts_key}}", "region": "eastus",
                                              "voice_name": "en-US-AndrewMultilingualNeural"}},
    "asr": {"language": "en-US"},
    "idle_timeout": 30,
}  # fmt: skip


class Agents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: FunctionFactory,
        agora: AgoraAccess,
        bucket: s3.IBucket,
    ):
        super().__init__(scope, construct_id)
        self._bucket = bucket
        string, number = dynamodb.AttributeType.STRING, dynamodb.AttributeType.NUMBER
        self.table = dynamodb.TableV2(
            self,
            "AgentsTable",
            partition_key=dynamodb.Attribute(name="pk", type=string),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index,
                    partition_key=dynamodb.Attribute(name=key, type=string),
                    sort_key=dynamodb.Attribute(name="createdMs", type=number),
                )
                for index, key in (("byChannel", "channel"), ("byKind", "kind"))
            ],
            billing=dynamodb.Billing.on_demand(),
            # the events publisher reads it (infra/constructs/events.py, service/events/agents.py)
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=data_removal_policy(settings),
            deletion_protection=not settings.dev,
        )
        self.profile_secret_name = f"{settings.stack_name}/agents/assistant"
        self.profile_secret = secretsmanager.Secret(
            self, "ProfileSecret", secret_name=self.profile_secret_name,
            description="Vendor keys of the 'assistant' agent profile (llm_api_key, tts_key): put the real keys here",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"tts_key": "set-me"}), generate_string_key="llm_api_key",
                exclude_punctuation=True,
            ),
        )  # fmt: skip
        acknowledge(
            self.profile_secret,
            "AwsSolutions-SMG4",
            "The values are API keys issued by the LLM and TTS vendors; Secrets Manager cannot rotate them (only "
            "the vendor can). Rotate at the vendor and put the new key here: agents read it at each start.",
        )
        profiles = settings.agents_profiles or {"assistant": {**DEFAULT_PROFILE, "secret": self.profile_secret_name}}
        certificate = secretsmanager.Secret.from_secret_name_v2(
            self, "AppCertificate", settings.app_certificate_secret_name
        )
        env = {
            "AGENTS_TABLE": self.table.table_name,
            "AGENTS_HISTORY_BUCKET": bucket.bucket_name,
            "AGENTS_PROFILES": json.dumps(profiles, separators=(",", ":"), sort_keys=True),
            "AGENTS_GROUP": settings.agents_group,
            "AGENTS_MAX_RUNNING": str(settings.agents_max_running),
            "GROUPS_CLAIM": settings.groups_claim,
            "ADMIN_GROUP": settings.admin_group,
            "APP_CERTIFICATE_SECRET_NAME": settings.app_certificate_secret_name,
        }
        if settings.agents_min_duration_seconds is not None:  # scaled down by the workflow tests only
            env["AGENTS_MIN_SECONDS"] = str(settings.agents_min_duration_seconds)
        profile_secrets = sorted({str(p["secret"]) for p in profiles.values() if p.get("secret")})
        readable = [
            secretsmanager.Secret.from_secret_name_v2(self, f"ProfileSecret{n}", name)
            for n, name in enumerate(profile_secrets)
        ]

        def grant_all(fn: lambda_.Function) -> None:
            agora.grant(fn)
            self._grant_table(fn, TABLE_ACTIONS)
            grant_secret_value(fn, certificate)
            for secret in readable:
                grant_secret_value(fn, secret)
            self._grant_history(fn)

        common = {"service_name": "agents", "memory_size": 512, "environment": env}
        self.lifecycle_function = functions.create(
            self, "LifecycleFunction", handler="service.agents.tasks_handler.lifecycle",
            description="Agents: one lifecycle step (renew the bot token, or end the agent at its maximum)",
            timeout=Duration.seconds(60), **common,
        )  # fmt: skip
        grant_all(self.lifecycle_function)
        self.reconciler_function = functions.create(
            self, "AgentsReconcilerFunction", handler="service.agents.tasks_handler.reconcile",
            description="Agents: Agora's list against the AgentsTable (ends ours Agora dropped, stops orphans)",
            timeout=Duration.seconds(120), **common,
        )  # fmt: skip
        grant_all(self.reconciler_function)
        self.reconciler_schedule = events.Rule(
            self, "ReconcilerSchedule", description="Run the agents reconciler",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(self.reconciler_function, retry_attempts=0)],  # type: ignore[list-item]
        )  # fmt: skip
        self.state_machine = self._lifecycle_workflow(settings)
        env["AGENTS_STATE_MACHINE_ARN"] = self.state_machine.state_machine_arn
        self.function = functions.create(
            self, "AgentsFunction", handler="service.agents.api_handler.handler",
            description="/agents: Agora Conversational AI agents from named profiles (admins or the agents group)",
            timeout=Duration.seconds(29), **common,
        )  # fmt: skip
        grant_all(self.function)
        self.state_machine.grant_start_execution(self.function)
        self.routes = [route for path, methods in ROUTES for route in api.add_route(path, list(methods), self.function)]

    def _lifecycle_workflow(self, settings: StackSettings) -> sfn.StateMachine:
        """Lifecycle step -> ``done``? end : Wait until ``waitUntil`` -> step again. One execution per agent
        (named by its id), started by ``POST /agents``: its bot token renewed until the hard maximum ends it."""
        step = tasks.LambdaInvoke(
            self, "LifecycleStep", lambda_function=self.lifecycle_function,
            payload=sfn.TaskInput.from_object({"agentId.$": "$.agentId"}),
            payload_response_only=True, retry_on_service_exceptions=False,
        )  # fmt: skip
        step.add_retry(errors=LAMBDA_SERVICE_ERRORS, interval=Duration.seconds(1), max_attempts=3, backoff_rate=2,
                       jitter_strategy=sfn.JitterType.FULL)  # fmt: skip
        step.add_retry(errors=["States.ALL"], interval=Duration.seconds(30), max_attempts=6, backoff_rate=2)
        wait = sfn.Wait(self, "WaitUntilNextWake", time=sfn.WaitTime.timestamp_path("$.waitUntil"))
        done = sfn.Choice(self, "AgentEnded?").when(
            sfn.Condition.boolean_equals("$.done", True), sfn.Succeed(self, "Ended")
        )
        definition = step.next(done.otherwise(wait.next(step)))
        return task_loop_machine(
            self, "LifecycleWorkflow", definition=definition, function=self.lifecycle_function,
            role="the lifecycle function",
            comment="One agent: renew its bot token before it expires, end it at its hard maximum",
            log_retention_days=settings.log_retention_days, logs_id="LifecycleLogs",
        )  # fmt: skip

    def grant_events(self, processor: lambda_.Function) -> None:
        """The webhook processor applies NCS product 17 to the table (history from event 103 included)."""
        processor.add_environment("AGENTS_TABLE", self.table.table_name)
        processor.add_environment("AGENTS_HISTORY_BUCKET", self._bucket.bucket_name)
        self._grant_table(processor, EVENT_ACTIONS)
        self._grant_history(processor)

    def _grant_history(self, fn: lambda_.Function) -> None:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self._bucket.arn_for_objects(f"{HISTORY_PREFIX}*")]
            )
        )
        bucket_id = Stack.of(self).get_logical_id(self._bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            fn.role or fn,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/agents/*]",
            "PutObject of conversation histories only: their keys (agents/<channel>/<agent id>/history.json) are "
            "made at run time, so the resource is the agents/ prefix; nothing is read, listed or deleted.",
        )

    def _grant_table(self, fn: lambda_.Function, actions: tuple[str, ...]) -> None:
        self.table.grant(fn, *actions)
        table_id = Stack.of(self).get_logical_id(self.table.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            fn.role or fn,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            "Query on the AgentsTable's own GSIs (byChannel, byKind); the wildcard is this table's index "
            "namespace only.",
        )
