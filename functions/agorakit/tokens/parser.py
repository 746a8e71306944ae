"""Parsing and verifying tokens: AccessToken2 ("007") of every service type, and legacy "006" (see ``legacy``).

Accepts any valid zlib stream (other languages compress differently) but is otherwise strict: standard,
canonical base64 only, nothing after the zlib stream, no truncated fields. An unknown service type is reported
(``{"type": N, "name": "unknown", "raw": hex}``) rather than refused: its body has no length prefix, so parsing
stops there, as in the official parser; the signature still covers the raw bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hmac import compare_digest
from typing import Any

from agorakit.tokens.builder import (
    SERVICE_APAAS,
    SERVICE_CHAT,
    SERVICE_FCDN,
    SERVICE_FPA,
    SERVICE_NAMES,
    SERVICE_RTC,
    SERVICE_RTM,
    SERVICE_STREAMING,
    _certificate,
    _hmac_key32,
    _signing_key,
)
from agorakit.tokens.errors import TokenParseError, TokenValidationError
from agorakit.tokens.wire import (
    MAX_TOKEN_CHARS,
    ParsedToken,
    _Reader,
    decode_base64,
    inflate,
)

# ------------------------------------------------------------------------------------------------------ models


@dataclass(frozen=True, slots=True)
class ParsedService:
    """One service of a parsed 007 token. ``fields`` holds its type-specific values (``channel_name``, ``uid``
    for RTC; ``user_id`` for RTM ...); ``raw`` is set only for an unknown type (its undecodable remainder)."""

    type: int
    name: str
    privileges: dict[int, int]
    fields: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return {"type": self.type, "name": "unknown", "raw": self.raw.hex()}
        out: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "privileges": {str(k): v for k, v in self.privileges.items()},
        }
        for key, value in self.fields.items():
            if key == "permissions":
                out[key] = {str(r): {str(p): list(res) for p, res in perms.items()} for r, perms in value.items()}
            else:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class ParsedAccessToken2(ParsedToken):
    """A parsed "007" token. ``signing_info`` is kept verbatim: it is what the signature covers."""

    app_id: str
    issue_ts: int
    expire: int
    salt: int
    service_count: int
    services: tuple[ParsedService, ...]
    signature: bytes
    signing_info: bytes = field(repr=False)
    trailing: bytes = b""
    version: str = "007"

    @property
    def expires_at(self) -> int:
        """Unix time the token stops working (the parser itself never checks expiry, like the official one)."""
        return self.issue_ts + self.expire

    def verify(self, app_certificate: str, **kwargs: Any) -> bool:
        """Recompute the HMAC chain from the parsed issue_ts and salt; constant-time compare."""
        if kwargs.get("channel_name") is not None or kwargs.get("uid") is not None:
            raise TokenValidationError("channel_name", "channel_name/uid are only needed to verify 006 tokens")
        certificate = _certificate(app_certificate)
        expected = _hmac_key32(_signing_key(certificate, self.issue_ts, self.salt), self.signing_info)
        return compare_digest(expected, self.signature)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "app_id": self.app_id,
            "issue_ts": self.issue_ts,
            "expire": self.expire,
            "salt": self.salt,
            "expires_at": self.expires_at,
            "service_count": self.service_count,
            "services": [s.to_dict() for s in self.services],
            "signature": self.signature.hex(),
        }
        if self.trailing:
            out["trailing"] = self.trailing.hex()
        return out


# ----------------------------------------------------------------------------------------------------- parsing


def _parse_service(reader: _Reader, stype: int) -> ParsedService:
    name = SERVICE_NAMES[stype]
    privileges = reader.privileges(name)
    fields: dict[str, Any]
    if stype == SERVICE_RTC:
        fields = {"channel_name": reader.string("rtc channel_name"), "uid": reader.string("rtc uid")}
    elif stype in (SERVICE_STREAMING, SERVICE_FCDN):
        fields = {"channel_name": reader.string(f"{name} channel_name"), "account": reader.string(f"{name} account")}
    elif stype in (SERVICE_RTM, SERVICE_CHAT):
        fields = {"user_id": reader.string(f"{name} user_id")}
    elif stype == SERVICE_FPA:
        fields = {}
    elif stype == SERVICE_APAAS:
        fields = {
            "room_uuid": reader.string("apaas room_uuid"),
            "user_uuid": reader.string("apaas user_uuid"),
            "role": reader.i16("apaas role"),
        }
    else:  # SERVICE_RTM2
        user_id = reader.string("rtm2 user_id")
        permissions: dict[int, dict[int, list[str]]] = {}
        for _ in range(reader.u16("rtm2 resource type count")):
            rtype = reader.u16("rtm2 resource type")
            perms = permissions.setdefault(rtype, {})
            for _ in range(reader.u16("rtm2 permission count")):
                ptype = reader.u16("rtm2 permission")
                count = reader.u16("rtm2 resource count")
                perms.setdefault(ptype, []).extend(reader.string("rtm2 resource") for _ in range(count))
        fields = {"user_id": user_id, "permissions": permissions}
    return ParsedService(type=stype, name=name, privileges=privileges, fields=fields)


def parse_access_token2(token: str) -> ParsedAccessToken2:
    """Parse a "007" token; raises ``TokenParseError`` with the reason if it is not well-formed."""
    if len(token) == 3:
        raise TokenParseError("the 007 token has no body")
    body = inflate(decode_base64(token[3:], "the 007 token body"))
    reader = _Reader(body)
    signature = reader.bytes_("signature")
    start = reader.pos
    app_id = reader.string("app_id")
    issue_ts = reader.u32("issue_ts")
    expire = reader.u32("expire")
    salt = reader.u32("salt")
    count = reader.u16("service count")
    services: list[ParsedService] = []
    for _ in range(count):
        stype = reader.u16("service type")
        if stype not in SERVICE_NAMES:
            services.append(ParsedService(type=stype, name="unknown", privileges={}, raw=reader.rest()))
            break
        services.append(_parse_service(reader, stype))
    trailing = reader.rest()
    return ParsedAccessToken2(
        app_id=app_id,
        issue_ts=issue_ts,
        expire=expire,
        salt=salt,
        service_count=count,
        services=tuple(services),
        signature=signature,
        signing_info=body[start:],
        trailing=trailing,
    )


def parse_token(token: str) -> ParsedToken:
    """Parse a "007" (AccessToken2) or "006" (legacy AccessToken) token."""
    if not isinstance(token, str):
        raise TokenParseError(f"a token must be a string, got {type(token).__name__}")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenParseError(f"a token of {len(token)} characters is far longer than any Agora token")
    version = token[:3]
    if version == "007":
        return parse_access_token2(token)
    if version == "006":
        from agorakit.tokens.legacy import parse_legacy_token

        return parse_legacy_token(token)
    if not token:
        raise TokenParseError("the token is empty")
    raise TokenParseError(f"unsupported token version {version!r}: expected '007' (AccessToken2) or '006'")


def verify(
    token: str,
    app_certificate: str,
    *,
    channel_name: str | None = None,
    uid: int | str | None = None,
) -> bool:
    """True if the token is well-formed and signed with this certificate; False for a malformed or foreign token.

    A badly formed certificate raises ``TokenValidationError``. A 006 token stores only CRC32s of its channel
    and uid, so verifying one needs ``channel_name`` and ``uid``. Expiry is not checked (see ``expires_at``).
    """
    _certificate(app_certificate)
    try:
        parsed = parse_token(token)
    except TokenParseError:
        return False
    return parsed.verify(app_certificate, channel_name=channel_name, uid=uid)
