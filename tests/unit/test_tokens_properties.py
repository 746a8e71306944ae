"""Properties: build -> parse gives the inputs back, the signature verifies, and tampering with any byte breaks
verification or parsing. Also: the hand-written HMAC equals the standard library's."""

from __future__ import annotations

import hmac
import struct
import zlib
from binascii import b2a_base64
from typing import Any

from agorakit.tokens import (
    AccessToken2,
    ApaasService,
    ChatService,
    FcdnService,
    FpaService,
    ParsedAccessToken2,
    ParsedLegacyToken,
    RtcService,
    Rtm2Service,
    RtmService,
    Service,
    StreamingService,
    TokenParseError,
    build_legacy_token,
    build_rtc_rtm_token,
    build_rtc_token,
    build_rtm_token,
    parse_token,
    verify,
)
from agorakit.tokens.builder import AGORA_CHARACTERS, _hmac_key32, _hmac_u32
from agorakit.tokens.parser import decode_base64, inflate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.fixtures import examples

SETTINGS = settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])

hex32 = st.text("0123456789abcdefABCDEF", min_size=32, max_size=32)
channels = st.text(AGORA_CHARACTERS, min_size=1, max_size=63)
accounts = st.text(AGORA_CHARACTERS, min_size=1, max_size=255)
rtm_users = st.text(AGORA_CHARACTERS, min_size=1, max_size=64).filter(lambda s: not s.startswith(" "))
uids = st.integers(0, 2**32 - 1)
expiries = st.integers(1, 86_400)
issue_ts = st.integers(1, 2**32 - 1)
salts = st.integers(0, 2**32 - 1)
roles = st.sampled_from(["publisher", "subscriber"])


def packed_uid(uid: int | str) -> str:
    return uid if isinstance(uid, str) else (str(uid) if uid else "")


def rtc_privileges(role: str, value: int) -> dict[int, int]:
    return dict.fromkeys((1, 2, 3, 4) if role == "publisher" else (1,), value)


@SETTINGS
@given(
    app_id=hex32, cert=hex32, channel=channels, uid=st.one_of(uids, accounts), role=roles, expire=expiries,
    privilege=st.one_of(st.none(), expiries), ts=issue_ts, salt=salts,
)  # fmt: skip
def test_rtc_round_trip(
    *, app_id: str, cert: str, channel: str, uid: int | str, role: str, expire: int, privilege: int | None, ts: int,
    salt: int,
) -> None:  # fmt: skip
    token = build_rtc_token(app_id=app_id, app_certificate=cert, channel_name=channel, uid=uid, role=role,  # type: ignore[arg-type]
                            expire=expire, privilege_expire=privilege, issue_ts=ts, salt=salt)  # fmt: skip
    assert token.startswith("007eJ")
    parsed = parse_token(token)
    assert isinstance(parsed, ParsedAccessToken2)
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (app_id, ts, expire, salt)
    assert parsed.expires_at == ts + expire
    (service,) = parsed.services
    assert (service.type, service.name) == (1, "rtc")
    assert service.fields == {"channel_name": channel, "uid": packed_uid(uid)}
    assert service.privileges == rtc_privileges(role, expire if privilege is None else privilege)
    assert verify(token, cert) is True
    other = cert[:-1] + ("0" if cert[-1] != "0" else "1")
    assert verify(token, other) is False


@SETTINGS
@given(app_id=hex32, cert=hex32, user=rtm_users, expire=expiries, ts=issue_ts, salt=salts)
def test_rtm_round_trip(*, app_id: str, cert: str, user: str, expire: int, ts: int, salt: int) -> None:
    token = build_rtm_token(app_id=app_id, app_certificate=cert, user_id=user, expire=expire, issue_ts=ts, salt=salt)
    parsed = parse_token(token)
    (service,) = parsed.services  # type: ignore[attr-defined]
    assert service.to_dict() == {"type": 2, "name": "rtm", "privileges": {"1": expire}, "user_id": user}
    assert parsed.verify(cert)


