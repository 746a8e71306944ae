"""Is a recording whole? Every segment its playlists reference must be in the bucket with a non-zero size.

When it runs (``service.media.logic.process_event``):
- when a playlist of a sid is stored and the sid has ended (every stream's final playlist has
  ``#EXT-X-ENDLIST``): the recorder is done writing, uploads may still be landing;
- when any later object of that sid lands (a ``.ts`` segment or a playlist, e.g. Agora's backup upload
  after event 32) while the last check found segments missing: a late upload re-runs the check.

The result is one item per sid (sk ``#INTEGRITY``): ``complete`` (ended, nothing missing),
``incomplete`` (with the missing keys, the first ``MAX_LISTED`` of them, and their count) or ``pending``
(not ended yet). One listing of the recording's folder gives every size, so a check costs one
``ListObjectsV2`` page per 1,000 objects plus one read per playlist, not a HEAD per segment.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Protocol

INTEGRITY_KEY = "#INTEGRITY"
MAX_LISTED = 50
Status = Literal["complete", "incomplete", "pending"]


class Listing(Protocol):
    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        """key -> size of every object under ``prefix``."""
        ...

    def text(self, bucket: str, key: str) -> str | None:
        """The object as text, None if it is gone."""
        ...


def check(sid: str, files: Iterable[Mapping[str, Any]], *, listing: Listing, now_ms: int) -> dict[str, Any]:
    """The integrity item of a sid from its playlist items (the media table's file items)."""
    from agorakit.m3u8.playback import segment_key, segment_uris

    playlists = [f for f in files if str(f.get("key", "")).lower().endswith(".m3u8") and f.get("status") == "ok"]
    referenced: dict[str, str] = {}  # segment key -> bucket
    folders: set[tuple[str, str]] = set()
    unreadable = []
    for item in playlists:
        key, bucket = str(item["key"]), str(item["bucket"])
        text = listing.text(bucket, key)
        if text is None:
            unreadable.append(key)
            continue
        folders.add((bucket, posixpath.dirname(key) + "/"))
        for uri in segment_uris(text):
            segment = segment_key(key, uri)
            if segment is not None:
                referenced[segment] = bucket
    sizes: dict[str, int] = {}
    for bucket, folder in sorted(folders):
        sizes.update(listing.sizes(bucket, folder))
    absent = sorted(k for k in referenced if k not in sizes)
    empty = sorted(k for k in referenced if sizes.get(k) == 0)
    streams = {str(f.get("stream") or f["key"]) for f in playlists}
    ended = bool(playlists) and all(
        any(bool(f.get("ended")) for f in playlists if str(f.get("stream") or f["key"]) == stream) for stream in streams
    )
    status: Status = "incomplete" if absent or empty else ("complete" if ended else "pending")
    missing = absent + empty
    return {
        "sid": sid,
        "status": status,
        "ended": ended,
        "playlists": len(playlists),
        "segments": len(referenced),
        "missing_count": len(missing),
        "missing": [posixpath.basename(k) for k in missing[:MAX_LISTED]],
        "missing_keys": missing[:MAX_LISTED],
        "empty_count": len(empty),
        "unreadable_playlists": [posixpath.basename(k) for k in unreadable],
        "checked_at": now_ms,
    }


def should_recheck(previous: Mapping[str, Any] | None, key: str) -> bool:
    """After a segment lands: only when the last check missed segments (this one, or more than were listed)."""
    if previous is None or previous.get("status") != "incomplete":
        return False
    listed = previous.get("missing_keys") or []
    return key in listed or int(previous.get("missing_count") or 0) > len(listed)


def public(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the recordings API shows."""
    if item is None:
        return None
    shown = ("status", "ended", "playlists", "segments", "missing_count", "missing", "empty_count",
             "unreadable_playlists")  # fmt: skip
    out = {k: item.get(k) for k in shown if k in item}
    if item.get("checked_at") is not None:
        from datetime import UTC, datetime

        at = datetime.fromtimestamp(int(item["checked_at"]) / 1000, tz=UTC)
        out["checked_at"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return out
