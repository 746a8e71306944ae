"""AccessToken2 ("007") minting: validation, signing and the fast RTC/RTM builders.

Byte-identical to Agora's official python3 builder (``AccessToken2.build``) for the same inputs, but built for a
Lambda hot path: one ``struct`` call per fixed-size part, no per-token objects, a cached first HMAC step, and
cached validation of the app id and certificate. Layout and signing follow the official AgoraIO/Tools DynamicKey
builders (tests/fixtures/agora/ holds their vectors).

Unlike the official builder, bad input raises ``TokenValidationError`` (never an empty string) and the limits in
Agora's docs are enforced: 24 h maximum lifetime, channel names under 64 bytes in Agora's character set, etc.

Over 400 lines on purpose: the byte layout, the cached signing steps and the input validation of the fast builders
belong together; each piece is small.
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
import zlib
from binascii import b2a_base64

from agorakit.ids import AGORA_CHARACTERS, MAX_CHANNEL_BYTES, is_channel_name
from agorakit.tokens.errors import TokenValidationError

# typing and collections.abc cost ~10 ms of cold start (they pull in re, enum, collections): annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final, Literal

    Role = Literal["publisher", "subscriber"]
    #: ``{privilege: seconds}`` with privileges by name or wire id
    PrivilegeExpiries = Mapping[str, int] | Mapping[int, int] | Mapping[int | str, int]

VERSION: Final = "007"
MAX_EXPIRE: Final = 86_400  # Agora: a token, and each privilege, lasts at most 24 h
MAX_U32: Final = 0xFFFF_FFFF
MAX_ACCOUNT_BYTES: Final = 255
MAX_RTM_USER_BYTES: Final = 64  # the sources disagree (64 vs 255); 64 is the conservative one (doc section 5)
SALT_MAX: Final = 99_999_999  # the official builders draw the salt from 1..99,999,999

_HEX_DIGITS: Final = "0123456789abcdefABCDEF"

# Service type ids (wire values) and their names.
SERVICE_RTC: Final = 1
SERVICE_RTM: Final = 2
SERVICE_STREAMING: Final = 3
SERVICE_FPA: Final = 4
SERVICE_CHAT: Final = 5
SERVICE_FCDN: Final = 6
SERVICE_APAAS: Final = 7
SERVICE_RTM2: Final = 8

SERVICE_NAMES: Final[Mapping[int, str]] = {
    SERVICE_RTC: "rtc",
    SERVICE_RTM: "rtm",
    SERVICE_STREAMING: "streaming",
    SERVICE_FPA: "fpa",
    SERVICE_CHAT: "chat",
    SERVICE_FCDN: "fcdn",
    SERVICE_APAAS: "apaas",
    SERVICE_RTM2: "rtm2",
}

#: Privilege names per service type -> wire id (the official ``kPrivilege*`` constants, snake-cased).
PRIVILEGES: Final[Mapping[int, Mapping[str, int]]] = {
    SERVICE_RTC: {
        "join_channel": 1,
        "publish_audio_stream": 2,
        "publish_video_stream": 3,
        "publish_data_stream": 4,
    },
    SERVICE_RTM: {"login": 1},
    SERVICE_STREAMING: {"publish_mix_stream": 1, "publish_raw_stream": 2},
    SERVICE_FPA: {"login": 1},
    SERVICE_CHAT: {"user": 1, "app": 2},
    SERVICE_FCDN: {"publish": 1, "play": 2},
    SERVICE_APAAS: {"room_user": 1, "user": 2, "app": 3},
    SERVICE_RTM2: {"login": 1},
}

PRIVILEGE_JOIN_CHANNEL: Final = 1
PRIVILEGE_PUBLISH_AUDIO_STREAM: Final = 2
PRIVILEGE_PUBLISH_VIDEO_STREAM: Final = 3
PRIVILEGE_PUBLISH_DATA_STREAM: Final = 4
PRIVILEGE_RTM_LOGIN: Final = 1

# --------------------------------------------------------------------------------------------------- validation


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_int(field: str, value: object, low: int, high: int, what: str) -> int:
    """Exact ints only: ``True`` or ``600.0`` are almost always a caller's bug, so they are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenValidationError(field, f"must be an integer ({what}), got {_type_name(value)}")
    if not low <= value <= high:
        raise TokenValidationError(field, f"must be between {low} and {high} ({what}), got {value}")
    return int(value)


