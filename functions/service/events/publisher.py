"""The events publisher: DynamoDB streams (NEW_AND_OLD_IMAGES) of the recordings, media, presence,
kicking-rules, agents and transcriptions tables -> events on the stack's bus, once each state change is durable.

A batch comes from one shard of one table, in stream order. Every record becomes zero or more events
(``service.events.<source>``); all of the batch's events go out with PutEvents (10 a call, refused entries
retried: ``service.events.bus``). The answer reports, as ``batchItemFailures``, the first record whose events
could not be built or sent: Lambda checkpoints before it and delivers it (and the records after it) again,
so an event may arrive twice but never out of order within its ordering key, and never be lost; a
redelivered event has the same ``event_id``. After the mapping's retries (bisecting the batch) the failed
range goes to the publisher's DLQ.

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import from_item
from service.apps import DefaultApp
from service.events.agents import agent_events
from service.events.bus import Bus, EventBridgeBus
from service.events.media import media_events, sid_of
from service.events.model import Event, Source
from service.events.moderation import kicking_rule_events
from service.events.presence import presence_events
from service.events.recordings import recording_events
from service.events.settings import PublisherSettings
from service.events.transcriptions import transcription_events

logger = Logger()
metrics = Metrics()

#: sid -> recording id (None when unknown), for the media table's events
SidLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class PublisherDependencies:
    bus: Bus
    recording_of_sid: SidLookup


def table_of(event_source_arn: str) -> str:
    """``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`` -> ``<name>``."""
    _, _, rest = event_source_arn.partition(":table/")
    return rest.split("/", 1)[0]


def _occurred_at(record: Mapping[str, Any]) -> str | None:
    seconds = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(float(seconds), tz=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def events_of(record: Mapping[str, Any], deps: PublisherDependencies, config: PublisherSettings) -> list[Event]:
    """The events one stream record states (raises on a record it cannot read: reported as failed)."""
    stream = record.get("dynamodb") or {}
    table = table_of(str(record.get("eventSourceARN", "")))
    keys = from_item(stream.get("Keys")) or {}
    source = Source(
        table=table,
        key="|".join(f"{k}={keys[k]}" for k in sorted(keys)),
        sequence=str(stream["SequenceNumber"]),
        occurred_at=_occurred_at(record),
    )
    old, new = from_item(stream.get("OldImage")), from_item(stream.get("NewImage"))
    if table == config.recordings_table:
        return recording_events(old, new, source)
    if table == config.presence_table:
        return presence_events(old, new, source)
    if table == config.media_table:
        sid = sid_of(new)
        return media_events(old, new, source, recording_id=deps.recording_of_sid(sid) if sid else None)
    if table == config.kicking_rules_table:
        principal = (record.get("userIdentity") or {}).get("principalId")
        return kicking_rule_events(str(record.get("eventName")), old, new, source, removed_by=principal)
    if table == config.agents_table:
        return agent_events(old, new, source)
    if table == config.transcriptions_table:
        return transcription_events(old, new, source)
    raise ValueError(f"a stream record from an unknown table {table!r}")


def publish_batch(event: Mapping[str, Any], deps: PublisherDependencies, config: PublisherSettings) -> dict[str, Any]:
    """Publish a stream batch; ``batchItemFailures`` holds the first record not fully published, if any."""
    records = list(event.get("Records") or [])
    entries: list[dict[str, str]] = []
    owner: list[int] = []  # entries[i] came from records[owner[i]]
    first_failed: int | None = None
    for index, record in enumerate(records):
        try:
            events = events_of(record, deps, config)
        except Exception:
            logger.exception("stream record not readable", extra={"sequence": _sequence(record)})
            first_failed = index
            break
        for item in events:
            entries.append(item.entry(config.event_bus_name))
            owner.append(index)
    failed_entries = deps.bus.put(entries) if entries else []
    if failed_entries:
        first_failed = min([owner[i] for i in failed_entries] + ([first_failed] if first_failed is not None else []))
    sent = len(entries) - len(failed_entries)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=sent)
    if failed_entries:
        metrics.add_metric(name="EventsPublishFailed", unit=MetricUnit.Count, value=len(failed_entries))
        logger.warning("events not accepted by the bus", extra={"failed": len(failed_entries), "sent": sent})
    if first_failed is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": _sequence(records[first_failed])}]}


def _sequence(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


class RecordingsBySid:
    """sid -> recording id through the recordings table's ``bySid`` index (cached: a sid never moves)."""

    def __init__(self, table_name: str, *, client: Any = None):
        self.table_name = table_name
        self._client = client
        self._known: dict[str, str] = {}

    client = LazyClient("dynamodb")

    def __call__(self, sid: str) -> str | None:
        if sid in self._known:
            return self._known[sid]
        answer = self.client.query(
            TableName=self.table_name,
            IndexName="bySid",
            KeyConditionExpression="sid = :sid",
            ExpressionAttributeValues={":sid": {"S": sid}},
            ProjectionExpression="recordingId",
            Limit=1,
        )
        items = answer.get("Items") or []
        found = (from_item(items[0]) or {}).get("recordingId") if items else None
        if found:
            self._known[sid] = str(found)
        return None if found is None else str(found)


def build_dependencies(settings: PublisherSettings) -> PublisherDependencies:
    """The deployed adapters: the stack's bus and the recordings table's ``bySid`` index."""
    return PublisherDependencies(bus=EventBridgeBus(), recording_of_sid=RecordingsBySid(settings.recordings_table))


@dataclass(frozen=True)
class Publisher:
    """The publisher with its settings and dependencies: call it with a DynamoDB stream batch."""

    settings: PublisherSettings
    deps: PublisherDependencies

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.monotonic()
        answer = publish_batch(event, self.deps, self.settings)
        records = len(event.get("Records") or [])
        logger.debug("batch published", extra={"records": records, "s": time.monotonic() - started})
        return answer


def create_app(settings: PublisherSettings, deps: PublisherDependencies) -> Publisher:
    return Publisher(settings, deps)


def _from_env() -> Publisher:
    settings = PublisherSettings.from_env()
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
