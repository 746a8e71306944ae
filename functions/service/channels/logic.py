"""Channel moderation logic: Agora's channel lists (cached), webhook presence, kicking rules.

Caching the online-channel list: Agora allows 20 QPS per *account* for it, and a dashboard polls. Each
warm function keeps a page for ``channels_cache_seconds`` (5 s), so one container asks Agora at most
once per 5 s per page; across containers the shared DynamoDB token bucket (AgoraAccess) holds every
Agora call of the account to ``AGORA_QPS``. A shared DynamoDB cache item was left out on purpose: it
would add a read (and a write per refresh) to every request to save calls that the bucket already
bounds, and the list is advisory anyway ("pages may repeat or miss channels").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote

from agorakit.addresses import check_ban_ip, describe_ban_ip_rule
from agorakit.ids import MAX_UID, RECORDER_UID_MIN
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.auth import Caller
from service.channels.repository import KickingRule, KickingRulesRepository
from service.channels.settings import ChannelsSettings
from service.errors import BadRequest, Conflict, NotFound
from service.presence.logic import member_view
from service.presence.repository import CHANNEL_SK, PresenceStore

PRIVILEGES = ("join_channel", "publish_audio", "publish_video")
MIN_BAN_SECONDS = 60
MAX_BAN_SECONDS = 1440 * 60
ROLE_NAMES = {0: "unknown", 1: "communication", 2: "host", 3: "audience"}
MODE_NAMES = {1: "communication", 2: "live"}

Privilege = Literal["join_channel", "publish_audio", "publish_video"]


# ---------------------------------------------------------------------------------------------- input


def channel_name(raw: str) -> str:
    """A channel name from a URL path segment: percent-decoded, then checked against Agora's rules (400)."""
    from agorakit.agora.errors import AgoraParameterError
    from agorakit.agora.models import validate_cname

    name = unquote(raw)
    try:
        return validate_cname(name)
    except AgoraParameterError as exc:
        raise BadRequest(f"invalid channel name: {exc}") from None


def user_uid(raw: str) -> int:
    """A uid from a URL path segment: an integer in 1..2^32-1 (400 otherwise)."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise BadRequest(f"uid must be an integer in 1..{MAX_UID}")
    uid = int(text)
    if not 1 <= uid <= MAX_UID:
        raise BadRequest(f"uid must be an integer in 1..{MAX_UID}")
    return uid


def rule_id(raw: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise BadRequest("a kicking rule id is a positive integer")
    value = int(text)
    if value < 1:
        raise BadRequest("a kicking rule id is a positive integer")
    return value


def _default_privileges() -> list[Privilege]:
    return ["join_channel"]


def _duration(value: int) -> int:
    if value != 0 and not MIN_BAN_SECONDS <= value <= MAX_BAN_SECONDS:
        raise ValueError(
            f"duration_seconds is 0 (a one-time kick: out now, may rejoin) or {MIN_BAN_SECONDS}..{MAX_BAN_SECONDS}"
        )
    return value


def _ip_address(value: str | None) -> str | None:
    """A kicking-rule IP: one unicast host address (``agorakit.addresses.check_ban_ip`` says which ranges not)."""
    return None if value is None else check_ban_ip(value)


def _unique_privileges(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("privileges must not repeat")
    return value


class KickRequest(BaseModel):
    """``POST /channels/{name}/kick``, Agora's two channel forms: one uid in the channel (``uid``), or everyone
    (``close_channel``: nobody can join, i.e. the channel is disbanded). ``duration_seconds`` 0 is a one-time
    kick (Agora's advice for moderation: out now, may rejoin; no ban to lift). An IP ban is app-wide at Agora
    (cname + ip is not a documented form): ``POST /kicking-rules``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"uid": 1002, "duration_seconds": 600}]})

    uid: int | None = Field(default=None, ge=1, le=MAX_UID, strict=True, description="the user to ban")
    ip: str | None = Field(default=None, max_length=45, description="not here: IP bans are app-wide")
    close_channel: bool = Field(default=False, description="ban everyone from the channel (cname only)")
    duration_seconds: int = Field(default=3600, ge=0, le=MAX_BAN_SECONDS, strict=True)
    privileges: list[Privilege] = Field(default_factory=_default_privileges, min_length=1, max_length=3)

    _check_duration = field_validator("duration_seconds")(classmethod(lambda cls, v: _duration(v)))
    _check_privileges = field_validator("privileges")(classmethod(lambda cls, v: _unique_privileges(v)))

    @model_validator(mode="after")
    def _one_target(self) -> KickRequest:
        if self.ip is not None:
            raise ValueError("an IP ban applies to every channel of the app at Agora: POST /kicking-rules with ip")
        if self.close_channel == (self.uid is not None):
            raise ValueError("give uid (one user) or close_channel true (everyone in the channel), not both")
        return self