def validate_expire(value: object, field: str = "expire") -> int:
    """A lifetime in seconds counted from issue_ts: 1 s .. 24 h, as Agora documents (the builders don't check)."""
    return _check_int(field, value, 1, MAX_EXPIRE, "seconds, at most 24 h")


def _check_hex32(field: str, value: object) -> bytes:
    # The value is never echoed: for the certificate it is the secret.
    if not isinstance(value, str):
        raise TokenValidationError(field, f"must be a string of 32 hex characters, got {_type_name(value)}")
    if len(value) != 32 or value.strip(_HEX_DIGITS):
        raise TokenValidationError(field, f"must be exactly 32 hex characters (got {len(value)} characters)")
    return value.encode("ascii")


def validate_app_id(value: object) -> str:
    """32 hex characters, as shown in Agora Console (the 007 builder's own check)."""
    _check_hex32("app_id", value)
    return value  # type: ignore[return-value]


def validate_app_certificate(value: object) -> str:
    """32 hex characters; used as its ASCII text (never hex-decoded) in the HMAC chain."""
    _check_hex32("app_certificate", value)
    return value  # type: ignore[return-value]


def _check_agora_string(field: str, value: object, max_bytes: int, what: str, *, allow_empty: bool = False) -> bytes:
    if not isinstance(value, str):
        raise TokenValidationError(field, f"must be a string ({what}), got {_type_name(value)}")
    if not value:
        if allow_empty:
            return b""
        raise TokenValidationError(field, f"must not be empty ({what})")
    bad = value.strip(AGORA_CHARACTERS)
    if bad:
        first = next(ch for ch in value if ch not in AGORA_CHARACTERS)
        raise TokenValidationError(
            field,
            f"contains {first!r}, outside Agora's character set (a-z A-Z 0-9 space and !#$%&()+-:;<=.>?@[]^_{{}}|~,)",
        )
    if len(value) > max_bytes:  # only ASCII is left, so characters == bytes
        raise TokenValidationError(field, f"is {len(value)} bytes; {what} must be at most {max_bytes} bytes")
    return value.encode("ascii")


def validate_channel_name(value: object) -> str:
    """Agora's rule: 1..63 bytes from its 89-character set. Returns the value so it can serve as a validator."""
    _channel_bytes(value)
    return value  # type: ignore[return-value]


def _channel_bytes(value: object, field: str = "channel_name") -> bytes:
    # Fast path first: a valid name is returned after two C-level checks.
    if is_channel_name(value):
        return value.encode("ascii")  # type: ignore[attr-defined]
    return _check_agora_string(field, value, MAX_CHANNEL_BYTES, "a channel name, under 64 bytes")


def validate_account(value: object, field: str = "account") -> str:
    """A string user account: 1..255 bytes from Agora's character set."""
    _check_agora_string(field, value, MAX_ACCOUNT_BYTES, "a user account")
    return value  # type: ignore[return-value]


def validate_uid(value: object, field: str = "uid") -> int | str:
    """An int uid 0..2^32-1 (0 = any uid may join) or a string account (1..255 bytes, Agora's set)."""
    _uid_bytes(value, field)
    return value  # type: ignore[return-value]


def _uid_bytes(value: object, field: str = "uid") -> bytes:
    """The uid as packed: decimal text, ``b""`` for 0 (wildcard), or the account's bytes."""
    if type(value) is int and 0 < value <= MAX_U32:
        return b"%d" % value
    if isinstance(value, str):
        return _check_agora_string(field, value, MAX_ACCOUNT_BYTES, "a user account")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenValidationError(field, f"must be an int uid or a str account, got {_type_name(value)}")
    uid = _check_int(field, value, 0, MAX_U32, "a 32-bit unsigned uid; 0 lets any uid join")
    return b"%d" % uid if uid else b""


def validate_rtm_user_id(value: object, field: str = "user_id") -> str:
    """RTM user id: 1..64 bytes from Agora's character set, not starting with a space."""
    _rtm_user_bytes(value, field)
    return value  # type: ignore[return-value]


def _rtm_user_bytes(value: object, field: str = "user_id") -> bytes:
    raw = _check_agora_string(field, value, MAX_RTM_USER_BYTES, "an RTM user id")
    if raw[:1] == b" ":
        raise TokenValidationError(field, "must not start with a space (an RTM user id)")
    return raw


