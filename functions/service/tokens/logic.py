"""The rules of token minting: who gets which role, for which uid, for how long."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agorakit.ids import CHANNEL_PATTERN
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.adapters.secrets import SecretStore
from service.auth import Caller
from service.errors import BadRequest, Forbidden, Unprocessable, UpstreamUnavailable
from service.tokens.repository import UidRepository
from service.tokens.settings import TokenSettings

#: our names of the RTC privileges -> AccessToken2's (``agorakit.tokens``)
PRIVILEGES = {
    "join": "join_channel",
    "publish_audio": "publish_audio_stream",
    "publish_video": "publish_video_stream",
    "publish_data": "publish_data_stream",
}
PUBLISH = ("publish_audio", "publish_video", "publish_data")


class PrivilegeTtl(BaseModel):
    """Seconds per privilege (each at most 24 h); a privilege not named lasts ``ttl``. Agora checks each one on
    its own: a short publish expiry ends publishing (with co-host authentication on) while the user stays in."""

    model_config = ConfigDict(extra="forbid", strict=True)

    join: int | None = Field(default=None, ge=1, le=86400)
    publish_audio: int | None = Field(default=None, ge=1, le=86400)
    publish_video: int | None = Field(default=None, ge=1, le=86400)
    publish_data: int | None = Field(default=None, ge=1, le=86400)


def check_within_ttl(privileges: PrivilegeTtl | None, ttl: int, source: str) -> None:
    """A privilege cannot outlive its token (Agora ends the token at ``ttl`` whatever a privilege says): a
    longer per-privilege lifetime is a mistake to report, not a value to clamp silently (``ValueError``)."""
    if privileges is None:
        return
    beyond = {name: seconds for name, seconds in privileges.model_dump(exclude_none=True).items() if seconds > ttl}
    if beyond:
        listed = ", ".join(f"privilege_ttl.{name} ({seconds} s)" for name, seconds in sorted(beyond.items()))
        raise ValueError(
            f"{listed} outlasts the token itself ({source} {ttl} s): a privilege ends with its token at the latest; "
            f"ask for at most {ttl} s or a longer ttl"
        )


class TokenRequest(BaseModel):
    """``POST /tokens``. The uid is never taken from the body: it comes from the caller's identity."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # "rtm": 0 or "ttl": "3600" are mistakes to report, not values to coerce
        json_schema_extra={"examples": [{"channel": "demo", "role": "publisher", "ttl": 3600, "rtm": True}]},
    )

    channel: str = Field(
        min_length=1,
        max_length=63,
        json_schema_extra={"pattern": CHANNEL_PATTERN},  # the validator below says which character is wrong
        description="Agora channel name (under 64 bytes, Agora's set)",
    )
    role: Literal["publisher", "subscriber"] = "subscriber"
    ttl: int | None = Field(
        default=None, ge=1, le=86400, description="token lifetime in seconds (max 24 h; default: the deployment's)"
    )
    rtm: bool = Field(default=False, description="also mint an RTC+RTM token (rtm_token) for the same user")
    privilege_ttl: PrivilegeTtl | None = Field(
        default=None,
        description=(
            "per-privilege lifetimes in seconds; publish_* need role publisher; each at most the token's ttl "
            "(the request's, else the deployment's default): a longer one is refused (422), never clamped"
        ),
    )

    @model_validator(mode="after")
    def _privileges_within_ttl(self) -> TokenRequest:
        if self.ttl is not None:
            check_within_ttl(self.privilege_ttl, self.ttl, "ttl")
        return self

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        from agorakit.tokens import validate_channel_name

        validate_channel_name(value)
        return value


class TokenResponse(BaseModel):
    app_id: str
    channel: str
    uid: int
    role: Literal["publisher", "subscriber"]
    rtc_token: str
    rtm_token: str | None = None
    rtm_user_id: str | None = None
    issued_at: int
    expires_at: int
    #: when each granted privilege ends (Unix seconds): renew before the earliest
    privilege_expires_at: dict[str, int] = Field(default_factory=dict)


