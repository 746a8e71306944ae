"""From an S3 ObjectCreated event of an m3u8 to exact per-file and per-sid durations.

Agora rewrites a playlist every few seconds while it records, so one key produces many events, in any
order and possibly twice. Correctness rests on three rules:

1. Per key, S3's ``sequencer`` orders the events (AWS: left-pad the shorter value with zeros, then
   compare lexicographically). A file item stores its sequencer, padded to a fixed width, and is only
   written if the stored one is smaller (a DynamoDB condition), so a stale or repeated event never
   replaces a newer result. The object is read with ``If-Match`` on the event's ETag (or its version),
   so the stored duration is always the one of the version the sequencer names. S3 never gives two
   versions of a key one sequencer; moto (the local stack) sends none at all, so equal sequencers fall
   back to the event time as the tie-break.
2. Totals are recomputed from the file items, never adjusted by deltas: recomputing is idempotent.
   Every event bumps the totals item's ``revision`` first, and the totals are written only if the
   revision is still the one read, so the last writer has seen every file written before it.
3. A bad playlist is a result, not a failure: it is stored as an error on its file item, counted and
   logged, and the message is consumed. Only transient failures (throttling, S3/DynamoDB outages) are
   raised, so the queue delivers the message again (then to its DLQ after maxReceiveCount).

Over 400 lines on purpose: the media use cases (durations, ordering by sequencer, integrity) share one event model
and one repository contract; splitting them would split the ordering rules.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import unquote_plus

from agorakit.m3u8._utc import iso_utc
from agorakit.m3u8.filenames import RecordingFileName, parse_recording_filename
from agorakit.m3u8.parser import PlaylistError, PlaylistParser, PlaylistSummary

if TYPE_CHECKING:
    from service.media.integrity import Listing, Recheck, RecheckPolicy, RecheckQueue

TOTALS_KEY = "#TOTALS"
#: files whose name is not an Agora recording name are kept under this partition (never totalled)
UNPARSED_SID = "#UNPARSED"
SEQUENCER_WIDTH = 64
_HEX = re.compile(r"[0-9A-F]*")

Outcome = Literal["stored", "error-recorded", "stale", "superseded", "gone", "ignored", "checked"]


class InvalidMessage(ValueError):
    """The SQS message is not an S3 event notification (it can never succeed: consumed and counted)."""


class ObjectGone(Exception):
    """The object was deleted before it could be read."""


class ObjectChanged(Exception):
    """The object no longer has the event's ETag/version: a newer event describes what is there now."""


class ObjectSource(Protocol):
    def chunks(self, bucket: str, key: str, *, etag: str | None, version_id: str | None) -> Iterable[bytes]:
        """The object's bytes in chunks; raises ObjectGone / ObjectChanged."""
        ...


class MediaStore(Protocol):
    def order_of(self, sid: str, key: str) -> tuple[str, str] | None:
        """(sequencer, event time) of the stored file item, if any."""
        ...

    def put_file(self, item: dict[str, Any]) -> bool:
        """Write a file item unless the stored one is as new or newer (see ``ObjectEvent.order``)."""
        ...

    def bump_revision(self, sid: str) -> int: ...

    def file_items(self, sid: str) -> list[dict[str, Any]]: ...

    def put_totals(self, sid: str, totals: dict[str, Any], revision: int) -> bool:
        """Write the totals if the revision is still ``revision``; True if written."""
        ...

    def integrity(self, sid: str) -> dict[str, Any] | None: ...

    def put_integrity(self, sid: str, item: dict[str, Any]) -> bool:
        """Write the check unless a later one (``checked_at``) is stored; True if written."""
        ...


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str  # decoded (S3 URL-encodes keys in events)
    event_name: str
    size: int | None
    etag: str | None
    version_id: str | None
    sequencer: str  # normalised: upper-case hex, left-padded to SEQUENCER_WIDTH
    event_time: str | None

    @property
    def order(self) -> tuple[str, str]:
        """Events of one key sort by this: the sequencer, then (equal sequencers) the event time."""
        return self.sequencer, self.event_time or ""


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    key: str
    sid: str | None = None
    duration_us: int | None = None
    error: str | None = None
    changed_nothing: bool = False  # no totals refresh needed
    ended: bool = False  # the playlist has #EXT-X-ENDLIST
    integrity: str | None = None  # the status of an integrity check this event ran


