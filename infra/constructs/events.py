"""Events for apps: the stack's EventBridge bus (``<stack>-events``), the publisher fed by the tables'
streams, the archive, and one rule + target + DLQ per subscriber (``-c eventTargets``).

- The publisher reads the DynamoDB streams (NEW_AND_OLD_IMAGES) of the recordings, media, presence,
  kicking-rules, agents and transcriptions tables: every event is computed after its state change is durable,
  and nothing is added to a request's hot path. Stream retries: bisect on error, ``ReportBatchItemFailures``,
  an SQS DLQ.
- Only the publisher (and the projects function, for ``Certificate Rotated``) may put events
  (``events:PutEvents`` on this bus only), and the bus's resource policy denies PutEvents to every other
  principal.
- The archive keeps every event for ``eventArchiveDays`` (0: forever) for replay (docs/events.md).
- Subscribers: SQS queue, Lambda function or HTTPS endpoint (an API destination with a connection whose API
  key is in Secrets Manager); each has EventBridge's retry policy (exponential backoff with jitter up to 24 h,
  185 attempts) and its own DLQ; failed invocations and DLQ depth are alarmed and on the dashboard.
"""

from __future__ import annotations

import re

from aws_cdk import Duration, SecretValue
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory
from infra.nag import acknowledge
from infra.outputs import output
from infra.settings import EventTarget, StackSettings

#: every source the publisher uses starts with this (service.events.model)
SOURCE_PREFIX = "agora-serverless."
#: stream batches: a failing record is retried (bisecting) this many times, then its range goes to the DLQ
RETRY_ATTEMPTS = 10
BATCH_SIZE = 100
#: EventBridge's retry policy for targets: its maximum (exponential backoff with jitter, for a day)
TARGET_RETRY_ATTEMPTS = 185
TARGET_MAX_EVENT_AGE = Duration.hours(24)
#: the publisher's oldest stream record waiting longer than this (ms) for 3 periods: events are late
ITERATOR_AGE_MS = 120_000
FIVE_MINUTES = Duration.minutes(5)


