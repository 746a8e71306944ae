"""The agent record: what we know of one Conversational AI agent, as stored and as shown by the API."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from service.channeltasks import lifecycle


@dataclass(frozen=True)
class AgentError:
    """The last thing that went wrong: where (``step``), Agora's HTTP status or NCS code, and its reason."""

    step: str
    reason: str
    at_ms: int
    http_status: int | None = None
    code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "reason": self.reason, "atMs": self.at_ms, "httpStatus": self.http_status,
                "code": self.code}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AgentError:
        return cls(str(raw["step"]), str(raw["reason"]), int(raw["atMs"]), _opt_int(raw.get("httpStatus")),
                   _opt_int(raw.get("code")))  # fmt: skip


@dataclass(frozen=True)
class AgentRecord:
    agent_id: str  # ours (hex)
    channel: str
    profile: str
    name: str  # Agora's unique ``name`` (channeltasks.starting.task_name)
    bot_uid: int
    remote_uids: tuple[int, ...]
    idle_timeout: int
    max_at_ms: int
    created_ms: int
    requested_by: str
    exclusive: bool = True  # holds the (channel, profile) slot
    state: str = lifecycle.REQUESTED
    state_at_ms: int = 0
    agora_agent_id: str | None = None
    started_ms: int | None = None
    ended_ms: int | None = None
    end_reason: str | None = None
    token_expires_ms: int | None = None
    renewals: int = 0
    history_key: str | None = None
    history_turns: int = 0
    last_error: AgentError | None = None
    adopted: bool = False
    #: holds one of the stack's running places (``agentsMaxRunning``): set by the store's create, cleared by the
    #: save that ends the agent, in the same write that gives the place back (so it is given back once)
    counted: bool = False
    version: int = 0  # every save is conditional on it (optimistic concurrency)

    def with_(self, **changes: Any) -> AgentRecord:
        return replace(self, **changes)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "agentId": self.agent_id, "channel": self.channel, "profile": self.profile, "name": self.name,
            "botUid": self.bot_uid, "remoteUids": list(self.remote_uids), "idleTimeout": self.idle_timeout,
            "maxAtMs": self.max_at_ms, "createdMs": self.created_ms, "requestedBy": self.requested_by,
            "exclusive": self.exclusive, "state": self.state, "stateAtMs": self.state_at_ms,
            "renewals": self.renewals, "historyTurns": self.history_turns, "adopted": self.adopted,
            "counted": self.counted, "version": self.version,
        }  # fmt: skip
        optional = {
            "agoraAgentId": self.agora_agent_id, "startedMs": self.started_ms, "endedMs": self.ended_ms,
            "endReason": self.end_reason, "tokenExpiresMs": self.token_expires_ms, "historyKey": self.history_key,
            "lastError": self.last_error.to_dict() if self.last_error else None,
        }  # fmt: skip
        item.update({k: v for k, v in optional.items() if v is not None})
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AgentRecord:
        last = item.get("lastError")
        return cls(
            agent_id=str(item["agentId"]), channel=str(item["channel"]), profile=str(item["profile"]),
            name=str(item["name"]), bot_uid=int(item["botUid"]),
            remote_uids=tuple(int(u) for u in item.get("remoteUids") or ()), idle_timeout=int(item["idleTimeout"]),
            max_at_ms=int(item["maxAtMs"]), created_ms=int(item["createdMs"]), requested_by=str(item["requestedBy"]),
            exclusive=bool(item.get("exclusive", True)), state=str(item["state"]),
            state_at_ms=int(item.get("stateAtMs") or 0), agora_agent_id=_opt_str(item.get("agoraAgentId")),
            started_ms=_opt_int(item.get("startedMs")), ended_ms=_opt_int(item.get("endedMs")),
            end_reason=_opt_str(item.get("endReason")), token_expires_ms=_opt_int(item.get("tokenExpiresMs")),
            renewals=int(item.get("renewals") or 0), history_key=_opt_str(item.get("historyKey")),
            history_turns=int(item.get("historyTurns") or 0),
            last_error=AgentError.from_dict(dict(last)) if isinstance(last, dict) else None,
            adopted=bool(item.get("adopted", False)), counted=bool(item.get("counted", False)),
            version=int(item.get("version") or 0),
        )  # fmt: skip

    def view(self, now_ms: int) -> dict[str, Any]:
        """The API's shape: no vendor settings, no token; uptime while it runs, the last error if any."""
        end = self.ended_ms if self.ended_ms is not None else now_ms
        uptime = max(0, end - self.started_ms) // 1000 if self.started_ms is not None else 0
        return {
            "agentId": self.agent_id, "channel": self.channel, "profile": self.profile, "state": self.state,
            "botUid": self.bot_uid, "remoteUids": list(self.remote_uids), "idleTimeout": self.idle_timeout,
            "createdAt": self.created_ms, "startedAt": self.started_ms, "endedAt": self.ended_ms,
            "endReason": self.end_reason, "maxDurationEndsAt": self.max_at_ms, "uptimeSeconds": uptime,
            "agoraAgentId": self.agora_agent_id, "adopted": self.adopted, "tokenRenewals": self.renewals,
            "history": {"key": self.history_key, "turns": self.history_turns} if self.history_key else None,
            "lastError": self.last_error.to_dict() if self.last_error else None,
        }  # fmt: skip


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