class AppBanRequest(BaseModel):
    """``POST /kicking-rules``: a rule for every channel of the app, on one uid or one IP address."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"uid": 1002, "duration_seconds": 600}]})

    uid: int | None = Field(default=None, ge=1, le=MAX_UID, strict=True, description="the user, in every channel")
    ip: str | None = Field(
        default=None, max_length=45, description=f"users behind one NAT too: {describe_ban_ip_rule()}"
    )
    duration_seconds: int = Field(default=3600, ge=0, le=MAX_BAN_SECONDS, strict=True)
    privileges: list[Privilege] = Field(default_factory=_default_privileges, min_length=1, max_length=3)

    _check_ip = field_validator("ip")(classmethod(lambda cls, v: _ip_address(v)))
    _check_duration = field_validator("duration_seconds")(classmethod(lambda cls, v: _duration(v)))
    _check_privileges = field_validator("privileges")(classmethod(lambda cls, v: _unique_privileges(v)))

    @model_validator(mode="after")
    def _one_target(self) -> AppBanRequest:
        if (self.uid is None) == (self.ip is None):
            raise ValueError("give exactly one of uid or ip")
        return self


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"duration_seconds": 1200}]})

    duration_seconds: int = Field(ge=MIN_BAN_SECONDS, le=MAX_BAN_SECONDS, strict=True)


# ---------------------------------------------------------------------------------------------- deps


class TtlCache:
    """A tiny per-process cache with a monotonic clock (one warm Lambda = one process)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: Any, ttl: float, load: Callable[[], Any]) -> tuple[Any, float | None]:
        """The value and its age in seconds when it came from the cache (None when just loaded)."""
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1], now - hit[0]
        value = load()
        if ttl > 0:
            with self._lock:
                self._items[key] = (self._clock(), value)
        return value, None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class ChannelDependencies:
    agora_factory: Callable[[], Any]
    rules: KickingRulesRepository
    presence: PresenceStore
    cache: TtlCache = field(default_factory=TtlCache)
    clock: Callable[[], float] = time.time
    _agora: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def agora(self) -> Any:
        """The AgoraClient, built on first use (reads the REST secret)."""
        with self._lock:
            if self._agora is None:
                self._agora = self.agora_factory()
            return self._agora


def require_admin(caller: Caller, settings: ChannelsSettings) -> None:
    caller.require_group(settings.admin_group, "channel moderation")


# ---------------------------------------------------------------------------------------------- channels


def online_channels(page_no: int, page_size: int, *, settings: ChannelsSettings, deps: ChannelDependencies) -> dict:
    data, age = deps.cache.get_or_load(
        ("channels", page_no, page_size),
        settings.channels_cache_seconds,
        lambda: deps.agora.list_channels(page_no=page_no, page_size=page_size),
    )
    return {**data, "cached": age is not None, "age_ms": int((age or 0) * 1000)}


def _split_bots(uids: list[int]) -> tuple[list[int], list[int]]:
    users = [u for u in uids if u < RECORDER_UID_MIN]
    bots = [u for u in uids if u >= RECORDER_UID_MIN]
    return users, bots


