"""What the agents API takes and answers (``/agents*``), documented in docs/openapi.json. The schema is the first
check; ``usecases.parse_start`` and ``usecases.speak`` still check what a schema cannot (the configured profiles,
the UTF-8 size of a line) with a precise 400."""

from __future__ import annotations

from typing import Annotated, Literal

from agorakit.ids import CHANNEL_PATTERN
from pydantic import BaseModel, ConfigDict, Field

UserUid = Annotated[int, Field(ge=1, le=3_999_999_999, description="a user's uid (not the reserved bot range)")]


class StartAgent(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"channel": "demo", "profile": "assistant", "remoteUids": [1001],
                                         "maxDurationSeconds": 600}]},
    )  # fmt: skip
    channel: str = Field(min_length=1, max_length=63, pattern=CHANNEL_PATTERN)
    profile: str = Field(
        min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
        description="a configured agent profile (its LLM / TTS / ASR settings and keys stay on the server)",
    )  # fmt: skip
    remoteUids: list[UserUid] = Field(min_length=1, max_length=16, description="the users the agent listens to")
    maxDurationSeconds: int | None = Field(
        default=None, ge=1, le=7 * 86_400, description="the hard maximum (the deployment's bounds apply)"
    )
    idleTimeout: int | None = Field(default=None, ge=0, le=3600, description="seconds alone before it leaves")
    exclusive: bool = Field(default=True, description="false: another agent of this profile may join the channel")


class Speak(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "Welcome, everyone."}]})
    text: str = Field(min_length=1, max_length=512, description="at most 512 bytes of UTF-8")
    priority: Literal["INTERRUPT", "APPEND", "IGNORE"] = "INTERRUPT"


class AgentHistoryLink(BaseModel):
    key: str
    turns: int


class AgentErrorView(BaseModel):
    step: str
    reason: str
    atMs: int
    httpStatus: int | None = None
    code: str | int | None = None


class AgentView(BaseModel):
    agentId: str
    channel: str
    profile: str
    state: str
    botUid: int
    remoteUids: list[int]
    idleTimeout: int
    createdAt: int
    startedAt: int | None
    endedAt: int | None
    endReason: str | None
    maxDurationEndsAt: int
    uptimeSeconds: int
    agoraAgentId: str | None
    adopted: bool
    tokenRenewals: int
    history: AgentHistoryLink | None
    lastError: AgentErrorView | None


class AgentList(BaseModel):
    agents: list[AgentView]


class Accepted(BaseModel):
    agentId: str
    accepted: bool
