"""Entry point of the reconciler function (``service.recordings.reconciler_handler.handler``), run on a
schedule: completes recordings whose recorder exited without a webhook,
and repairs recordings whose workflow ended without finishing them.

``create_app(settings, deps)`` binds the settings and dependencies; ``handler`` builds the default one from
the environment on its first call, once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agorakit.agora.ratelimit import Lane, lane
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp
from service.observability import make_tracer, metric_sink
from service.recordings import deps as deps_module
from service.recordings.reconcile import ALL_ROWS, RemainingMs, Shard, reconcile
from service.recordings.settings import RecordingSettings

logger = Logger()
metrics = Metrics()
tracer = make_tracer()


_metric = metric_sink(metrics)


@dataclass(frozen=True)
class Reconciler:
    settings: RecordingSettings
    deps: deps_module.RecordingDependencies

    def __call__(self, remaining_ms: RemainingMs | None = None, shard: Shard = ALL_ROWS) -> dict[str, int]:
        """``remaining_ms``: the invocation's time left (the Lambda context's); None runs until every row is checked.
        ``shard``: this invocation's part of the rows (one scheduled target per shard)."""
        with lane(Lane.RECONCILE):  # the limiter's lowest lane: the reconciler yields to every other Agora call
            counts = reconcile(settings=self.settings, deps=self.deps, remaining_ms=remaining_ms, shard=shard)
        logger.info("reconciled", extra={**counts, "shard": shard.index, "shards": shard.count})
        return counts


def shard_of(event: dict[str, Any]) -> Shard:
    """``{"shard": i, "shards": n}`` of a scheduled target's input; the schedule's own event (no such keys) is
    every row. Anything else raises: a misconfigured target must fail loudly, not check the wrong rows."""
    if "shard" not in event and "shards" not in event:
        return ALL_ROWS
    index, count = event.get("shard"), event.get("shards")
    if not isinstance(index, int) or not isinstance(count, int) or isinstance(index, bool) or isinstance(count, bool):
        raise ValueError(f"the reconciler's input needs integer shard and shards, got {index!r} and {count!r}")
    return Shard(index, count)


def create_app(settings: RecordingSettings, deps: deps_module.RecordingDependencies) -> Reconciler:
    return Reconciler(settings, deps)


def _from_env() -> Reconciler:
    settings = RecordingSettings.from_env()
    return create_app(settings, deps_module.build(settings, metric=_metric))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return default_app()(context.get_remaining_time_in_millis, shard_of(event))