@SETTINGS
@given(
    cert=hex32, channel=channels, uid=st.one_of(uids.filter(bool), rtm_users), role=roles, expire=expiries,
    rtm_expire=st.one_of(st.none(), expiries), user=st.one_of(st.none(), rtm_users), join=expiries, audio=expiries,
)  # fmt: skip
def test_rtc_rtm_round_trip(
    *, cert: str, channel: str, uid: int | str, role: str, expire: int, rtm_expire: int | None, user: str | None,
    join: int, audio: int,
) -> None:  # fmt: skip
    per_privilege = {"join_channel": join, **({"publish_audio_stream": audio} if role == "publisher" else {})}
    token = build_rtc_rtm_token(
        app_id="a" * 32, app_certificate=cert, channel_name=channel, uid=uid, role=role,  # type: ignore[arg-type]
        expire=expire, privilege_expire=per_privilege, rtm_user_id=user, rtm_expire=rtm_expire,
    )  # fmt: skip
    parsed = parse_token(token)
    rtc, rtm = parsed.services  # type: ignore[attr-defined]
    expected = rtc_privileges(role, expire) | {1: join} | ({2: audio} if role == "publisher" else {})
    assert rtc.privileges == expected
    assert rtc["uid"] == packed_uid(uid)
    assert rtm["user_id"] == (user if user is not None else str(uid))
    assert rtm.privileges == {1: expire if rtm_expire is None else rtm_expire}
    assert verify(token, cert)


def _privileges(ids: tuple[int, ...]) -> st.SearchStrategy[dict[int, int]]:
    return st.dictionaries(st.sampled_from(ids), expiries, min_size=1)


uid_or_account = st.one_of(uids, accounts)
resources = st.lists(st.text(AGORA_CHARACTERS + "*/\u00e9", min_size=1, max_size=20), max_size=3)
permissions = st.dictionaries(st.integers(0, 4), st.dictionaries(st.integers(0, 1), resources, min_size=1), max_size=5)
apaas_ids = st.text(AGORA_CHARACTERS, max_size=40)

#: strategy of (service, the type-specific fields parse must give back) for every service type
SERVICES: list[st.SearchStrategy[tuple[Service, dict[str, Any]]]] = [
    st.builds(lambda c, u: (RtcService(c, u), {"channel_name": c, "uid": packed_uid(u)}), channels, uid_or_account),
    st.builds(lambda u: (RtmService(u), {"user_id": u}), rtm_users),
    st.builds(
        lambda c, a: (StreamingService(c, a), {"channel_name": c, "account": packed_uid(a)}), channels, uid_or_account
    ),
    st.just(0).map(lambda _: (FpaService(), {})),
    st.builds(lambda u: (ChatService(u), {"user_id": u}), rtm_users),
    st.builds(
        lambda c, a: (FcdnService(c, a), {"channel_name": c, "account": packed_uid(a)}), channels, uid_or_account
    ),
    st.builds(
        lambda r, u, role: (ApaasService(r, u, role), {"room_uuid": r, "user_uuid": u, "role": role}),
        apaas_ids,
        apaas_ids,
        st.integers(-(2**15), 2**15 - 1),
    ),
    st.builds(lambda u, p: (Rtm2Service(u, p), {"user_id": u, "permissions": p}), rtm_users, permissions),
]
PRIVILEGE_IDS = {1: (1, 2, 3, 4), 2: (1,), 3: (1, 2), 4: (1,), 5: (1, 2), 6: (1, 2), 7: (1, 2, 3), 8: (1,)}


@st.composite
def any_service(draw: st.DrawFn) -> tuple[Service, dict[str, Any]]:
    service, fields = draw(st.one_of(SERVICES))
    for key, value in draw(_privileges(PRIVILEGE_IDS[service.type])).items():
        service.add_privilege(key, value)
    return service, fields


@SETTINGS
@given(cert=hex32, services=st.lists(any_service(), min_size=1, max_size=6), expire=expiries, ts=issue_ts, salt=salts)
def test_any_mix_of_services_round_trips_in_stable_type_order(
    *, cert: str, services: list[tuple[Service, dict[str, Any]]], expire: int, ts: int, salt: int
) -> None:
    token = AccessToken2("0123456789abcdef0123456789ABCDEF", cert, expire=expire, issue_ts=ts, salt=salt)
    for service, _ in services:
        token.add_service(service)
    parsed = parse_token(token.build())
    ordered = sorted(services, key=lambda pair: pair[0].type)  # stable: same-type services keep insertion order
    assert [(s.type, s.privileges, s.fields) for s in parsed.services] == [  # type: ignore[attr-defined]
        (service.type, service.privileges, fields) for service, fields in ordered
    ]
    assert parsed.verify(cert)


