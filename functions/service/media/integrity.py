"""Is a recording whole? Every segment its playlists reference must be in the bucket with a non-zero size.

When it runs (``service.media.logic.process_event``):
- when a playlist of a sid is stored and the sid has ended (every stream's final playlist has
  ``#EXT-X-ENDLIST``): the recorder is done writing, uploads may still be landing;
- again, on a schedule the media path owns, while the last check found segments missing: a check that finds an
  ended sid incomplete puts a delayed re-check (``Recheck``) on the media queue, and each re-check that still finds
  it incomplete puts the next one, with backoff (``RecheckPolicy``: 60 s doubling to SQS's 900 s ceiling) until
  ``window_s`` (24 h) after the sid was first found incomplete; then the item says ``recheck: exhausted``.
  A late segment (Agora's backup upload after event 32) therefore turns the status complete at the next re-check.
  Segments are not notified (only ``.m3u8`` reaches the queue: at 10,000 recordings that halves its load).

The result is one item per sid (sk ``#INTEGRITY``): ``complete`` (ended, nothing missing),
``incomplete`` (with the missing keys, the first ``MAX_LISTED`` of them, and their count) or ``pending``
(not ended yet). One listing of the recording's folder gives every size, so a check costs one
``ListObjectsV2`` page per 1,000 objects plus one read per playlist, not a HEAD per segment.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


#: the body's only key of a re-check message on the media queue (S3 notifications have ``Records``)
RECHECK_MESSAGE_KEY = "mediaRecheck"
#: SQS's ceiling on ``DelaySeconds``
MAX_QUEUE_DELAY_S = 900


@dataclass(frozen=True)
class RecheckPolicy:
    """When an incomplete recording is checked again: ``first_delay_s`` after the first finding, each wait
    ``factor`` times the last up to ``max_delay_s``, none later than ``window_s`` after the first finding."""

    first_delay_s: int = 60
    max_delay_s: int = MAX_QUEUE_DELAY_S
    window_s: int = 24 * 3600
    factor: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.first_delay_s <= self.max_delay_s <= MAX_QUEUE_DELAY_S:
            raise ValueError("delays must satisfy 1 <= first_delay_s <= max_delay_s <= 900 (SQS DelaySeconds)")
        if self.window_s < 0 or self.factor < 1:
            raise ValueError("window_s must be >= 0 and factor >= 1")


@dataclass(frozen=True)
class Recheck:
    """One scheduled re-check of a sid: the message the media queue delivers ``delay_s`` after it was sent.

    ``due_ms`` names it: the sid's integrity item stores the ``next_recheck_at`` of the one re-check that is
    current, and a re-check whose ``due_ms`` is not that one (a repeat, or a chain replaced) does nothing."""

    sid: str
    attempt: int  # 0: the first re-check after the sid was found incomplete
    since_ms: int  # when the sid was first found incomplete (the window counts from here)
    due_ms: int
    delay_s: int

    def body(self) -> str:
        fields = {"sid": self.sid, "attempt": self.attempt, "since": self.since_ms, "due": self.due_ms}
        return json.dumps({RECHECK_MESSAGE_KEY: fields}, separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> Recheck | None:
        """The re-check a message body carries; None if it is not one (an S3 notification, or garbage)."""
        try:
            message = json.loads(body)
        except ValueError:
            return None
        fields = message.get(RECHECK_MESSAGE_KEY) if isinstance(message, dict) else None
        if not isinstance(fields, dict):
            return None
        try:
            sid, attempt, since, due = fields["sid"], fields["attempt"], fields["since"], fields["due"]
        except KeyError:
            return None
        if not (isinstance(sid, str) and sid and all(type(v) is int and v >= 0 for v in (attempt, since, due))):
            return None
        return cls(sid=sid, attempt=attempt, since_ms=since, due_ms=due, delay_s=0)


def check_delay(delay_s: int) -> None:
    """What SQS accepts as ``DelaySeconds`` (0 to 900); anything else is a bug of the caller."""
    if type(delay_s) is not int or not 0 <= delay_s <= MAX_QUEUE_DELAY_S:
        raise ValueError(f"a re-check delay must be 0..{MAX_QUEUE_DELAY_S} whole seconds, not {delay_s!r}")


class RecheckQueue(Protocol):
    def schedule(self, recheck: Recheck) -> None:
        """Deliver ``recheck`` to the media function ``recheck.delay_s`` seconds from now (durably)."""
        ...


def plan_recheck(policy: RecheckPolicy, *, sid: str, attempt: int, since_ms: int, now_ms: int) -> Recheck | None:
    """The re-check number ``attempt`` of a sid found incomplete since ``since_ms``; None once the window is over.

    The wait grows ``first_delay_s * factor**attempt`` up to ``max_delay_s`` and is cut so that the last
    re-check runs at the window's end, never after it."""
    remaining_ms = since_ms + policy.window_s * 1000 - now_ms
    if remaining_ms <= 0:
        return None
    grown = policy.first_delay_s * policy.factor ** min(max(attempt, 0), 32)
    delay_s = max(1, min(grown, policy.max_delay_s, -(-remaining_ms // 1000)))
    return Recheck(sid=sid, attempt=attempt, since_ms=since_ms, due_ms=now_ms + delay_s * 1000, delay_s=delay_s)


def follow_up(
    item: dict[str, Any],
    previous: Mapping[str, Any] | None,
    policy: RecheckPolicy,
    *,
    now_ms: int,
    rechecking: bool,
) -> Recheck | None:
    """Write the re-check state into a fresh check ``item``; the re-check to schedule, if any.

    ``rechecking``: this check is the current scheduled re-check (else a playlist event ran it). The fields:
    ``incomplete_since`` (the first incomplete finding of this run of findings), ``rechecks`` (how many
    re-checks ran), ``next_recheck_at`` (the current re-check's ``due_ms``), ``recheck`` (``scheduled``,
    ``exhausted``: the window passed and the recording stayed incomplete, or absent)."""
    was_incomplete = previous is not None and previous.get("status") == "incomplete"
    if item.get("status") != "incomplete":
        if rechecking and previous is not None and was_incomplete:  # found whole by a re-check: say after how many
            item["rechecks"] = int(previous.get("rechecks") or 0) + 1
        return None
    since = int(previous.get("incomplete_since") or now_ms) if previous is not None and was_incomplete else now_ms
    rechecks = int(previous.get("rechecks") or 0) if previous is not None and was_incomplete else 0
    item["incomplete_since"] = since
    pending = previous.get("next_recheck_at") if previous is not None and was_incomplete else None
    if not rechecking and pending is not None and int(pending) >= now_ms:
        # a playlist event while a re-check is on its way: that one stays the current one
        item.update(rechecks=rechecks, next_recheck_at=int(pending), recheck="scheduled")
        return None
    rechecks += 1 if rechecking else 0
    item["rechecks"] = rechecks
    plan = plan_recheck(policy, sid=str(item["sid"]), attempt=rechecks, since_ms=since, now_ms=now_ms)
    if plan is None:
        item.update(next_recheck_at=None, recheck="exhausted")
        return None
    item.update(next_recheck_at=plan.due_ms, recheck="scheduled")
    return plan


def is_current(previous: Mapping[str, Any] | None, recheck: Recheck) -> bool:
    """Does ``recheck`` still have work: the sid is incomplete and this is the re-check its item waits for."""
    if previous is None or previous.get("status") != "incomplete":
        return False
    pending = previous.get("next_recheck_at")
    return pending is not None and int(pending) == recheck.due_ms


def public(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the recordings API shows."""
    if item is None:
        return None
    shown = ("status", "ended", "playlists", "segments", "missing_count", "missing", "empty_count",
             "unreadable_playlists", "recheck", "rechecks")  # fmt: skip
    out = {k: item.get(k) for k in shown if k in item}
    for field in ("checked_at", "next_recheck_at"):
        if item.get(field) is not None:
            out[field] = _iso(int(item[field]))
    return out


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
