"""RecordingsTable stream images -> recording events (the only place that reads a recording item for events).

Facts, from the difference between the old and the new image of a ``REC#`` item (locks and
Idempotency-Key records publish nothing):
- created (INSERT) -> ``Recording Requested``;
- status moved to RECORDING -> ``Started``; to STOPPED -> ``Stopped`` (``stopReason``); to FAILED -> ``Failed``;
- ``uploadingStatus`` became ``uploaded`` or ``backuped`` (NCS 31/32 or the stop response) -> ``Files Ready``;
- ``postponedStatus`` became completed, partial or failed -> ``Postponed Result``;
- a CDN address's reported state changed (``cdnOutputs``) -> ``CDN Status Changed``, one per address.

A status only moves forward (``service.recordings.logic.TRANSITIONS``) and each write is one stream record,
so each fact appears in exactly one record. When ``typed``'s ``Recording.from_item`` lands, ``_Item`` is
what it replaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from service.events.model import (
    Detail,
    Event,
    RecordingCdnStatusChanged,
    RecordingFailed,
    RecordingFilesReady,
    RecordingPostponedResult,
    RecordingRequested,
    RecordingStarted,
    RecordingStopped,
    Source,
    iso_ms,
)

REC_PREFIX = "REC#"
FILES_SETTLED = frozenset({"uploaded", "backuped"})
POSTPONED_DONE = frozenset({"completed", "partial", "failed"})


@dataclass(frozen=True, slots=True)
class _Item:
    """The attributes of a recording item that events publish (never ``taskToken`` or configuration)."""

    recording_id: str
    channel: str
    mode: str | None
    status: str | None
    sid: str | None
    raw: Mapping[str, Any]

    @classmethod
    def of(cls, image: Mapping[str, Any] | None) -> _Item | None:
        if not image or not str(image.get("pk", "")).startswith(REC_PREFIX):
            return None
        return cls(
            recording_id=str(image.get("recordingId") or str(image["pk"])[len(REC_PREFIX) :]),
            channel=str(image.get("channel") or ""),
            mode=_text(image.get("mode")),
            status=_text(image.get("status")),
            sid=_text(image.get("sid")),
            raw=image,
        )

    def get(self, name: str) -> Any:
        return self.raw.get(name)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def recording_events(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, source: Source) -> list[Event]:
    """The facts one write of the recordings table states (none for a removal or a bookkeeping write)."""
    before, after = _Item.of(old), _Item.of(new)
    if after is None:
        return []
    ordering = f"recording:{after.recording_id}"
    base: dict[str, Any] = {"recording_id": after.recording_id, "channel": after.channel, "mode": after.mode}

    def make(model: type[Detail], part: str = "", **fields: Any) -> Event:
        return Event(model(**source.common(model.DETAIL_TYPE, ordering, part), **base, **fields))

    events: list[Event] = []
    if before is None:
        events.append(
            make(
                RecordingRequested,
                requested_by=_text(after.get("requestedBy")),
                created_at=iso_ms(after.get("createdAt")),
            )
        )
    old_status = before.status if before else None
    if after.status != old_status:
        if after.status == "RECORDING":
            events.append(make(RecordingStarted, sid=after.sid, started_at=iso_ms(after.get("startedAt"))))
        elif after.status == "STOPPED":
            events.append(
                make(
                    RecordingStopped,
                    sid=after.sid,
                    reason=_text(after.get("stopReason")),
                    outcome=_text(after.get("outcome")),
                    stopped_at=iso_ms(after.get("stoppedAt")),
                )
            )
        elif after.status == "FAILED":
            code = after.get("errorCode")
            events.append(
                make(
                    RecordingFailed,
                    sid=after.sid,
                    reason=_text(after.get("errorReason")),
                    error_type=_text(after.get("errorType")),
                    error_code=code if isinstance(code, int | str) else None,
                    recorder_unconfirmed=bool(after.get("recorderUnconfirmed")),
                    failed_at=iso_ms(after.get("failedAt")),
                )
            )
    uploading = _text(after.get("uploadingStatus"))
    if uploading in FILES_SETTLED and uploading != (before.get("uploadingStatus") if before else None):
        files = [str(name) for name in after.get("fileNames") or []]
        events.append(make(RecordingFilesReady, sid=after.sid, uploading_status=uploading, files=files))
    postponed = _text(after.get("postponedStatus"))
    if postponed in POSTPONED_DONE and postponed != (before.get("postponedStatus") if before else None):
        events.append(
            make(
                RecordingPostponedResult,
                sid=after.sid,
                status=postponed,
                result=_text(after.get("postponedResult")),
                files=sorted(str(name) for name in after.get("postponedFiles") or ()),
            )
        )
    events.extend(_cdn_events(before, after, make))
    return events


def _cdn_events(before: _Item | None, after: _Item, make: Any) -> list[Event]:
    old_reports = _reports(before.get("cdnOutputs") if before else None)
    current = {str(url) for url in after.get("cdnUrls") or []}
    events = []
    for key, report in sorted(_reports(after.get("cdnOutputs")).items()):
        status = _text(report.get("status"))
        previous = _text(old_reports.get(key, {}).get("status"))
        if status is None or status == previous:
            continue
        url = str(report.get("url") or "")
        events.append(
            make(
                RecordingCdnStatusChanged,
                part=key,
                sid=after.sid,
                output=key,
                host=urlsplit(url).hostname,
                status=status,
                previous_status=previous,
                current=url in current,
            )
        )
    return events


def _reports(value: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, Mapping)}