def _check_issue_ts(value: object) -> int:
    return _check_int("issue_ts", value, 1, MAX_U32, "unix seconds")


def _check_salt(value: object) -> int:
    return _check_int("salt", value, 0, MAX_U32, "a 32-bit unsigned integer")


def privilege_id(service_type: int, key: object, field: str = "privileges") -> int:
    """A privilege given as its wire id (int or digit string) or its name, e.g. ``"join_channel"``."""
    table = PRIVILEGES.get(service_type, {})
    if isinstance(key, str):
        if key.isascii() and key.isdigit():
            key = int(key)
        elif key in table:
            return table[key]
    if isinstance(key, int) and not isinstance(key, bool) and key in table.values():
        return int(key)
    known = ", ".join(f"{pid} ({name})" for name, pid in table.items())
    service = SERVICE_NAMES.get(service_type, str(service_type))
    raise TokenValidationError(field, f"unknown {service} privilege {key!r}; known: {known}")


# ----------------------------------------------------------------------------------------------------- caches

# Validated app ids and certificates -> their packed bytes. Bounded: a process sees one or a few apps.
_APP_PREFIXES: dict[str, bytes] = {}
_CERTIFICATES: dict[str, bytes] = {}
_CACHE_LIMIT: Final = 64


def _app_prefix(app_id: object) -> bytes:
    """``string(app_id)`` as packed in the header, validated once per distinct app id."""
    if type(app_id) is str:
        cached = _APP_PREFIXES.get(app_id)
        if cached is not None:
            return cached
    raw = _check_hex32("app_id", app_id)
    if len(_APP_PREFIXES) >= _CACHE_LIMIT:
        _APP_PREFIXES.clear()
    prefix = _APP_PREFIXES[app_id] = b"\x20\x00" + raw  # type: ignore[index]
    return prefix


def _certificate(app_certificate: object) -> bytes:
    if type(app_certificate) is str:
        cached = _CERTIFICATES.get(app_certificate)
        if cached is not None:
            return cached
    raw = _check_hex32("app_certificate", app_certificate)
    if len(_CERTIFICATES) >= _CACHE_LIMIT:
        _CERTIFICATES.clear()
    _CERTIFICATES[app_certificate] = raw  # type: ignore[index]
    return raw


# ------------------------------------------------------------------------------------------------------ crypto

_sha256 = hashlib.sha256
_XOR36: Final = bytes(b ^ 0x36 for b in range(256))
_XOR5C: Final = bytes(b ^ 0x5C for b in range(256))
_IPAD32: Final = b"\x36" * 32
_OPAD32: Final = b"\x5c" * 32
# HMAC with a u32 key (issue_ts, salt): the key XOR the pad is a u32 XOR 0x36363636 / 0x5c5c5c5c, so each
# hash input (padded key block + 32-byte message) is one struct.pack.
_PAD_BLOCK_U32 = struct.Struct("<I60s32s").pack
_IPAD60: Final = b"\x36" * 60
_OPAD60: Final = b"\x5c" * 60


def _hmac_u32(key: int, msg: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) keyed with ``u32(key)`` over a 32-byte message, spelled out with hashlib: cheaper
    than OpenSSL's per-call HMAC setup (~0.45 us saved per call, two calls per token)."""
    inner = _sha256(_PAD_BLOCK_U32(key ^ 0x36363636, _IPAD60, msg)).digest()
    return _sha256(_PAD_BLOCK_U32(key ^ 0x5C5C5C5C, _OPAD60, inner)).digest()