def normalize_sequencer(value: Any) -> str:
    """Upper-case hex, left-padded with zeros so that string order is S3's event order."""
    text = "" if value is None else str(value).strip().upper()
    if len(text) > SEQUENCER_WIDTH or not _HEX.fullmatch(text):
        raise InvalidMessage(f"not an S3 sequencer: {str(value)[:80]!r}")
    return text.rjust(SEQUENCER_WIDTH, "0")


def parse_message(body: str) -> list[ObjectEvent]:
    """The ObjectCreated records of one SQS message body (an S3 notification); [] for S3's test event."""
    try:
        message = json.loads(body)
    except ValueError:
        raise InvalidMessage("the message body is not JSON") from None
    if not isinstance(message, dict):
        raise InvalidMessage("the message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise InvalidMessage("no Records in the message")
    events = []
    for record in records:
        s3 = record.get("s3") if isinstance(record, dict) else None
        obj = s3.get("object") if isinstance(s3, dict) else None
        bucket = (s3.get("bucket") or {}).get("name") if isinstance(s3, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not isinstance(bucket, str):
            raise InvalidMessage("an S3 record without bucket name or object key")
        name = str(record.get("eventName", ""))
        if not name.startswith("ObjectCreated:"):
            continue
        size = obj.get("size")
        events.append(
            ObjectEvent(
                bucket=bucket,
                key=unquote_plus(obj["key"]),
                event_name=name,
                size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
                etag=obj.get("eTag") or obj.get("etag") or None,
                version_id=obj.get("versionId") or None,
                sequencer=normalize_sequencer(obj.get("sequencer")),
                event_time=record.get("eventTime"),
            )
        )
    return events


def latest_events(bodies: Iterable[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(bucket, key) -> the order of its newest event in a batch: older events of that key need no work."""
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for body in bodies:
        try:
            events = parse_message(body)
        except InvalidMessage:
            continue
        for event in events:
            slot = (event.bucket, event.key)
            if slot not in latest or event.order > latest[slot]:
                latest[slot] = event.order
    return latest


def process_event(
    event: ObjectEvent,
    *,
    store: MediaStore,
    objects: ObjectSource,
    prefix: str,
    latest: Mapping[tuple[str, str], tuple[str, str]] | None = None,
    now_ms: int | None = None,
    listing: Listing | None = None,
    rechecks: Rechecks | None = None,
) -> Result:
    """Summarise one playlist version and bring its sid's totals up to date; check the sid's integrity
    (``service.media.integrity``) when its playlist is final (an incomplete result schedules a re-check)."""
    key = event.key
    if not key.startswith(prefix):
        return Result("ignored", key)
    if not key.lower().endswith(".m3u8"):  # a segment (from a bucket still notifying them) or another file
        return Result("ignored", key)
    newest = (latest or {}).get((event.bucket, key))
    if newest is not None and newest > event.order:
        return Result("superseded", key)
    name = parse_recording_filename(key)
    sid = name.sid if name is not None else UNPARSED_SID
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    stored = store.order_of(sid, key)
    if stored is not None and stored >= event.order:
        # A repeat or an older event: nothing to read. Totals are refreshed anyway, in case the first
        # delivery stopped between the file write and the totals write.
        result = Result("stale", key, sid)
    else:
        result = _read_and_store(event, name, sid, store=store, objects=objects, now_ms=now_ms)
    if sid != UNPARSED_SID and result.outcome not in ("gone", "superseded") and not result.changed_nothing:
        refresh_totals(sid, store=store, now_ms=now_ms)
    if listing is not None and sid != UNPARSED_SID and result.outcome == "stored" and result.ended:
        status = check_integrity(sid, store=store, listing=listing, now_ms=now_ms, rechecks=rechecks)
        return Result(result.outcome, key, sid, result.duration_us, ended=True, integrity=status)
    return result


@dataclass(frozen=True)
class Rechecks:
    """Where re-checks of incomplete recordings go (the media queue) and when (``RecheckPolicy``)."""

    queue: RecheckQueue
    policy: RecheckPolicy


def run_recheck(
    recheck: Recheck, *, store: MediaStore, listing: Listing, rechecks: Rechecks | None, now_ms: int
) -> Result:
    """A scheduled re-check: check the sid again if it is still the one its integrity item waits for."""
    from service.media.integrity import INTEGRITY_KEY, is_current

    if not is_current(store.integrity(recheck.sid), recheck):
        return Result("stale", INTEGRITY_KEY, recheck.sid, changed_nothing=True)
    status = check_integrity(recheck.sid, store=store, listing=listing, now_ms=now_ms, rechecks=rechecks,
                             rechecking=True)  # fmt: skip
    return Result("checked", INTEGRITY_KEY, recheck.sid, integrity=status)


def check_integrity(
    sid: str,
    *,
    store: MediaStore,
    listing: Listing,
    now_ms: int,
    rechecks: Rechecks | None = None,
    rechecking: bool = False,
) -> str:
    """Run the check over the sid's playlist items and store it (scheduling a re-check if it is incomplete);
    the status. The re-check is sent before the item is written: a failed write is retried by the queue, and
    the re-check it leaves behind is not the item's current one (it does nothing when it arrives)."""
    from service.media.integrity import check, follow_up

    item = check(sid, store.file_items(sid), listing=listing, now_ms=now_ms)
    if rechecks is not None:
        previous = store.integrity(sid)
        plan = follow_up(item, previous, rechecks.policy, now_ms=now_ms, rechecking=rechecking)
        if plan is not None:
            rechecks.queue.schedule(plan)
    store.put_integrity(sid, item)
    return str(item["status"])


def _read_and_store(
    event: ObjectEvent,
    name: RecordingFileName | None,
    sid: str,
    *,
    store: MediaStore,
    objects: ObjectSource,
    now_ms: int,
) -> Result:
    try:
        summary: PlaylistSummary | None = summarize(objects, event)
        error = None
    except PlaylistError as exc:
        summary, error = None, exc
    except ObjectChanged:  # the version this event names is gone: a newer event describes the object
        return Result("stale", event.key, sid, changed_nothing=True)
    except ObjectGone:
        return Result("gone", event.key, sid)
    if not store.put_file(file_item(event, name, sid, summary, error, now_ms=now_ms)):
        return Result("stale", event.key, sid)
    if error is not None:
        return Result("error-recorded", event.key, sid, error=str(error))
    assert summary is not None
    return Result("stored", event.key, sid, duration_us=summary.duration_us, ended=summary.ended)


def summarize(objects: ObjectSource, event: ObjectEvent) -> PlaylistSummary:
    parser = PlaylistParser()
    for chunk in objects.chunks(event.bucket, event.key, etag=event.etag, version_id=event.version_id):
        parser.feed(chunk)
    return parser.close()


def file_item(
    event: ObjectEvent,
    name: RecordingFileName | None,
    sid: str,
    summary: PlaylistSummary | None,
    error: PlaylistError | None,
    *,
    now_ms: int,
) -> dict[str, Any]:
    """The per-file item (plain Python values; the repository serialises them)."""
    item: dict[str, Any] = {
        "sid": sid,
        "key": event.key,
        "kind": "file",
        "bucket": event.bucket,
        "sequencer": event.sequencer,
        "etag": event.etag,
        "version_id": event.version_id,
        "size": event.size,
        "event_time": event.event_time,
        "processed_at": now_ms,
    }
    if name is not None:
        item.update(
            name=name.name,
            base_name=name.base_name,
            prefix=list(name.prefix),
            channel=name.channel,
            mode=name.mode,
            uid=name.uid,
            track=name.track,
            stream=name.stream,
            failover=name.failover,
            backup_tick=name.backup_tick,
            backup_index=name.backup_index,
        )
    if error is not None:
        item.update(status="error", error=error.reason, error_line=error.line)
        return item
    assert summary is not None
    item.update(
        status="ok",
        duration_us=summary.duration_us,
        duration_seconds=str(summary.duration_seconds),
        segments=summary.segments,
        ended=summary.ended,
        discontinuities=summary.discontinuities,
        track_events=summary.track_events,
        target_duration=summary.target_duration,
        byte_size=summary.byte_size,
        first_slice_utc=_iso(summary.first_slice_utc),
        last_slice_utc=_iso(summary.last_slice_utc),
        last_segment_us=summary.last_segment_us,
        wall_clock_span_us=summary.wall_clock_span_us,
        trailing_extinf=summary.trailing_extinf,
    )
    return item


def refresh_totals(sid: str, *, store: MediaStore, now_ms: int) -> bool:
    """Recompute the sid's totals from its files; False if a newer event's refresh will do it instead."""
    revision = store.bump_revision(sid)
    totals = compute_totals(sid, store.file_items(sid))
    totals["updated_at"] = now_ms
    return store.put_totals(sid, totals, revision)


def compute_totals(sid: str, files: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Durations of a sid from its playlist items.

    Per stream (``mix`` or ``<uid>:<track>``) and failover part (``bak<n>_``): the plain playlist and its
    newest Cloud Backup copy (``_<tick>_<index>``) are versions of one playlist, so the longer one counts
    (Agora's advice); the parts of a stream follow each other, so they add up. The sid's ``duration_us``
    adds up its streams: the recording's length in mix mode, the recorded stream time in individual mode
    (``longest_stream_us`` and ``uids`` give the per-user view).
    """
    parts: dict[tuple[str, int], dict[str, Any]] = {}
    errors = []
    for f in files:
        if f.get("status") != "ok":
            errors.append({"key": f.get("key"), "error": f.get("error"), "line": f.get("error_line")})
            continue
        if not f.get("stream"):
            continue
        slot = parts.setdefault((str(f["stream"]), _int(f.get("failover"), -1)), {"plain": None, "copies": []})
        if f.get("backup_index") is None:
            slot["plain"] = f
        else:
            slot["copies"].append(f)
    streams: dict[str, dict[str, Any]] = {}
    for (stream, _), slot in sorted(parts.items()):
        candidates = [slot["plain"]] if slot["plain"] is not None else []
        if slot["copies"]:
            candidates.append(max(slot["copies"], key=lambda c: (_int(c["backup_index"]), _int(c.get("backup_tick")))))
        chosen = max(candidates, key=lambda c: _int(c.get("duration_us")))
        total = streams.setdefault(
            stream,
            {
                "stream": stream,
                "uid": chosen.get("uid"),
                "track": chosen.get("track"),
                "duration_us": 0,
                "segments": 0,
                "discontinuities": 0,
                "parts": 0,
                "playlists": [],
                "first_slice_utc": None,
                "_end_us": None,
            },
        )
        total["duration_us"] += _int(chosen.get("duration_us"))
        total["segments"] += _int(chosen.get("segments"))
        total["discontinuities"] += _int(chosen.get("discontinuities"))
        total["parts"] += 1
        total["playlists"].append(chosen["key"])
        total["ended"] = bool(chosen.get("ended"))  # parts are in failover order: the last one decides
        first = chosen.get("first_slice_utc")
        if first and (total["first_slice_utc"] is None or first < total["first_slice_utc"]):
            total["first_slice_utc"] = first
        end = _slice_end_us(chosen)
        if end is not None and (total["_end_us"] is None or end > total["_end_us"]):
            total["_end_us"] = end
    for total in streams.values():
        end = total.pop("_end_us")
        start = _iso_us(total["first_slice_utc"])
        total["wall_clock_span_us"] = end - start if end is not None and start is not None else None
        total["duration_seconds"] = _seconds(total["duration_us"])
    uids: dict[str, dict[str, Any]] = {}
    for total in streams.values():
        if total["uid"] is None:
            continue
        entry = uids.setdefault(str(total["uid"]), {"duration_us": 0, "tracks": {}})
        entry["tracks"][str(total["track"])] = total["duration_us"]
        entry["duration_us"] = max(entry["duration_us"], total["duration_us"])
    duration_us = sum(t["duration_us"] for t in streams.values())
    modes = {f.get("mode") for f in files if f.get("status") == "ok" and f.get("mode")}
    return {
        "sid": sid,
        "mode": modes.pop() if len(modes) == 1 else ("mixed" if modes else None),
        "duration_us": duration_us,
        "duration_seconds": _seconds(duration_us),
        "segments": sum(t["segments"] for t in streams.values()),
        "longest_stream_us": max((t["duration_us"] for t in streams.values()), default=0),
        "ended": bool(streams) and all(t.get("ended") for t in streams.values()),
        "streams": streams,
        "uids": uids,
        "playlists": sum(1 for f in files if f.get("status") == "ok"),
        "errors": errors,
    }


def _int(value: Any, default: int = 0) -> int:
    return default if value is None else int(value)


def _seconds(us: int) -> str:
    sign = "-" if us < 0 else ""
    whole, frac = divmod(abs(us), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso_us(text: str | None) -> int | None:
    """Microseconds since the epoch of an ``iso_utc`` string."""
    if not text:
        return None
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _slice_end_us(item: Mapping[str, Any]) -> int | None:
    last = _iso_us(item.get("last_slice_utc"))
    if last is None or item.get("last_segment_us") is None:
        return None
    return last + _int(item.get("last_segment_us"))
