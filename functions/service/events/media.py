"""MediaTable stream images -> ``Recording Integrity Checked`` and ``Recording Duration Computed``.

The media table keeps, per sid, one ``#INTEGRITY`` item (the last check) and one ``#TOTALS`` item (the
durations); file items publish nothing. Facts:
- an integrity check whose result is settled (complete, or incomplete) and differs from the stored one in
  status or missing count -> ``Integrity Checked`` (a late upload that completes the files sends another);
- totals of a sid whose every stream has ended, when they first end or their duration changes (a Cloud
  Backup copy that turned out longer) -> ``Duration Computed``.

The recording id is the caller's (the publisher looks the sid up): these items know only the sid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.events.model import Event, RecordingDurationComputed, RecordingIntegrityChecked, Source, iso_ms

INTEGRITY_KEY = "#INTEGRITY"
TOTALS_KEY = "#TOTALS"
SETTLED = frozenset({"complete", "incomplete"})


def sid_of(image: Mapping[str, Any] | None) -> str | None:
    """The sid of an item that may publish an event (None for file items and removals)."""
    if not image or image.get("key") not in (INTEGRITY_KEY, TOTALS_KEY):
        return None
    return str(image.get("sid") or "") or None


def media_events(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, source: Source, *, recording_id: str | None
) -> list[Event]:
    sid = sid_of(new)
    if sid is None or new is None:
        return []
    ordering = f"media:{sid}:{new['key']}"
    if new["key"] == INTEGRITY_KEY:
        return _integrity(old or {}, new, source, sid=sid, ordering=ordering, recording_id=recording_id)
    return _duration(old or {}, new, source, sid=sid, ordering=ordering, recording_id=recording_id)


def _integrity(
    before: Mapping[str, Any],
    new: Mapping[str, Any],
    source: Source,
    *,
    sid: str,
    ordering: str,
    recording_id: str | None,
) -> list[Event]:
    status = str(new.get("status") or "")
    missing = int(new.get("missing_count") or 0)
    if status not in SETTLED:
        return []
    if before.get("status") == status and int(before.get("missing_count") or 0) == missing:
        return []
    detail = RecordingIntegrityChecked(
        **source.common(RecordingIntegrityChecked.DETAIL_TYPE, ordering),
        sid=sid, recording_id=recording_id, status=status,  # type: ignore[arg-type]
        segments=int(new.get("segments") or 0), missing_count=missing,
        missing=[str(name) for name in new.get("missing") or []], checked_at=iso_ms(new.get("checked_at")),
    )  # fmt: skip
    return [Event(detail)]


def _duration(
    before: Mapping[str, Any],
    new: Mapping[str, Any],
    source: Source,
    *,
    sid: str,
    ordering: str,
    recording_id: str | None,
) -> list[Event]:
    if not new.get("ended") or "duration_us" not in new:
        return []
    duration = int(new["duration_us"])
    if before.get("ended") and int(before.get("duration_us") or 0) == duration:
        return []
    streams = new.get("streams")
    detail = RecordingDurationComputed(
        **source.common(RecordingDurationComputed.DETAIL_TYPE, ordering),
        sid=sid, recording_id=recording_id, duration_us=duration,
        duration_seconds=str(new.get("duration_seconds") or ""),
        longest_stream_us=int(new.get("longest_stream_us") or 0),
        segments=int(new.get("segments") or 0), streams=len(streams) if isinstance(streams, Mapping) else 0,
    )  # fmt: skip
    return [Event(detail)]
