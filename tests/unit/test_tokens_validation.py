"""Every validation rule of the token builders and the parser: a clear ``TokenError``, never an empty string."""

from __future__ import annotations

import re
import zlib
from binascii import b2a_base64
from typing import Any

import pytest
from agorakit.errors import AgorakitError
from agorakit.tokens import (
    AccessToken2,
    ApaasService,
    ChatService,
    FpaService,
    RtcService,
    Rtm2Service,
    RtmService,
    StreamingService,
    TokenError,
    TokenParseError,
    TokenValidationError,
    build_from_spec,
    build_legacy_token,
    build_rtc_rtm_token,
    build_rtc_token,
    build_rtm_token,
    parse_token,
    random_salt,
    validate_channel_name,
    verify,
)

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
CHANNEL = "7d72365eb983485397e3e3f9d460bdda"


def rtc(**overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "app_id": APP_ID,
        "app_certificate": CERT,
        "channel_name": CHANNEL,
        "uid": 2882341273,
        "role": "publisher",
        "expire": 600,
        "issue_ts": 1111111,
        "salt": 1,
    }
    return build_rtc_token(**(kwargs | overrides))


def rtc_error(field: str, **overrides: Any) -> TokenValidationError:
    with pytest.raises(TokenValidationError) as info:
        rtc(**overrides)
    assert info.value.field == field, str(info.value)
    assert str(info.value).startswith(f"{field}: ")
    return info.value


def test_the_error_hierarchy() -> None:
    assert issubclass(TokenError, AgorakitError)
    assert issubclass(TokenError, ValueError)
    assert issubclass(TokenValidationError, TokenError)
    assert issubclass(TokenParseError, TokenError)
    assert rtc()  # the baseline inputs are valid


# ------------------------------------------------------------------------------------------ app id, certificate


@pytest.mark.parametrize(
    "value",
    ["", "970CA35de60c44645bbae8a215061b3", APP_ID + "0", "970CA35de60c44645bbae8a215061b3g", " " * 32, 12, None],
)
def test_app_id_must_be_32_hex_characters(value: object) -> None:
    rtc_error("app_id", app_id=value)


@pytest.mark.parametrize(
    "value",
    ["", CERT[:-1], CERT + "a", CERT[:-1] + "z", "\uff15" + CERT[1:], b"5CFd2fd1755d40ecb72977518be15d3b", None],
)
def test_certificate_must_be_32_hex_characters_and_is_never_echoed(value: object) -> None:
    error = rtc_error("app_certificate", app_certificate=value)
    if isinstance(value, str) and value:
        assert value not in str(error)


# ------------------------------------------------------------------------------------------------- channel


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "must not be empty"),
        ("a" * 64, "at most 63 bytes"),
        ("room*1", "'*'"),
        ("room/1", "'/'"),
        ("caf\u00e9", "outside Agora's character set"),
        ("tab\there", "outside Agora's character set"),
        (123, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_channel_name_rules(value: object, reason: str) -> None:
    assert reason in str(rtc_error("channel_name", channel_name=value))
    with pytest.raises(TokenValidationError):
        validate_channel_name(value)


def test_channel_name_limits_that_pass() -> None:
    every_allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&()+-:;<=.>?@[]^_{}|~,"
    assert len(set(every_allowed)) == 89
    for name in ("a" * 63, "x", every_allowed[:63], every_allowed[63:]):
        assert validate_channel_name(name) == name
        assert parse_token(rtc(channel_name=name)).services[0]["channel_name"] == name  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------- uid, account


@pytest.mark.parametrize("value", [-1, 2**32, 2**40, True, False, 1.0, None, b"42", [1]])
def test_uid_must_be_a_uint32_or_an_account(value: object) -> None:
    rtc_error("uid", uid=value)


@pytest.mark.parametrize(
    ("value", "packed"), [(0, ""), (1, "1"), (2**32 - 1, "4294967295"), ("0", "0"), ("alice", "alice")]
)
def test_uid_packing(value: int | str, packed: str) -> None:
    assert parse_token(rtc(uid=value)).services[0]["uid"] == packed  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value", "reason"), [("", "must not be empty"), ("a" * 256, "at most 255"), ("a b*", "'*'")])
def test_account_rules(value: str, reason: str) -> None:
    assert reason in str(rtc_error("uid", uid=value))


def test_account_of_255_bytes_passes() -> None:
    assert parse_token(rtc(uid="a" * 255)).services[0]["uid"] == "a" * 255  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ role, expiry


@pytest.mark.parametrize("value", ["Publisher", "host", "", 1, 2, None])
def test_role_must_be_publisher_or_subscriber(value: object) -> None:
    rtc_error("role", role=value)


@pytest.mark.parametrize("value", [0, -1, 86_401, 2**32, True, 600.0, "600", None])
def test_expire_is_1_second_to_24_hours(value: object) -> None:
    rtc_error("expire", expire=value)


@pytest.mark.parametrize("value", [1, 86_400])
def test_expire_bounds_pass(value: int) -> None:
    assert parse_token(rtc(expire=value, privilege_expire=1)).expire == value  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [0, -5, 86_401, True, 1.5, "60"])
