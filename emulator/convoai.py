"""Agora's Conversational AI Engine v2, emulated: agents that join a channel as a bot, talk, and leave.

Paths (``/api/conversational-ai-agent/v2/projects/{appid}/...``, Basic auth through the gateway):
``POST /join``, ``POST /agents/{id}/leave|update|speak|interrupt``, ``GET /agents/{id}``,
``GET /agents/{id}/history``, ``GET /agents?channel=&state=&limit=&cursor=&from_time=&to_time=``.

Behaviour follows Agora's pages (docs.agora.io/en/conversational-ai/rest-api/*, read 2026-12): a ``name``
no two live agents share (409); states ``IDLE`` 0, ``STARTING`` 1, ``RUNNING`` 2, ``STOPPING`` 3, ``STOPPED``
4, ``RECOVERING`` 5, ``FAILED`` 6; the list filters by numeric state (default ``2``: only running ones!) and
by a time window (default: the last 2 hours), pages by ``cursor`` (the ``agent_id`` the next page starts at,
default ``limit`` 20); ``idle_timeout`` (default 30 s) after every uid of ``remote_rtc_uids`` left; history
only while the agent runs; ``speak`` text at most 512 bytes. NCS product 17: 101 joined, 102 left (with a
reason), 103 the conversation at the end, 110 an error. Every public method expects ``World.lock`` held.

Hostile, as Agora is: an agent whose token does not parse fails while starting (110, 102); an agent whose
token expires is dropped from the channel (102 ``token expired``) unless ``update`` brought a fresh one;
``agent_fail`` is the share of starts that fail after ``STARTING``; ``agent_recover`` the chance per emulated
second that a running agent goes ``RECOVERING`` for ``recover_seconds``; ``list_lag_seconds`` hides a new agent
from the list for a while (after a 504, the list is not yet the truth); ``max_agents`` live agents per project
(422 beyond). The gateway's faults apply (``504_after@agent.join``: the agent was created, the reply lost).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from emulator.model import ApiError

PREFIX: Final = ["api", "conversational-ai-agent", "v2", "projects"]
PRODUCT_ID: Final = 17
STATE_CODES: Final = {
    "IDLE": 0,
    "STARTING": 1,
    "RUNNING": 2,
    "STOPPING": 3,
    "STOPPED": 4,
    "RECOVERING": 5,
    "FAILED": 6,
}
CODE_STATES: Final = {code: state for state, code in STATE_CODES.items()}
LIVE: Final = frozenset({"IDLE", "STARTING", "RUNNING", "RECOVERING"})
ENDED: Final = frozenset({"STOPPED", "FAILED"})
MAX_SPEAK_BYTES: Final = 512
DEFAULT_IDLE_TIMEOUT: Final = 30
HISTORY_TURNS: Final = 32
LIST_WINDOW_SECONDS: Final = 7200
AGENT_SETTINGS: Final = ("agent_start_seconds", "agent_exit_seconds", "agent_turn_seconds", "agent_fail",
                          "agent_recover", "recover_seconds", "list_lag_seconds", "max_agents")  # fmt: skip
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_UID_RE = re.compile(r"^[0-9]{1,10}$")


def convo_error(status: int, reason: str, detail: str) -> ApiError:
    """Agora's error body for this product: ``detail`` and ``reason``."""
    return ApiError(status, {"detail": detail, "reason": reason})


@dataclass
class Agent:
    agent_id: str
    name: str
    channel: str
    uid: int
    remote_uids: list[str]
    idle_timeout: int
    token: str
    token_expires: float | None  # emulated epoch seconds; None: no expiry known
    pipeline_id: str | None
    created: float  # emulated seconds
    create_ts: int  # epoch seconds
    state: str = "STARTING"
    state_since: float = 0.0
    stop_ts: int | None = None
    running_at: float | None = None
    fails: bool = False
    idle_since: float | None = None
    leave_reason: str | None = None
    leave_due: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    next_turn: float | None = None
    updates: int = 0
    speaks: int = 0
    interrupts: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "channel": self.channel,
            "agent_rtc_uid": str(self.uid),
            "status": self.state,
            "start_ts": self.create_ts,
            "stop_ts": self.stop_ts,
            "leave_reason": self.leave_reason,
            "updates": self.updates,
            "speaks": self.speaks,
            "interrupts": self.interrupts,
            "turns": len(self.history),
            "errors": list(self.errors),
        }


