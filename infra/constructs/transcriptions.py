"""Live transcription (Agora Real-Time STT v7): the transcriptions function, the TranscriptionsTable and the
``/transcriptions*`` routes (JWT-authorized; the function itself requires the admin group). The webhook
processor gets the table (``grant_events``) to apply NCS product 20.

A reconciler function runs every 5 minutes (an EventBridge rule): Agora's list of STT agents against the table.

Least privilege: Agora access through ``AgoraAccess.grant`` (REST secret + rate-limit table); the table with
exactly the calls the repository makes; the App Certificate (the bot's token) and the uploader's keys (Agora
writes transcripts and captions into the recordings bucket with them) read-only.
"""

from __future__ import annotations

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
from infra.constructs.media import RECORDINGS_PREFIX, TRANSCRIPTS_PREFIX
from infra.constructs.recording_workflow import LAMBDA_SERVICE_ERRORS
from infra.grants import grant_secret_value
from infra.nag import acknowledge
from infra.retention import data_removal_policy
from infra.settings import StackSettings
from infra.task_loop import task_loop_machine

#: the repository's calls (service.transcriptions.repository): Get/Query reads, the conditional Update/Put/Delete
#: writes, the create transaction (record + channel lock)
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
#: the reconciler (TranscriptionService.reconcile): byKind Query of the live ones, GetItem, the conditional moves
#: UpdateItem and the channel lock's DeleteItem at an end; it never creates, joins nor signs a token
RECONCILER_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
#: NCS product 20 (service.transcriptions.usecases.apply_notice): the agent pointer and record reads, the
#: conditional moves, the channel lock released at the end
EVENT_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
ROUTES: tuple[tuple[str, tuple[apigw.HttpMethod, ...]], ...] = (
    ("/transcriptions", (apigw.HttpMethod.GET, apigw.HttpMethod.POST)),
    ("/transcriptions/{id}", (apigw.HttpMethod.GET, apigw.HttpMethod.PATCH, apigw.HttpMethod.DELETE)),
)