def test_privilege_expire_is_1_second_to_24_hours(value: object) -> None:
    rtc_error("privilege_expire", privilege_expire=value)


@pytest.mark.parametrize(
    ("value", "field", "reason"),
    [
        ({"publish_anything": 60}, "privilege_expire", "unknown rtc privilege"),
        ({5: 60}, "privilege_expire", "unknown rtc privilege"),
        ({"login": 60}, "privilege_expire", "unknown rtc privilege"),
        ({"join_channel": 0}, "privilege_expire['join_channel']", "between 1 and 86400"),
        ({2: 86_401}, "privilege_expire[2]", "between 1 and 86400"),
    ],
)
def test_per_privilege_expiry_errors(value: dict[Any, Any], field: str, reason: str) -> None:
    assert reason in str(rtc_error(field, privilege_expire=value))


def test_a_subscriber_cannot_be_given_publish_privileges() -> None:
    error = rtc_error("privilege_expire", role="subscriber", privilege_expire={"publish_audio_stream": 60})
    assert "only join_channel" in str(error)


def test_per_privilege_expiry_by_name_or_number() -> None:
    token = rtc(privilege_expire={"join_channel": 100, 2: 200, "3": 300})
    assert parse_token(token).services[0].privileges == {1: 100, 2: 200, 3: 300, 4: 600}  # type: ignore[attr-defined]
    token = rtc(role="subscriber", privilege_expire={"join_channel": 100})
    assert parse_token(token).services[0].privileges == {1: 100}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "value"),
    [("issue_ts", 0), ("issue_ts", 2**32), ("issue_ts", True), ("issue_ts", "1"), ("salt", -1), ("salt", 2**32),
     ("salt", 1.0)],
)  # fmt: skip
def test_pinned_issue_ts_and_salt_are_uint32(field: str, value: object) -> None:
    rtc_error(field, **{field: value})


# --------------------------------------------------------------------------------------------------------- RTM


@pytest.mark.parametrize(
    ("value", "reason"),
    [("", "must not be empty"), ("u" * 65, "at most 64"), (" alice", "must not start with a space"), ("a/b", "'/'")],
)
def test_rtm_user_id_rules(value: str, reason: str) -> None:
    with pytest.raises(TokenValidationError, match=reason) as info:
        build_rtm_token(app_id=APP_ID, app_certificate=CERT, user_id=value, expire=600)
    assert info.value.field == "user_id"


def test_rtm_user_id_of_64_bytes_passes() -> None:
    token = build_rtm_token(app_id=APP_ID, app_certificate=CERT, user_id="u" * 64, expire=600)
    assert parse_token(token).services[0]["user_id"] == "u" * 64  # type: ignore[attr-defined]


def test_rtm_expire_rules() -> None:
    with pytest.raises(TokenValidationError, match="expire"):
        build_rtm_token(app_id=APP_ID, app_certificate=CERT, user_id="alice", expire=86_401)


