"""Agora NCS webhooks: the inbox (DynamoDB, stream + TTL + PITR), the public intake route, the stream
processor with partial-batch failures and a DLQ, and the RTC presence table.

Durable first, fast always: the intake makes one conditional PutItem and answers; everything else
happens from the inbox's stream. Least privilege: the intake can only PutItem on the inbox and read
the NCS secret; the processor reads the stream, updates/queries presence, and (when the recording
capability is composed) gets exactly what ``apply_recording_event`` needs through ``grant_events``.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.agora_access import AgoraAccess
from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory
from infra.grants import grant_secret_value
from infra.nag import acknowledge
from infra.retention import data_removal_policy
from infra.settings import StackSettings

WEBHOOK_PATH = "/webhooks/agora"
PUBLIC_REASON = (
    "Agora's NCS cannot send a JWT; every request is verified by HMAC-SHA256 over the raw body before "
    "anything is stored"
)
TTL_ATTRIBUTE = "expiresAt"
INTAKE_TABLE_ACTIONS = ("dynamodb:PutItem",)
PRESENCE_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:Query")
#: stream batches: a failed record is retried this many times (with bisection) before the batch goes to the DLQ
RETRY_ATTEMPTS = 5
BATCH_SIZE = 100
MAX_BODY_BYTES = 256 * 1024


class RecordingEvents(Protocol):
    """What the recording capability offers the webhook processor (``Recording.grant_events``)."""

    def grant_events(self, fn: lambda_.Function) -> None: ...


class Webhooks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: FunctionFactory,
        recording: RecordingEvents | None = None,
    ):
        super().__init__(scope, construct_id)
        pitr = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)
        self.inbox = dynamodb.TableV2(
            self,
            "InboxTable",
            partition_key=dynamodb.Attribute(name="noticeId", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=pitr,
            # the inbox is the record of what Agora told us: keep it if the stack goes
            removal_policy=data_removal_policy(settings),
            deletion_protection=not settings.dev,
        )
        self.presence = dynamodb.TableV2(
            self,
            "PresenceTable",
            partition_key=dynamodb.Attribute(name="channel", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="uid", type=dynamodb.AttributeType.STRING),
            # the events publisher reads every change (infra/constructs/events.py)
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=pitr,
            # derived from the inbox (replayable): nothing to keep
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.ncs_secret = secretsmanager.Secret.from_secret_name_v2(self, "NcsSecret", settings.ncs_secret_name)

        # -- intake -----------------------------------------------------------------------------
        self.intake = functions.create(
            self,
            "IntakeFunction",
            handler="service.webhooks.intake.handler",
            description="POST /webhooks/agora: verify NCS signatures, store each event once in the inbox",
            service_name="webhooks",
            memory_size=512,  # more CPU for the cold start; Agora's 10 s includes it
            timeout=Duration.seconds(8),
            # a burst of notices cannot take the account's concurrency from the workflow (NCS retries a throttled
            # notice): 50 at ~100 ms a request serve ~500 notices/s (intakeConcurrency, docs/configuration.md)
            reserved_concurrent_executions=settings.intake_concurrency,
            environment={
                "INBOX_TABLE": self.inbox.table_name,
                "NCS_SECRET_NAME": settings.ncs_secret_name,
                "NCS_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
                "XRAY_SDK": "false",
            },
        )
        self.inbox.grant(self.intake, *INTAKE_TABLE_ACTIONS)
        grant_secret_value(self.intake, self.ncs_secret)
        self.routes = api.add_route(WEBHOOK_PATH, [apigw.HttpMethod.POST], self.intake, public_reason=PUBLIC_REASON)

        # -- processor --------------------------------------------------------------------------
        self.dlq = sqs.Queue(
            self,
            "ProcessorDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the on-failure destination (DLQ) of the inbox stream's event source mapping; "
            "it holds failed-batch descriptors for inspection and replay from the inbox, and nothing consumes it.",
        )
        self.processor = functions.create(
            self,
            "ProcessorFunction",
            handler="service.webhooks.processor.handler",
            description="Inbox stream -> dispatch NCS events (presence, recording events)",
            service_name="webhooks",
            memory_size=256,
            timeout=Duration.seconds(60),
            environment={"PRESENCE_TABLE": self.presence.table_name},
        )
        self.presence.grant(self.processor, *PRESENCE_ACTIONS)
        self.processor.add_event_source(
            sources.DynamoEventSource(
                self.inbox,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_SIZE,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=RETRY_ATTEMPTS,
                max_record_age=Duration.days(1),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.dlq),
                filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})],
            )
        )
        if recording is not None:
            recording.grant_events(self.processor)

    def enable_abnormal_leave_action(self, settings: StackSettings, agora: AgoraAccess) -> None:
        """Leave reason 999 -> a one-time kick: only then does the processor get Agora access."""
        if settings.abnormal_leave_action == "none":
            return
        self.processor.add_environment("ABNORMAL_LEAVE_ACTION", settings.abnormal_leave_action)
        agora.grant(self.processor)
