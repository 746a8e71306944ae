"""The recording state machine (``infra/constructs/recording_workflow.py``) executed in virtual time.

The states, their Retry and Catch rules and their JSONPath results are those of the construct's definition; the
task states call our step functions (``service.recordings.workflow.STEPS``) inside a ``LambdaPool`` invocation,
as ``workflow_tasks_handler`` does. Retries use the construct's numbers (``RecordingTuning``'s defaults, kept equal
by ``tests/infra/test_scale_model.py``) with full jitter; every state entered and every retry is one billed
state transition. ``SimWorkflow`` is the ``WorkflowControl`` port over it, with the API buckets of Step Functions.

Admission's limiter waits are here as in the construct: a step that returns ``{"waitSeconds": n}`` goes through
``<Step>Throttled`` and ``<Step>LimiterWait`` and runs again; 406 (``AgoraCapacityError``) has its own Retry.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agorakit.agora.ratelimit import Lane, lane
from service.recordings.workflow import STEPS
from service.recordings.workflow_tasks_handler import STEP_LANES

from bench.scale.aws import Function, LambdaPool, LambdaThrottled, LambdaTimedOut, Loop, TokenBucket

#: ``recording_workflow.LAMBDA_SERVICE_ERRORS`` (interval 1 s, 3 attempts, backoff 2, full jitter)
LAMBDA_SERVICE_ERRORS = frozenset({
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException",
})  # fmt: skip
#: ``recording_workflow.RETRYABLE_AGORA_ERRORS`` and ``REACQUIRE_ERRORS``
RETRYABLE_AGORA_ERRORS = frozenset({"AgoraRateLimitedError", "AgoraServerError", "AgoraUnavailableError"})
#: ``recording_workflow.CAPACITY_ERRORS``: 406 vendor_over_load, its own long Retry
CAPACITY_ERRORS = frozenset({"AgoraCapacityError"})
REACQUIRE_ERRORS = frozenset({"AgoraResourceExpiredError", "AgoraConflictError"})


@dataclass(frozen=True)
class Retrier:
    errors: frozenset[str]
    interval: float
    max_attempts: int
    backoff: float = 2.0
    max_delay: float | None = None

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, interval * backoff ** attempt)]."""
        ceiling = self.interval * self.backoff**attempt
        if self.max_delay is not None:
            ceiling = min(ceiling, self.max_delay)
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Tuning:
    """``RecordingTuning``'s defaults (the deployed numbers)."""

    retry_interval_seconds: int = 2
    retry_max_attempts: int = 6
    retry_max_delay_seconds: int = 60
    reacquire_limit: int = 3
    capacity_retry_interval_seconds: int = 15
    capacity_retry_max_attempts: int = 8
    capacity_retry_max_delay_seconds: int = 300

    def lambda_retry(self) -> Retrier:
        return Retrier(LAMBDA_SERVICE_ERRORS, 1.0, 3)

    def agora_retry(self) -> Retrier:
        return Retrier(
            RETRYABLE_AGORA_ERRORS,
            float(self.retry_interval_seconds),
            self.retry_max_attempts,
            max_delay=float(self.retry_max_delay_seconds),
        )

    def capacity_retry(self) -> Retrier:
        return Retrier(
            CAPACITY_ERRORS,
            float(self.capacity_retry_interval_seconds),
            self.capacity_retry_max_attempts,
            max_delay=float(self.capacity_retry_max_delay_seconds),
        )


#: the task state's function (``infra/constructs/recording.py``: 512 MB, 60 s)
TASK_FUNCTION = Function("recording-tasks", memory_mb=512, timeout_s=60.0)
#: Step Functions' own latency between a state's end and the next task's invocation (modelled)
DISPATCH = 0.05


def error_name(exc: BaseException) -> str:
    """The error name Step Functions matches on: the Lambda's exception class, or Lambda's own error."""
    if isinstance(exc, LambdaThrottled):
        return "Lambda.TooManyRequestsException"
    if isinstance(exc, LambdaTimedOut):
        return "Sandbox.Timedout"
    return type(exc).__name__


@dataclass
class Execution:
    name: str
    recording_id: str
    state: dict[str, Any]
    status: str = "RUNNING"
    token: str | None = None
    transitions: int = 0
    history: list[str] = field(default_factory=list)


