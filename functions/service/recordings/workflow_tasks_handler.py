"""Entry point of the workflow task function (``service.recordings.workflow_tasks_handler.handler``): the
step of ``service.recordings.workflow`` named by ``event["action"]``.

Step Functions matches Retry/Catch on the class name of what this raises (``AgoraRateLimitedError``,
``AgoraResourceExpiredError``, ...), so Agora's errors are re-raised unchanged.

``create_app(settings, deps)`` binds the settings and dependencies (tests pass fakes or moto-backed ones);
``handler`` builds the default one from the environment on its first call, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agorakit.agora.ratelimit import Lane, lane
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp
from service.observability import make_tracer, metric_sink
from service.recordings import deps as deps_module
from service.recordings import workflow
from service.recordings.settings import RecordingSettings

logger = Logger()
metrics = Metrics()
tracer = make_tracer()


class UnknownStep(ValueError):
    """The state machine asked for a step this function does not have (a deployment mismatch)."""


_metric = metric_sink(metrics)

#: the limiter lane of each step's Agora calls: stopping a recorder (it costs money while it runs) goes before
#: starting one; a step not named here (wait) makes no Agora call
STEP_LANES: dict[str, Lane] = {
    "acquire": Lane.START,
    "start": Lane.START,
    "resolve": Lane.START,
    "transcribe": Lane.START,
    "stop": Lane.STOP,
    "finalize": Lane.STOP,
    "fail": Lane.STOP,
}


@dataclass(frozen=True)
class WorkflowTasks:
    settings: RecordingSettings
    deps: deps_module.RecordingDependencies

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        action = event.get("action")
        step = workflow.STEPS.get(str(action))
        if step is None:
            raise UnknownStep(f"unknown workflow step {action!r}")
        recording_id = event.get("recordingId") or (event.get("state") or {}).get("recordingId")
        logger.append_keys(recording_id=recording_id, step=action)
        with lane(STEP_LANES.get(str(action), Lane.START)):
            return step(event, settings=self.settings, deps=self.deps)


def create_app(settings: RecordingSettings, deps: deps_module.RecordingDependencies) -> WorkflowTasks:
    return WorkflowTasks(settings, deps)


def _from_env() -> WorkflowTasks:
    settings = RecordingSettings.from_env()
    # STEP_BUDGET: a limiter slot more than a second away becomes a Wait state, not a sleeping function
    return create_app(settings, deps_module.build(settings, metric=_metric, budget=deps_module.STEP_BUDGET))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event)