def test_rtc_rtm_token_rules() -> None:
    base: dict[str, Any] = {"app_id": APP_ID, "app_certificate": CERT, "channel_name": CHANNEL, "role": "publisher",
                            "expire": 600}  # fmt: skip
    with pytest.raises(TokenValidationError, match="required when uid is 0") as info:
        build_rtc_rtm_token(**base, uid=0)
    assert info.value.field == "rtm_user_id"
    with pytest.raises(TokenValidationError, match="at most 64") as info:
        build_rtc_rtm_token(**base, uid="a" * 100)  # a valid RTC account, too long for RTM
    assert info.value.field == "rtm_user_id"
    with pytest.raises(TokenValidationError) as info:
        build_rtc_rtm_token(**base, uid=5, rtm_expire=0)
    assert info.value.field == "rtm_expire"
    parsed = parse_token(build_rtc_rtm_token(**base, uid=5))
    assert [s.to_dict().get("user_id") for s in parsed.services] == [None, "5"]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ general builder


def token2() -> AccessToken2:
    return AccessToken2(APP_ID, CERT, expire=600, issue_ts=1111111, salt=1)


def test_access_token2_needs_a_service_with_privileges() -> None:
    with pytest.raises(TokenValidationError, match="add at least one service"):
        token2().build()
    with pytest.raises(TokenValidationError, match="at least one privilege"):
        token2().add_service(FpaService()).build()
    with pytest.raises(TokenValidationError, match="expected a Service"):
        token2().add_service("rtc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: RtcService("bad*channel", 1), "rtc.channel_name"),
        (lambda: RtcService(CHANNEL, -1), "rtc.uid"),
        (lambda: RtmService(" lead"), "rtm.user_id"),
        (lambda: StreamingService(CHANNEL, 2**32), "streaming.account"),
        (lambda: ChatService("c" * 65), "chat.user_id"),
        (lambda: ApaasService(role=40_000), "apaas.role"),
        (lambda: ApaasService(room_uuid="r" * 256), "apaas.room_uuid"),
        (lambda: Rtm2Service("u", {"nope": {"read": ["x"]}}), "rtm2.permissions['nope']"),
        (lambda: Rtm2Service("u", {0: {"delete": ["x"]}}), "rtm2.permissions[0]['delete']"),
        (lambda: Rtm2Service("u", {0: {0: "x"}}), "rtm2.permissions[0][0]"),
        (lambda: Rtm2Service("u", {0: {0: [""]}}), "rtm2.permissions[0][0][0]"),
        (lambda: Rtm2Service("u", {0: {0: ["a\nb"]}}), "rtm2.permissions[0][0][0]"),
        (lambda: Rtm2Service("u", {0: {0: ["r" * 256]}}), "rtm2.permissions[0][0][0]"),
        (lambda: Rtm2Service("u", {0: {0: [], "read": []}}), "rtm2.permissions[0]['read']"),
        (lambda: Rtm2Service("u", [1]), "rtm2.permissions"),  # type: ignore[arg-type]
        (lambda: RtcService(CHANNEL, 1).add_privilege("login", 60), "rtc.privileges"),
        (lambda: RtmService("u").add_privilege(1, 0), "rtm.privileges[1]"),
    ],
)
def test_service_field_rules(make: Any, field: str) -> None:
    with pytest.raises(TokenValidationError) as info:
        make()
    assert info.value.field == field


def test_chat_user_token_needs_a_user_id() -> None:
    with pytest.raises(TokenValidationError, match="needs a user id"):
        token2().add_service(ChatService().add_privilege("user", 600)).build()
    assert token2().add_service(ChatService().add_privilege("app", 600)).build()


# --------------------------------------------------------------------------------------------------- spec


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "app_id": APP_ID,
        "app_certificate": CERT,
        "expire": 600,
        "services": [{"type": "rtc", "channel_name": CHANNEL, "uid": 1, "privileges": {"1": 600}}],
    }
    return base | overrides


