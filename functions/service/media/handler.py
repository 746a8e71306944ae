"""SQS (S3 ObjectCreated notifications of ``recordings/**.m3u8``, and the function's own delayed re-checks of
recordings found incomplete) -> exact durations and integrity in the MediaTable.

Thin: Powertools BatchProcessor with partial-batch failure reporting; each record goes to
``service.media.logic``. Only transient failures are raised (the queue redelivers, then dead-letters);
invalid messages and bad playlists are consumed, logged and counted.

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp
from service.media import logic
from service.media.integrity import Listing, Recheck, RecheckQueue
from service.media.settings import MediaSettings
from service.observability import make_tracer

logger = Logger()
metrics = Metrics()
tracer = make_tracer()
processor = BatchProcessor(event_type=EventType.SQS)

METRIC_BY_OUTCOME = {
    "stored": "PlaylistsProcessed",
    "error-recorded": "PlaylistErrors",
    "stale": "StaleEvents",
    "superseded": "SupersededEvents",
    "gone": "ObjectsGone",
    "ignored": "IgnoredEvents",
    "checked": "IntegrityChecks",
}
#: a re-check ran (``checked``) or found it was no longer the current one (``stale``)
RECHECK_METRICS = {"checked": "Rechecks", "stale": "StaleRechecks"}
INTEGRITY_METRICS = {"complete": "RecordingsComplete", "incomplete": "RecordingsIncomplete"}


@dataclass(frozen=True)
class MediaDependencies:
    store: logic.MediaStore
    objects: logic.ObjectSource
    listing: Listing | None = None
    #: where re-checks of incomplete recordings go (None: a check is never repeated)
    rechecks: RecheckQueue | None = None
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))


def build_dependencies(settings: MediaSettings) -> MediaDependencies:
    """The deployed adapters: the media table, the recordings bucket (S3 read in ``s3_chunk_size`` chunks) and
    the media queue (re-checks)."""
    from service.media.recheck_queue import SqsRecheckQueue
    from service.media.repository import MediaRepository, S3Objects

    objects = S3Objects(chunk_size=settings.s3_chunk_size)
    queue = SqsRecheckQueue(settings.media_queue_url) if settings.media_queue_url else None
    return MediaDependencies(
        store=MediaRepository(settings.media_table), objects=objects, listing=objects, rechecks=queue
    )


def _rechecks(deps: MediaDependencies, config: MediaSettings) -> logic.Rechecks | None:
    return None if deps.rechecks is None else logic.Rechecks(deps.rechecks, config.recheck_policy())


def process_record(
    record: SQSRecord,
    *,
    deps: MediaDependencies,
    config: MediaSettings,
    latest: dict[tuple[str, str], tuple[str, str]],
) -> list[logic.Result]:
    """All S3 records of one SQS message, or one re-check; raises (to be redelivered) on transient failures only."""
    recheck = Recheck.parse(record.body)
    if recheck is not None:
        return [_recheck(recheck, deps=deps, config=config)] if deps.listing is not None else []
    try:
        events = logic.parse_message(record.body)
    except logic.InvalidMessage as exc:
        metrics.add_metric(name="InvalidMessages", unit=MetricUnit.Count, value=1)
        logger.error(
            "not an S3 notification; message consumed", extra={"messageId": record.message_id, "reason": str(exc)}
        )
        return []
    results = []
    for event in events:
        result = logic.process_event(
            event, store=deps.store, objects=deps.objects, prefix=config.recordings_prefix, latest=latest,
            listing=deps.listing, rechecks=_rechecks(deps, config), now_ms=deps.now_ms(),
        )  # fmt: skip
        metrics.add_metric(name=METRIC_BY_OUTCOME[result.outcome], unit=MetricUnit.Count, value=1)
        _integrity_metrics(result)
        extra: dict[str, Any] = {"key": result.key, "sid": result.sid, "outcome": result.outcome}
        if result.outcome == "error-recorded":
            logger.warning("bad playlist recorded as an error", extra={**extra, "error": result.error})
        else:
            logger.info("playlist event", extra={**extra, "duration_us": result.duration_us})
        results.append(result)
    return results


def _recheck(recheck: Recheck, *, deps: MediaDependencies, config: MediaSettings) -> logic.Result:
    assert deps.listing is not None
    result = logic.run_recheck(
        recheck, store=deps.store, listing=deps.listing, rechecks=_rechecks(deps, config), now_ms=deps.now_ms()
    )
    metrics.add_metric(name=RECHECK_METRICS[result.outcome], unit=MetricUnit.Count, value=1)
    logger.info("integrity re-check", extra={"sid": recheck.sid, "attempt": recheck.attempt, "outcome": result.outcome})
    _integrity_metrics(result)
    return result


def _integrity_metrics(result: logic.Result) -> None:
    if result.integrity in INTEGRITY_METRICS:
        metrics.add_metric(name=INTEGRITY_METRICS[result.integrity], unit=MetricUnit.Count, value=1)
        log = logger.warning if result.integrity == "incomplete" else logger.info
        log("recording integrity checked", extra={"sid": result.sid, "integrity": result.integrity})


def process_batch(
    event: dict[str, Any], context: Any = None, *, deps: MediaDependencies, config: MediaSettings
) -> PartialItemFailureResponse:
    """Process an SQS batch; the answer lists the failed messages (``batchItemFailures``)."""
    bodies = [r.get("body", "") for r in event.get("Records", []) if isinstance(r, dict)]
    latest = logic.latest_events(bodies)  # older events of a key rewritten within the batch are skipped

    def record_handler(record: SQSRecord) -> list[logic.Result]:
        try:
            return process_record(record, deps=deps, config=config, latest=latest)
        except Exception:
            logger.warning(
                "media event failed; SQS will deliver it again", extra={"messageId": record.message_id}, exc_info=True
            )
            raise

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@dataclass(frozen=True)
class MediaFunction:
    """The media function with its settings and dependencies: call it with an SQS batch."""

    settings: MediaSettings
    deps: MediaDependencies

    def __call__(self, event: dict[str, Any], context: Any = None) -> PartialItemFailureResponse:
        return process_batch(event, context, deps=self.deps, config=self.settings)


def create_app(settings: MediaSettings, deps: MediaDependencies) -> MediaFunction:
    return MediaFunction(settings, deps)


def _from_env() -> MediaFunction:
    settings = MediaSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return default_app()(event, context)
