"""The inbox stream processor: DynamoDB Stream (NEW_IMAGE, INSERT) -> dispatch by productId.

Partial-batch failure reporting (Powertools ``BatchProcessor``, ``ReportBatchItemFailures`` on the event
source mapping): a record whose effect failed (throttling, a recording-workflow error) is reported and
the stream delivers it again from there; records after it in the batch may run twice, which the
effects tolerate (ordered, conditional writes). After the mapping's retries the batch goes to the DLQ.
Every record's outcome and processing lag become metrics (``service.webhooks.telemetry``).

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp
from service.observability import MetricSink, metric_sink, no_metric
from service.presence.repository import DynamoDBPresence, PresenceStore
from service.webhooks import telemetry
from service.webhooks.logic import (
    AbnormalLeaveAction,
    AgentApplier,
    RecordingApplier,
    dispatch_notice,
    one_time_kick,
)
from service.webhooks.settings import ProcessorSettings

logger = Logger()
metrics = Metrics()
_metric = metric_sink(metrics)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@dataclass(frozen=True)
class ProcessorDependencies:
    presence: PresenceStore
    recordings: RecordingApplier | None
    abnormal_leave: AbnormalLeaveAction | None = None
    agents: AgentApplier | None = None  # NCS product 17 (Conversational AI agents)
    metric: MetricSink = no_metric
    transcriptions: Callable[[dict[str, Any]], str] | None = None  # NCS product 20 (service.transcriptions)


def abnormal_leave_action(config: ProcessorSettings, metric: MetricSink = no_metric) -> AbnormalLeaveAction | None:
    """The configured 999 action; the Agora client is built on the first abnormal leave, never at cold start."""
    if config.abnormal_leave_action != "kick":
        return None
    client: list[Any] = []

    def kick(channel: str, **kw: Any) -> Any:
        if not client:
            from agorakit.agora.ratelimit import Lane

            from service.adapters.agora import AgoraAccessSettings, build_agora_client
            from service.adapters.secrets import SecretsManagerStore
            from service.observability import limiter_wait_observer

            on_wait = limiter_wait_observer(metric)
            settings = AgoraAccessSettings.from_env()
            # the stop lane: removing an abnormally-left user is time-bound like stopping a recorder
            client.append(build_agora_client(settings, SecretsManagerStore(), on_wait=on_wait, lane=Lane.STOP))
        return client[0].create_kicking_rule(channel, **kw)

    return one_time_kick(kick)


def recording_applier() -> RecordingApplier:
    """``service.recordings.events.apply_recording_event`` on the recordings table ``grant_events()`` names;
    ``service.recordings`` is imported with the first recording notice, not at cold start."""
    applier: list[RecordingApplier] = []

    def apply(notice: dict[str, Any]) -> None:
        if not applier:
            from service.recordings.events import recording_event_applier
            from service.recordings.settings import RecordingEventSettings

            applier.append(recording_event_applier(RecordingEventSettings.from_env()))
        applier[0](notice)

    return apply


def agent_applier(settings: ProcessorSettings) -> AgentApplier | None:
    """``service.agents.usecases.event_applier`` when the agents are deployed (``AGENTS_TABLE`` set); built with the
    first product-17 notice, so ``service.agents`` costs nothing at cold start."""
    if not settings.agents_table:
        return None
    applier: list[AgentApplier] = []

    def apply(notice: dict[str, Any]) -> str:
        if not applier:
            from service.agents.deps import build_event_dependencies
            from service.agents.settings import AgentEventSettings
            from service.agents.usecases import event_applier

            applier.append(event_applier(build_event_dependencies(AgentEventSettings.from_env())))
        return applier[0](notice)

    return apply


def build_dependencies(settings: ProcessorSettings) -> ProcessorDependencies:
    """The deployed adapters: the presence table, the recordings (when the recording construct granted the
    events), the configured abnormal-leave action, and the function's metrics."""
    return ProcessorDependencies(
        presence=DynamoDBPresence(settings.presence_table),
        recordings=recording_applier(),
        abnormal_leave=abnormal_leave_action(settings, _metric),
        metric=_metric,
        transcriptions=transcription_applier(),
        agents=agent_applier(settings),
    )


def transcription_applier() -> Callable[[dict[str, Any]], str]:
    from service.transcriptions.events import notice_applier

    return notice_applier()


def process_record(
    record: DynamoDBRecord, *, deps: ProcessorDependencies, config: ProcessorSettings, now: float | None = None
) -> str:
    """Apply one stream record; raises to have it reported as failed (and delivered again)."""
    if record.raw_event.get("eventName") != "INSERT":
        return "ignored: not an insert"
    image = record.dynamodb.new_image if record.dynamodb else None
    body = (image or {}).get("body")
    notice_id = (image or {}).get("ncsNoticeId") or (image or {}).get("noticeId")
    if not isinstance(body, str):
        logger.error("inbox record without a body", extra={"noticeId": notice_id, "outcome": "invalid"})
        telemetry.processed(deps.metric, "invalid: no body", notify_ms=None, now=0.0)
        return "invalid: no body"
    try:
        notice = json.loads(body)
    except ValueError:
        notice = None
    if not isinstance(notice, dict):
        logger.error("inbox body is not a JSON object", extra={"noticeId": notice_id, "outcome": "invalid"})
        telemetry.processed(deps.metric, "invalid: body", notify_ms=None, now=0.0)
        return "invalid: body"
    at = time.time() if now is None else now
    envelope, outcome = dispatch_notice(
        notice,
        presence=deps.presence,
        recordings=deps.recordings,
        settings=config,
        now=at,
        on_abnormal_leave=deps.abnormal_leave,
        transcriptions=deps.transcriptions,
        agents=deps.agents,
    )
    telemetry.processed(deps.metric, outcome, notify_ms=envelope.notify_ms if envelope else None, now=at)
    extra: dict[str, Any] = {"noticeId": notice_id, "outcome": outcome}
    if envelope is not None:
        extra.update(
            productId=envelope.product_id, eventType=envelope.event_type, sid=envelope.sid, cname=envelope.cname
        )
    (logger.warning if outcome.startswith("invalid") else logger.info)("ncs notice processed", extra=extra)
    return outcome


def process_batch(
    event: dict[str, Any], context: Any = None, *, deps: ProcessorDependencies, config: ProcessorSettings
) -> dict[str, Any]:
    """Process a stream batch; the answer lists failed records' sequence numbers (``batchItemFailures``)."""
    resolved = deps

    def record_handler(record: DynamoDBRecord) -> str:
        try:
            return process_record(record, deps=resolved, config=config)
        except Exception:
            image = record.dynamodb.new_image if record.dynamodb else None
            logger.warning(
                "ncs notice failed; the stream will deliver it again",
                extra={
                    "noticeId": (image or {}).get("ncsNoticeId") or (image or {}).get("noticeId"),
                    "outcome": "failed",
                },
                exc_info=True,
            )
            telemetry.processing_failed(resolved.metric)
            raise

    answer = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    return dict(answer)


@dataclass(frozen=True)
class Processor:
    """The stream processor with its settings and dependencies: call it with a DynamoDB stream batch."""

    settings: ProcessorSettings
    deps: ProcessorDependencies

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return process_batch(event, context, deps=self.deps, config=self.settings)


def create_app(settings: ProcessorSettings, deps: ProcessorDependencies) -> Processor:
    return Processor(settings, deps)


def _from_env() -> Processor:
    settings = ProcessorSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
