"""The rules of token minting: who gets which role, for which uid, for how long."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.adapters.secrets import SecretStore
from service.auth import Caller
from service.errors import BadRequest, Forbidden, UpstreamUnavailable
from service.tokens.repository import UidRepository
from service.tokens.settings import TokenSettings


class TokenRequest(BaseModel):
    """``POST /tokens``. The uid is never taken from the body: it comes from the caller's identity."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,  # "rtm": 0 or "ttl": "3600" are mistakes to report, not values to coerce
        json_schema_extra={"examples": [{"channel": "demo", "role": "publisher", "ttl": 3600, "rtm": True}]},
    )

    channel: str = Field(min_length=1, max_length=63, description="Agora channel name (under 64 bytes, Agora's set)")
    role: Literal["publisher", "subscriber"] = "subscriber"
    ttl: int | None = Field(
        default=None, ge=1, le=86400, description="token lifetime in seconds (max 24 h; default: the deployment's)"
    )
    rtm: bool = Field(default=False, description="also mint an RTM token for the same user")

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
    issued_at = int(deps.clock())
    certificate = app_certificate(deps.secrets, settings)
    rtm_user_id = str(uid) if request.rtm else None
    try:
        rtc_token = build_rtc_token(
            app_id=settings.agora_app_id, app_certificate=certificate, channel_name=request.channel, uid=uid,
            role=role, expire=ttl, issue_ts=issued_at,
        )  # fmt: skip
        rtm_token = None
        if rtm_user_id is not None:
            rtm_token = build_rtc_rtm_token(
                app_id=settings.agora_app_id, app_certificate=certificate, channel_name=request.channel, uid=uid,
                role=role, expire=ttl, rtm_user_id=rtm_user_id, issue_ts=issued_at,
            )  # fmt: skip
    except TokenError as exc:
        raise BadRequest(str(exc)) from exc
    return TokenResponse(
        app_id=settings.agora_app_id, channel=request.channel, uid=uid, role=role, rtc_token=rtc_token,
        rtm_token=rtm_token, rtm_user_id=rtm_user_id, issued_at=issued_at, expires_at=issued_at + ttl,
    )  # fmt: skip