@pytest.mark.parametrize(
    ("value", "field", "reason"),
    [
        ([], "spec", "must be an object"),
        ({"app_id": APP_ID}, "app_certificate", "is required"),
        (spec(extra=1), "spec", "unknown key(s) extra"),
        (spec(services=[]), "services", "non-empty list"),
        (spec(services={"type": "rtc"}), "services", "non-empty list"),
        (spec(services=[{"channel_name": "x"}]), "services[0].type", "is required"),
        (spec(services=[{"type": "video", "privileges": {"1": 1}}]), "services[0].type", "unknown service type"),
        (spec(services=[{"type": 9, "privileges": {"1": 1}}]), "services[0].type", "unknown service type"),
        (spec(services=[{"type": "rtc", "uid": 1, "privileges": {"1": 1}}]), "services[0].channel_name", "required"),
        (spec(services=[{"type": "rtc", "channel_name": "a", "uid": 1}]), "services[0].privileges", "non-empty"),
        (spec(services=[{"type": "rtc", "channel_name": "a", "uid": 1, "account": "b", "privileges": {"1": 1}}]),
         "services[0]", "only one of the aliases"),
        (spec(services=[{"type": "rtm", "user_id": "a", "channel_name": "b", "privileges": {"1": 1}}]),
         "services[0]", "unknown key(s) channel_name"),
        (spec(services=[{"type": "rtm", "user_id": "a", "privileges": {"join_channel": 1}}]),
         "services[0].privileges", "unknown rtm privilege"),
        (spec(services=[{"type": "rtm", "user_id": "a", "privileges": {"1": 86_401}}]),
         "services[0].privileges['1']", "between 1 and 86400"),
        (spec(services=[{"type": "rtm", "user_id": " a", "privileges": {"1": 1}}]), "services[0].user_id", "space"),
        (spec(services=["rtc"]), "services[0]", "must be an object"),
        (spec(expire=0), "expire", "between 1"),
    ],
)  # fmt: skip
def test_spec_errors(value: Any, field: str, reason: str) -> None:
    with pytest.raises(TokenValidationError) as info:
        build_from_spec(value)
    assert info.value.field == field, str(info.value)
    assert reason in str(info.value)


def test_spec_accepts_names_and_numbers() -> None:
    by_name = build_from_spec(spec(issue_ts=5, salt=6, services=[
        {"type": "RTC", "channel_name": CHANNEL, "uid": 1,
         "privileges": {"join_channel": 60, "publish_audio_stream": 70}},
        {"type": "rtm", "user_id": "alice", "privileges": {"login": 60}},
    ]))  # fmt: skip
    by_number = build_from_spec(spec(issue_ts=5, salt=6, services=[
        {"type": "2", "user_id": "alice", "privileges": {1: 60}},
        {"type": 1, "channel_name": CHANNEL, "account": 1, "privileges": {"1": 60, "2": 70}},
    ]))  # fmt: skip
    assert by_name == by_number


# -------------------------------------------------------------------------------------------------- legacy


def legacy(**overrides: Any) -> str:
    kwargs: dict[str, Any] = {"app_id": APP_ID, "app_certificate": CERT, "channel_name": CHANNEL, "uid": 1,
                              "privileges": {1: 1446455471}, "ts": 1111111, "salt": 1}  # fmt: skip
    return build_legacy_token(**(kwargs | overrides))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"app_id": "x"}, "app_id"),
        ({"app_certificate": "x"}, "app_certificate"),
        ({"privileges": {}}, "privileges"),
        ({"privileges": {5: 1}}, "privileges"),
        ({"privileges": {1: -1}}, "privileges[1]"),
        ({"privileges": {1000: 1, 1: 1}}, "privileges"),
        ({"privileges": {1000: 1}, "uid": 7}, "uid"),
        ({"channel_name": "a" * 64}, "channel_name"),
        ({"ts": 0}, "ts"),
        ({"salt": -1}, "salt"),
    ],
)
def test_legacy_builder_rules(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(TokenValidationError) as info:
        legacy(**overrides)
    assert info.value.field == field


# ---------------------------------------------------------------------------------------------------- parse


def _007(body: bytes) -> str:
    return "007" + b2a_base64(zlib.compress(body), newline=False).decode()


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "empty"),
        ("008eJxT", "unsupported token version '008'"),
        ("hello", "unsupported token version"),
        ("007", "has no body"),
        ("007eJxT!!!", "not valid base64"),
        ("007eJxT YL", "a space may be a '+'"),
        ("007eJ%2BxT", "URL-encoded"),
        ("007eJx-T_A", "URL-safe"),
        ("007QR==", "not canonical base64"),
        ("007" + b2a_base64(b"not zlib", newline=False).decode(), "not a valid zlib stream"),
        ("007" + b2a_base64(zlib.compress(b"\x20\x00") + b"x", newline=False).decode(), "follow the zlib stream"),
        (_007(b"\x20\x00" + b"s" * 32), "truncated token: length of app_id"),
        (_007(b"\x20\x00" + b"s" * 31), "truncated token: signature needs 32 bytes"),
        (
            _007(b"\x20\x00" + b"s" * 32 + b"\x20\x00" + b"a" * 32 + b"\x00" * 12 + b"\x01\x00\x01\x00"),
            "truncated token: rtc privilege count",
        ),
        ("006" + "x" * 32 + "AAAA", "32-hex-character app id"),
        ("006" + APP_ID, "truncated token"),
        ("006" + APP_ID + "AAAA", "truncated token"),
        ("007" + "A" * 70_000, "far longer"),
    ],
)
def test_parse_errors_are_clear(token: str, reason: str) -> None:
    with pytest.raises(TokenParseError, match=re.escape(reason)):
        parse_token(token)
    assert verify(token, CERT) is False


