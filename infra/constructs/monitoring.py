"""Monitoring owns the alarm topic, the alarms that span capabilities, and the operators' dashboard.

- The topic (KMS-encrypted, TLS only; ``alarmEmail`` subscribes to it) hears every alarm of the stack:
  capability constructs create alarms next to what they watch and pass them here.
- Alarms for each failure signal: Lambda errors and throttles (per function), API 5xx and latency,
  the webhook stream's iterator age, dead-letter queues, Step Functions throttling, Agora 429s and the
  rate limiter running out of slots (both from log metric filters: the Agora client logs each 429 and
  Lambda logs the unhandled ``AgoraRateLimitedError``), the limiter's waits growing long, webhook
  processing lagging behind Agora and stream records failing. Every alarm has a fixed name
  ``<stack>-<AlarmId>`` and a runbook line in docs/operations.md (a test checks both).
- One dashboard: requests, errors and latency per route; recordings requested, started, stopped,
  failed, reconciled, ended by stop reason, active, and executions; webhook intake outcomes, processing
  outcomes and lag; kicking rules; media durations extracted; Agora requests, limiter waits, 429s and
  limiter exhaustion; cost-driving counts.

The business metrics come from the functions' EMF (``service.observability.metric_sink``), namespace
``AgoraServerless``, dimension ``service``; a test checks that every name read here is one the code emits.

Over 400 lines on purpose: the alarms and the dashboard read the same metrics; one module keeps their names,
statistics and thresholds side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.function_factory import METRICS_NAMESPACE
from infra.outputs import output

#: tables one DynamoDB throttle alarm watches: CloudWatch allows 10 metrics an alarm, the SUM expression is one
TABLES_PER_ALARM = 9
FIVE_MINUTES = Duration.minutes(5)
#: API: more than this many 5xx answers in 5 minutes
API_5XX_THRESHOLD = 5
#: API: p99 latency above this for 3 consecutive 5-minute periods (HTTP API gives up at 30 s)
API_P99_LATENCY_MS = 10_000
#: webhook stream: the oldest record waiting longer than this (ms) for 3 periods (Agora events go stale)
ITERATOR_AGE_MS = 300_000
#: Agora answers 429 this often in 5 minutes: the project's QPS quota is too low for the load
AGORA_429_THRESHOLD = 20
AGORA_429_METRIC = "Agora429"
LIMITER_EXHAUSTED_METRIC = "AgoraLimiterExhausted"
#: the limiter's wait before each Agora request (EMF, ms) and the requests it counts
LIMITER_WAIT_METRIC = "AgoraLimiterWaitMs"
AGORA_REQUESTS_METRIC = "AgoraRequests"
#: the functions' ``service`` dimension for each function that calls Agora REST (the processor only for 999 kicks)
AGORA_REST_SERVICES = ("recordings", "channels", "webhooks")
#: p90 of the limiter's wait above this for 3 periods: callers queue for Agora slots (INTERACTIVE gives up at 5 s)
LIMITER_WAIT_P90_MS = 2_000
#: p90 of (processing - Agora's notifyMs) above this for 3 periods: presence and recordings learn events late
PROCESSING_LAG_P90_MS = 120_000
#: stream records that raised (and will be delivered again) in each of 3 periods: a persistent processing fault
NOTICES_FAILED_THRESHOLD = 1
#: ``StopReason`` of ``RecordingsEnded`` (service.recordings.logic.ENDED_REASONS; a test keeps them equal)
STOP_REASONS = ("api", "recorder_exited", "reconciler", "max_duration", "failed", "other")
#: ``Reason`` of ``NoticesRejected`` (service.webhooks.telemetry.REJECTION_REASONS, plus "other")
#: Step Functions API calls whose throttling ``ThrottledEvents`` counts (``APIName``): starts (API) and callbacks
#: (webhook processor, reconciler, API); ``ExecutionThrottled`` counts state transitions only
SFN_THROTTLED_APIS = ("StartExecution", "SendTaskSuccess")
#: the media queue keeps messages 4 days; a backlog this old (s) means the consumer is failing or capped too low
MEDIA_QUEUE_AGE_SECONDS = 3_600
#: the reconciler's longest run above this share of its timeout: it is about to stop covering every recording
RECONCILER_DURATION_SHARE = 0.8
#: an active recording the reconciler has not checked for this long (s, three of its 5-minute runs): a lost exit
#: event can keep a channel locked that long; a run covers what its time budget allows, oldest-checked first
RECONCILER_COVERAGE_SECONDS = 900
#: per-function alarms that cannot fire or do not mean something, and what watches instead
NOT_ALARMED = {
    # Step Functions retries a step that raised (an Agora 429 at scale): a failed execution is the failure
    # (RecordingFailedAlarm, ExecutionsFailedAlarm); the errors stay on the dashboard
    "TaskFunctionErrors": "failed executions",
    # reserved concurrency 1 with a 4-minute timeout and a 5-minute schedule: runs never overlap, so it never
    # throttles; a run near its timeout is the signal (ReconcilerNearTimeout)
    "ReconcilerFunctionThrottles": "ReconcilerNearTimeout",
}
REJECTION_REASONS = (
    "unauthorized", "bad_request", "payload_too_large", "notice_too_large", "unavailable", "internal_error", "other"
)  # fmt: skip


@dataclass(frozen=True)
class Watched:
    """What the stack gives Monitoring to watch."""

    functions: dict[str, lambda_.Function]
    log_groups: dict[str, logs.ILogGroup]
    #: functions that call Agora (their logs carry the client's 429 warnings)
    agora_callers: tuple[str, ...]
    http_api: apigw.HttpApi
    route_keys: tuple[tuple[str, str], ...]
    state_machine: sfn.StateMachine
    stream_consumer: lambda_.Function
    dead_letter_queues: dict[str, sqs.IQueue]
    tables: dict[str, dynamodb.ITableV2]
    queues: dict[str, sqs.IQueue]


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        watched: Watched,
        alarms: list[cloudwatch.Alarm],
        alarm_email: str | None = None,
        account_concurrency_alarm: int = 800,
    ):
        super().__init__(scope, construct_id)
        self.watched = watched
        self.account_concurrency_alarm = account_concurrency_alarm
        self.topic = self._topic(alarm_email)
        self.alarms: dict[str, cloudwatch.Alarm] = {alarm.node.id: alarm for alarm in alarms}
        self._agora_metrics()
        self._failure_alarms()
        self._scale_alarms()
        stack_name = Stack.of(self).stack_name
        action = actions.SnsAction(self.topic)
        for alarm_id, alarm in self.alarms.items():
            alarm.add_alarm_action(action)
            cfn = alarm.node.default_child
            assert isinstance(cfn, cloudwatch.CfnAlarm)
            cfn.alarm_name = f"{stack_name}-{alarm_id}"
        self.dashboard = self._dashboard(stack_name)
        output(self, "AlarmTopicArn", self.topic.topic_arn, "SNS topic every alarm notifies (subscribe on-call here)")
        output(self, "DashboardName", self.dashboard.dashboard_name, "CloudWatch dashboard of the whole service")

    # -- topic --------------------------------------------------------------------------------
    def _topic(self, alarm_email: str | None) -> sns.Topic:
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the alarm topic; CloudWatch alarms may use it to publish",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True, display_name="agora-serverless alarms")
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        return topic

    # -- alarms -------------------------------------------------------------------------------
    def _alarm(self, alarm_id: str, metric: cloudwatch.IMetric, threshold: float, description: str, *,
               periods: int = 1) -> None:  # fmt: skip
        self.alarms[alarm_id] = cloudwatch.Alarm(
            self,
            alarm_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _agora_metrics(self) -> None:
        """Log metric filters: a 429 logged by the Agora client, an unhandled limiter exhaustion."""
        for name in self.watched.agora_callers:
            group = self.watched.log_groups[name]
            logs.MetricFilter(
                self, f"{name}Agora429Filter", log_group=group, metric_namespace=METRICS_NAMESPACE,
                metric_name=AGORA_429_METRIC, filter_pattern=logs.FilterPattern.all_terms("agora", "HTTP 429"),
                metric_value="1", default_value=0,
            )  # fmt: skip
            logs.MetricFilter(
                self, f"{name}LimiterFilter", log_group=group, metric_namespace=METRICS_NAMESPACE,
                metric_name=LIMITER_EXHAUSTED_METRIC,
                filter_pattern=logs.FilterPattern.all_terms("Agora rate limiter"),
                metric_value="1", default_value=0,
            )  # fmt: skip

    def _failure_alarms(self) -> None:
        w = self.watched
        for name, fn in w.functions.items():
            if f"{name}Errors" not in NOT_ALARMED:
                self._alarm(
                    f"{name}Errors", fn.metric_errors(period=FIVE_MINUTES, statistic="Sum"), 1,
                    f"{name} raised errors (its log group shows the exception and the request id)",
                )  # fmt: skip
            if f"{name}Throttles" not in NOT_ALARMED:
                self._alarm(
                    f"{name}Throttles", fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"), 1,
                    f"{name} was throttled: account or reserved concurrency exhausted",
                )  # fmt: skip
        self._alarm(
            "Api5xx", w.http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"), API_5XX_THRESHOLD,
            f"The HTTP API answered 5xx at least {API_5XX_THRESHOLD} times in 5 minutes",
        )  # fmt: skip
        self._alarm(
            "ApiLatency", w.http_api.metric_latency(period=FIVE_MINUTES, statistic="p99"), API_P99_LATENCY_MS,
            f"The HTTP API's p99 latency stayed above {API_P99_LATENCY_MS} ms for 15 minutes", periods=3,
        )  # fmt: skip
        self._alarm(
            "WebhookIteratorAge",
            w.stream_consumer.metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum"),
            ITERATOR_AGE_MS,
            "Webhook processing lags: the inbox stream's oldest record waited over 5 minutes for 15 minutes",
            periods=3,
        )
        for name, queue in w.dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters", queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES), 1,
                f"{name}: messages reached the dead-letter queue (inspect and redrive them)",
            )  # fmt: skip
        self._alarm(
            "WorkflowThrottled",
            w.state_machine.metric("ExecutionThrottled", period=FIVE_MINUTES, statistic="Sum"),
            1,
            "Step Functions throttled state transitions of recording executions (StartExecution and "
            "SendTaskSuccess throttling: WorkflowStartThrottled, WorkflowCallbackThrottled)",
        )
        self._alarm(
            "Agora429s", self._agora_metric(AGORA_429_METRIC), AGORA_429_THRESHOLD,
            f"Agora answered HTTP 429 at least {AGORA_429_THRESHOLD} times in 5 minutes: raise the QPS quota "
            "or lower agoraQps",
        )  # fmt: skip
        self._alarm(
            "AgoraLimiterExhausted", self._agora_metric(LIMITER_EXHAUSTED_METRIC), 1,
            "A call found no rate-limiter slot within its maximum wait (agoraQps too low for the load)",
        )  # fmt: skip
        self._alarm(
            "AgoraLimiterWaitHigh", self._limiter_wait_p90(), LIMITER_WAIT_P90_MS,
            f"The rate limiter's p90 wait before Agora requests stayed above {LIMITER_WAIT_P90_MS} ms for 15 "
            "minutes (any function): agoraQps is too low for the load",
            periods=3,
        )  # fmt: skip
        self._alarm(
            "WebhookProcessingLag",
            self._service_metric("webhooks", "NoticeProcessingLagMs", statistic="p90"),
            PROCESSING_LAG_P90_MS,
            f"The p90 of (processing time - Agora's notifyMs) stayed above {PROCESSING_LAG_P90_MS} ms for 15 "
            "minutes: presence and recording events are applied late",
            periods=3,
        )
        self._alarm(
            "WebhookNoticesFailed",
            self._service_metric("webhooks", "NoticesFailed"),
            NOTICES_FAILED_THRESHOLD,
            "Inbox stream records raised in the processor in each of 3 periods of 5 minutes (they are retried, "
            "then go to the DLQ); the function itself reports no error",
            periods=3,
        )

    def _scale_alarms(self) -> None:
        """Limits that bind at thousands of recordings: Step Functions API buckets, DynamoDB partitions, the media
        queue's backlog, the account's Lambda concurrency, the reconciler's time budget."""
        w = self.watched
        for api, alarm_id, who in (
            ("StartExecution", "WorkflowStartThrottled", "recording starts (POST /recordings)"),
            ("SendTaskSuccess", "WorkflowCallbackThrottled", "callbacks that end a recording's wait"),
        ):
            self._alarm(
                alarm_id, self._sfn_throttled(api), 1,
                f"Step Functions throttled {api} ({who}): its token bucket is empty; ask AWS to raise the {api} "
                "quota (docs/scale.md)",
            )  # fmt: skip
        names = list(w.tables)
        # an alarm takes at most 10 metrics, its expression included: 9 tables an alarm, the next 9 in a second
        groups = [names[i : i + TABLES_PER_ALARM] for i in range(0, len(names), TABLES_PER_ALARM)]
        for kind in ("Read", "Write"):
            for number, group in enumerate(groups, start=1):
                using = {f"t{i}": self._table_throttles(kind, name) for i, name in enumerate(group)}
                self._alarm(
                    f"DynamoDb{kind}Throttled" + ("" if number == 1 else str(number)),
                    cloudwatch.MathExpression(
                        expression="SUM([" + ", ".join(f"FILL({k}, 0)" for k in using) + "])",
                        using_metrics=using, label=f"{kind.lower()} throttle events ({', '.join(group)})",
                        period=FIVE_MINUTES,
                    ),
                    1,
                    f"DynamoDB throttled {kind.lower()}s of a table (or one of its indexes): a hot partition (1,000 "
                    "WCU / 3,000 RCU) or traffic above twice the previous peak; the dashboard shows which table",
                )  # fmt: skip
        for name, queue in w.queues.items():
            self._alarm(
                f"{name}OldestMessage",
                queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                MEDIA_QUEUE_AGE_SECONDS,
                f"{name}: a message has waited over {MEDIA_QUEUE_AGE_SECONDS} s (messages expire after 4 days): "
                "the consumer fails, is throttled or mediaMaxConcurrency is too low",
            )  # fmt: skip
        self._alarm(
            "AccountConcurrencyHigh", self._account_concurrency(), self.account_concurrency_alarm,
            f"The account's Lambda ConcurrentExecutions reached {self.account_concurrency_alarm} "
            "(accountConcurrencyAlarm): every function of the region shares the quota, throttles follow",
        )  # fmt: skip
        reconciler = w.functions.get("ReconcilerFunction")
        if reconciler is not None:
            self._alarm(
                "ReconcilerCoverageStale", self._reconciler_coverage(), RECONCILER_COVERAGE_SECONDS,
                f"An active recording has not been checked by the reconciler for {RECONCILER_COVERAGE_SECONDS} s "
                "(ReconcilerOldestCheckAgeSeconds): its runs cover fewer rows than there are; a lost exit event "
                "keeps a channel locked until its row's turn",
            )  # fmt: skip
        if reconciler is not None and reconciler.timeout is not None:
            limit_ms = int(reconciler.timeout.to_milliseconds() * RECONCILER_DURATION_SHARE)
            self._alarm(
                "ReconcilerNearTimeout",
                reconciler.metric_duration(period=FIVE_MINUTES, statistic="Maximum"),
                limit_ms,
                f"A reconciler run took over {limit_ms} ms ({RECONCILER_DURATION_SHARE:.0%} of its timeout): "
                "past the timeout it stops before checking every active recording and cleaning up channel locks",
            )  # fmt: skip

    def _reconciler_coverage(self) -> cloudwatch.Metric:
        return self._service_metric(
            "recordings", "ReconcilerOldestCheckAgeSeconds", "oldest check (s)", statistic="Maximum"
        )

    @staticmethod
    def _sfn_throttled(api: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/States", metric_name="ThrottledEvents", dimensions_map={"APIName": api},
            statistic="Sum", period=FIVE_MINUTES, label=f"{api} throttled",
        )  # fmt: skip

    def _table_throttles(self, kind: str, name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/DynamoDB", metric_name=f"{kind}ThrottleEvents",
            dimensions_map={"TableName": self.watched.tables[name].table_name},
            statistic="Sum", period=FIVE_MINUTES, label=f"{name} {kind.lower()}s",
        )  # fmt: skip

    @staticmethod
    def _account_concurrency() -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Lambda", metric_name="ConcurrentExecutions", statistic="Maximum", period=FIVE_MINUTES,
            label="account concurrent executions",
        )  # fmt: skip

    def _scale_rows(self) -> list[list[cloudwatch.IWidget]]:
        """The limits the scale alarms watch, next to what they protect."""
        w = self.watched
        width = 12
        functions = {n: f for n, f in w.functions.items() if n in ("IntakeFunction", "MediaFunction", "TaskFunction")}
        reconciler = w.functions.get("ReconcilerFunction")
        task = w.functions.get("TaskFunction")
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.GraphWidget(
                    title="Step Functions throttling: API buckets and state transitions",
                    width=width,
                    left=[self._sfn_throttled(api) for api in SFN_THROTTLED_APIS],
                    right=[
                        w.state_machine.metric(
                            "ExecutionThrottled", period=FIVE_MINUTES, statistic="Sum", label="transitions throttled"
                        )
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="DynamoDB throttle events per table",
                    width=width,
                    left=[self._table_throttles(kind, name) for name in w.tables for kind in ("Read", "Write")],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Lambda concurrency: account (alarm line) and capped functions",
                    width=width,
                    left=[self._account_concurrency()],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=self.account_concurrency_alarm, label="alarm")
                    ],
                    right=[
                        fn.metric("ConcurrentExecutions", period=FIVE_MINUTES, statistic="Maximum", label=name)
                        for name, fn in functions.items()
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Media queue: oldest message (s) and backlog",
                    width=width,
                    left=[
                        q.metric_approximate_age_of_oldest_message(
                            period=FIVE_MINUTES, statistic="Maximum", label=f"{name} oldest (s)"
                        )
                        for name, q in w.queues.items()
                    ],
                    right=[
                        q.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, label=f"{name} visible")
                        for name, q in w.queues.items()
                    ],
                ),
            ],
        ]
        last: list[cloudwatch.IWidget] = []
        if task is not None:
            last.append(
                cloudwatch.GraphWidget(
                    title="Task function errors (retried steps) vs failed executions",
                    width=width,
                    left=[task.metric_errors(period=FIVE_MINUTES, label="task errors (retried by Step Functions)")],
                    right=[w.state_machine.metric_failed(period=FIVE_MINUTES, label="executions failed")],
                )
            )
        if reconciler is not None and reconciler.timeout is not None:
            last.append(
                cloudwatch.GraphWidget(
                    title="Reconciler run duration (ms) vs its timeout",
                    width=width,
                    left=[reconciler.metric_duration(period=FIVE_MINUTES, statistic="Maximum", label="longest run")],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=reconciler.timeout.to_milliseconds(), label="timeout")
                    ],
                )
            )
        if last:
            rows.append(last)
        if reconciler is not None:
            rows.append([
                cloudwatch.GraphWidget(
                    title="Reconciler coverage: oldest check of an active recording (s)",
                    width=width,
                    left=[self._reconciler_coverage()],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(value=RECONCILER_COVERAGE_SECONDS, label="alarm")
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Active recordings the reconciler found",
                    width=width,
                    # each reconciler shard counts its own rows, once per 5 minutes: their Sum is the total
                    left=[self._service_metric("recordings", "RecordingsActive", "active", statistic="Sum")],
                ),
            ])  # fmt: skip
        rows.append([
            cloudwatch.GraphWidget(
                title="Admission: recordings queued past Agora's task limit, admitted, steps held by the limiter",
                width=width * 2,
                left=[
                    self._service_metric("recordings", "RecordingQueued", "queued (POST /recordings answered 202)",
                                         statistic="Sum"),
                    self._service_metric("recordings", "RecordingsAdmitted", "admitted from the queue",
                                         statistic="Sum"),
                ],
                right=[
                    self._service_metric("recordings", "RecordingStepThrottled", "steps sent to a limiter Wait state",
                                         statistic="Sum"),
                ],
            ),
        ])  # fmt: skip
        return rows

    def _limiter_wait_p90(self) -> cloudwatch.MathExpression:
        """The worst p90 wait of the functions that call Agora REST (one alarm for every caller)."""
        using = {
            f"w{i}": self._service_metric(service, LIMITER_WAIT_METRIC, statistic="p90")
            for i, service in enumerate(AGORA_REST_SERVICES)
        }
        return cloudwatch.MathExpression(
            expression="MAX([" + ", ".join(f"FILL({k}, 0)" for k in using) + "])",
            using_metrics=using,
            label="limiter wait p90 (ms, worst caller)",
            period=FIVE_MINUTES,
        )

    @staticmethod
    def _agora_metric(name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace=METRICS_NAMESPACE, metric_name=name, statistic="Sum", period=FIVE_MINUTES)

    @staticmethod
    def _service_metric(
        service: str, name: str, label: str | None = None, *, statistic: str = "Sum", **dimensions: str
    ) -> cloudwatch.Metric:
        """A metric the functions publish (EMF, dimension ``service`` plus the metric's own)."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE, metric_name=name, dimensions_map={"service": service, **dimensions},
            statistic=statistic, period=FIVE_MINUTES, label=label or name,
        )  # fmt: skip

    # -- dashboard ----------------------------------------------------------------------------
    def _route_metric(self, method: str, path: str, name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway", metric_name=name, statistic=statistic, period=FIVE_MINUTES,
            dimensions_map={"ApiId": self.watched.http_api.api_id, "Stage": "$default", "Method": method,
                            "Resource": path},
            label=f"{method} {path}",
        )  # fmt: skip

    def _dashboard(self, stack_name: str) -> cloudwatch.Dashboard:
        w = self.watched
        routes = w.route_keys
        sm = w.state_machine
        rec, hooks = "recordings", "webhooks"
        width = 12
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.TextWidget(
                    markdown=f"# {stack_name}\nAlarms and runbook: docs/operations.md", width=24, height=2
                )
            ],
            [
                cloudwatch.GraphWidget(
                    title="Requests per route",
                    width=width,
                    left=[self._route_metric(m, p, "Count", "Sum") for m, p in routes],
                ),
                cloudwatch.GraphWidget(
                    title="5xx per route", width=width, left=[self._route_metric(m, p, "5xx", "Sum") for m, p in routes]
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="4xx per route", width=width, left=[self._route_metric(m, p, "4xx", "Sum") for m, p in routes]
                ),
                cloudwatch.GraphWidget(
                    title="p99 latency per route (ms)",
                    width=width,
                    left=[self._route_metric(m, p, "Latency", "p99") for m, p in routes],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Recordings",
                    width=width,
                    left=[
                        self._service_metric(rec, name)
                        for name in (
                            "RecordingRequested",
                            "RecordingStarted",
                            "RecordingStopped",
                            "RecordingFailed",
                            "RecordingsReconciled",
                        )
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Recording executions (active = started - ended)",
                    width=width,
                    left=[
                        sm.metric_started(period=FIVE_MINUTES),
                        sm.metric_succeeded(period=FIVE_MINUTES),
                        sm.metric_failed(period=FIVE_MINUTES),
                        sm.metric_timed_out(period=FIVE_MINUTES),
                        sm.metric_aborted(period=FIVE_MINUTES),
                    ],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Recordings ended by stop reason",
                    width=width,
                    left=[
                        self._service_metric(rec, "RecordingsEnded", reason, StopReason=reason)
                        for reason in STOP_REASONS
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Active recordings (the reconciler's count, every 5 minutes)",
                    width=width,
                    # the Sum of the reconciler shards' counts (one each per 5 minutes)
                    left=[self._service_metric(rec, "RecordingsActive", "active recordings", statistic="Sum")],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Webhook intake: notices by outcome",
                    width=width,
                    left=[
                        self._service_metric(hooks, "NoticesAccepted", "accepted"),
                        self._service_metric(hooks, "NoticesDuplicate", "duplicate (NCS retries)"),
                        self._service_metric(hooks, "IntakeErrors", "errors (500)"),
                        *(
                            self._service_metric(hooks, "NoticesRejected", f"rejected: {reason}", Reason=reason)
                            for reason in REJECTION_REASONS
                        ),
                    ],
                    right=[self._service_metric(hooks, "NoticeBytes", "body bytes (p99)", statistic="p99")],
                ),
                cloudwatch.GraphWidget(
                    title="Webhook processing: notices by outcome",
                    width=width,
                    left=[
                        self._service_metric(hooks, name)
                        for name in (
                            "NoticesApplied",
                            "NoticesStale",
                            "NoticesIgnored",
                            "NoticesInvalid",
                            "NoticesFailed",
                            "AbnormalLeaveKicks",
                        )
                    ],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Webhook processing lag (ms)",
                    width=width,
                    left=[
                        self._service_metric(hooks, "NoticeProcessingLagMs", f"since notifyMs ({stat})", statistic=stat)
                        for stat in ("p50", "p90", "Maximum")
                    ],
                    right=[
                        w.stream_consumer.metric(
                            "IteratorAge", period=FIVE_MINUTES, statistic="Maximum", label="stream iterator age"
                        )
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Agora requests and limiter waits",
                    width=width,
                    left=[
                        self._service_metric(service, AGORA_REQUESTS_METRIC, f"requests: {service}")
                        for service in AGORA_REST_SERVICES
                    ],
                    right=[
                        self._service_metric(service, LIMITER_WAIT_METRIC, f"wait p90 (ms): {service}", statistic="p90")
                        for service in AGORA_REST_SERVICES
                    ],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Kicking rules",
                    width=8,
                    left=[
                        self._service_metric("channels", "KickingRulesCreated", f"created: {scope}", Scope=scope)
                        for scope in ("channel", "app")
                    ]
                    + [
                        self._service_metric("channels", name, label)
                        for name, label in (("KickingRulesUpdated", "updated"), ("KickingRulesDeleted", "deleted"))
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Webhook intake and processing",
                    width=8,
                    left=[
                        w.functions["IntakeFunction"].metric_invocations(period=FIVE_MINUTES, label="intake requests"),
                        w.functions["IntakeFunction"].metric_errors(period=FIVE_MINUTES, label="intake errors"),
                        w.stream_consumer.metric_invocations(period=FIVE_MINUTES, label="processor batches"),
                    ],
                    right=[
                        w.stream_consumer.metric(
                            "IteratorAge", period=FIVE_MINUTES, statistic="Maximum", label="processing lag (ms)"
                        )
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Media durations extracted",
                    width=8,
                    left=[
                        self._service_metric("media", name)
                        for name in ("PlaylistsProcessed", "PlaylistErrors", "ObjectsGone", "StaleEvents")
                    ],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Agora 429s and limiter exhaustion",
                    width=width,
                    left=[self._agora_metric(AGORA_429_METRIC), self._agora_metric(LIMITER_EXHAUSTED_METRIC)],
                ),
                cloudwatch.GraphWidget(
                    title="Dead letters",
                    width=width,
                    left=[
                        q.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, label=name)
                        for name, q in w.dead_letter_queues.items()
                    ],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Cost drivers: Lambda invocations",
                    width=width,
                    left=[
                        fn.metric_invocations(period=Duration.hours(1), label=name) for name, fn in w.functions.items()
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Cost drivers: Lambda duration (ms, sum)",
                    width=width,
                    left=[
                        fn.metric_duration(period=Duration.hours(1), statistic="Sum", label=name)
                        for name, fn in w.functions.items()
                    ],
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Cost drivers: DynamoDB write units",
                    width=width,
                    left=[
                        table.metric_consumed_write_capacity_units(period=Duration.hours(1), label=name)
                        for name, table in w.tables.items()
                    ],
                ),
                cloudwatch.GraphWidget(
                    title="Cost drivers: SQS messages, state machine executions",
                    width=width,
                    left=[
                        q.metric_number_of_messages_sent(period=Duration.hours(1), label=name)
                        for name, q in w.queues.items()
                    ],
                    right=[sm.metric_started(period=Duration.hours(1), label="executions")],
                ),
            ],
            *self._scale_rows(),
            [
                cloudwatch.AlarmStatusWidget(title="Alarms", width=24, alarms=list(self.alarms.values())),
            ],
        ]
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{stack_name}-operations", default_interval=Duration.hours(3)
        )
        for row in rows:
            dashboard.add_widgets(*row)
        return dashboard