class ConvoAIMixin:
    """Conversational AI agents in the shared ``World`` (state, tick, REST calls, NCS product 17)."""

    # tuned by Emulator options or the control API (emulated seconds, rates 0..1)
    agent_start_seconds: float = 1.0
    agent_exit_seconds: float = 0.5
    agent_turn_seconds: float = 5.0
    agent_fail: float = 0.0
    agent_recover: float = 0.0
    recover_seconds: float = 3.0
    list_lag_seconds: float = 0.0
    max_agents: int = 20

    def _agents_init(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.agent_history: list[dict[str, Any]] = []  # every agent ever created: start, end (tests assert)

    # ---------------------------------------------------------------- hooks into the rest of the world
    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self._agents_init()

    def tick(self) -> None:
        super().tick()  # type: ignore[misc]
        if not hasattr(self, "agents"):
            self._agents_init()
        now = self.clock.now()  # type: ignore[attr-defined]
        for agent in list(self.agents.values()):
            self._agent_step(agent, now)

    def configure_agents(self, **changes: Any) -> dict[str, Any]:
        """Change the agents' hostility: the names of the class attributes above."""
        names = AGENT_SETTINGS
        unknown = set(changes) - set(names)
        if unknown:
            raise ValueError(f"unknown agent settings: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            number = float(value)
            if name in ("agent_fail", "agent_recover") and not 0.0 <= number <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
            if number < 0:
                raise ValueError(f"{name} must be >= 0")
            setattr(self, name, int(number) if name == "max_agents" else number)
        return {name: getattr(self, name) for name in names}

    # ---------------------------------------------------------------- REST
    def agent_join(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0912 - one check per documented field
        self._ensure()
        name, props = body.get("name"), body.get("properties")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise convo_error(400, "InvalidRequest", "name is required: 1..64 of A-Z a-z 0-9 _ -")
        if not isinstance(props, dict):
            raise convo_error(400, "InvalidRequest", "properties is required")
        channel, token, uid_text = props.get("channel"), props.get("token"), props.get("agent_rtc_uid")
        if not isinstance(channel, str) or not channel or len(channel) > 64:
            raise convo_error(400, "InvalidRequest", "properties.channel is required")
        if not isinstance(token, str):
            raise convo_error(400, "InvalidRequest", "properties.token is required")
        if not isinstance(uid_text, str) or not _UID_RE.match(uid_text) or not 0 <= int(uid_text) <= 2**32 - 1:
            raise convo_error(400, "InvalidRequest", "properties.agent_rtc_uid must be a uid as a string")
        remote = props.get("remote_rtc_uids")
        if not isinstance(remote, list) or not remote or not all(isinstance(u, str) for u in remote):
            raise convo_error(400, "InvalidRequest", "properties.remote_rtc_uids must be a list of strings")
        idle = props.get("idle_timeout", DEFAULT_IDLE_TIMEOUT)
        if isinstance(idle, bool) or not isinstance(idle, int) or idle < 0:
            raise convo_error(400, "InvalidRequest", "properties.idle_timeout must be an integer >= 0")
        pipeline = body.get("pipeline_id") or props.get("pipeline_id")
        if pipeline is None:
            for part in ("llm", "tts"):
                if not isinstance(props.get(part), dict):
                    raise convo_error(400, "InvalidRequest", f"properties.{part} is required without a pipeline_id")
            llm = props["llm"]
            if not isinstance(llm.get("url"), str):
                raise convo_error(400, "InvalidRequest", "properties.llm.url is required")
        elif not isinstance(pipeline, str):
            raise convo_error(400, "InvalidRequest", "pipeline_id must be a string")
        for other in self.agents.values():
            if other.name == name and other.state in LIVE | {"STOPPING"}:
                raise convo_error(409, "TaskConflict", f"an agent named {name} is running: {other.agent_id}")
        if sum(1 for a in self.agents.values() if a.state not in ENDED) >= self.max_agents:
            raise convo_error(422, "ResourceQuotaLimitExceeded", f"at most {self.max_agents} agents at a time")
        now = self.clock.now()  # type: ignore[attr-defined]
        uid = int(uid_text) or self.rng.randint(10_000, 2**31)  # type: ignore[attr-defined]
        agent = Agent(
            agent_id=uuid.UUID(int=self.rng.getrandbits(128)).hex.upper(),  # type: ignore[attr-defined]
            name=name,
            channel=channel,
            uid=uid,
            remote_uids=list(remote),
            idle_timeout=idle,
            token=token,
            token_expires=_token_expiry(token),
            pipeline_id=pipeline,
            created=now,
            create_ts=int(self.clock.epoch()),  # type: ignore[attr-defined]
            state_since=now,
            fails=_token_expiry(token) is None and bool(token) and not _unsigned(token),
        )
        if not agent.fails and self.rng.random() < self.agent_fail:  # type: ignore[attr-defined]
            agent.fails = True
        self.agents[agent.agent_id] = agent
        self.agent_history.append(
            {"agent_id": agent.agent_id, "name": name, "channel": channel, "uid": uid, "created": now, "ended": None}
        )
        return {"agent_id": agent.agent_id, "create_ts": agent.create_ts, "status": agent.state}

    def agent_leave(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        if agent.state in ENDED:
            raise convo_error(404, "TaskNotFound", f"agent {agent_id} has already stopped")
        if agent.state != "STOPPING":
            self._begin_leave(agent, "leave api")
        return {}

    def agent_update(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        agent = self._live(agent_id)
        props = body.get("properties")
        if not isinstance(props, dict) or not props:
            raise convo_error(400, "InvalidRequest", "properties is required")
        unknown = set(props) - {"token", "llm"}
        if unknown:
            raise convo_error(400, "InvalidRequest", f"cannot update {', '.join(sorted(unknown))}")
        token = props.get("token")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise convo_error(400, "InvalidRequest", "properties.token must be a string")
            agent.token, agent.token_expires = token, _token_expiry(token)
        agent.updates += 1
        return {"agent_id": agent.agent_id, "create_ts": agent.create_ts, "status": agent.state}

    def agent_speak(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        agent = self._live(agent_id)
        text, priority = body.get("text"), body.get("priority", "INTERRUPT")
        if not isinstance(text, str) or not text:
            raise convo_error(400, "InvalidRequest", "text is required")
        if len(text.encode()) > MAX_SPEAK_BYTES:
            raise convo_error(400, "InvalidRequest", f"text is longer than {MAX_SPEAK_BYTES} bytes")
        if priority not in ("INTERRUPT", "APPEND", "IGNORE"):
            raise convo_error(400, "InvalidRequest", "priority must be INTERRUPT, APPEND or IGNORE")
        if agent.state != "RUNNING":
            raise convo_error(400, "InvalidRequest", f"agent {agent_id} is {agent.state}, not RUNNING")
        agent.speaks += 1
        self._turn(agent, "assistant", text)
        return {"agent_id": agent.agent_id, "channel": agent.channel, "start_ts": agent.create_ts}

    def agent_interrupt(self, agent_id: str) -> dict[str, Any]:
        agent = self._live(agent_id)
        if agent.state != "RUNNING":
            raise convo_error(400, "InvalidRequest", f"agent {agent_id} is {agent.state}, not RUNNING")
        agent.interrupts += 1
        return {"agent_id": agent.agent_id, "channel": agent.channel, "start_ts": agent.create_ts}

    def agent_query(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        out: dict[str, Any] = {
            "message": "",
            "agent_id": agent.agent_id,
            "name": agent.name,
            "start_ts": agent.create_ts,
            "status": agent.state,
        }
        if agent.stop_ts is not None:
            out["stop_ts"] = agent.stop_ts
        if agent.leave_reason:
            out["message"] = agent.leave_reason
        return out

    def agent_history_call(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        if agent.state != "RUNNING":  # Agora keeps it only while the agent runs
            raise convo_error(404, "TaskNotFound", f"agent {agent_id} is {agent.state}: no history")
        return {
            "agent_id": agent.agent_id,
            "start_ts": agent.create_ts,
            "status": agent.state,
            "contents": [dict(turn) for turn in agent.history[-HISTORY_TURNS:]],
        }

    def agent_list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        self._ensure()
        channel = _first(query, "channel")
        states = self._list_states(_first(query, "state"))
        limit = _int(query, "limit", 20)
        if not 1 <= limit <= 100:
            raise convo_error(400, "InvalidRequest", "limit must be in 1..100")
        now_epoch = self.clock.epoch()  # type: ignore[attr-defined]
        from_time = _int(query, "from_time", int(now_epoch - LIST_WINDOW_SECONDS))
        to_time = _int(query, "to_time", int(now_epoch) + 1)
        now = self.clock.now()  # type: ignore[attr-defined]
        matching = [
            a
            for a in sorted(self.agents.values(), key=lambda a: (a.create_ts, a.agent_id))
            if (channel is None or a.channel == channel)
            and STATE_CODES[a.state] in states
            and from_time <= a.create_ts <= to_time
            and now - a.created >= self.list_lag_seconds
        ]
        cursor = _first(query, "cursor")
        start = 0
        if cursor:
            ids = [a.agent_id for a in matching]
            if cursor not in ids:
                raise convo_error(400, "InvalidRequest", "cursor is not an agent of this list")
            start = ids.index(cursor)
        page = matching[start : start + limit]
        following = matching[start + limit : start + limit + 1]
        return {
            "data": {
                "count": len(page),
                "list": [
                    {"agent_id": a.agent_id, "name": a.name, "channel": a.channel, "status": a.state,
                     "start_ts": a.create_ts, **({"stop_ts": a.stop_ts} if a.stop_ts else {})}
                    for a in page
                ],
            },
            "meta": {"cursor": following[0].agent_id if following else "", "total": len(matching)},
            "status": "ok",
        }  # fmt: skip

    # ---------------------------------------------------------------- test controls
    def agent_recover_now(self, agent_id: str) -> None:
        """Agora restarts the agent (RUNNING -> RECOVERING -> RUNNING), as its users see at random."""
        agent = self._agent(agent_id)
        if agent.state == "RUNNING":
            self._recover(agent, self.clock.now())  # type: ignore[attr-defined]

    def agent_fail_now(self, agent_id: str, reason: str = "llm vendor error") -> None:
        agent = self._agent(agent_id)
        if agent.state not in ENDED:
            self._error(agent, 1005, reason)
            self._end(agent, "FAILED", reason)

    # ---------------------------------------------------------------- the simulation
    def _agent_step(self, agent: Agent, now: float) -> None:  # noqa: PLR0911, PLR0912 - one branch per state
        if agent.state in ENDED:
            return
        if agent.state == "STOPPING":
            if agent.leave_due is not None and now >= agent.leave_due:
                self._end(agent, "STOPPED", agent.leave_reason or "leave api")
            return
        if agent.state == "STARTING" and now - agent.created >= self.agent_start_seconds:
            if agent.fails:
                self._error(agent, 1001, "the agent could not join the channel (token or vendor settings)")
                self._end(agent, "FAILED", "start failed")
                return
            self._set_state(agent, "RUNNING", now)
            agent.running_at = now
            agent.next_turn = now + self.agent_turn_seconds
            self.join(agent.channel, agent.uid, role="host", bot=True)  # type: ignore[attr-defined]
            self._agent_event(agent, 101, {})
            return
        epoch = self.clock.epoch()  # type: ignore[attr-defined]
        if agent.token_expires is not None and epoch >= agent.token_expires:
            self._error(agent, 1101, "token expired")
            self._begin_leave(agent, "token expired", at_once=True)
            return
        if agent.state == "RECOVERING":
            if now - agent.state_since >= self.recover_seconds:
                self._set_state(agent, "RUNNING", now)
                self._agent_event(agent, 101, {"recovered": True})
            return
        if self.agent_recover and self.rng.random() < self.agent_recover * self._tick_share():  # type: ignore[attr-defined]
            self._recover(agent, now)
            return
        present = self._remote_present(agent)
        if present:
            agent.idle_since = None
            if agent.next_turn is not None and now >= agent.next_turn:
                user, turn = next(iter(present)), len(agent.history) // 2 + 1
                self._turn(agent, "user", f"(user {user} speaks, turn {turn})")
                self._turn(agent, "assistant", f"(an answer to turn {turn})")
                agent.next_turn = now + self.agent_turn_seconds
        else:
            agent.idle_since = now if agent.idle_since is None else agent.idle_since
            if agent.idle_timeout and now - agent.idle_since >= agent.idle_timeout:
                self._begin_leave(agent, "idle timeout", at_once=True)

    def _tick_share(self) -> float:
        """The share of an emulated second one tick covers (rates are per emulated second)."""
        tick = getattr(self, "tick_seconds", 0.02)
        return float(tick) * self.clock.scale  # type: ignore[attr-defined]

    def _remote_present(self, agent: Agent) -> list[int]:
        channel = self.channels.get(agent.channel)  # type: ignore[attr-defined]
        if channel is None:
            return []
        humans = [uid for uid, user in channel.users.items() if not user.bot]
        if "*" in agent.remote_uids:
            return humans
        wanted = {int(u) for u in agent.remote_uids if u.isdigit()}
        return [uid for uid in humans if uid in wanted]

    def _recover(self, agent: Agent, now: float) -> None:
        self._set_state(agent, "RECOVERING", now)
        self._error(agent, 1201, "the agent is recovering")

    def _begin_leave(self, agent: Agent, reason: str, *, at_once: bool = False) -> None:
        now = self.clock.now()  # type: ignore[attr-defined]
        agent.leave_reason = reason
        self._set_state(agent, "STOPPING", now)
        agent.leave_due = now if at_once else now + self.agent_exit_seconds
        if at_once:
            self._end(agent, "STOPPED", reason)

    def _end(self, agent: Agent, state: str, reason: str) -> None:
        now = self.clock.now()  # type: ignore[attr-defined]
        was_running = agent.running_at is not None
        if was_running and agent.history:
            self._agent_event(agent, 103, {"contents": [dict(t) for t in agent.history[-HISTORY_TURNS:]]})
        self._set_state(agent, state, now)
        agent.leave_reason = reason
        agent.stop_ts = int(self.clock.epoch())  # type: ignore[attr-defined]
        self.leave(agent.channel, agent.uid, reason=1)  # type: ignore[attr-defined]
        self._agent_event(agent, 102, {"reason": reason, "stop_ts": agent.stop_ts, "status": state})
        for entry in reversed(self.agent_history):
            if entry["agent_id"] == agent.agent_id and entry["ended"] is None:
                entry["ended"] = now

    def _set_state(self, agent: Agent, state: str, now: float) -> None:
        agent.state, agent.state_since = state, now

    def _error(self, agent: Agent, code: int, message: str) -> None:
        entry = {"code": code, "message": message, "ts": int(self.clock.epoch())}  # type: ignore[attr-defined]
        agent.errors.append(entry)
        self._agent_event(agent, 110, {"module": "agent", "code": code, "message": message})

    def _turn(self, agent: Agent, role: str, content: str) -> None:
        agent.history.append(
            {
                "role": role,
                "content": content,
                "turn_id": len(agent.history) // 2 + 1,
                "timestamp": self.clock.epoch_ms(),  # type: ignore[attr-defined]
            }
        )

    def _agent_event(self, agent: Agent, event_type: int, details: dict[str, Any]) -> None:
        self._publish(  # type: ignore[attr-defined]
            {
                "noticeId": uuid.UUID(int=self.rng.getrandbits(128)).hex,  # type: ignore[attr-defined]
                "productId": PRODUCT_ID,
                "eventType": event_type,
                "notifyMs": self.clock.epoch_ms(),  # type: ignore[attr-defined]
                "sid": agent.agent_id,
                "payload": {
                    "agent_id": agent.agent_id,
                    "name": agent.name,
                    "channel": agent.channel,
                    "agent_rtc_uid": str(agent.uid),
                    "start_ts": agent.create_ts,
                    "ts": self.clock.epoch_ms(),  # type: ignore[attr-defined]
                    **details,
                },
            }
        )

    # ---------------------------------------------------------------- helpers
    def _ensure(self) -> None:
        if not hasattr(self, "agents"):
            self._agents_init()

    def _agent(self, agent_id: str) -> Agent:
        self._ensure()
        agent = self.agents.get(agent_id)
        if agent is None:
            raise convo_error(404, "TaskNotFound", f"no agent {agent_id}")
        return agent

    def _live(self, agent_id: str) -> Agent:
        agent = self._agent(agent_id)
        if agent.state in ENDED or agent.state == "STOPPING":
            raise convo_error(404, "TaskNotFound", f"agent {agent_id} is {agent.state}")
        return agent

    @staticmethod
    def _list_states(raw: str | None) -> set[int]:
        if raw is None:
            return {STATE_CODES["RUNNING"]}
        try:
            codes = {int(part) for part in raw.split(",") if part.strip()}
        except ValueError:
            raise convo_error(400, "InvalidRequest", "state must be numbers separated by commas") from None
        if not codes or not codes <= set(CODE_STATES):
            raise convo_error(400, "InvalidRequest", "state must be among 0..6")
        return codes


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    raw = _first(query, name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise convo_error(400, "InvalidRequest", f"{name} must be an integer") from None


def _unsigned(token: str) -> bool:
    """An empty or App-ID-only project: Agora accepts the App ID (or nothing) as the token."""
    return bool(re.fullmatch(r"[0-9a-f]{32}", token))


def _token_expiry(token: str) -> float | None:
    """When an AccessToken2 stops working (epoch seconds); None if it does not parse (or is not a token)."""
    if not token.startswith("007"):
        return None
    try:
        from agorakit.tokens.parser import parse_access_token2

        parsed = parse_access_token2(token)
    except Exception:
        return None
    return float(parsed.expires_at)
