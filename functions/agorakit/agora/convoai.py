"""ConvoAIClient: Agora's Conversational AI Engine v2 REST calls, on the transport of ``AgoraClient``.

Base ``{host}/api/conversational-ai-agent/v2/projects/{appid}`` on the same hosts and Basic credentials as
Cloud Recording, so every call goes through the same failover, retries, error classification and
account-wide rate limiter (``AgoraClient._call``). Operation names are ``agent.<call>``; ``classify``
gives them their own rows (409 name conflict, 422 quota, 404 on leave: already gone).

A repeated ``join`` after an ambiguous answer (504, timeout) is safe: the ``name`` is unique among live
agents, so the repeat is a 409 (``AgoraConflictError`` with ``maybe_executed``) and the caller adopts the
agent it finds by listing (``service.channeltasks.starting``). Vendor keys in ``llm``/``tts``/``asr`` are
sent and never logged (bodies are not logged by the transport).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote

from agorakit.agora.errors import AgoraParameterError
from agorakit.agora.models import validate_cname

if TYPE_CHECKING:
    from agorakit.agora.client import AgoraClient

__all__ = [
    "STATE_CODES",
    "AgentHistory",
    "AgentInfo",
    "AgentList",
    "ConvoAIClient",
    "HistoryTurn",
    "JoinRequest",
    "JoinResult",
]

STATE_CODES: Final = {"IDLE": 0, "STARTING": 1, "RUNNING": 2, "STOPPING": 3, "STOPPED": 4, "RECOVERING": 5, "FAILED": 6}
#: every state: what a reconciler or an adoption needs (the list's default is RUNNING only)
ALL_STATES: Final = tuple(STATE_CODES)
MAX_SPEAK_BYTES: Final = 512
MAX_LIST_LIMIT: Final = 100
Priority = Literal["INTERRUPT", "APPEND", "IGNORE"]


@dataclass(frozen=True)
class JoinRequest:
    """The body of ``POST /join``. ``llm``/``tts``/``asr``/``advanced_features`` are passed as they are (the
    vendor settings of an agent profile); with ``pipeline_id`` they may be omitted."""

    name: str
    channel: str
    token: str
    agent_uid: int
    remote_uids: Sequence[int]
    idle_timeout: int = 30
    llm: Mapping[str, Any] | None = None
    tts: Mapping[str, Any] | None = None
    asr: Mapping[str, Any] | None = None
    advanced_features: Mapping[str, Any] | None = None
    parameters: Mapping[str, Any] | None = None
    pipeline_id: str | None = None

    def body(self) -> dict[str, Any]:
        if not self.name or len(self.name) > 64:
            raise AgoraParameterError("name must be 1..64 characters")
        validate_cname(self.channel)
        if not isinstance(self.agent_uid, int) or not 0 < self.agent_uid <= 2**32 - 1:
            raise AgoraParameterError("agent_uid must be a uid 1..2^32-1")
        if not self.remote_uids:
            raise AgoraParameterError("remote_uids must name at least one user (Agora advises against '*')")
        if self.idle_timeout < 0:
            raise AgoraParameterError("idle_timeout must be >= 0")
        if self.pipeline_id is None and (self.llm is None or self.tts is None):
            raise AgoraParameterError("llm and tts are required without a pipeline_id")
        properties: dict[str, Any] = {
            "channel": self.channel,
            "token": self.token,
            "agent_rtc_uid": str(self.agent_uid),
            "remote_rtc_uids": [str(uid) for uid in self.remote_uids],
            "idle_timeout": self.idle_timeout,
        }
        for key in ("llm", "tts", "asr", "advanced_features", "parameters"):
            value = getattr(self, key)
            if value is not None:
                properties[key] = dict(value)
        body: dict[str, Any] = {"name": self.name, "properties": properties}
        if self.pipeline_id is not None:
            body["pipeline_id"] = self.pipeline_id
        return body

    def __repr__(self) -> str:  # the vendor settings hold keys: never in a repr
        return f"JoinRequest(name={self.name!r}, channel={self.channel!r}, agent_uid={self.agent_uid})"


@dataclass(frozen=True)
class JoinResult:
    agent_id: str
    create_ts: int
    status: str


@dataclass(frozen=True)
class AgentInfo:
    agent_id: str
    status: str
    name: str | None = None
    channel: str | None = None
    start_ts: int | None = None
    stop_ts: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class AgentList:
    agents: list[AgentInfo]
    cursor: str | None
    total: int


@dataclass(frozen=True)
class HistoryTurn:
    role: str
    content: str
    turn_id: int | None = None
    timestamp: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content, "turn_id": self.turn_id, "timestamp": self.timestamp}


@dataclass(frozen=True)
class AgentHistory:
    agent_id: str
    status: str
    turns: list[HistoryTurn] = field(default_factory=list)


class ConvoAIClient:
    """Conversational AI Engine v2 for one App ID, sharing an ``AgoraClient``'s transport and limiter."""

    def __init__(self, agora: AgoraClient):
        self._agora = agora
        self._base = f"/api/conversational-ai-agent/v2/projects/{quote(agora.app_id, safe='')}"

    def __repr__(self) -> str:
        return f"ConvoAIClient(app_id={self._agora.app_id!r})"

    def _agent_path(self, agent_id: str, action: str | None = None) -> str:
        if not agent_id or not isinstance(agent_id, str):
            raise AgoraParameterError("agent_id is required")
        tail = f"/{action}" if action else ""
        return f"{self._base}/agents/{quote(agent_id, safe='')}{tail}"

    def join(self, request: JoinRequest) -> JoinResult:
        answer = self._agora._call("agent.join", "POST", f"{self._base}/join", body=request.body())
        body = answer.body
        agent_id = body.get("agent_id")
        if not isinstance(agent_id, str) or not agent_id:
            raise AgoraParameterError("join answered without an agent_id")
        return JoinResult(agent_id, _int(body.get("create_ts")) or 0, str(body.get("status") or "STARTING"))

    def leave(self, agent_id: str) -> bool:
        """Ask the agent to leave. False: Agora no longer knows it (404: already stopped)."""
        answer = self._agora._call("agent.leave", "POST", self._agent_path(agent_id, "leave"), body={})
        return answer.verdict.kind != "gone"

    def update_token(self, agent_id: str, token: str) -> None:
        self._agora._call("agent.update", "POST", self._agent_path(agent_id, "update"),
                          body={"properties": {"token": token}})  # fmt: skip

    def speak(self, agent_id: str, text: str, priority: Priority = "INTERRUPT", *, interruptable: bool = True) -> None:
        if not text or len(text.encode()) > MAX_SPEAK_BYTES:
            raise AgoraParameterError(f"text must be 1..{MAX_SPEAK_BYTES} bytes of UTF-8")
        body = {"text": text, "priority": priority, "interruptable": interruptable}
        self._agora._call("agent.speak", "POST", self._agent_path(agent_id, "speak"), body=body)

    def interrupt(self, agent_id: str) -> None:
        self._agora._call("agent.interrupt", "POST", self._agent_path(agent_id, "interrupt"), body={})

    def query(self, agent_id: str) -> AgentInfo:
        body = self._agora._call("agent.query", "GET", self._agent_path(agent_id)).body
        return _info(body, agent_id)

    def history(self, agent_id: str) -> AgentHistory:
        """The conversation so far: only while the agent runs (404 ``AgoraNotFoundError`` after)."""
        body = self._agora._call("agent.history", "GET", self._agent_path(agent_id, "history")).body
        turns = [
            HistoryTurn(str(t.get("role") or ""), str(t.get("content") or ""), _int(t.get("turn_id")),
                        _int(t.get("timestamp")))
            for t in body.get("contents") or [] if isinstance(t, dict)
        ]  # fmt: skip
        return AgentHistory(str(body.get("agent_id") or agent_id), str(body.get("status") or ""), turns)

    def list_page(
        self,
        *,
        channel: str | None = None,
        states: Sequence[str] = ALL_STATES,
        limit: int = 20,
        cursor: str | None = None,
        from_time: int | None = None,
        to_time: int | None = None,
    ) -> AgentList:
        """One page of ``GET /agents``. Agora's defaults are traps (RUNNING only, the last 2 hours): ``states``
        defaults to every state here; pass ``from_time`` to look further back."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise AgoraParameterError(f"limit must be in 1..{MAX_LIST_LIMIT}")
        unknown = [s for s in states if s not in STATE_CODES]
        if unknown or not states:
            raise AgoraParameterError(f"unknown agent states {unknown}")
        params: dict[str, Any] = {"state": ",".join(str(STATE_CODES[s]) for s in states), "limit": limit}
        if channel is not None:
            params["channel"] = validate_cname(channel)
        if cursor:
            params["cursor"] = cursor
        if from_time is not None:
            params["from_time"] = from_time
        if to_time is not None:
            params["to_time"] = to_time
        body = self._agora._call("agent.list", "GET", f"{self._base}/agents", params=params).body
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        entries = [_info(e, None) for e in (data or {}).get("list") or [] if isinstance(e, dict) and e.get("agent_id")]
        next_cursor = (meta or {}).get("cursor")
        total = _int((meta or {}).get("total"))
        return AgentList(entries, next_cursor if isinstance(next_cursor, str) and next_cursor else None,
                         total if total is not None else len(entries))  # fmt: skip

    def list_all(self, *, max_pages: int = 50, **filters: Any) -> Iterator[AgentInfo]:
        """Every agent matching ``filters`` (``list_page``'s), page after page (at most ``max_pages``)."""
        cursor: str | None = None
        for _ in range(max_pages):
            page = self.list_page(cursor=cursor, **filters)
            yield from page.agents
            if page.cursor is None or page.cursor == cursor:
                return
            cursor = page.cursor


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _info(body: Mapping[str, Any], agent_id: str | None) -> AgentInfo:
    status = body.get("status")
    return AgentInfo(
        agent_id=str(body.get("agent_id") or agent_id or ""),
        status=status
        if isinstance(status, str) and status in STATE_CODES
        else "IDLE"
        if status is None
        else str(status),
        name=body.get("name") if isinstance(body.get("name"), str) else None,
        channel=body.get("channel") if isinstance(body.get("channel"), str) else None,
        start_ts=_int(body.get("start_ts") or body.get("create_ts")),
        stop_ts=_int(body.get("stop_ts")),
        message=body.get("message") if isinstance(body.get("message"), str) and body.get("message") else None,
    )