class StepFunctions:
    """Runs executions of the recording state machine on the simulation's event loop."""

    def __init__(
        self,
        *,
        clock: Loop,
        schedule: Callable[[float, Callable[[], None]], None],
        schedule_timer: Callable[[float, Callable[[], None]], None] | None = None,
        pool: LambdaPool,
        settings: Any,
        deps: Any,
        rng: random.Random,
        tuning: Tuning | None = None,
        max_duration_seconds: float,
        on_end: Callable[[Execution], None] | None = None,
    ):
        self.clock = clock
        self.schedule = schedule
        #: for timers that must not keep the run alive by themselves (the wait's maximum duration)
        self.schedule_timer = schedule_timer or schedule
        self.pool = pool
        self.settings = settings
        self.deps = deps
        self.rng = rng
        self.tuning = tuning or Tuning()
        self.max_duration = max_duration_seconds
        self.on_end = on_end
        self.executions: dict[str, Execution] = {}
        self.waiting: dict[str, Execution] = {}
        self.transitions = 0
        #: limiter waits spent in Wait states (the step returned ``waitSeconds``)
        self.limiter_waits = 0
        self.errors: Counter[str] = Counter()
        self._tokens = 0

    # -- bookkeeping ----------------------------------------------------------------------------
    def _enter(self, ex: Execution, state: str) -> None:
        ex.transitions += 1
        self.transitions += 1
        ex.history.append(state)

    def _later(self, seconds: float, fn: Callable[[], None]) -> None:
        self.schedule(self.clock.now + seconds, fn)

    def begin(self, name: str, recording_id: str) -> None:
        ex = Execution(name, recording_id, {"recordingId": recording_id, "reacquires": 0, "throttledSeconds": 0})
        self.executions[name] = ex
        self._later(DISPATCH, lambda: self._init(ex))

    def _end(self, ex: Execution, state: str, status: str) -> None:
        self._enter(ex, state)
        ex.status = status
        if self.on_end is not None:
            self.on_end(ex)

    # -- the states -----------------------------------------------------------------------------
    def _init(self, ex: Execution) -> None:
        self._enter(ex, "Init")
        ex.state = {"recordingId": ex.recording_id, "reacquires": 0, "throttledSeconds": 0}
        self._acquire(ex)

    def _throttled(self, ex: Execution) -> dict[str, Any]:
        return {"throttledSeconds": ex.state.get("throttledSeconds", 0)}

    def _acquire(self, ex: Execution) -> None:
        payload = {"action": "acquire", "recordingId": ex.recording_id, "reacquires": ex.state.get("reacquires", 0),
                   **self._throttled(ex)}  # fmt: skip
        self._task(ex, "Acquire", "acquire", payload, "acquire", agora=True,
                   catches=(), then=self._acquire_outcome)  # fmt: skip

    def _acquire_outcome(self, ex: Execution) -> None:
        self._enter(ex, "AcquireOutcome")
        if "waitSeconds" in (ex.state.get("acquire") or {}):
            self._limiter_wait(ex, "Acquire", "acquire", self._acquire)
        else:
            self._start(ex)

    def _limiter_wait(self, ex: Execution, name: str, result: str, again: Callable[[Execution], None]) -> None:
        """``<name>Throttled`` (keep the step's total) -> ``<name>LimiterWait`` (the seconds it named) -> the step."""
        self._enter(ex, f"{name}Throttled")
        ex.state["throttledSeconds"] = ex.state[result]["throttledSeconds"]
        self._enter(ex, f"{name}LimiterWait")
        self.limiter_waits += 1
        self._later(float(ex.state[result]["waitSeconds"]), lambda: again(ex))

    def _start(self, ex: Execution) -> None:
        payload = {"action": "start", "recordingId": ex.recording_id, "reacquires": ex.state.get("reacquires", 0),
                   **self._throttled(ex)}  # fmt: skip
        self._task(ex, "Start", "start", payload, "start", agora=True,
                   catches=((REACQUIRE_ERRORS, self._count_reacquire),), then=self._start_outcome)  # fmt: skip

    def _start_outcome(self, ex: Execution) -> None:
        self._enter(ex, "StartOutcome")
        start = ex.state.get("start") or {}
        if "waitSeconds" in start:
            self._limiter_wait(ex, "Start", "start", self._start)
        elif start.get("outcome") == "unknown":
            self._resolve(ex)
        else:
            self._wait(ex)

    def _resolve(self, ex: Execution) -> None:
        payload = {"action": "resolve", "recordingId": ex.recording_id}
        self._task(ex, "ResolveStart", "resolve", payload, "resolve", agora=True, catches=(),
                   then=self._resolve_outcome)  # fmt: skip

    def _resolve_outcome(self, ex: Execution) -> None:
        self._enter(ex, "ResolveOutcome")
        resolution = (ex.state.get("resolve") or {}).get("resolution")
        if resolution == "adopted":
            self._wait(ex)
        elif resolution == "pending":
            self._enter(ex, "ResolveWait")
            self._later(float(ex.state["resolve"].get("waitSeconds") or 5), lambda: self._resolve(ex))
        else:
            self._enter(ex, "CountRestart")
            ex.state = {
                "recordingId": ex.recording_id,
                "reacquires": int(ex.state.get("reacquires") or 0) + 1,
                **self._throttled(ex),
                "error": {"Error": "RecorderRemoved", "Cause": (ex.state.get("resolve") or {}).get("reason")},
            }
            self._can_reacquire(ex)

    def _count_reacquire(self, ex: Execution) -> None:
        self._enter(ex, "CountReacquire")
        ex.state = {
            "recordingId": ex.recording_id,
            "reacquires": int(ex.state.get("reacquires") or 0) + 1,
            **self._throttled(ex),
            "error": ex.state.get("error"),
        }
        self._can_reacquire(ex)

    def _can_reacquire(self, ex: Execution) -> None:
        self._enter(ex, "CanReacquire")
        if int(ex.state["reacquires"]) <= self.tuning.reacquire_limit:
            self._acquire(ex)
        else:
            self._record_failure(ex)

    def _wait(self, ex: Execution) -> None:
        """WaitForStop: the wait step parks the token; SendTaskSuccess (``complete``) or the timeout ends it."""
        self._tokens += 1
        token = f"token-{self._tokens:08d}-{ex.name}"
        ex.token = token
        self.waiting[token] = ex
        payload = {"action": "wait", "recordingId": ex.recording_id, "taskToken": token}
        self._enter(ex, "WaitForStop")
        self.schedule_timer(self.clock.now + self.max_duration, lambda: self._timeout(ex, token))
        retrier = self.tuning.lambda_retry()  # WaitForStop retries Lambda's own errors only
        tries = [0]

        def failed(_: Execution, error: str, cause: str) -> None:
            if ex.token != token:
                return  # the wait already ended (a stop completed it, or the timeout)
            if error in retrier.errors and tries[0] < retrier.max_attempts:
                delay = retrier.delay(tries[0], self.rng)
                tries[0] += 1
                ex.transitions += 1
                self.transitions += 1
                self._later(delay, lambda: self._invoke(ex, "wait", payload, then=lambda _: None, on_error=failed))
                return
            self.errors[f"WaitForStop:{error}"] += 1
            self.waiting.pop(token, None)
            ex.token = None
            ex.state["error"] = {"Error": error, "Cause": cause}
            self._record_failure(ex)

        self._invoke(ex, "wait", payload, then=lambda _: None, on_error=failed)

    def _timeout(self, ex: Execution, token: str) -> None:
        if ex.token != token:
            return
        self.waiting.pop(token, None)
        ex.token = None
        ex.state["timeout"] = {"Error": "States.Timeout", "Cause": "the maximum duration"}
        self._stop(ex)

    def complete(self, token: str, reason: str) -> bool:
        ex = self.waiting.pop(token, None)
        if ex is None or ex.token != token:
            return False
        ex.token = None
        ex.state["wait"] = {"reason": reason}
        self._later(DISPATCH, lambda: self._stop(ex))
        return True

    def _stop(self, ex: Execution) -> None:
        self._task(ex, "Stop", "stop", {"action": "stop", "state": dict(ex.state)}, "stop", agora=True,
                   catches=(), then=self._stop_outcome)  # fmt: skip

    def _stop_outcome(self, ex: Execution) -> None:
        self._enter(ex, "StopOutcome")
        if "waitSeconds" in (ex.state.get("stop") or {}):
            self._limiter_wait(ex, "Stop", "stop", self._stop)
        else:
            self._finalize(ex)

    def _finalize(self, ex: Execution) -> None:
        self._task(ex, "Finalize", "finalize", {"action": "finalize", "state": dict(ex.state)}, "result",
                   agora=False, catches=(), then=lambda e: self._end(e, "Done", "SUCCEEDED"))  # fmt: skip

    def _record_failure(self, ex: Execution) -> None:
        self._task(ex, "RecordFailure", "fail", {"action": "fail", "state": dict(ex.state)}, "failure",
                   agora=False, catches=(), then=lambda e: self._end(e, "Failed", "FAILED"),
                   final=True)  # fmt: skip

    # -- a task state: invoke, retry, catch -----------------------------------------------------
    def _task(
        self,
        ex: Execution,
        state: str,
        action: str,
        payload: Mapping[str, Any],
        result_path: str | None,
        *,
        agora: bool,
        catches: tuple[tuple[frozenset[str], Callable[[Execution], None]], ...],
        then: Callable[[Execution], None],
        final: bool = False,
    ) -> None:
        self._enter(ex, state)
        agora_retriers = [self.tuning.agora_retry(), self.tuning.capacity_retry()] if agora else []
        retriers = [self.tuning.lambda_retry(), *agora_retriers]
        attempts: Counter[int] = Counter()

        def done(result: dict[str, Any]) -> None:
            if result_path is not None:
                ex.state[result_path] = result
            then(ex)

        def failed(_: Execution, error: str, cause: str) -> None:
            for index, retrier in enumerate(retriers):
                if error in retrier.errors and attempts[index] < retrier.max_attempts:
                    delay = retrier.delay(attempts[index], self.rng)
                    attempts[index] += 1
                    ex.transitions += 1  # a retry is a billed transition
                    self.transitions += 1
                    self._later(delay, attempt)
                    return
            self.errors[f"{state}:{error}"] += 1
            if final:  # RecordFailure itself failed: the execution fails without the recording's FAILED write
                self._end(ex, "Failed", "FAILED")
                return
            ex.state["error"] = {"Error": error, "Cause": cause}
            for errors, target in catches:
                if error in errors:
                    target(ex)
                    return
            self._record_failure(ex)

        def attempt() -> None:
            self._invoke(ex, action, payload, then=done, on_error=failed)

        self._later(DISPATCH, attempt)

    def _invoke(
        self,
        ex: Execution,
        action: str,
        payload: Mapping[str, Any],
        *,
        then: Callable[[dict[str, Any]], None],
        on_error: Callable[[Execution, str, str], None],
    ) -> None:
        """The task function runs the step (as ``workflow_tasks_handler`` does); Step Functions hears the result
        when the invocation ends."""
        step = STEPS[action]

        def run() -> dict[str, Any]:
            # in the lane the deployed task function gives the step (workflow_tasks_handler.STEP_LANES)
            with lane(STEP_LANES.get(action, Lane.START)):
                return step(payload, settings=self.settings, deps=self.deps)

        self.pool.invoke(
            TASK_FUNCTION,
            run,
            done=then,
            failed=lambda exc: on_error(ex, error_name(exc), str(exc)[:300]),
        )