def _hmac_key32(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256 for a 32-byte key (the derived signing key)."""
    inner = _sha256(key.translate(_XOR36) + _IPAD32 + msg).digest()
    return _sha256(key.translate(_XOR5C) + _OPAD32 + inner).digest()


_U16 = struct.Struct("<H").pack
_U32 = struct.Struct("<I").pack

# (certificate, issue_ts, k1): the first HMAC depends only on these, and a busy process mints many tokens per
# second. Replaced as one tuple, so concurrent threads never see a torn entry.
_K1_CACHE: tuple[bytes, int, bytes] = (b"", -1, b"")


def _signing_key(certificate: bytes, issue_ts: int, salt: int) -> bytes:
    global _K1_CACHE  # noqa: PLW0603 - a one-entry cache; see above
    cached = _K1_CACHE
    if cached[1] == issue_ts and cached[0] == certificate:
        k1 = cached[2]
    else:
        k1 = _hmac_u32(issue_ts, certificate)
        _K1_CACHE = (certificate, issue_ts, k1)
    return _hmac_u32(salt, k1)


def signing_key(app_certificate: str, issue_ts: int, salt: int) -> bytes:
    """``HMAC(u32(salt), HMAC(u32(issue_ts), certificate))``: the key that signs a token's signing info."""
    return _signing_key(_certificate(app_certificate), _check_issue_ts(issue_ts), _check_salt(salt))


# -------------------------------------------------------------------------------------------------------- salt

_SALT_POOL: list[int] = []


def _fresh_salts() -> list[int]:
    """Uniform salts in 1..99,999,999 from os.urandom, 27 bits at a time with rejection (no modulo bias)."""
    words = struct.unpack("<256I", os.urandom(1024))
    return [w + 1 for w in (x & 0x7FF_FFFF for x in words) if w < SALT_MAX]


def random_salt() -> int:
    """A CSPRNG salt like the official builder's ``secrets.SystemRandom().randint(1, 99999999)``, drawn from a
    pre-fetched pool so the hot path pays one ``list.pop`` instead of a syscall and an object per token."""
    while True:
        try:
            return _SALT_POOL.pop()
        except IndexError:
            _SALT_POOL.extend(_fresh_salts())


if hasattr(os, "register_at_fork"):  # a forked child must not replay its parent's salts
    os.register_at_fork(after_in_child=_SALT_POOL.clear)


def _keep_deflate_state_warm() -> None:
    """Why: ``zlib.compress`` allocates ~270 KB of deflate state per call. glibc returns freed memory above its
    trim threshold (128 KiB by default) to the OS, so every token re-faults ~19 fresh pages - measured 40 us of a
    50 us build on a VM where page faults are costly. Freeing one mmap-sized block raises glibc's dynamic
    mmap/trim thresholds (documented in mallopt(3)), after which the state is reused from the heap. calloc'd
    and never touched, so it costs one mmap/munmap pair; a no-op with other allocators."""
    bytes(1 << 20)


_keep_deflate_state_warm()

# ------------------------------------------------------------------------------------------------------- build

_HEADER = struct.Struct("<34sIIIH").pack  # string(app_id) issue_ts expire salt service_count
_SIGNATURE_PREFIX: Final = b"\x20\x00"  # string(signature): its length is always 32
_compress = zlib.compress
_time = time.time

_RTC_PUBLISHER = struct.Struct("<HHHIHIHIHI").pack  # type=1, 4 privileges: join + publish audio/video/data
_RTC_SUBSCRIBER = struct.Struct("<HHHI").pack  # type=1, 1 privilege: join
_RTM_LOGIN = struct.Struct("<HHHI").pack  # type=2, 1 privilege: login
_PRIVILEGE = struct.Struct("<HI").pack


def pack_privileges(privileges: Mapping[int, int]) -> bytes:
    """The privilege map: count, then (id, seconds) sorted by id."""
    return _U16(len(privileges)) + b"".join([_PRIVILEGE(k, privileges[k]) for k in sorted(privileges)])


def seal(
    app_prefix: bytes,
    certificate: bytes,
    *,
    expire: int,
    issue_ts: int | None,
    salt: int | None,
    service_count: int,
    services: bytes,
) -> str:
    """Sign and encode already-packed services: ``"007" + base64(zlib(string(signature) + signing_info))``."""
    if issue_ts is None:
        issue_ts = int(_time())
    elif type(issue_ts) is not int or not 0 < issue_ts <= MAX_U32:
        issue_ts = _check_issue_ts(issue_ts)
    if salt is None:
        salt = random_salt()
    elif type(salt) is not int or not 0 <= salt <= MAX_U32:
        salt = _check_salt(salt)
    signing_info = _HEADER(app_prefix, issue_ts, expire, salt, service_count) + services
    signature = _hmac_key32(_signing_key(certificate, issue_ts, salt), signing_info)
    return "007" + b2a_base64(_compress(_SIGNATURE_PREFIX + signature + signing_info), newline=False).decode("ascii")


def _rtc_privileges(role: object, expire: int, privilege_expire: object) -> bytes:
    """Type id + privilege map of an RTC service, as the official RtcTokenBuilder2 grants them per role."""
    if role == "publisher":
        publisher = True
    elif role == "subscriber":
        publisher = False
    else:
        raise TokenValidationError("role", f"must be 'publisher' or 'subscriber', got {role!r}")
    if privilege_expire is None or type(privilege_expire) is int:
        value = expire if privilege_expire is None else privilege_expire
        if not 0 < value <= MAX_EXPIRE:  # type: ignore[operator]
            validate_expire(value, "privilege_expire")
        if publisher:
            return _RTC_PUBLISHER(SERVICE_RTC, 4, 1, value, 2, value, 3, value, 4, value)
        return _RTC_SUBSCRIBER(SERVICE_RTC, 1, 1, value)
    from collections.abc import Mapping

    if not isinstance(privilege_expire, Mapping):  # an int subclass passes, anything else raises
        return _rtc_privileges(role, expire, validate_expire(privilege_expire, "privilege_expire"))
    granted = (1, 2, 3, 4) if publisher else (1,)
    values = dict.fromkeys(granted, expire)
    for key, seconds in privilege_expire.items():  # type: ignore[union-attr]
        pid = privilege_id(SERVICE_RTC, key, "privilege_expire")
        if pid not in values:
            raise TokenValidationError(
                "privilege_expire", f"a subscriber token carries only join_channel, not privilege {key!r}"
            )
        values[pid] = validate_expire(seconds, f"privilege_expire[{key!r}]")
    return _U16(SERVICE_RTC) + pack_privileges(values)


def _rtc_service(channel_name: object, uid: object, role: object, expire: int, privilege_expire: object) -> bytes:
    channel = _channel_bytes(channel_name)
    account = _uid_bytes(uid)
    return _rtc_privileges(role, expire, privilege_expire) + _U16(len(channel)) + channel + _U16(len(account)) + account


_HEADER_RTC_PUBLISHER = struct.Struct("<34sIIIHHHHIHIHIHI").pack  # header + RTC type + 4 privileges
_HEADER_RTC_SUBSCRIBER = struct.Struct("<34sIIIHHHHI").pack  # header + RTC type + join only

# Validated channel names -> string(channel): many tokens name the same channel. Bounded.
_CHANNELS: dict[str, bytes] = {}
_CHANNEL_CACHE_LIMIT: Final = 4096


def _packed_channel(channel_name: object) -> bytes:
    channel = _channel_bytes(channel_name)
    if len(_CHANNELS) >= _CHANNEL_CACHE_LIMIT:
        _CHANNELS.clear()
    packed = _CHANNELS[channel_name] = _U16(len(channel)) + channel  # type: ignore[index]
    return packed


def build_rtc_token(  # noqa: PLR0912 - the hot path is inlined on purpose (see below)
    *,
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid: int | str,
    role: Role,
    expire: int,
    privilege_expire: int | PrivilegeExpiries | None = None,
    issue_ts: int | None = None,
    salt: int | None = None,
) -> str:
    """An RTC token, byte-identical to ``RtcTokenBuilder2.build_token_with_uid/_user_account`` (and, with a
    per-privilege mapping, ``..._and_privilege``) for the same inputs, issue_ts and salt.

    ``uid``: int 0..2^32-1 (0 = any uid may join) or a string account. ``role``: "publisher" gets join +
    publish audio/video/data, "subscriber" join only. ``expire``: token lifetime in seconds (1..86400).
    ``privilege_expire``: seconds for every privilege (default: ``expire``), or ``{privilege: seconds}`` with
    privileges named (``"publish_audio_stream"``) or numbered (2); those not named get ``expire``.
    ``issue_ts``/``salt``: default to now and a CSPRNG salt; pin them only for tests.
    """
    # The hot path of the token Lambda: the common case runs inline (cache hits, one struct.pack for header and
    # privileges); anything unusual or invalid drops to the validating helpers, which raise clear errors.
    try:
        prefix = _APP_PREFIXES[app_id]
    except (KeyError, TypeError):
        prefix = _app_prefix(app_id)
    try:
        certificate = _CERTIFICATES[app_certificate]
    except (KeyError, TypeError):
        certificate = _certificate(app_certificate)
    if type(expire) is not int or not 0 < expire <= MAX_EXPIRE:
        expire = validate_expire(expire)
    try:
        channel = _CHANNELS[channel_name]
    except (KeyError, TypeError):
        channel = _packed_channel(channel_name)
    account = b"%d" % uid if type(uid) is int and 0 < uid <= MAX_U32 else _uid_bytes(uid)
    if issue_ts is None:
        issue_ts = int(_time())
    elif type(issue_ts) is not int or not 0 < issue_ts <= MAX_U32:
        issue_ts = _check_issue_ts(issue_ts)
    if salt is None:
        salt = random_salt()
    elif type(salt) is not int or not 0 <= salt <= MAX_U32:
        salt = _check_salt(salt)
    value = expire if privilege_expire is None else privilege_expire
    if type(value) is int and 0 < value <= MAX_EXPIRE and role == "publisher":
        head = _HEADER_RTC_PUBLISHER(
            prefix, issue_ts, expire, salt, 1, SERVICE_RTC, 4, 1, value, 2, value, 3, value, 4, value
        )
    elif type(value) is int and 0 < value <= MAX_EXPIRE and role == "subscriber":
        head = _HEADER_RTC_SUBSCRIBER(prefix, issue_ts, expire, salt, 1, SERVICE_RTC, 1, 1, value)
    else:
        head = _HEADER(prefix, issue_ts, expire, salt, 1) + _rtc_privileges(role, expire, privilege_expire)
    signing_info = head + channel + _U16(len(account)) + account
    # The signing-key chain and signature, as in seal() (inlined: this function is the hot path).
    cached = _K1_CACHE
    if cached[1] == issue_ts and cached[0] == certificate:
        key = _hmac_u32(salt, cached[2])
    else:
        key = _signing_key(certificate, issue_ts, salt)
    inner = _sha256(key.translate(_XOR36) + _IPAD32 + signing_info).digest()
    signature = _sha256(key.translate(_XOR5C) + _OPAD32 + inner).digest()
    return "007" + b2a_base64(_compress(_SIGNATURE_PREFIX + signature + signing_info), newline=False).decode()


def _rtm_service(user_id: object, expire: int) -> bytes:
    user = _rtm_user_bytes(user_id)
    return _RTM_LOGIN(SERVICE_RTM, 1, PRIVILEGE_RTM_LOGIN, expire) + _U16(len(user)) + user


def build_rtm_token(
    *,
    app_id: str,
    app_certificate: str,
    user_id: str,
    expire: int,
    issue_ts: int | None = None,
    salt: int | None = None,
) -> str:
    """An RTM login token (``RtmTokenBuilder2.build_token``): the login privilege lasts ``expire`` seconds."""
    expire = validate_expire(expire)
    prefix = _app_prefix(app_id)
    certificate = _certificate(app_certificate)
    service = _rtm_service(user_id, expire)
    return seal(prefix, certificate, expire=expire, issue_ts=issue_ts, salt=salt, service_count=1, services=service)


def build_rtc_rtm_token(
    *,
    app_id: str,
    app_certificate: str,
    channel_name: str,
    uid: int | str,
    role: Role,
    expire: int,
    privilege_expire: int | PrivilegeExpiries | None = None,
    rtm_user_id: str | None = None,
    rtm_expire: int | None = None,
    issue_ts: int | None = None,
    salt: int | None = None,
) -> str:
    """RTC and RTM in one token, like ``RtcTokenBuilder2.build_token_with_rtm`` (RTM user = the account, login =
    ``expire``) or, with ``rtm_user_id``/``rtm_expire``, ``build_token_with_rtm2``.

    The RTM user defaults to the account, or to the decimal uid; uid 0 (a wildcard) needs an explicit one.
    """
    expire = validate_expire(expire)
    login_expire = expire if rtm_expire is None else validate_expire(rtm_expire, "rtm_expire")
    if rtm_user_id is None:
        if isinstance(uid, str):
            rtm_user_id = uid
        elif isinstance(uid, int) and not isinstance(uid, bool) and uid != 0:
            rtm_user_id = str(uid)
        else:
            raise TokenValidationError("rtm_user_id", "is required when uid is 0 (the RTC wildcard)")
    prefix = _app_prefix(app_id)
    certificate = _certificate(app_certificate)
    rtc = _rtc_service(channel_name, uid, role, expire, privilege_expire)
    try:
        rtm = _rtm_service(rtm_user_id, login_expire)
    except TokenValidationError as exc:
        raise TokenValidationError("rtm_user_id", exc.reason) from None
    return seal(prefix, certificate, expire=expire, issue_ts=issue_ts, salt=salt, service_count=2, services=rtc + rtm)
