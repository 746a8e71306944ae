"""Agora access tokens: build AccessToken2 ("007") tokens, parse and verify 007 and legacy 006 tokens.

Standard library only. ``import agorakit.tokens`` loads just the builder (the Lambda's hot path); the parser,
the general ``AccessToken2`` class, ``build_from_spec`` and the 006 support load on first use::

    token = build_rtc_token(app_id=APP_ID, app_certificate=CERT, channel_name="room", uid=42,
                            role="publisher", expire=3600)
    parse_token(token).to_dict()["services"][0]["uid"]  # "42" (uids travel as decimal text)
    verify(token, CERT)  # True
"""

from __future__ import annotations

from agorakit.tokens.builder import (
    AGORA_CHARACTERS,
    MAX_EXPIRE,
    PRIVILEGES,
    SERVICE_NAMES,
    build_rtc_rtm_token,
    build_rtc_token,
    build_rtm_token,
    random_salt,
    signing_key,
    validate_account,
    validate_app_certificate,
    validate_app_id,
    validate_channel_name,
    validate_expire,
    validate_rtm_user_id,
    validate_uid,
)
from agorakit.tokens.errors import TokenError, TokenParseError, TokenValidationError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs more than this whole package
if TYPE_CHECKING:
    from typing import Any

    from agorakit.tokens.legacy import ParsedLegacyToken, build_legacy_token
    from agorakit.tokens.parser import ParsedAccessToken2, ParsedService, ParsedToken, parse_token, verify
    from agorakit.tokens.services import (
        AccessToken2,
        ApaasService,
        ChatService,
        FcdnService,
        FpaService,
        RtcService,
        Rtm2Service,
        RtmService,
        Service,
        StreamingService,
        build_from_spec,
    )

_LAZY: dict[str, str] = {
    "parse_token": "agorakit.tokens.parser",
    "verify": "agorakit.tokens.parser",
    "ParsedToken": "agorakit.tokens.parser",
    "ParsedAccessToken2": "agorakit.tokens.parser",
    "ParsedService": "agorakit.tokens.parser",
    "ParsedLegacyToken": "agorakit.tokens.legacy",
    "build_legacy_token": "agorakit.tokens.legacy",
    **dict.fromkeys(
        (
            "AccessToken2",
            "Service",
            "RtcService",
            "RtmService",
            "StreamingService",
            "FpaService",
            "ChatService",
            "FcdnService",
            "ApaasService",
            "Rtm2Service",
            "build_from_spec",
        ),
        "agorakit.tokens.services",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AGORA_CHARACTERS",
    "MAX_EXPIRE",
    "PRIVILEGES",
    "SERVICE_NAMES",
    "AccessToken2",
    "ApaasService",
    "ChatService",
    "FcdnService",
    "FpaService",
    "ParsedAccessToken2",
    "ParsedLegacyToken",
    "ParsedService",
    "ParsedToken",
    "RtcService",
    "Rtm2Service",
    "RtmService",
    "Service",
    "StreamingService",
    "TokenError",
    "TokenParseError",
    "TokenValidationError",
    "build_from_spec",
    "build_legacy_token",
    "build_rtc_rtm_token",
    "build_rtc_token",
    "build_rtm_token",
    "parse_token",
    "random_salt",
    "signing_key",
    "validate_account",
    "validate_app_certificate",
    "validate_app_id",
    "validate_channel_name",
    "validate_expire",
    "validate_rtm_user_id",
    "validate_uid",
    "verify",
]
