"""Deployment settings: one validated model, read from CDK context first, then the environment.

Every setting has a context key (``cdk deploy -c agoraAppId=...``) and an environment variable
(``AGORA_APP_ID``). Secret *names* are settings; secret *values* never are: they live only in
Secrets Manager.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PLACEHOLDER_APP_ID = "0" * 32

#: field name -> (context key, environment variable)
KEYS: dict[str, tuple[str, str]] = {
    "stack_name": ("stackName", "AGORA_STACK_NAME"),
    "account": ("account", "CDK_DEFAULT_ACCOUNT"),
    "region": ("region", "CDK_DEFAULT_REGION"),
    "agora_app_id": ("agoraAppId", "AGORA_APP_ID"),
    "app_certificate_secret_name": ("appCertificateSecretName", "AGORA_APP_CERTIFICATE_SECRET_NAME"),
    "rest_secret_name": ("restSecretName", "AGORA_REST_SECRET_NAME"),
    "ncs_secret_name": ("ncsSecretName", "AGORA_NCS_SECRET_NAME"),
    "rest_base_urls": ("restBaseUrls", "AGORA_REST_BASE_URLS"),
    "agora_qps": ("agoraQps", "AGORA_QPS"),
    "auth_issuer": ("authIssuer", "AUTH_ISSUER"),
    "auth_audience": ("authAudience", "AUTH_AUDIENCE"),
    "groups_claim": ("groupsClaim", "AUTH_GROUPS_CLAIM"),
    "publisher_group": ("publisherGroup", "AUTH_PUBLISHER_GROUP"),
    "admin_group": ("adminGroup", "AUTH_ADMIN_GROUP"),
    "publisher_denied": ("publisherDenied", "AUTH_PUBLISHER_DENIED"),
    "token_default_ttl": ("tokenDefaultTtl", "TOKEN_DEFAULT_TTL"),
    "recording_max_hours": ("recordingMaxHours", "RECORDING_MAX_HOURS"),
    "recording_async_stop": ("recordingAsyncStop", "RECORDING_ASYNC_STOP"),
    "log_retention_days": ("logRetentionDays", "LOG_RETENTION_DAYS"),
    "alarm_email": ("alarmEmail", "ALARM_EMAIL"),
    "cors_origins": ("corsOrigins", "CORS_ORIGINS"),
}

#: an origin as browsers send it: scheme, host, optional port; no path, no trailing slash
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class StackSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack_name: str = "AgoraServerless"
    account: str | None = None
    region: str = "us-east-1"
    agora_app_id: str = PLACEHOLDER_APP_ID
    app_certificate_secret_name: str = "agora-serverless/app-certificate"  # noqa: S105 - a name, not a value
    rest_secret_name: str = "agora-serverless/rest-credentials"  # noqa: S105 - a name, not a value
    ncs_secret_name: str = "agora-serverless/ncs-secrets"  # noqa: S105 - a name, not a value
    rest_base_urls: list[str] = Field(default_factory=list)
    agora_qps: int = Field(default=10, ge=1, le=100)
    auth_issuer: str | None = None
    auth_audience: str | None = None
    groups_claim: str = "cognito:groups"
    publisher_group: str = "hosts"
    admin_group: str = "admins"
    publisher_denied: Literal["forbid", "downgrade"] = "forbid"
    token_default_ttl: int = Field(default=3600, ge=1, le=86400)
    recording_max_hours: int = Field(default=4, ge=1, le=24)
    recording_async_stop: bool = True
    log_retention_days: int = 30
    alarm_email: str | None = None
    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("agora_app_id")
    @classmethod
    def _app_id(cls, v: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{32}", v):
            raise ValueError("agoraAppId must be 32 hexadecimal characters (Agora console -> project -> App ID)")
        return v

    @field_validator("rest_base_urls", mode="before")
    @classmethod
    def _urls(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v: Any) -> Any:
        items = [o.strip() for o in v.split(",")] if isinstance(v, str) else list(v or [])
        origins = [str(o).strip() for o in items if str(o).strip()]
        for origin in origins:
            if origin == "*":
                raise ValueError(
                    "corsOrigins '*' is refused: name each web app origin (e.g. https://app.example.com); "
                    "a wildcard would let any site call the API with a user's token"
                )
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"corsOrigins: {origin!r} is not an origin: scheme://host[:port], no path or trailing slash "
                    "(e.g. https://app.example.com or http://127.0.0.1:8081)"
                )
        return origins

    @model_validator(mode="after")
    def _issuer_and_audience(self) -> StackSettings:
        if bool(self.auth_issuer) != bool(self.auth_audience):
            raise ValueError("authIssuer and authAudience go together: set both (external issuer) or neither (Cognito)")
        return self

    @property
    def uses_cognito(self) -> bool:
        return not self.auth_issuer

    @property
    def uses_placeholder_app_id(self) -> bool:
        return self.agora_app_id == PLACEHOLDER_APP_ID

    @classmethod
    def load(cls, get_context: Callable[[str], Any], environ: Mapping[str, str] | None = None) -> StackSettings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, (ctx_key, env_key) in KEYS.items():
            value = get_context(ctx_key)
            if value is None or value == "":
                value = env.get(env_key) or None
            if value is not None:
                values[field] = value
        return cls.model_validate(values)
