"""What the channels API answers: the response bodies of ``/channels*`` and ``/kicking-rules*``, documented in
docs/openapi.json and checked against every answer by the API fuzz test (tests/e2e/test_api_fuzz.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OnlineChannel(BaseModel):
    channel_name: str
    user_count: int


class OnlineChannels(BaseModel):
    channels: list[OnlineChannel]
    total_size: int
    page_no: int
    page_size: int
    cached: bool = Field(description="served from this function's few-second cache")
    age_ms: int


class Member(BaseModel):
    uid: int
    state: str | None = None
    role: str | None = None
    bot: bool
    platform: int | None = None
    account: str | None = None
    joined_ts: int | None = None
    last_event_ts: int | None = None
    left_ts: int | None = None
    leave_reason: int | None = None
    leave_reason_name: str | None = None


class ChannelUsers(BaseModel):
    channel: str
    source: Literal["agora", "webhooks"]
    channel_exist: bool
    mode: str | None = Field(default=None, description="source agora: communication or live")
    channel_state: str | None = Field(default=None, description="source webhooks: the channel's last known state")
    hosts: list[int]
    audience: list[int]
    users: list[int]
    bots: list[int] = Field(description="recorder bots (our reserved uid range), not counted in total")
    total: int
    members: list[Member] | None = Field(default=None, description="source webhooks: every member we heard of")


class UserStatus(BaseModel):
    channel: str
    uid: int
    in_channel: bool
    role: str | None = None
    join: int | None = None
    platform: int | None = None
    bot: bool


class KickingRuleView(BaseModel):
    id: int
    channel: str | None = None
    uid: int | None = None
    ip: str | None = None
    privileges: list[str] = Field(default_factory=list)
    duration_seconds: int | None = None
    created_at: int | None = None
    expires_at: int | None = None
    expired: bool | None = None
    created_by: str | None = None
    sources: list[Literal["ours", "agora"]]
    agora_expires_at: int | None = None


class KickingRules(BaseModel):
    rules: list[KickingRuleView]
    include_agora: bool


class ChannelHosts(BaseModel):
    """Agora's hosts-only list of a live channel."""

    channel: str
    source: Literal["agora"]
    hosts: list[int]
    recorder_bots: list[int] = Field(description="our recorder bots among the hosts (reserved uid range)")


class NcsAddresses(BaseModel):
    """The addresses Agora's NCS sends webhooks from, for a firewall or WAF allow-list."""

    addresses: list[str] = Field(description="IPv4/IPv6 addresses, sorted")
    source: Literal["agora"]
    refresh_seconds: int = Field(description="fetch again within this many seconds: the addresses change")
