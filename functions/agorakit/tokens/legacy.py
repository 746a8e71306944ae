"""Legacy AccessToken ("006"): build (byte-identical to the official ``AccessToken.build``), parse and verify.

``"006" + app_id + base64(string(signature) + u32 crc32(channel) + u32 crc32(uid) + string(m))`` with
``m = u32 salt + u32 ts + privilege map`` and ``signature = HMAC-SHA256(certificate, app_id + channel + uid + m)``.
No compression. Privilege values and ``ts`` are ABSOLUTE unix times (0 = the privilege never expires).
Only CRCs of channel and uid are stored, so verifying needs them (doc section 2).
"""

from __future__ import annotations

import hmac
import struct
import time
import zlib
from binascii import b2a_base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agorakit.tokens.builder import (
    MAX_U32,
    _app_prefix,
    _certificate,
    _channel_bytes,
    _check_int,
    _rtm_user_bytes,
    _uid_bytes,
    random_salt,
)
from agorakit.tokens.errors import TokenParseError, TokenValidationError
from agorakit.tokens.wire import ParsedToken, _Reader, decode_base64

VERSION = "006"
#: 006 privilege ids (``kJoinChannel`` ... ``kRtmLogin``).
LEGACY_PRIVILEGES: Mapping[str, int] = {
    "join_channel": 1,
    "publish_audio_stream": 2,
    "publish_video_stream": 3,
    "publish_data_stream": 4,
    "rtm_login": 1000,
}
DEFAULT_TOKEN_LIFETIME = 24 * 3600  # the official constructor always sets ts = now + 24 h

_U16 = struct.Struct("<H").pack
_U32 = struct.Struct("<I").pack
_PRIVILEGE = struct.Struct("<HI").pack


def _legacy_privilege(key: object) -> int:
    if isinstance(key, str):
        if key in LEGACY_PRIVILEGES:
            return LEGACY_PRIVILEGES[key]
        if key.isascii() and key.isdigit():
            key = int(key)
    if isinstance(key, int) and not isinstance(key, bool) and key in LEGACY_PRIVILEGES.values():
        return int(key)
    known = ", ".join(f"{v} ({k})" for k, v in LEGACY_PRIVILEGES.items())
    raise TokenValidationError("privileges", f"unknown 006 privilege {key!r}; known: {known}")


def _pack_message(salt: int, ts: int, privileges: Mapping[int, int]) -> bytes:
    return (
        _U32(salt)
        + _U32(ts)
        + _U16(len(privileges))
        + b"".join([_PRIVILEGE(k, privileges[k]) for k in sorted(privileges)])
    )


def build_legacy_token(
    *,
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid: int | str,
    privileges: Mapping[str, int] | Mapping[int, int] | Mapping[int | str, int],
    ts: int | None = None,
    salt: int | None = None,
) -> str:
    """A 006 token, as the official ``RtcTokenBuilder.buildTokenWithUid/Account`` (privileges 1-4) or
    ``RtmTokenBuilder.buildToken`` (privilege 1000 with the RTM account as ``channel_name`` and uid 0) build it.

    ``privileges``: ``{privilege: absolute unix expiry}`` (0 = no expiry). ``ts``: when the token itself
    expires; defaults to now + 24 h like the official constructor.
    """
    _app_prefix(app_id)
    certificate = _certificate(app_certificate)
    if not isinstance(privileges, Mapping) or not privileges:
        raise TokenValidationError("privileges", "must be a non-empty mapping {privilege: absolute unix expiry}")
    values: dict[int, int] = {}
    for key, expiry in privileges.items():
        pid = _legacy_privilege(key)
        values[pid] = _check_int(f"privileges[{key!r}]", expiry, 0, MAX_U32, "absolute unix time, 0 = never")
    if 1000 in values:
        if len(values) > 1:
            raise TokenValidationError("privileges", "an RTM token (1000) carries no RTC privileges")
        channel = _rtm_user_bytes(channel_name, "channel_name")  # the RTM account sits in the channel slot
    else:
        channel = _channel_bytes(channel_name)
    uid_text = _uid_bytes(uid)
    if 1000 in values and uid_text:
        raise TokenValidationError("uid", "a 006 RTM token has no uid: pass 0")
    ts = int(time.time()) + DEFAULT_TOKEN_LIFETIME if ts is None else _check_int("ts", ts, 1, MAX_U32, "unix seconds")
    salt = random_salt() if salt is None else _check_int("salt", salt, 0, MAX_U32, "a 32-bit unsigned integer")
    app = app_id.encode("ascii")
    message = _pack_message(salt, ts, values)
    signature = hmac.digest(certificate, app + channel + uid_text + message, "sha256")
    content = (
        _U16(len(signature))
        + signature
        + _U32(zlib.crc32(channel))
        + _U32(zlib.crc32(uid_text))
        + _U16(len(message))
        + message
    )
    return VERSION + app_id + b2a_base64(content, newline=False).decode("ascii")


