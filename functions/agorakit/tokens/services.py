"""The general AccessToken2 builder: any mix of services, including several of one type, and ``build_from_spec``.

Mirrors the official ``AccessToken2`` + ``Service*`` classes (python3 HEAD: services kept in insertion order
and stably sorted by type, so repeated types survive), with every field validated when it is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from agorakit.tokens.builder import (
    _U16,
    AGORA_CHARACTERS,
    MAX_ACCOUNT_BYTES,
    PRIVILEGES,
    SERVICE_APAAS,
    SERVICE_CHAT,
    SERVICE_FCDN,
    SERVICE_FPA,
    SERVICE_NAMES,
    SERVICE_RTC,
    SERVICE_RTM,
    SERVICE_RTM2,
    SERVICE_STREAMING,
    _app_prefix,
    _certificate,
    _channel_bytes,
    _check_agora_string,
    _check_int,
    _check_issue_ts,
    _check_salt,
    _rtm_user_bytes,
    _uid_bytes,
    pack_privileges,
    privilege_id,
    seal,
    validate_expire,
)
from agorakit.tokens.errors import TokenValidationError

#: RTM2 permission resource types and permission types (wire ids).
RTM2_RESOURCE_TYPES: Mapping[str, int] = {
    "message_channels": 0,
    "stream_channels": 1,
    "group_channels": 2,
    "server_groups": 3,
    "users": 4,
}
RTM2_PERMISSIONS: Mapping[str, int] = {"read": 0, "write": 1}
MAX_SERVICES = 0xFFFF
MAX_RTM2_RESOURCE_BYTES = 255


def _string(raw: bytes) -> bytes:
    return _U16(len(raw)) + raw


class Service:
    """One service of a token: its privilege map plus type-specific fields (packed after the map)."""

    type: ClassVar[int]
    __slots__ = ("privileges",)

    def __init__(self) -> None:
        self.privileges: dict[int, int] = {}

    @property
    def name(self) -> str:
        return SERVICE_NAMES[self.type]

    def add_privilege(self, privilege: int | str, expire: int) -> Self:
        """``privilege`` by wire id or name; ``expire`` in seconds from issue_ts (1..86400)."""
        pid = privilege_id(self.type, privilege, f"{self.name}.privileges")
        self.privileges[pid] = validate_expire(expire, f"{self.name}.privileges[{privilege!r}]")
        return self

    def _fields(self) -> bytes:
        return b""

    def _check(self) -> None:
        """Cross-field rules checked at build time."""

    def pack(self) -> bytes:
        if not self.privileges:
            raise TokenValidationError(f"{self.name}.privileges", "a service needs at least one privilege")
        self._check()
        return _U16(self.type) + pack_privileges(self.privileges) + self._fields()


class RtcService(Service):
    """RTC (type 1): channel name and uid (int, 0 = any) or string account."""

    type = SERVICE_RTC
    __slots__ = ("_account", "_channel")

    def __init__(self, channel_name: str, uid: int | str) -> None:
        super().__init__()
        self._channel = _channel_bytes(channel_name, "rtc.channel_name")
        self._account = _uid_bytes(uid, "rtc.uid")

    def _fields(self) -> bytes:
        return _string(self._channel) + _string(self._account)


class RtmService(Service):
    """RTM / Signaling login (type 2)."""

    type = SERVICE_RTM
    __slots__ = ("_user",)

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self._user = _rtm_user_bytes(user_id, "rtm.user_id")

    def _fields(self) -> bytes:
        return _string(self._user)


class StreamingService(Service):
    """Streaming (type 3): channel name and account (an int is packed as its decimal text, 0 as empty)."""

    type = SERVICE_STREAMING
    __slots__ = ("_account", "_channel")

    def __init__(self, channel_name: str, account: int | str) -> None:
        super().__init__()
        self._channel = _channel_bytes(channel_name, f"{self.name}.channel_name")
        self._account = _uid_bytes(account, f"{self.name}.account")

    def _fields(self) -> bytes:
        return _string(self._channel) + _string(self._account)


class FcdnService(StreamingService):
    """FCDN (type 6): same layout as Streaming."""

    type = SERVICE_FCDN
    __slots__ = ()


class FpaService(Service):
    """FPA (type 4): no fields."""

    type = SERVICE_FPA
    __slots__ = ()


class ChatService(Service):
    """Chat (type 5): user id; empty for an app token (privilege ``app``)."""

    type = SERVICE_CHAT
    __slots__ = ("_user",)

    def __init__(self, user_id: str = "") -> None:
        super().__init__()
        self._user = _check_agora_string("chat.user_id", user_id, 64, "a chat user id", allow_empty=True)

    def _check(self) -> None:
        if 1 in self.privileges and not self._user:
            raise TokenValidationError("chat.user_id", "a chat user token (privilege 'user') needs a user id")

    def _fields(self) -> bytes:
        return _string(self._user)


class ApaasService(Service):
    """APaaS / Flexible Classroom (type 7): room uuid, user uuid and an int16 role (-1 = none)."""

    type = SERVICE_APAAS
    __slots__ = ("_role", "_room", "_user")

    def __init__(self, room_uuid: str = "", user_uuid: str = "", role: int = -1) -> None:
        super().__init__()
        self._room = _check_agora_string(
            "apaas.room_uuid", room_uuid, MAX_ACCOUNT_BYTES, "a room uuid", allow_empty=True
        )
        self._user = _check_agora_string(
            "apaas.user_uuid", user_uuid, MAX_ACCOUNT_BYTES, "a user uuid", allow_empty=True
        )
        self._role = _check_int("apaas.role", role, -0x8000, 0x7FFF, "int16")

    def _fields(self) -> bytes:
        return _string(self._room) + _string(self._user) + self._role.to_bytes(2, "little", signed=True)


def _code(table: Mapping[str, int], key: object, field: str, what: str) -> int:
    if isinstance(key, str):
        if key in table:
            return table[key]
        if key.isascii() and key.isdigit():
            key = int(key)
    if isinstance(key, int) and not isinstance(key, bool) and key in table.values():
        return int(key)
    known = ", ".join(f"{code} ({name})" for name, code in table.items())
    raise TokenValidationError(field, f"unknown {what} {key!r}; known: {known}")


def _resource(field: str, value: object) -> bytes:
    if not isinstance(value, str) or not value:
        raise TokenValidationError(field, "a resource must be a non-empty string")
    if any(ch < " " or ch == "\x7f" for ch in value):
        raise TokenValidationError(field, "a resource must not contain control characters")
    raw = _utf8(field, value)
    if len(raw) > MAX_RTM2_RESOURCE_BYTES:
        raise TokenValidationError(field, f"is {len(raw)} bytes; at most {MAX_RTM2_RESOURCE_BYTES}")
    return raw


def _utf8(field: str, value: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise TokenValidationError(field, "is not encodable as UTF-8") from None


class Rtm2Service(Service):
    """RTM2 (type 8): user id plus ``{resource_type: {permission: [resources]}}`` (names or wire ids)."""

    type = SERVICE_RTM2
    __slots__ = ("_permissions", "_user")

    def __init__(self, user_id: str, permissions: Mapping[Any, Mapping[Any, Sequence[str]]] | None = None) -> None:
        super().__init__()
        self._user = _rtm_user_bytes(user_id, "rtm2.user_id")
        self._permissions: dict[int, dict[int, list[bytes]]] = {}
        if permissions is None:
            return
        if not isinstance(permissions, Mapping):
            raise TokenValidationError("rtm2.permissions", "must be a mapping {resource_type: {permission: [...]}}")
        for rkey, perms in permissions.items():
            rfield = f"rtm2.permissions[{rkey!r}]"
            rtype = _code(RTM2_RESOURCE_TYPES, rkey, rfield, "RTM2 resource type")
            if rtype in self._permissions:
                raise TokenValidationError(rfield, "resource type given twice")
            if not isinstance(perms, Mapping):
                raise TokenValidationError(rfield, "must be a mapping {permission: [resources]}")
            by_perm: dict[int, list[bytes]] = {}
            for pkey, resources in perms.items():
                pfield = f"{rfield}[{pkey!r}]"
                ptype = _code(RTM2_PERMISSIONS, pkey, pfield, "RTM2 permission")
                if ptype in by_perm:
                    raise TokenValidationError(pfield, "permission given twice")
                if isinstance(resources, str | bytes) or not isinstance(resources, Sequence):
                    raise TokenValidationError(pfield, "must be a list of resource names")
                if len(resources) > 0xFFFF:
                    raise TokenValidationError(pfield, "too many resources")
                by_perm[ptype] = [_resource(f"{pfield}[{i}]", r) for i, r in enumerate(resources)]
            self._permissions[rtype] = by_perm

    def _fields(self) -> bytes:
        parts = [_string(self._user), _U16(len(self._permissions))]
        for rtype in sorted(self._permissions):
            perms = self._permissions[rtype]
            parts.append(_U16(rtype) + _U16(len(perms)))
            for ptype in sorted(perms):
                resources = perms[ptype]
                parts.append(_U16(ptype) + _U16(len(resources)))
                parts.extend(_string(r) for r in resources)
        return b"".join(parts)


SERVICE_CLASSES: Mapping[int, type[Service]] = {
    cls.type: cls
    for cls in (
        RtcService,
        RtmService,
        StreamingService,
        FpaService,
        ChatService,
        FcdnService,
        ApaasService,
        Rtm2Service,
    )
}


class AccessToken2:
    """A 007 token under construction: ``AccessToken2(app_id, cert, expire=600).add_service(svc).build()``.

    Unlike the official class, invalid input raises ``TokenValidationError`` instead of building ``''``.
    ``issue_ts``/``salt`` default to the build time and a CSPRNG salt.
    """

    __slots__ = ("_app_prefix", "_certificate", "app_id", "expire", "issue_ts", "salt", "services")

    def __init__(
        self,
        app_id: str,
        app_certificate: str,
        *,
        expire: int,
        issue_ts: int | None = None,
        salt: int | None = None,
    ) -> None:
        self._app_prefix = _app_prefix(app_id)
        self._certificate = _certificate(app_certificate)
        self.app_id = app_id
        self.expire = validate_expire(expire)
        self.issue_ts = None if issue_ts is None else _check_issue_ts(issue_ts)
        self.salt = None if salt is None else _check_salt(salt)
        self.services: list[Service] = []

    def add_service(self, service: Service) -> Self:
        if not isinstance(service, Service):
            raise TokenValidationError("services", f"expected a Service, got {type(service).__name__}")
        if len(self.services) >= MAX_SERVICES:
            raise TokenValidationError("services", f"at most {MAX_SERVICES} services fit in a token")
        self.services.append(service)
        return self

    def build(self) -> str:
        if not self.services:
            raise TokenValidationError("services", "add at least one service")
        ordered = sorted(self.services, key=lambda s: s.type)  # stable: same-type services keep their order
        packed = b"".join([s.pack() for s in ordered])
        return seal(
            self._app_prefix,
            self._certificate,
            expire=self.expire,
            issue_ts=self.issue_ts,
            salt=self.salt,
            service_count=len(ordered),
            services=packed,
        )


# ------------------------------------------------------------------------------------------------------- spec

_SERVICE_ALIASES: Mapping[str, int] = {
    **{name: code for code, name in SERVICE_NAMES.items()},
    "education": SERVICE_APAAS,
    "rtns": SERVICE_FPA,
}
#: spec keys per service type -> (constructor argument, required)
_SPEC_FIELDS: Mapping[int, Mapping[str, tuple[str, bool]]] = {
    SERVICE_RTC: {"channel_name": ("channel_name", True), "uid": ("uid", True), "account": ("uid", True)},
    SERVICE_RTM: {"user_id": ("user_id", True)},
    SERVICE_STREAMING: {
        "channel_name": ("channel_name", True),
        "account": ("account", True),
        "uid": ("account", True),
    },
    SERVICE_FPA: {},
    SERVICE_CHAT: {"user_id": ("user_id", False)},
    SERVICE_FCDN: {
        "channel_name": ("channel_name", True),
        "account": ("account", True),
        "uid": ("account", True),
    },
    SERVICE_APAAS: {
        "room_uuid": ("room_uuid", False),
        "user_uuid": ("user_uuid", False),
        "role": ("role", False),
    },
    SERVICE_RTM2: {"user_id": ("user_id", True), "permissions": ("permissions", False)},
}
_TOP_LEVEL = {"app_id", "app_certificate", "expire", "issue_ts", "salt", "services"}


def service_type(value: object, field: str = "type") -> int:
    """A service type by name (``"rtc"``, ``"rtm2"``, ...) or wire id (``1`` or ``"1"``)."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _SERVICE_ALIASES:
            return _SERVICE_ALIASES[key]
        if key.isascii() and key.isdigit():
            value = int(key)
    if isinstance(value, int) and not isinstance(value, bool) and value in SERVICE_NAMES:
        return int(value)
    known = ", ".join(f"{code} ({name})" for code, name in SERVICE_NAMES.items())
    raise TokenValidationError(field, f"unknown service type {value!r}; known: {known}")