def test_parse_refuses_non_strings_and_zlib_bombs() -> None:
    with pytest.raises(TokenParseError, match="must be a string"):
        parse_token(b"007eJx")  # type: ignore[arg-type]
    with pytest.raises(TokenParseError, match="inflates to more than"):
        parse_token(_007(b"\x00" * (300 * 1024)))


def test_verify_argument_errors() -> None:
    token = rtc()
    with pytest.raises(TokenValidationError, match="app_certificate"):
        verify(token, "short")
    with pytest.raises(TokenValidationError, match="only needed to verify 006"):
        verify(token, CERT, channel_name=CHANNEL)
    with pytest.raises(TokenValidationError, match="needs its channel_name and uid"):
        verify(legacy(), CERT)
    with pytest.raises(TokenValidationError, match="uid"):
        verify(legacy(), CERT, channel_name=CHANNEL, uid=1.5)  # type: ignore[arg-type]


def test_an_unknown_service_type_is_reported_not_fatal() -> None:
    """Type 9 after an RTM service: the RTM service parses, the rest is kept raw; the signature still verifies."""
    from agorakit.tokens.builder import _U16, _app_prefix, _certificate, seal

    rtm = RtmService("alice").add_privilege("login", 600).pack()
    unknown = _U16(9) + b"\x01\x00\x01\x00\x58\x02\x00\x00future"
    token = seal(_app_prefix(APP_ID), _certificate(CERT), expire=600, issue_ts=1111111, salt=1, service_count=2,
                 services=rtm + unknown)  # fmt: skip
    parsed = parse_token(token)
    services = parsed.to_dict()["services"]
    assert services[0]["user_id"] == "alice"
    assert services[1] == {"type": 9, "name": "unknown", "raw": unknown[2:].hex()}
    assert parsed.verify(CERT) is True


def test_trailing_bytes_are_reported() -> None:
    from agorakit.tokens.builder import _app_prefix, _certificate, seal

    rtm = RtmService("alice").add_privilege("login", 600).pack()
    token = seal(_app_prefix(APP_ID), _certificate(CERT), expire=600, issue_ts=1111111, salt=1, service_count=1,
                 services=rtm + b"\xff")  # fmt: skip
    assert parse_token(token).to_dict()["trailing"] == "ff"
    assert verify(token, CERT) is True  # the trailing byte is inside the signed bytes


# ------------------------------------------------------------------------------------------------------ salt


def test_random_salts_are_in_the_official_range_and_vary() -> None:
    salts = [random_salt() for _ in range(5000)]
    assert all(1 <= s <= 99_999_999 for s in salts)
    assert len(set(salts)) > 4990
    assert max(salts) > 90_000_000 and min(salts) < 10_000_000
    first = parse_token(build_rtc_token(app_id=APP_ID, app_certificate=CERT, channel_name="c", uid=1,
                                        role="subscriber", expire=60))  # fmt: skip
    second = parse_token(build_rtc_token(app_id=APP_ID, app_certificate=CERT, channel_name="c", uid=1,
                                         role="subscriber", expire=60))  # fmt: skip
    assert first.salt != second.salt  # type: ignore[attr-defined]