def users_from_agora(name: str, *, deps: ChannelDependencies) -> dict[str, Any]:
    """Agora's user list; recorder bots (our reserved uid range) are listed apart and not counted."""
    data = deps.agora.channel_users(name)
    hosts, host_bots = _split_bots(list(data.get("hosts") or []))
    audience, audience_bots = _split_bots(list(data.get("audience") or []))
    users, bots = _split_bots(list(data.get("users") or []))
    total = max(0, int(data.get("total") or 0) - len(bots))
    return {
        "channel": name,
        "source": "agora",
        "channel_exist": bool(data.get("channel_exist")),
        "mode": MODE_NAMES.get(data.get("mode") or 0),
        "hosts": hosts,
        "audience": audience,
        "users": users,
        "bots": sorted(set(bots) | set(host_bots) | set(audience_bots)),
        "total": total,
    }


def hosts_from_agora(name: str, *, deps: ChannelDependencies) -> dict[str, Any]:
    """Agora's hosts-only list (live channels), the recorder bot apart. Agora refuses it for a communication
    channel (400 "hosts_only applies to live channels"): that is the channel's state, a 409, never a 502."""
    from agorakit.agora.errors import AgoraParameterError

    try:
        listed = deps.agora.channel_hosts(name)
    except AgoraParameterError as exc:
        raise Conflict(
            f"not a live channel: {name!r} is a communication channel, which has no hosts list "
            f"(Agora: {exc.reason or exc.message}); use GET /channels/{{name}}/users",
            details={"agora_http_status": exc.http_status, "agora_reason": exc.reason or exc.message},
        ) from None
    hosts, bots = _split_bots(list(listed))
    return {"channel": name, "source": "agora", "hosts": hosts, "recorder_bots": bots}


#: Agora: the NCS addresses change; fetch them at least every 24 hours
NCS_REFRESH_SECONDS = 86_400


def ncs_addresses(*, deps: ChannelDependencies) -> dict[str, Any]:
    """Where NCS webhooks come from (``GET /v2/ncs/ip``). The intake verifies signatures whatever the source;
    this list is for operators who also filter by address in front of the API."""
    return {"addresses": list(deps.agora.ncs_ips()), "source": "agora", "refresh_seconds": NCS_REFRESH_SECONDS}


def users_from_webhooks(name: str, *, deps: ChannelDependencies) -> dict[str, Any]:
    """Who is in the channel according to the NCS events we received (advisory: NCS may lose events)."""
    items = deps.presence.channel_items(name)
    channel_item = next((i for i in items if i.get("uid") == CHANNEL_SK), None)
    members = [member_view(i) for i in items if i.get("uid") != CHANNEL_SK]
    present = [m for m in members if m["state"] == "in"]
    people = [m for m in present if not m["bot"]]
    return {
        "channel": name,
        "source": "webhooks",
        "channel_exist": bool(present),
        "channel_state": ((channel_item or {}).get("presence") or {}).get("state"),
        "hosts": sorted(m["uid"] for m in people if m["role"] == "host"),
        "audience": sorted(m["uid"] for m in people if m["role"] == "audience"),
        "users": sorted(m["uid"] for m in people),
        "bots": sorted(m["uid"] for m in present if m["bot"]),
        "total": len(people),
        "members": sorted(members, key=lambda m: m["uid"]),
    }


def user_status(name: str, uid: int, *, deps: ChannelDependencies) -> dict[str, Any]:
    data = deps.agora.user_status(name, uid)
    role = data.get("role")
    return {
        "channel": name,
        "uid": uid,
        "in_channel": bool(data.get("in_channel")),
        "role": ROLE_NAMES.get(role, "unknown") if role is not None else None,
        "join": data.get("join"),
        "platform": data.get("platform"),
        "bot": uid >= RECORDER_UID_MIN,
    }


# ---------------------------------------------------------------------------------------------- rules


def rule_kind(cname: str | None, uid: int | None, ip: str | None, seconds: int | None) -> str:
    """Which of Agora's documented forms a rule is."""
    if seconds == 0:
        return "kick" if uid is not None or ip is not None else "disband"
    if ip is not None:
        return "ip_ban"
    if cname and uid is None:
        return "channel_ban"
    return "channel_user_ban" if cname else "app_user_ban"