def service_from_spec(spec: Mapping[str, Any], index: int = 0) -> Service:
    """One entry of a spec's ``services`` list -> a ``Service`` with its privileges."""
    where = f"services[{index}]"
    if not isinstance(spec, Mapping):
        raise TokenValidationError(where, "must be an object")
    if "type" not in spec:
        raise TokenValidationError(f"{where}.type", "is required")
    stype = service_type(spec["type"], f"{where}.type")
    fields = _SPEC_FIELDS[stype]
    unknown = sorted(set(spec) - set(fields) - {"type", "privileges"})
    if unknown:
        allowed = ", ".join(["type", "privileges", *fields])
        raise TokenValidationError(where, f"unknown key(s) {', '.join(unknown)} for {SERVICE_NAMES[stype]}; "
                                   f"allowed: {allowed}")  # fmt: skip
    kwargs: dict[str, Any] = {}
    for key, (argument, _required) in fields.items():
        if key in spec:
            if argument in kwargs:
                raise TokenValidationError(where, f"give only one of the aliases for {argument}")
            kwargs[argument] = spec[key]
    for key, (argument, required) in fields.items():
        if required and argument not in kwargs:
            raise TokenValidationError(f"{where}.{key}", "is required")
    try:
        service = SERVICE_CLASSES[stype](**kwargs)
        privileges = spec.get("privileges")
        if not isinstance(privileges, Mapping) or not privileges:
            raise TokenValidationError("privileges", "must be a non-empty object {privilege: seconds}")
        for privilege, seconds in privileges.items():
            service.add_privilege(privilege, seconds)
    except TokenValidationError as exc:
        field = exc.field.removeprefix(f"{SERVICE_NAMES[stype]}.")
        raise TokenValidationError(f"{where}.{field}", exc.reason) from None
    return service


