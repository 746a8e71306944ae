"""PresenceTable stream images -> ``User Joined Channel``, ``User Left Channel`` and ``Channel Closed``.

A user item's ``presence.state`` is the state of its newest event (``service.presence.logic``: writes are
ordered by ``clientSeq``, a stale or duplicate NCS event writes nothing, so it makes no stream record).
Facts: the state became ``in`` (from absent or ``left``) -> joined; ``in`` -> ``left`` -> left, with Agora's
reason or ``channel_destroyed`` when a channel's destroy cleared the user; the channel item became
``destroyed`` -> closed. A role change keeps ``in``: no event. TTL removals publish nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.events.model import ChannelClosed, Event, Source, UserJoinedChannel, UserLeftChannel

CHANNEL_SK = "#channel"


def _state(image: Mapping[str, Any] | None) -> str | None:
    presence = (image or {}).get("presence")
    return str(presence.get("state")) if isinstance(presence, Mapping) and presence.get("state") else None


def _int(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


def presence_events(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, source: Source) -> list[Event]:
    if not new or "channel" not in new or "uid" not in new:
        return []
    channel, sk = str(new["channel"]), str(new["uid"])
    before, after = _state(old), _state(new)
    if before == after or after is None:
        return []
    presence: Mapping[str, Any] = new.get("presence") or {}
    if sk == CHANNEL_SK:
        return _channel(after, presence, source, channel)
    return _user(before, after, new, source, channel=channel, uid=int(sk))


def _channel(after: str, presence: Mapping[str, Any], source: Source, channel: str) -> list[Event]:
    if after != "destroyed":
        return []
    detail = ChannelClosed(
        **source.common(ChannelClosed.DETAIL_TYPE, f"channel:{channel}"), channel=channel,
        destroyed_ts=_int(presence.get("destroyedTs")), last_uid=_int(presence.get("lastUid")),
    )  # fmt: skip
    return [Event(detail)]


def _user(
    before: str | None, after: str, new: Mapping[str, Any], source: Source, *, channel: str, uid: int
) -> list[Event]:
    presence: Mapping[str, Any] = new.get("presence") or {}
    ordering = f"channel:{channel}:user:{uid}"
    session: Mapping[str, Any] = new.get("session") or {}
    if after == "in":
        detail_j = UserJoinedChannel(
            **source.common(UserJoinedChannel.DETAIL_TYPE, ordering), channel=channel, uid=uid,
            role=None if presence.get("role") is None else str(presence["role"]), bot=bool(session.get("bot")),
            platform=_int(session.get("platform")), joined_ts=_int(session.get("joinedTs")),
        )  # fmt: skip
        return [Event(detail_j)]
    if after == "left" and before == "in":
        name = presence.get("leaveReasonName") or presence.get("leaveCause")
        detail_l = UserLeftChannel(
            **source.common(UserLeftChannel.DETAIL_TYPE, ordering), channel=channel, uid=uid,
            bot=bool(session.get("bot")),
            reason=_int(presence.get("leaveReason")), reason_name=None if name is None else str(name),
            left_ts=_int(presence.get("leftTs")), session_seconds=_int(presence.get("sessionDuration")),
        )  # fmt: skip
        return [Event(detail_l)]
    return []