def _tamper_token_body(token: str, index: int, mask: int) -> str:
    body = bytearray(inflate(decode_base64(token[3:], "token")))
    body[index % len(body)] ^= mask
    return "007" + b2a_base64(zlib.compress(bytes(body)), newline=False).decode()


def _breaks(token: str, cert: str) -> bool:
    try:
        parsed = parse_token(token)
    except TokenParseError:
        return True
    return not parsed.verify(cert) and not verify(token, cert)


@SETTINGS
@given(cert=hex32, channel=channels, uid=uids, role=roles, index=st.integers(0, 10_000), mask=st.integers(1, 255))
def test_tampering_any_payload_byte_breaks_verify_or_parse(
    *, cert: str, channel: str, uid: int, role: str, index: int, mask: int
) -> None:
    token = build_rtc_token(app_id="b" * 32, app_certificate=cert, channel_name=channel, uid=uid, role=role,  # type: ignore[arg-type]
                            expire=600)  # fmt: skip
    assert verify(token, cert)
    assert _breaks(_tamper_token_body(token, index, mask), cert)


def test_tampering_every_payload_byte_of_one_token_breaks_it() -> None:
    cert = "5CFd2fd1755d40ecb72977518be15d3b"
    token = build_rtc_rtm_token(app_id="970CA35de60c44645bbae8a215061b33", app_certificate=cert, channel_name="room",
                                uid=7, role="publisher", expire=600, issue_ts=1111111, salt=1)  # fmt: skip
    length = len(inflate(decode_base64(token[3:], "token")))
    for index in range(length):
        for mask in (0x01, 0x80, 0xFF):
            assert _breaks(_tamper_token_body(token, index, mask), cert), (index, mask)


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@SETTINGS
@given(cert=hex32, user=rtm_users, index=st.integers(3, 10_000), replacement=st.sampled_from(B64 + "=-_ !"))
def test_tampering_any_character_of_the_string_breaks_it_or_changes_no_signed_byte(
    *, cert: str, user: str, index: int, replacement: str
) -> None:
    """At the string level a zlib stream has "don't care" bits (the FLEVEL hint in its header, the padding after
    the end-of-block code), and any valid zlib stream is accepted by design (other languages compress
    differently). So a changed character either breaks parse/verify or leaves the signed payload unchanged."""
    token = build_rtm_token(app_id="c" * 32, app_certificate=cert, user_id=user, expire=600)
    index = 3 + (index - 3) % (len(token) - 3)
    assume(token[index] != replacement)
    tampered = token[:index] + replacement + token[index + 1 :]
    if not _breaks(tampered, cert):
        original = inflate(decode_base64(token[3:], "token"))
        assert inflate(decode_base64(tampered[3:], "token")) == original


@SETTINGS
@given(
    cert=hex32, channel=channels, uid=st.one_of(uids, accounts), ts=st.integers(1, 2**32 - 1), salt=salts,
    privileges=st.dictionaries(st.sampled_from((1, 2, 3, 4)), st.integers(0, 2**32 - 1), min_size=1),
)  # fmt: skip
def test_legacy_round_trip(
    *, cert: str, channel: str, uid: int | str, ts: int, salt: int, privileges: dict[int, int]
) -> None:
    token = build_legacy_token(app_id="d" * 32, app_certificate=cert, channel_name=channel, uid=uid,
                               privileges=privileges, ts=ts, salt=salt)  # fmt: skip
    parsed = parse_token(token)
    assert isinstance(parsed, ParsedLegacyToken)
    assert (parsed.app_id, parsed.ts, parsed.salt, parsed.privileges) == ("d" * 32, ts, salt, privileges)
    assert parsed.crc_channel_name == zlib.crc32(channel.encode())
    assert parsed.crc_uid == zlib.crc32(packed_uid(uid).encode())
    assert verify(token, cert, channel_name=channel, uid=uid)
    assert not verify(token, cert, channel_name=channel + "x", uid=uid)


@SETTINGS
@given(
    key=st.integers(0, 2**32 - 1),
    key32=st.binary(min_size=32, max_size=32),
    msg=st.binary(min_size=32, max_size=32),
    long_msg=st.binary(max_size=2000),
)
def test_hand_written_hmac_equals_the_standard_library(*, key: int, key32: bytes, msg: bytes, long_msg: bytes) -> None:
    assert _hmac_u32(key, msg) == hmac.digest(struct.pack("<I", key), msg, "sha256")
    assert _hmac_key32(key32, long_msg) == hmac.digest(key32, long_msg, "sha256")