def build_from_spec(spec: Mapping[str, Any]) -> str:
    """Build a token from a JSON-shaped spec (the CLI's ``token build --spec``)::

        {"app_id", "app_certificate", "expire", "issue_ts"?, "salt"?,
         "services": [{"type": "rtc", "channel_name", "uid", "privileges": {"1": 600}},
                      {"type": "rtm", "user_id", "privileges": {"login": 600}}, ...]}

    ``type`` is a name or wire id; privilege keys are wire ids (as strings or ints) or names.
    """
    if not isinstance(spec, Mapping):
        raise TokenValidationError("spec", "must be an object")
    unknown = sorted(set(spec) - _TOP_LEVEL)
    if unknown:
        allowed = ", ".join(sorted(_TOP_LEVEL))
        raise TokenValidationError("spec", f"unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    for key in ("app_id", "app_certificate", "expire", "services"):
        if key not in spec:
            raise TokenValidationError(key, "is required")
    token = AccessToken2(
        spec["app_id"],
        spec["app_certificate"],
        expire=spec["expire"],
        issue_ts=spec.get("issue_ts"),
        salt=spec.get("salt"),
    )
    services = spec["services"]
    if isinstance(services, str | bytes | Mapping) or not isinstance(services, Sequence) or not services:
        raise TokenValidationError("services", "must be a non-empty list of service objects")
    for index, entry in enumerate(services):
        token.add_service(service_from_spec(entry, index))
    return token.build()


__all__ = [
    "AGORA_CHARACTERS",
    "PRIVILEGES",
    "RTM2_PERMISSIONS",
    "RTM2_RESOURCE_TYPES",
    "SERVICE_CLASSES",
    "AccessToken2",
    "ApaasService",
    "ChatService",
    "FcdnService",
    "FpaService",
    "RtcService",
    "Rtm2Service",
    "RtmService",
    "Service",
    "StreamingService",
    "build_from_spec",
    "service_from_spec",
    "service_type",
]
