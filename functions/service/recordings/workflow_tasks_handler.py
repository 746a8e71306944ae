"""Entry point of the workflow task function (``service.recordings.workflow_tasks_handler.handler``): the
step of ``service.recordings.workflow`` named by ``event["action"]``.

Step Functions matches Retry/Catch on the class name of what this raises (``AgoraRateLimitedError``,
``AgoraResourceExpiredError``, ...), so Agora's errors are re-raised unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.observability import make_tracer, metric_sink
from service.recordings import deps as deps_module
from service.recordings import workflow
from service.recordings.settings import RecordingSettings

logger = Logger()
metrics = Metrics()
tracer = make_tracer()
settings = RecordingSettings.from_env()


class UnknownStep(ValueError):
    """The state machine asked for a step this function does not have (a deployment mismatch)."""


_metric = metric_sink(metrics)


@cache
def dependencies() -> deps_module.RecordingDependencies:
    return deps_module.build(settings, metric=_metric)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action")
    step = workflow.STEPS.get(str(action))
    if step is None:
        raise UnknownStep(f"unknown workflow step {action!r}")
    recording_id = event.get("recordingId") or (event.get("state") or {}).get("recordingId")
    logger.append_keys(recording_id=recording_id, step=action)
    return step(event, settings=settings, deps=dependencies())