class RtmTokenRequest(BaseModel):
    """``POST /tokens/rtm``: a Signaling (RTM 2.x) login token for the caller's own user id."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"ttl": 3600}]})

    ttl: int | None = Field(default=None, ge=1, le=86400, description="token lifetime in seconds (max 24 h)")


class RtmTokenResponse(BaseModel):
    app_id: str
    uid: int
    rtm_user_id: str
    rtm_token: str
    issued_at: int
    expires_at: int


@dataclass
class TokenDependencies:
    uids: UidRepository
    secrets: SecretStore
    clock: Callable[[], float] = time.time


def effective_role(caller: Caller, requested: str, settings: TokenSettings) -> Literal["publisher", "subscriber"]:
    if requested != "publisher" or caller.in_group(settings.publisher_group):
        return "publisher" if requested == "publisher" else "subscriber"
    if settings.publisher_denied == "downgrade":
        return "subscriber"
    raise Forbidden(
        f"publisher tokens require membership of the '{settings.publisher_group}' group; ask for role 'subscriber'"
    )


def app_certificate(secrets: SecretStore, settings: TokenSettings) -> str:
    try:
        value = secrets.get_json(settings.app_certificate_secret_name)
    except Exception as exc:  # the secret store is not ours: any failure is "unavailable", never leaked
        raise UpstreamUnavailable("the app certificate could not be read from Secrets Manager") from exc
    certificate = value.get("app_certificate") or value.get("value")
    if not certificate:
        raise UpstreamUnavailable("the app certificate secret has no 'app_certificate' field")
    return str(certificate)


def mint_tokens(
    caller: Caller, request: TokenRequest, *, settings: TokenSettings, deps: TokenDependencies
) -> TokenResponse:
    from agorakit.tokens import TokenError, build_rtc_rtm_token, build_rtc_token

    role = effective_role(caller, request.role, settings)
    uid = deps.uids.uid_for(caller.subject)
    ttl = request.ttl or settings.token_default_ttl
    lifetimes = privilege_lifetimes(request, role, ttl)
    issued_at = int(deps.clock())
    certificate = app_certificate(deps.secrets, settings)
    rtm_user_id = str(uid) if request.rtm else None
    # no privilege_ttl: every privilege lasts ttl (the builder's fast path, RtcTokenBuilder2's bytes)
    per_privilege = {PRIVILEGES[n]: s for n, s in lifetimes.items()} if request.privilege_ttl else None
    try:
        rtc_token = build_rtc_token(
            app_id=settings.agora_app_id, app_certificate=certificate, channel_name=request.channel, uid=uid,
            role=role, expire=ttl, privilege_expire=per_privilege, issue_ts=issued_at,
        )  # fmt: skip
        rtm_token = None
        if rtm_user_id is not None:
            rtm_token = build_rtc_rtm_token(
                app_id=settings.agora_app_id, app_certificate=certificate, channel_name=request.channel, uid=uid,
                role=role, expire=ttl, privilege_expire=per_privilege, rtm_user_id=rtm_user_id, issue_ts=issued_at,
            )  # fmt: skip
    except TokenError as exc:
        raise BadRequest(str(exc)) from exc
    return TokenResponse(
        app_id=settings.agora_app_id, channel=request.channel, uid=uid, role=role, rtc_token=rtc_token,
        rtm_token=rtm_token, rtm_user_id=rtm_user_id, issued_at=issued_at, expires_at=issued_at + ttl,
        privilege_expires_at={name: issued_at + seconds for name, seconds in lifetimes.items()},
    )  # fmt: skip


def privilege_lifetimes(request: TokenRequest, role: str, ttl: int) -> dict[str, int]:
    """Seconds per granted privilege: the requested ones, ``ttl`` for the others; a subscriber has join only.

    A publish privilege asked by a caller who only gets a subscriber token is refused (400), never granted:
    the role the caller is allowed is the ceiling."""
    asked = request.privilege_ttl.model_dump(exclude_none=True) if request.privilege_ttl else {}
    names = ("join", *PUBLISH) if role == "publisher" else ("join",)
    refused = sorted(set(asked) - set(names))
    if refused:
        raise BadRequest(f"privilege_ttl {', '.join(refused)} needs a publisher token; this one is {role}")
    if request.ttl is None:  # the deployment's default ttl: the same rule as the model's, checked here
        try:
            check_within_ttl(request.privilege_ttl, ttl, "the default ttl")
        except ValueError as exc:
            raise Unprocessable(str(exc)) from None
    return {name: int(asked.get(name, ttl)) for name in names}


def mint_rtm_token(
    caller: Caller, request: RtmTokenRequest, *, settings: TokenSettings, deps: TokenDependencies
) -> RtmTokenResponse:
    """A standalone RTM login token (Signaling 2.x): user id = the caller's uid, as in the RTC+RTM token."""
    from agorakit.tokens import TokenError, build_rtm_token

    uid = deps.uids.uid_for(caller.subject)
    ttl = request.ttl or settings.token_default_ttl
    issued_at = int(deps.clock())
    certificate = app_certificate(deps.secrets, settings)
    try:
        token = build_rtm_token(
            app_id=settings.agora_app_id, app_certificate=certificate, user_id=str(uid), expire=ttl,
            issue_ts=issued_at,
        )  # fmt: skip
    except TokenError as exc:
        raise BadRequest(str(exc)) from exc
    return RtmTokenResponse(
        app_id=settings.agora_app_id, uid=uid, rtm_user_id=str(uid), rtm_token=token, issued_at=issued_at,
        expires_at=issued_at + ttl,
    )  # fmt: skip