class Transcriptions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: FunctionFactory,
        agora: AgoraAccess,
        bucket: s3.IBucket | None = None,
        uploader_secret: secretsmanager.ISecret | None = None,
    ):
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "TranscriptionsTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="byKind",
                    partition_key=dynamodb.Attribute(name="kind", type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="createdAt", type=dynamodb.AttributeType.NUMBER),
                ),
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="byChannel",
                    partition_key=dynamodb.Attribute(name="channel", type=dynamodb.AttributeType.STRING),
                    sort_key=dynamodb.Attribute(name="createdAt", type=dynamodb.AttributeType.NUMBER),
                ),
            ],
            billing=dynamodb.Billing.on_demand(),
            # the events publisher reads it (infra/constructs/events.py, service/events/transcriptions.py)
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=data_removal_policy(settings),
            deletion_protection=not settings.dev,
        )
        certificate = secretsmanager.Secret.from_secret_name_v2(
            self, "AppCertificate", settings.app_certificate_secret_name
        )
        env = {
            "TRANSCRIPTIONS_TABLE": self.table.table_name,
            "GROUPS_CLAIM": settings.groups_claim,
            "ADMIN_GROUP": settings.admin_group,
            "APP_CERTIFICATE_SECRET_NAME": settings.app_certificate_secret_name,
        }
        if bucket is not None and uploader_secret is not None:
            env["RECORDINGS_BUCKET"] = bucket.bucket_name
            env["RECORDINGS_BUCKET_REGION"] = Stack.of(self).region
            env["RECORDING_UPLOADER_SECRET_NAME"] = uploader_secret.secret_name
        # the restart's timing (scaled down in tests: the workflow then restarts within seconds) and the running cap:
        # StackSettings (CDK context transcriptionLifetimeSeconds, transcriptionRestartMarginSeconds,
        # transcriptionsMaxRunning), validated there
        env["TRANSCRIPTION_LIFETIME_SECONDS"] = str(settings.transcription_lifetime_seconds)
        env["TRANSCRIPTION_RESTART_MARGIN_SECONDS"] = str(settings.transcription_restart_margin_seconds)
        env["TRANSCRIPTIONS_MAX_RUNNING"] = str(settings.transcriptions_max_running)
        # -- the 72-hour restart: Step Functions waits (a Wait state), the task joins the next agent ----------
        self.restart_function = functions.create(
            self, "RestartFunction", handler="service.transcriptions.workflow_handler.handler",
            description="Transcriptions: join the next Real-Time STT agent before Agora's 72-hour end",
            service_name="transcriptions", memory_size=512, timeout=Duration.seconds(60), environment=env,
        )  # fmt: skip
        agora.grant(self.restart_function)
        self._grant_table(self.restart_function, TABLE_ACTIONS)
        grant_secret_value(self.restart_function, certificate)
        if uploader_secret is not None:
            grant_secret_value(self.restart_function, uploader_secret)
        self.state_machine = self._restart_workflow(settings)
        # -- the reconciler: Agora's list of live agents against the table, every 5 minutes -------------------
        self.reconciler_function = functions.create(
            self, "TranscriptionsReconcilerFunction", handler="service.transcriptions.reconciler_handler.handler",
            description="Transcriptions: Agora's STT agents against the table (ends ours Agora dropped, stops orphans)",
            service_name="transcriptions", memory_size=512, timeout=Duration.seconds(120), environment=dict(env),
        )  # fmt: skip
        agora.grant(self.reconciler_function)
        self._grant_table(self.reconciler_function, RECONCILER_TABLE_ACTIONS)
        self.reconciler_schedule = events.Rule(
            self, "ReconcilerSchedule", description="Run the transcriptions reconciler",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(self.reconciler_function, retry_attempts=0)],  # type: ignore[list-item]
        )  # fmt: skip
        env["TRANSCRIPTION_STATE_MACHINE_ARN"] = self.state_machine.state_machine_arn
        self.function = functions.create(
            self,
            "TranscriptionsFunction",
            handler="service.transcriptions.handler.handler",
            description="/transcriptions: Agora Real-Time STT v7 agents, captions and translation (admins)",
            service_name="transcriptions",
            memory_size=512,
            timeout=Duration.seconds(29),
            environment=env,
        )
        agora.grant(self.function)
        self._grant_table(self.function, TABLE_ACTIONS)
        grant_secret_value(self.function, certificate)
        if uploader_secret is not None:
            grant_secret_value(self.function, uploader_secret)
        self.state_machine.grant_start_execution(self.function)
        self.routes = [route for path, methods in ROUTES for route in api.add_route(path, list(methods), self.function)]
        if bucket is not None:
            self._captions(api, bucket)

    def _captions(self, api: Api, bucket: s3.IBucket) -> None:
        """GET /transcriptions/{id}/captions lists the transcription's folder (its recording's, or its own under
        transcripts/) and presigns GetObject URLs (a presigned URL carries the signer's permissions)."""
        self.routes += api.add_route("/transcriptions/{id}/captions", [apigw.HttpMethod.GET], self.function)
        prefixes = [f"{RECORDINGS_PREFIX}*", f"{TRANSCRIPTS_PREFIX}*"]
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(p) for p in prefixes])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": prefixes}},
            )
        )  # fmt: skip
        assert self.function.role is not None
        bucket_id = Stack.of(self).resolve(bucket.bucket_arn)["Fn::GetAtt"][0]
        for prefix in prefixes:
            acknowledge(
                self.function.role,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}]",
                "Captions presign the WebVTT and transcript files Agora's STT agents wrote in the transcription's "
                "folder; their names (agent id, channel, language) are Agora's, so the ARN can only be the prefix.",
            )

    def _restart_workflow(self, settings: StackSettings) -> sfn.StateMachine:
        """Wait until ``restartAt`` -> restart step -> ``done``? end : wait again. One execution per transcription
        (named by its id), for its whole life: a 10-day event is four restarts in one execution."""
        wait = sfn.Wait(self, "WaitUntilRestart", time=sfn.WaitTime.timestamp_path("$.restartAt"))
        step = tasks.LambdaInvoke(
            self, "Restart", lambda_function=self.restart_function,
            payload=sfn.TaskInput.from_object({"transcriptionId.$": "$.transcriptionId"}),
            payload_response_only=True, retry_on_service_exceptions=False,
        )  # fmt: skip
        step.add_retry(errors=LAMBDA_SERVICE_ERRORS, interval=Duration.seconds(1), max_attempts=3, backoff_rate=2,
                       jitter_strategy=sfn.JitterType.FULL)  # fmt: skip
        step.add_retry(errors=["States.ALL"], interval=Duration.seconds(30), max_attempts=6, backoff_rate=2)
        done = sfn.Choice(self, "Ended?").when(sfn.Condition.boolean_equals("$.done", True), sfn.Succeed(self, "Ended"))
        definition = wait.next(step).next(done.otherwise(wait))
        return task_loop_machine(
            self, "RestartWorkflow", definition=definition, function=self.restart_function,
            role="the restart function",
            comment="One transcription: wait until 10 minutes before Agora's 72-hour end, join the next agent, repeat",
            log_retention_days=settings.log_retention_days, logs_id="RestartLogs",
        )  # fmt: skip

    def grant_recordings(
        self, task_function: lambda_.Function, reconciler: lambda_.Function, api_function: lambda_.Function
    ) -> None:
        """A recording asked with ``transcription``: its workflow tasks start and stop it through the transcriptions
        use cases (the repository's calls; Agora, the certificate and the uploader's keys they hold already), the
        reconciler stops it when it fails a recording whose execution ended (its fail handler), and the recordings
        API reads its state (GetItem)."""
        for fn in (task_function, reconciler, api_function):
            fn.add_environment("TRANSCRIPTIONS_TABLE", self.table.table_name)
        self._grant_table(task_function, TABLE_ACTIONS)
        self._grant_table(reconciler, TABLE_ACTIONS)
        # the record only (no index): GetItem on the table's ARN
        api_function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[self.table.table_arn])
        )

    def grant_events(self, processor: lambda_.Function) -> None:
        """The webhook processor applies NCS product 20 to the table."""
        processor.add_environment("TRANSCRIPTIONS_TABLE", self.table.table_name)
        self._grant_table(processor, EVENT_ACTIONS)

    def _grant_table(self, fn: lambda_.Function, actions: tuple[str, ...]) -> None:
        self.table.grant(fn, *actions)
        table_id = Stack.of(self).get_logical_id(self.table.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            fn.role or fn,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            "Query on the TranscriptionsTable's own GSIs (byKind, byChannel); the wildcard is this table's "
            "index namespace only.",
        )