class Events(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        functions: FunctionFactory,
        recordings: dynamodb.ITableV2,
        media: dynamodb.ITableV2,
        presence: dynamodb.ITableV2,
        kicking_rules: dynamodb.ITableV2,
        agents: dynamodb.ITableV2,
        transcriptions: dynamodb.ITableV2,
        direct_publishers: tuple[lambda_.Function, ...] = (),
    ):
        """``direct_publishers``: functions that send an event themselves after a durable write that has no
        stream (the projects function: ``Certificate Rotated`` after the secret's new version is written)."""
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        self.widgets: list[cloudwatch.IWidget] = []
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{settings.stack_name}-events")
        self.archive = self.bus.archive(
            "Archive",
            description="Every event of this stack's bus, for replay (docs/events.md)",
            event_pattern=events.EventPattern(source=events.Match.prefix(SOURCE_PREFIX)),
            retention=Duration.days(settings.event_archive_days) if settings.event_archive_days else None,
        )

        # -- publisher ----------------------------------------------------------------------------
        self.dlq = sqs.Queue(
            self, "PublisherDlq", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14),
        )  # fmt: skip
        acknowledge(
            self.dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the on-failure destination of the publisher's stream mappings: it holds the "
            "failed ranges' descriptors (shard, sequence numbers) for inspection and replay, nothing consumes it.",
        )
        self.publisher = functions.create(
            self,
            "PublisherFunction",
            handler="service.events.publisher.handler",
            description="Table streams -> events on the stack's bus (each fact once its state is durable)",
            service_name="events",
            memory_size=256,
            timeout=Duration.seconds(60),
            environment={
                "EVENT_BUS_NAME": self.bus.event_bus_name,
                "RECORDINGS_TABLE": recordings.table_name,
                "MEDIA_TABLE": media.table_name,
                "PRESENCE_TABLE": presence.table_name,
                "KICKING_RULES_TABLE": kicking_rules.table_name,
                "AGENTS_TABLE": agents.table_name,
                "TRANSCRIPTIONS_TABLE": transcriptions.table_name,
            },
        )
        # media events name their recording: the sid -> recording id lookup on the bySid index
        self.publisher.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[f"{recordings.table_arn}/index/bySid"])
        )
        for fn in (self.publisher, *direct_publishers):
            fn.add_to_role_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.bus.event_bus_arn]))
        for fn in direct_publishers:
            fn.add_environment("EVENT_BUS_NAME", self.bus.event_bus_name)
        for table in (recordings, media, presence, kicking_rules, agents, transcriptions):
            self.publisher.add_event_source(
                sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                    batch_size=BATCH_SIZE,
                    max_batching_window=Duration.seconds(1),
                    bisect_batch_on_error=True,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_record_age=Duration.days(1),
                    report_batch_item_failures=True,
                    on_failure=sources.SqsDlq(self.dlq),
                )
            )
        roles = [fn.role.role_arn for fn in (self.publisher, *direct_publishers) if fn.role is not None]
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThisStackPublishes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": roles}},
            )
        )
        self._publisher_alarms(settings)
        for target in settings.event_targets:
            self._subscribe(target)
        output(self, "EventBusName", self.bus.event_bus_name, "EventBridge bus with every recording and channel event")
        output(
            self, "EventArchiveName", self.archive.archive_name, "Archive of the events bus (replay: docs/events.md)"
        )

    # -- alarms -------------------------------------------------------------------------------------
    def _alarm(self, alarm_id: str, metric: cloudwatch.IMetric, threshold: float, description: str,
               periods: int = 1) -> cloudwatch.Alarm:  # fmt: skip
        alarm = cloudwatch.Alarm(
            self, alarm_id, alarm_description=description, metric=metric, threshold=threshold,
            evaluation_periods=periods, datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )  # fmt: skip
        self.alarms.append(alarm)
        return alarm

    def _publisher_alarms(self, settings: StackSettings) -> None:
        age = self.publisher.metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum")
        dead = self.dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)
        self._alarm(
            "EventsIteratorAge", age, ITERATOR_AGE_MS,
            "Events are late: a table stream's oldest record waited over 2 minutes for the publisher, 15 minutes "
            "long", periods=3,
        )  # fmt: skip
        self._alarm(
            "EventsPublisherDeadLetters", dead, 1,
            "Stream records the publisher could not publish after its retries (their events were never sent)",
        )  # fmt: skip
        self.widgets.append(
            cloudwatch.GraphWidget(
                title="Events: publisher errors and iterator age",
                width=12,
                left=[self.publisher.metric_errors(period=FIVE_MINUTES, statistic="Sum")],
                right=[age],
            )
        )
        published = cloudwatch.Metric(
            namespace="AgoraServerless", metric_name="EventsPublished", dimensions_map={"service": "events"},
            statistic="Sum", period=FIVE_MINUTES,
        )  # fmt: skip
        self.widgets.append(
            cloudwatch.GraphWidget(
                title="Events: published, publisher DLQ",
                width=12,
                left=[published],
                right=[dead],
            )
        )

    # -- subscribers ----------------------------------------------------------------------------------
    def _subscribe(self, target: EventTarget) -> None:
        name = target.name or _name_of(target)
        dlq = sqs.Queue(
            self, f"{name}Dlq", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14),
        )  # fmt: skip
        acknowledge(
            dlq,
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter queue of the {name} event target: it holds events EventBridge "
            "could not deliver after its retries, for inspection and resending; nothing consumes it.",
        )
        pattern = events.EventPattern(
            source=events.Match.prefix(SOURCE_PREFIX), detail_type=target.detail_types or None
        )
        rule = events.Rule(
            self, f"{name}Rule", event_bus=self.bus, event_pattern=pattern,
            description=f"Events of this stack -> {target.type} subscriber {name}",
        )  # fmt: skip
        common = {
            "dead_letter_queue": dlq,
            "retry_attempts": TARGET_RETRY_ATTEMPTS,
            "max_event_age": TARGET_MAX_EVENT_AGE,
        }
        if target.type == "sqs":
            assert target.arn is not None
            queue = sqs.Queue.from_queue_arn(self, f"{name}Queue", target.arn)
            rule.add_target(targets.SqsQueue(queue, **common))  # type: ignore[arg-type]
        elif target.type == "lambda":
            assert target.arn is not None
            # same account and region (documented): CDK then adds the permission for this rule to invoke it
            fn = lambda_.Function.from_function_attributes(
                self, f"{name}Function", function_arn=target.arn, same_environment=True
            )
            rule.add_target(targets.LambdaFunction(fn, **common))  # type: ignore[arg-type]
        else:
            assert target.url is not None and target.api_key_secret_name is not None
            connection = events.Connection(
                self, f"{name}Connection",
                description=f"API key of the {name} HTTPS subscriber (kept in Secrets Manager)",
                authorization=events.Authorization.api_key(
                    target.api_key_header, SecretValue.secrets_manager(target.api_key_secret_name)
                ),
            )  # fmt: skip
            destination = events.ApiDestination(
                self, f"{name}Destination", connection=connection, endpoint=target.url,
                http_method=events.HttpMethod.POST, rate_limit_per_second=target.rate_per_second,
                description=f"HTTPS subscriber {name} of the events bus",
            )  # fmt: skip
            rule.add_target(targets.ApiDestination(destination, **common))  # type: ignore[arg-type]
        failed = cloudwatch.Metric(
            namespace="AWS/Events", metric_name="FailedInvocations", dimensions_map={"RuleName": rule.rule_name},
            statistic="Sum", period=FIVE_MINUTES,
        )  # fmt: skip
        depth = dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)
        self._alarm(
            f"EventTarget{name}FailedInvocations", failed, 1,
            f"EventBridge failed to invoke the {name} subscriber (it retries; then the event goes to its DLQ)",
        )  # fmt: skip
        self._alarm(
            f"EventTarget{name}DeadLetters", depth, 1,
            f"Events the {name} subscriber never received: inspect its DLQ and resend, or replay the archive",
        )  # fmt: skip
        self.widgets.append(
            cloudwatch.GraphWidget(
                title=f"Event target {name}: failed invocations, DLQ depth", width=12, left=[failed], right=[depth]
            )
        )


def _name_of(target: EventTarget) -> str:
    """A construct-id-safe name from the target (``-c`` names are optional): ``function:on-recording`` ->
    ``LambdaOnRecording``."""
    text = target.arn or target.url or target.type
    tail = text.rsplit(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1]
    words = "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", tail) if word)[:30]
    return f"{target.type.capitalize()}{words or 'Target'}"