def rule_view(rule: KickingRule, now: float) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": rule_kind(rule.cname, rule.uid, rule.ip, rule.duration_seconds),
        "channel": rule.cname,
        "uid": rule.uid,
        "ip": rule.ip,
        "privileges": list(rule.privileges),
        "duration_seconds": rule.duration_seconds,
        "created_at": rule.created_at,
        "expires_at": rule.expires_at,
        "expired": rule.expires_at <= now,
        "created_by": rule.created_by,
        "sources": ["ours"],
    }


def create_kick(
    name: str | None,
    request: KickRequest | AppBanRequest,
    caller: Caller,
    *,
    settings: ChannelsSettings,
    deps: ChannelDependencies,
) -> dict[str, Any]:
    """Create the rule at Agora, then keep its id on our side (Agora's list may miss it later).

    ``name`` None: an app-wide rule (uid or ip only). A one-time kick (0 s) is kept too, already expired."""
    rule_number = deps.agora.create_kicking_rule(
        name, uid=request.uid, ip=request.ip, seconds=request.duration_seconds, privileges=list(request.privileges)
    )
    now = int(deps.clock())
    rule = KickingRule(
        id=int(rule_number),
        cname=name,
        uid=request.uid,
        ip=request.ip,
        privileges=tuple(request.privileges),
        duration_seconds=request.duration_seconds,
        created_at=now,
        expires_at=now + request.duration_seconds,
        created_by=caller.subject,
    )
    deps.rules.put(rule, purge_at=rule.expires_at + settings.kicking_rules_retention_seconds)
    return rule_view(rule, now)


def _agora_rule_view(rule: dict[str, Any]) -> dict[str, Any]:
    expires = _iso_epoch(rule.get("ts"))
    uid = rule.get("uid")
    return {
        "id": int(rule["id"]),
        "channel": rule.get("cname") or None,
        "uid": int(uid) if isinstance(uid, int | str) and str(uid).isdigit() and int(uid) > 0 else None,
        "ip": rule.get("ip") or None,
        "privileges": list(rule.get("privileges") or []),
        "expires_at": expires,
        "sources": ["agora"],
    }


def _iso_epoch(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def list_rules(*, include_agora: bool, deps: ChannelDependencies) -> dict[str, Any]:
    now = deps.clock()
    views = {rule.id: rule_view(rule, now) for rule in deps.rules.all()}
    if include_agora:
        for raw in deps.agora.list_kicking_rules():
            if not isinstance(raw.get("id"), int | str) or not str(raw.get("id")).isdigit():
                continue
            agora = _agora_rule_view(raw)
            ours = views.get(agora["id"])
            if ours is None:
                views[agora["id"]] = agora
            else:
                ours["sources"] = ["ours", "agora"]
                ours["agora_expires_at"] = agora["expires_at"]
    return {"rules": [views[k] for k in sorted(views)], "include_agora": include_agora}


def update_rule(
    rule_number: int, update: RuleUpdate, *, settings: ChannelsSettings, deps: ChannelDependencies
) -> dict[str, Any]:
    """New duration from now, at Agora first (404 if Agora does not know the rule), then ours."""
    result = deps.agora.update_kicking_rule(rule_number, update.duration_seconds)
    now = int(deps.clock())
    expires = now + update.duration_seconds
    ours = deps.rules.update_expiry(
        rule_number,
        duration_seconds=update.duration_seconds,
        expires_at=expires,
        updated_at=now,
        purge_at=expires + settings.kicking_rules_retention_seconds,
    )
    if ours is not None:
        view = rule_view(ours, now)
        view["sources"] = ["ours", "agora"]
        return view
    return {"id": rule_number, "expires_at": _iso_epoch(result.get("ts")) or expires, "sources": ["agora"]}


def delete_rule(rule_number: int, *, deps: ChannelDependencies) -> None:
    """Lift the ban at Agora and forget it here. Idempotent: 404 only if neither side knew the rule."""
    from agorakit.agora.errors import AgoraNotFoundError

    try:
        deps.agora.delete_kicking_rule(rule_number)
        known_at_agora = True
    except AgoraNotFoundError:
        known_at_agora = False
    known_here = deps.rules.delete(rule_number)
    if not (known_at_agora or known_here):
        raise NotFound(f"no kicking rule {rule_number}")
