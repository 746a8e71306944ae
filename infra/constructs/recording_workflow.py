"""The recording workflow: ONE Step Functions Standard definition (JSONPath, CDK chain API) used by the
deployed stack, the workflow tests and the local stack; its numbers come from ``RecordingTuning``.

    Init -> Acquire -> Start -> StartOutcome -> WaitForStop (task token) -> Stop -> Finalize -> Done
                ^         |            | unknown    ^ adopted              | States.Timeout -> Stop
                |         | 433/53     v            |                      v
                |         v       ResolveStart -> ResolveOutcome      any other error -> RecordFailure -> Failed
                +- CanReacquire <- CountReacquire    ^    | pending        (which makes sure no recorder
                ^                                    |    v                 is left before it frees the channel)
                +------ CountRestart <- removed --  ResolveWait

A recording asked with a transcription passes StartTranscription on its way to WaitForStop (from StartOutcome, or
ResolveOutcome when the recorder was adopted): only a recording that records transcribes; Stop and RecordFailure
stop the transcription (``service.recordings.transcription``).

A start whose outcome is unknown (timeout, 5xx, 206/65, 201/7 without sid) never fails the recording and
never frees the channel: ResolveStart looks for the task (NCS sid + query, or the same start again) and
adopts it, or removes the recorder with a kicking rule and starts afresh (``service.recordings.resolve``).

Acquire, Start and Stop may return ``waitSeconds`` (our Agora limiter's next slot is more than a second away):
``<Step>Outcome -> <Step>Throttled -> <Step>LimiterWait (SecondsPath) -> <Step>`` again, so a burst waits in
Wait states, not in sleeping functions (``docs/recordings.md``); Agora's 406 has its own long Retry.

The wait is a callback (Lambda ``.waitForTaskToken``), so a recording costs the same number of state
transitions whether it lasts a minute or ten hours: there is no polling loop in the workflow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any

from agorakit.agora.errors import (
    AgoraCapacityError,
    AgoraConflictError,
    AgoraRateLimitedError,
    AgoraResourceExpiredError,
    AgoraServerError,
    AgoraUnavailableError,
)
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IConstruct
from service.recordings import logic

from infra.constructs.function_factory import METRICS_NAMESPACE
from infra.nag import acknowledge
from infra.settings import SettingsError

#: Agora errors worth repeating (AgoraClient's retryable errors): 429, 5xx / code 65, network
RETRYABLE_AGORA_ERRORS = [e.__name__ for e in (AgoraRateLimitedError, AgoraServerError, AgoraUnavailableError)]
#: Agora's concurrent-task limit (406 vendor_over_load): a long, bounded backoff of its own (a task must end first)
CAPACITY_ERRORS = [AgoraCapacityError.__name__]
#: start must acquire again: resource expired (433/1001, or too old to use) or uid taken (53)
REACQUIRE_ERRORS = [e.__name__ for e in (AgoraResourceExpiredError, AgoraConflictError)]
#: start's resource aged while the execution waited for our limiter: acquire again without counting a re-acquire
RENEW_ERRORS = ["ResourceAgedInLimiter"]  # service.recordings.workflow.ResourceAgedInLimiter
#: the Start step's outcome when Agora's answer did not say whether a recorder started
UNKNOWN_OUTCOME = logic.START_OUTCOME_UNKNOWN
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]
#: the metric the fail handler emits (Powertools, dimension service=recordings) and the alarm watches
FAILED_METRIC = "RecordingFailed"
SERVICE_NAME = "recordings"


#: Step Functions' limit on state machine names
MAX_STATE_MACHINE_NAME = 80
STATE_MACHINE_SUFFIX = "-Recording"


def state_machine_name(stack_name: str) -> str:
    """``<stack>-Recording``, within 80 characters: a long stack name is cut and keeps a hash of the whole
    name, so two long stack names that share a prefix still get two names."""
    name = f"{stack_name}{STATE_MACHINE_SUFFIX}"
    if len(name) <= MAX_STATE_MACHINE_NAME:
        return name
    digest = hashlib.sha256(stack_name.encode()).hexdigest()[:8]
    keep = MAX_STATE_MACHINE_NAME - len(STATE_MACHINE_SUFFIX) - len(digest) - 1
    return f"{stack_name[:keep]}-{digest}{STATE_MACHINE_SUFFIX}"


@dataclass(frozen=True)
class RecordingTuning:
    """Numbers of the workflow. Production uses the defaults; tests and the bench set small ones through
    CDK context (same definition shape, smaller numbers). Context key = ``recording`` + field in CamelCase."""

    retry_interval_seconds: int = 2
    retry_max_attempts: int = 6
    retry_max_delay_seconds: int = 60
    reacquire_limit: int = 3
    #: None: ``recording_max_hours`` of the stack settings
    max_duration_seconds: int | None = None
    resource_max_age_seconds: int = 240
    agora_max_attempts: int = 2
    ha_grace_seconds: int = 90
    #: how long ResolveStart looks for a task whose start outcome is unknown before removing the recorder
    resolve_seconds: int = 60
    resolve_poll_seconds: int = 5
    stale_seconds: int = 900
    #: the total a step chain may spend in limiter Wait states (``service.recordings.workflow.waits_in_the_workflow``)
    throttle_max_seconds: int = 1800
    #: 406 vendor_over_load: first wait, attempts and longest wait of its Retry (about 30 minutes in all)
    capacity_retry_interval_seconds: int = 15
    capacity_retry_max_attempts: int = 8
    capacity_retry_max_delay_seconds: int = 300

    @staticmethod
    def context_key(field_name: str) -> str:
        return "recording" + "".join(part.title() for part in field_name.split("_"))

    @classmethod
    def from_context(cls, scope: IConstruct) -> RecordingTuning:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = scope.node.try_get_context(cls.context_key(f.name))
            if raw is not None and raw != "":
                try:
                    values[f.name] = int(raw)
                except (TypeError, ValueError):
                    raise SettingsError(
                        f"{cls.context_key(f.name)}={raw!r} is not allowed: expected a whole number"
                    ) from None
        tuning = cls(**values)
        if tuning.retry_interval_seconds < 1 or tuning.retry_max_attempts < 0 or tuning.reacquire_limit < 0:
            raise SettingsError("recording retry interval must be >= 1 s and attempts/limits >= 0")
        if tuning.capacity_retry_interval_seconds < 1 or tuning.capacity_retry_max_attempts < 0:
            raise SettingsError("recordingCapacityRetryIntervalSeconds must be >= 1 and its attempts >= 0")
        if tuning.resolve_seconds < 0 or tuning.resolve_poll_seconds < 1:
            raise SettingsError("recordingResolveSeconds must be >= 0 and recordingResolvePollSeconds >= 1")
        if not 1 <= tuning.resource_max_age_seconds <= 300:
            raise SettingsError(
                "recordingResourceMaxAgeSeconds is not allowed: expected 1 to 300 (a resource ID lives 5 minutes)"
            )
        return tuning


class RecordingWorkflow(Construct):
    """The state machine, its log group and its alarms (routed to the alarm topic by ``Monitoring``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        task_function: lambda_.IFunction,
        tuning: RecordingTuning,
        max_duration_seconds: int,
        log_retention: logs.RetentionDays,
    ):
        super().__init__(scope, construct_id)
        self.tuning = tuning
        definition = self._definition(task_function, max_duration_seconds)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        # A fixed name: execution ARNs (and the reconciler's DescribeExecution grant) are then predictable.
        self.state_machine_name = state_machine_name(Stack.of(self).stack_name)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            comment="One cloud recording: acquire, start, wait for the stop (task token), stop, finalize",
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        acknowledge(
            self.state_machine,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions' log delivery (logs:CreateLogDelivery, ...) and X-Ray tracing actions support no "
            "resource-level permissions; AWS documents '*' as the only accepted resource for them.",
        )
        self.alarms = self._alarms()

    # -- definition ---------------------------------------------------------------------------
    def _task(
        self, name: str, fn: lambda_.IFunction, payload: dict[str, Any], *, result_path: str, agora: bool
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=fn,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
        )
        task.add_retry(
            errors=LAMBDA_SERVICE_ERRORS, interval=Duration.seconds(1), max_attempts=3, backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )  # fmt: skip
        if agora:
            task.add_retry(
                errors=RETRYABLE_AGORA_ERRORS,
                interval=Duration.seconds(self.tuning.retry_interval_seconds),
                max_attempts=self.tuning.retry_max_attempts,
                backoff_rate=2,
                max_delay=Duration.seconds(self.tuning.retry_max_delay_seconds),
                jitter_strategy=sfn.JitterType.FULL,
            )
            task.add_retry(
                errors=CAPACITY_ERRORS,
                interval=Duration.seconds(self.tuning.capacity_retry_interval_seconds),
                max_attempts=self.tuning.capacity_retry_max_attempts,
                backoff_rate=2,
                max_delay=Duration.seconds(self.tuning.capacity_retry_max_delay_seconds),
                jitter_strategy=sfn.JitterType.FULL,
            )
        return task

    def _throttle(self, name: str, result: str, step: sfn.IChainable) -> sfn.Pass:
        """``<name>Throttled`` (keep the step's new total) -> ``<name>LimiterWait`` (the seconds the limiter named)
        -> ``step`` again: the step found no Agora slot within a second and returned ``waitSeconds``."""
        keep = sfn.Pass(
            self, f"{name}Throttled", input_path=f"{result}.throttledSeconds", result_path="$.throttledSeconds",
            comment="The step's limiter waits so far (the task function bounds them)",
        )  # fmt: skip
        pause = sfn.Wait(
            self, f"{name}LimiterWait", time=sfn.WaitTime.seconds_path(f"{result}.waitSeconds"),
            comment="Until the shared limiter's next free slot: waiting costs a transition, not a sleeping Lambda",
        )  # fmt: skip
        keep.next(pause).next(step)
        return keep

    def _definition(self, fn: lambda_.IFunction, max_duration_seconds: int) -> sfn.IChainable:
        rid = {"recordingId.$": "$.recordingId"}
        whole = {"state.$": "$"}
        throttled = {"throttledSeconds.$": "$.throttledSeconds"}
        init = sfn.Pass(self, "Init", parameters={**rid, "reacquires": 0, "throttledSeconds": 0})
        acquire = self._task(
            "Acquire", fn, {"action": "acquire", **rid, "reacquires.$": "$.reacquires", **throttled},
            result_path="$.acquire", agora=True,
        )  # fmt: skip
        start = self._task(
            "Start", fn, {"action": "start", **rid, "reacquires.$": "$.reacquires", **throttled},
            result_path="$.start", agora=True,
        )  # fmt: skip
        resolve = self._task("ResolveStart", fn, {"action": "resolve", **rid}, result_path="$.resolve", agora=True)
        resolve_wait = sfn.Wait(
            self, "ResolveWait", time=sfn.WaitTime.seconds_path("$.resolve.waitSeconds"),
            comment="Until the next look for the task (NCS events may still name it)",
        )  # fmt: skip
        count_restart = sfn.Pass(
            self, "CountRestart",
            parameters={
                **rid, "reacquires.$": "States.MathAdd($.reacquires, 1)", **throttled,
                "error": {"Error": "RecorderRemoved", "Cause.$": "$.resolve.reason"},
            },
        )  # fmt: skip
        wait = tasks.LambdaInvoke(
            self,
            "WaitForStop",
            lambda_function=fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "action": "wait",
                    "recordingId": sfn.JsonPath.string_at("$.recordingId"),
                    "taskToken": sfn.JsonPath.task_token,
                }
            ),
            retry_on_service_exceptions=False,
            result_path="$.wait",
            task_timeout=sfn.Timeout.duration(Duration.seconds(max_duration_seconds)),
            comment="Completed by SendTaskSuccess (stop API, NCS session exit, reconciler) or the maximum duration",
        )
        wait.add_retry(
            errors=LAMBDA_SERVICE_ERRORS, interval=Duration.seconds(1), max_attempts=3, backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )  # fmt: skip
        # the transcription asked with the recording (service.recordings.transcription): started once it records; its
        # failure never fails the recording (the step records it; anything else is caught into the wait)
        transcribe = self._task(
            "StartTranscription", fn, {"action": "transcribe", **rid}, result_path="$.transcription", agora=False
        )
        transcribe.add_catch(wait, errors=["States.ALL"], result_path="$.transcriptionError")
        transcribe.next(wait)
        stop = self._task("Stop", fn, {"action": "stop", **whole}, result_path="$.stop", agora=True)
        finalize = self._task("Finalize", fn, {"action": "finalize", **whole}, result_path="$.result", agora=False)
        record_failure = self._task(
            "RecordFailure", fn, {"action": "fail", **whole}, result_path="$.failure", agora=False
        )
        failed = sfn.Fail(self, "Failed", error=FAILED_METRIC, cause_path="$.failure.cause")
        done = sfn.Succeed(self, "Done")
        count = sfn.Pass(
            self,
            "CountReacquire",
            parameters={**rid, "reacquires.$": "States.MathAdd($.reacquires, 1)", "error.$": "$.error", **throttled},
        )
        can_reacquire = (
            sfn.Choice(self, "CanReacquire")
            .when(sfn.Condition.number_less_than_equals("$.reacquires", self.tuning.reacquire_limit), acquire)
            .otherwise(record_failure)
        )
        acquire_outcome = (
            sfn.Choice(self, "AcquireOutcome")
            .when(sfn.Condition.is_present("$.acquire.waitSeconds"), self._throttle("Acquire", "$.acquire", acquire))
            .otherwise(start)
        )
        start_outcome = (
            sfn.Choice(self, "StartOutcome")
            .when(sfn.Condition.is_present("$.start.waitSeconds"), self._throttle("Start", "$.start", start))
            .when(sfn.Condition.string_equals("$.start.outcome", UNKNOWN_OUTCOME), resolve)
            .when(sfn.Condition.is_present("$.start.transcribe"), transcribe)
            .otherwise(wait)
        )
        resolve_outcome = (
            sfn.Choice(self, "ResolveOutcome")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.resolve.resolution", "adopted"),
                    sfn.Condition.is_present("$.resolve.transcribe"),
                ),
                transcribe,
            )
            .when(sfn.Condition.string_equals("$.resolve.resolution", "adopted"), wait)
            .when(sfn.Condition.string_equals("$.resolve.resolution", "pending"), resolve_wait)
            .otherwise(count_restart)
        )
        resolve_wait.next(resolve)
        resolve.next(resolve_outcome)
        resolve.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        count_restart.next(can_reacquire)
        acquire.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        renew = sfn.Pass(
            self, "RenewResource", parameters={**rid, "reacquires.$": "$.reacquires", **throttled},
            comment="The resource aged during limiter waits: a fresh one, not counted as a re-acquire",
        )  # fmt: skip
        renew.next(acquire)
        start.add_catch(renew, errors=RENEW_ERRORS, result_path="$.error")
        start.add_catch(count, errors=REACQUIRE_ERRORS, result_path="$.error")
        start.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        wait.add_catch(stop, errors=["States.Timeout"], result_path="$.timeout")
        wait.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        stop.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        finalize.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        count.next(can_reacquire)
        record_failure.next(failed)
        stop_outcome = (
            sfn.Choice(self, "StopOutcome")
            .when(sfn.Condition.is_present("$.stop.waitSeconds"), self._throttle("Stop", "$.stop", stop))
            .otherwise(finalize)
        )
        init.next(acquire).next(acquire_outcome)
        start.next(start_outcome)
        wait.next(stop).next(stop_outcome)
        finalize.next(done)
        return init

    # -- alarms (the Monitoring construct routes them to the alarm topic) -------------------------
    def _alarms(self) -> list[cloudwatch.Alarm]:
        failed_recordings = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=FAILED_METRIC,
            dimensions_map={"service": SERVICE_NAME},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        # One alarm per failure: a FAILED recording is counted by the fail handler's metric. An execution that
        # fails without that metric (the fail handler itself failed) is caught by ExecutionsFailedAlarm,
        # which watches executions failed *minus* recordings failed, so one failure never pages twice.
        self.failed_alarm = cloudwatch.Alarm(
            self,
            "RecordingFailedAlarm",
            alarm_description="A recording ended FAILED (see its errorCode/errorReason); Agora or storage trouble",
            metric=failed_recordings,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        unrecorded = cloudwatch.MathExpression(
            expression="FILL(executions, 0) - FILL(recorded, 0)",
            using_metrics={
                "executions": self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                "recorded": failed_recordings,
            },
            period=Duration.minutes(5),
            label="Failed executions the fail handler did not record",
        )
        self.executions_failed_alarm = cloudwatch.Alarm(
            self,
            "ExecutionsFailedAlarm",
            alarm_description=(
                "A recording workflow execution failed without the fail handler recording it (the handler "
                "itself failed): the recording row may still say active"
            ),
            metric=unrecorded,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return [self.failed_alarm, self.executions_failed_alarm]
