"""Entry point of the reconciler function (``service.recordings.reconciler_handler.handler``), run on a
schedule: completes recordings whose recorder exited without a webhook,
and repairs recordings whose workflow ended without finishing them."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.observability import make_tracer, metric_sink
from service.recordings import deps as deps_module
from service.recordings.reconcile import reconcile
from service.recordings.settings import RecordingSettings

logger = Logger()
metrics = Metrics()
tracer = make_tracer()
settings = RecordingSettings.from_env()


_metric = metric_sink(metrics)


@cache
def dependencies() -> deps_module.RecordingDependencies:
    return deps_module.build(settings, metric=_metric)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = reconcile(settings=settings, deps=dependencies())
    logger.info("reconciled", extra=counts)
    return counts
