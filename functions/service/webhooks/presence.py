"""RTC presence from NCS channel events (productId 1, eventType 101-112).

NCS delivers late, twice and out of order, and a stream batch may be processed again after a partial
failure. So every item is a pure function of the events applied to it, and the order is enforced by
conditional writes rather than by processing order:

- a user's *state* (in/left, role, leave reason, ...) comes from their event with the highest
  ``clientSeq``; an older event is ignored (a duplicate has an equal ``clientSeq`` and is ignored too);
- the *session* description (platform, clientType, account, recorder-bot flag, join time) comes from
  the highest-``clientSeq`` join/leave event, so a role change that overtook its join loses nothing;
- the channel item follows create/destroy by ``ts`` (seconds; Agora gives nothing finer, so two
  lifecycle events in the same second keep the first one processed);
- a channel destroy marks users still "in" from before it as left (their own leave may be lost),
  keeping their ``clientSeq`` so a later event of theirs still applies.

The result after any interleaving of a set of events equals the result of applying them in order.
"""

from __future__ import annotations

from typing import Any

from agorakit.ncs.events import RtcChannelEvent, is_recorder_bot

from service.webhooks.repository import CHANNEL_SK, PresenceStore
from service.webhooks.settings import ProcessorSettings

#: attributes that record *when/which notice* wrote an item, not presence itself (excluded from comparisons)
BOOKKEEPING = frozenset({"updatedAt", "noticeId", "expiresAt"})


def _state(event: RtcChannelEvent) -> dict[str, Any]:
    """The state facet: every attribute is set or removed, so the item depends only on the newest event."""
    leaving = event.kind == "leave"
    return {
        "state": "left" if leaving else "in",
        "role": event.role,
        "lastEventType": event.event_type,
        "eventTs": event.ts,
        "leftTs": event.ts if leaving else None,
        "leaveReason": event.reason if leaving else None,
        "leaveReasonName": event.reason_name if leaving else None,
        "sessionDuration": event.duration if leaving else None,
        "leaveCause": None,
    }


def _session(event: RtcChannelEvent) -> dict[str, Any]:
    joined = event.ts if event.kind == "join" else None
    if event.kind == "leave" and event.ts is not None and event.duration is not None:
        joined = event.ts - event.duration
    return {
        "platform": event.platform,
        "clientType": event.client_type,
        "account": event.account,
        "bot": event.is_recorder_bot,
        "joinedTs": joined,
    }


def apply_rtc_event(
    event: RtcChannelEvent,
    store: PresenceStore,
    *,
    settings: ProcessorSettings,
    now: float,
    notice_id: str,
) -> str:
    """Apply one event; returns the outcome for the log (applied, stale, session_filled, unordered, ...)."""
    stamp = {"updatedAt": int(now * 1000), "noticeId": notice_id}
    kind = event.kind
    if kind in ("channel_create", "channel_destroy"):
        return _apply_channel(event, store, settings=settings, now=now, stamp=stamp)
    if kind not in ("join", "leave", "role") or event.uid is None:
        return "ignored"
    if event.client_seq is None:
        return "unordered"  # without clientSeq the event cannot be placed among the user's others
    ttl = settings.presence_left_ttl_seconds if kind == "leave" else settings.presence_ttl_seconds
    values = {**_state(event), **stamp, "expiresAt": int(now) + ttl}
    session = _session(event) if event.carries_session else None
    if store.put_user(event.channel, event.uid, seq=event.client_seq, values=values, session=session):
        return "applied"
    if session is not None and store.fill_session(event.channel, event.uid, seq=event.client_seq, session=session):
        return "session_filled"
    return "stale"


def _apply_channel(
    event: RtcChannelEvent, store: PresenceStore, *, settings: ProcessorSettings, now: float, stamp: dict[str, Any]
) -> str:
    if event.ts is None:
        return "unordered"
    if event.kind == "channel_create":
        values = {
            "state": "live",
            "createdTs": event.ts,
            "destroyedTs": None,
            "lastUid": None,
            "lastEventType": event.event_type,
            **stamp,
            "expiresAt": int(now) + settings.presence_ttl_seconds,
        }
        return "applied" if store.put_channel(event.channel, ts=event.ts, values=values) else "stale"
    values = {
        "state": "destroyed",
        "createdTs": None,
        "destroyedTs": event.ts,
        "lastUid": event.last_uid,
        "lastEventType": event.event_type,
        **stamp,
        "expiresAt": int(now) + settings.presence_left_ttl_seconds,
    }
    applied = store.put_channel(event.channel, ts=event.ts, values=values)
    # Always (even when stale or on a retry): users still "in" from before the destroy have left. The
    # condition (eventTs < destroy ts) spares anyone who (re)joined after it, so this is idempotent.
    cleared = 0
    left = {
        "state": "left",
        "leftTs": event.ts,
        "leaveCause": "channel_destroyed",
        "leaveReason": None,
        "leaveReasonName": None,
        "sessionDuration": None,
        **stamp,
        "expiresAt": int(now) + settings.presence_left_ttl_seconds,
    }
    for item in store.channel_items(event.channel):
        if item.get("uid") == CHANNEL_SK or item.get("state") != "in":
            continue
        eventTs = item.get("eventTs")
        if not isinstance(eventTs, int) or eventTs >= event.ts:
            continue
        if store.mark_left_by_destroy(event.channel, int(item["uid"]), ts=event.ts, values=left):
            cleared += 1
    if cleared:
        return f"{'applied' if applied else 'stale'}+cleared:{cleared}"
    return "applied" if applied else "stale"


def member_view(item: dict[str, Any]) -> dict[str, Any]:
    """A presence item as the channels API shows it."""
    uid = int(item["uid"])
    bot = item.get("bot")
    if bot is None:
        bot = is_recorder_bot(uid, item.get("platform"), item.get("clientType"))
    view = {
        "uid": uid,
        "state": item.get("state"),
        "role": item.get("role"),
        "bot": bool(bot),
        "platform": item.get("platform"),
        "account": item.get("account"),
        "joined_ts": item.get("joinedTs"),
        "last_event_ts": item.get("eventTs"),
    }
    if item.get("state") == "left":
        view.update(
            left_ts=item.get("leftTs"),
            leave_reason=item.get("leaveReason"),
            leave_reason_name=item.get("leaveReasonName") or item.get("leaveCause"),
        )
    return view
