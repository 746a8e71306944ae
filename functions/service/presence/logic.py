"""RTC presence from NCS channel events (productId 1, eventType 101-112): the rules.

Written by the webhook processor (``service.webhooks.processor``), read by the channels API.

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

from service.presence.repository import CHANNEL_SK, PresenceStore
from service.presence.settings import PresenceSettings

#: attributes that record *when/which notice* wrote an item, not presence itself (excluded from comparisons)
BOOKKEEPING = frozenset({"updatedAt", "noticeId", "expiresAt"})


def _presence(event: RtcChannelEvent) -> dict[str, Any]:
    """The state facet, written whole (absent fields are absent), so it depends only on the newest event."""
    presence: dict[str, Any] = {
        "state": "left" if event.kind == "leave" else "in",
        "role": event.role,
        "lastEventType": event.event_type,
        "eventTs": event.ts,
    }
    if event.kind == "leave":
        presence.update(
            leftTs=event.ts,
            leaveReason=event.reason,
            leaveReasonName=event.reason_name,
            sessionDuration=event.duration,
        )
    return {k: v for k, v in presence.items() if v is not None}


def _session(event: RtcChannelEvent) -> dict[str, Any]:
    joined = event.ts if event.kind == "join" else None
    if event.kind == "leave" and event.ts is not None and event.duration is not None:
        joined = event.ts - event.duration
    session = {
        "platform": event.platform,
        "clientType": event.client_type,
        "account": event.account,
        "bot": event.is_recorder_bot,
        "joinedTs": joined,
    }
    return {k: v for k, v in session.items() if v is not None}


def apply_rtc_event(
    event: RtcChannelEvent,
    store: PresenceStore,
    *,
    settings: PresenceSettings,
    now: float,
    notice_id: str,
) -> str:
    """Apply one event; returns the outcome for the log (applied, stale, session_filled, unordered, ...)."""
    kind = event.kind
    if kind in ("channel_create", "channel_destroy"):
        return _apply_channel(event, store, settings=settings, now=now, notice_id=notice_id)
    if kind not in ("join", "leave", "role") or event.uid is None:
        return "ignored"
    if event.client_seq is None:
        return "unordered"  # without clientSeq the event cannot be placed among the user's others
    ttl = settings.presence_left_ttl_seconds if kind == "leave" else settings.presence_ttl_seconds
    stamp = {"updatedAt": int(now * 1000), "noticeId": notice_id, "expiresAt": int(now) + ttl}
    session = _session(event) if event.carries_session else None
    write = store.put_user(
        event.channel, event.uid, seq=event.client_seq, presence=_presence(event), session=session, stamp=stamp
    )
    if write.applied:
        return "applied"
    if (
        session is not None
        and write.session_outdated(event.client_seq)
        and store.fill_session(event.channel, event.uid, seq=event.client_seq, session=session)
    ):
        return "session_filled"
    return "stale"


def _apply_channel(
    event: RtcChannelEvent, store: PresenceStore, *, settings: PresenceSettings, now: float, notice_id: str
) -> str:
    if event.ts is None:
        return "unordered"
    if event.kind == "channel_create":
        presence: dict[str, Any] = {"state": "live", "createdTs": event.ts, "lastEventType": event.event_type}
        stamp = {
            "updatedAt": int(now * 1000),
            "noticeId": notice_id,
            "expiresAt": int(now) + settings.presence_ttl_seconds,
        }
        return "applied" if store.put_channel(event.channel, ts=event.ts, presence=presence, stamp=stamp) else "stale"
    presence = {"state": "destroyed", "destroyedTs": event.ts, "lastEventType": event.event_type}
    if event.last_uid is not None:
        presence["lastUid"] = event.last_uid
    stamp = {
        "updatedAt": int(now * 1000),
        "noticeId": notice_id,
        "expiresAt": int(now) + settings.presence_left_ttl_seconds,
    }
    applied = store.put_channel(event.channel, ts=event.ts, presence=presence, stamp=stamp)
    # Always (even when stale, or on a retry after a partial failure): users still "in" from before the
    # destroy have left. Anyone whose last event is at or after the destroy is spared, so this is idempotent.
    cleared = 0
    for item in store.channel_items(event.channel, state="in"):
        current = item.get("presence") or {}
        seen_seq = item.get("clientSeq")
        event_ts = current.get("eventTs")
        if item.get("uid") == CHANNEL_SK or current.get("state") != "in" or not isinstance(seen_seq, int):
            continue
        if not isinstance(event_ts, int) or event_ts >= event.ts:
            continue
        left = {
            **{k: v for k, v in current.items() if k in ("role", "lastEventType", "eventTs")},
            "state": "left",
            "leftTs": event.ts,
            "leaveCause": "channel_destroyed",
        }
        if store.mark_left(event.channel, int(item["uid"]), seen_seq=seen_seq, presence=left, stamp=stamp):
            cleared += 1
    outcome = "applied" if applied else "stale"
    return f"{outcome}+cleared:{cleared}" if cleared else outcome


def member_view(item: dict[str, Any]) -> dict[str, Any]:
    """A presence item as the channels API shows it."""
    uid = int(item["uid"])
    presence = item.get("presence") or {}
    session = item.get("session") or {}
    bot = session.get("bot")
    if bot is None:
        bot = is_recorder_bot(uid, session.get("platform"), session.get("clientType"))
    view: dict[str, Any] = {
        "uid": uid,
        "state": presence.get("state"),
        "role": presence.get("role"),
        "bot": bool(bot),
        "platform": session.get("platform"),
        "account": session.get("account"),
        "joined_ts": session.get("joinedTs"),
        "last_event_ts": presence.get("eventTs"),
    }
    if presence.get("state") == "left":
        view.update(
            left_ts=presence.get("leftTs"),
            leave_reason=presence.get("leaveReason"),
            leave_reason_name=presence.get("leaveReasonName") or presence.get("leaveCause"),
        )
    return view
