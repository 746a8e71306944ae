"""Settings of the channels function, read once at cold start."""

from __future__ import annotations

from pydantic import Field

from service.adapters.agora import AgoraAccessSettings


class ChannelsSettings(AgoraAccessSettings):
    kicking_rules_table: str
    presence_table: str
    groups_claim: str = "cognito:groups"
    admin_group: str = "admins"
    #: how long a warm function reuses Agora's online-channel list (Agora allows 20 QPS per account)
    channels_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    #: our copy of a kicking rule outlives its expiry by this much, then DynamoDB's TTL removes it
    kicking_rules_retention_seconds: int = Field(default=7 * 86_400, ge=0)
    secret_cache_seconds: float = Field(default=300.0, ge=0)