@dataclass(frozen=True, slots=True)
class ParsedLegacyToken(ParsedToken):
    """A parsed "006" token."""

    app_id: str
    signature: bytes
    crc_channel_name: int
    crc_uid: int
    salt: int
    ts: int
    privileges: dict[int, int]
    message: bytes = field(repr=False)
    trailing: bytes = b""
    version: str = VERSION

    @property
    def expires_at(self) -> int:
        return self.ts

    def verify(self, app_certificate: str, **kwargs: Any) -> bool:
        """Needs ``channel_name`` and ``uid`` (int, 0 = "", or account string): only their CRC32s are stored."""
        certificate = _certificate(app_certificate)
        channel_name, uid = kwargs.get("channel_name"), kwargs.get("uid")
        if channel_name is None or uid is None:
            raise TokenValidationError(
                "channel_name", "verifying a 006 token needs its channel_name and uid (the token stores only CRC32s)"
            )
        if not isinstance(channel_name, str):
            raise TokenValidationError("channel_name", f"must be a string, got {type(channel_name).__name__}")
        if isinstance(uid, bool) or not isinstance(uid, int | str):
            raise TokenValidationError("uid", f"must be an int or a string, got {type(uid).__name__}")
        channel = channel_name.encode("utf-8", "surrogateescape")
        uid_text = (str(uid) if uid != 0 else "").encode("utf-8", "surrogateescape")
        if zlib.crc32(channel) != self.crc_channel_name or zlib.crc32(uid_text) != self.crc_uid:
            return False
        expected = hmac.digest(certificate, self.app_id.encode("ascii") + channel + uid_text + self.message, "sha256")
        return hmac.compare_digest(expected, self.signature)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "app_id": self.app_id,
            "salt": self.salt,
            "ts": self.ts,
            "expires_at": self.expires_at,
            "privileges": {str(k): v for k, v in self.privileges.items()},
            "crc_channel_name": self.crc_channel_name,
            "crc_uid": self.crc_uid,
            "signature": self.signature.hex(),
        }
        if self.trailing:
            out["trailing"] = self.trailing.hex()
        return out


def parse_legacy_token(token: str) -> ParsedLegacyToken:
    """Parse a "006" token; raises ``TokenParseError`` if it is not well-formed."""
    app_id = token[3:35]
    if len(app_id) != 32 or app_id.strip("0123456789abcdefABCDEF"):
        raise TokenParseError("a 006 token must carry a 32-hex-character app id after '006'")
    reader = _Reader(decode_base64(token[35:], "the 006 token body"))
    signature = reader.bytes_("signature")
    crc_channel = reader.u32("crc32 of the channel name")
    crc_uid = reader.u32("crc32 of the uid")
    message = reader.bytes_("message")
    trailing = reader.rest()
    inner = _Reader(message)
    salt = inner.u32("salt")
    ts = inner.u32("ts")
    privileges = inner.privileges("006")
    trailing += inner.rest()
    return ParsedLegacyToken(
        app_id=app_id,
        signature=signature,
        crc_channel_name=crc_channel,
        crc_uid=crc_uid,
        salt=salt,
        ts=ts,
        privileges=privileges,
        message=message,
        trailing=trailing,
    )