class WorkflowThrottled(Exception):
    """Step Functions answered ThrottlingException (the API's bucket is empty)."""


@dataclass
class SimWorkflow:
    """``WorkflowControl`` over ``StepFunctions``, with StartExecution, SendTaskSuccess and DescribeExecution
    buckets (us-east-1: 1,300 / 300 per s, 3,000 / 500, 300 / 15)."""

    engine: StepFunctions
    state_machine_arn: str
    start_bucket: TokenBucket
    send_bucket: TokenBucket
    describe_bucket: TokenBucket

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> None:
        if name in self.engine.executions:
            return
        if not self.start_bucket.take():
            raise WorkflowThrottled("ThrottlingException: StartExecution")
        self.engine.begin(name, str(payload["recordingId"]))

    def complete_wait(self, task_token: str, reason: str) -> bool:
        if not self.send_bucket.take():
            raise WorkflowThrottled("ThrottlingException: SendTaskSuccess")
        return self.engine.complete(task_token, reason)

    def execution_status(self, execution_arn: str) -> str:
        if not self.describe_bucket.take():
            raise WorkflowThrottled("ThrottlingException: DescribeExecution")
        ex = self.engine.executions.get(execution_arn.rsplit(":", 1)[-1])
        return ex.status if ex is not None else "MISSING"
