"""Settings of the projects function, read once at cold start."""

from __future__ import annotations

from pydantic import Field

from service.adapters.agora import AgoraAccessSettings


class ProjectsSettings(AgoraAccessSettings):
    usage_table: str
    #: the secret the token function reads (``{"app_certificate": ...}``); rotation writes the new value here
    app_certificate_secret_name: str
    groups_claim: str = "cognito:groups"
    #: project management changes the whole Agora project: a group of its own, not the moderators' one
    owners_group: str = "owners"
    secret_cache_seconds: float = Field(default=300.0, ge=0)
    #: the longest any signer (token function, recording workflow) trusts a certificate version it confirmed
    #: current (their CERTIFICATE_CHECK_SECONDS): a rotation waits this long plus ``rotation_margin_seconds``
    #: after writing the new certificate before it answers, so no token is signed with the old one after that
    signer_certificate_check_seconds: float = Field(default=1.0, ge=0, le=10)
    #: covers a signer's time between confirming the version and signing (the same call, microseconds apart)
    rotation_margin_seconds: float = Field(default=1.0, ge=0, le=10)
    #: a usage day is cached once it is this many days old (UTC): Agora's figures for today/yesterday still move
    usage_settle_days: int = Field(default=2, ge=1, le=31)
    #: the longest date range one usage request may ask for
    usage_max_days: int = Field(default=92, ge=1, le=366)
    #: cached usage days are removed by DynamoDB's TTL after this many days
    usage_retention_days: int = Field(default=400, ge=1, le=3650)
    #: the stack's events bus: a rotation sends ``Certificate Rotated`` there ("": no event)
    event_bus_name: str = ""
    #: how long a warm function reuses the project list to resolve a project id or App ID
    projects_cache_seconds: float = Field(default=10.0, ge=0, le=300)
