"""The agent use cases: start (idempotent by Agora's ``name``, adopting after a 409 or an ambiguous 504), get and
list, speak, interrupt, leave (history saved first), NCS product 17 applied in order, the token renewal / hard
maximum step, and the reconciler over Agora's list.

Each use case reads the record, calls Agora at most a few times, and saves with the record's version as the
condition, re-reading on a lost race. The rules are in ``service.channeltasks``.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agorakit import ids
from agorakit.agora.errors import (
    AgoraError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraRateLimitedError,
    AgoraServerError,
    AgoraUnavailableError,
)
from agorakit.agora.ratelimit import Lane, lane

from service.agents.ports import (
    AgentAgora,
    AgentEvents,
    AgentStore,
    AtCapacity,
    HistoryStore,
    SecretReader,
    SlotTaken,
    StaleRecord,
)
from service.agents.profiles import AgentProfile, ProfileError
from service.agents.record import AgentError, AgentRecord
from service.channeltasks import botuids, lifecycle, schedule, starting
from service.errors import BadRequest, Conflict, NotFound, TooManyRequests, UpstreamError

logger = logging.getLogger(__name__)

NAME_PREFIX: Final = "agent"
MAX_REMOTE_UIDS: Final = 16
MAX_SPEAK_BYTES: Final = 512
SAVE_RETRIES: Final = 5
#: how soon the lifecycle looks again at an agent whose start is not resolved yet
STARTING_POLL_MS: Final = 5_000

#: the limiter lane of a token renewal: a renewal that misses its moment lets the bot's token expire and Agora
#: drops a running agent a person is talking to, so it goes before starts, beside stops (docs/agents.md)
RENEWAL_LANE: Final = Lane.STOP
#: the lane of the end at the hard maximum (history saved, then leave): an agent left running costs money
END_LANE: Final = Lane.STOP

#: Retry-After of a start refused for capacity (ours or Agora's): no queue, a person is waiting; agents run for
#: minutes, so half a minute is when a place may have come free (docs/agents.md "Running cap")
CAPACITY_RETRY_SECONDS: Final = 30

#: NCS product 17 events and the state each reports
PRODUCT_ID: Final = 17
EVENT_JOINED, EVENT_LEFT, EVENT_HISTORY, EVENT_ERROR = 101, 102, 103, 110


@dataclass
class AgentDeps:
    store: AgentStore
    agora: AgentAgora
    history: HistoryStore
    events: AgentEvents
    profiles: Mapping[str, AgentProfile]
    mint_token: Callable[[str, int, int], str]
    secrets: SecretReader | None = None
    rng: random.Random = field(default_factory=random.SystemRandom)
    sleep: Callable[[float], None] = time.sleep
    max_seconds: int = 86_400
    #: the shortest hard maximum a request may ask for (scaled down only in tests of the deployed workflow)
    min_seconds: int = 60
    default_max_seconds: int = 3600
    renew_margin_seconds: int = schedule.DEFAULT_RENEW_MARGIN_SECONDS
    resolve_looks: int = starting.DEFAULT_MAX_LOOKS
    reconcile_grace_seconds: int = 120
    #: starts the agent's durable lifecycle (the deployed state machine, one execution per agent id); None: none
    start_lifecycle: Callable[[str], None] | None = None
    #: the most agents active at once in the stack (``agentsMaxRunning``); None: no cap of ours (Agora's only)
    max_running: int | None = None


@dataclass(frozen=True)
class StartRequest:
    channel: str
    profile: str
    remote_uids: Sequence[int]
    requested_by: str
    max_duration_seconds: int | None = None
    idle_timeout: int | None = None
    exclusive: bool = True


# ------------------------------------------------------------------------------------------ validation
def parse_start(body: Mapping[str, Any], *, requested_by: str, deps: AgentDeps) -> StartRequest:
    """``POST /agents``'s body, checked field by field (a precise 400 for each)."""
    unknown = set(body) - {"channel", "profile", "remoteUids", "maxDurationSeconds", "idleTimeout", "exclusive"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))} (vendor settings come from the profile)")
    channel = body.get("channel")
    if not ids.is_channel_name(channel):
        raise BadRequest("channel must be 1..63 characters of Agora's channel-name set")
    profile = body.get("profile")
    if not isinstance(profile, str) or profile not in deps.profiles:
        known = ", ".join(sorted(deps.profiles)) or "none configured"
        raise BadRequest(f"profile must be one of the configured agent profiles ({known})")
    remote = body.get("remoteUids")
    if not isinstance(remote, list) or not 1 <= len(remote) <= MAX_REMOTE_UIDS:
        raise BadRequest(f"remoteUids must be a list of 1..{MAX_REMOTE_UIDS} user uids")
    for uid in remote:
        if isinstance(uid, bool) or not isinstance(uid, int) or not ids.USER_UID_MIN <= uid <= ids.USER_UID_MAX:
            raise BadRequest(f"remoteUids: {uid!r} is not a user uid ({ids.USER_UID_MIN}..{ids.USER_UID_MAX})")
    if len(set(remote)) != len(remote):
        raise BadRequest("remoteUids has duplicates")
    max_seconds = _opt_int(body, "maxDurationSeconds", deps.min_seconds, deps.max_seconds)
    idle = _opt_int(body, "idleTimeout", 0, 3600)
    exclusive = body.get("exclusive", True)
    if not isinstance(exclusive, bool):
        raise BadRequest("exclusive must be a boolean")
    return StartRequest(str(channel), profile, [int(u) for u in remote], requested_by, max_seconds, idle, exclusive)


def _opt_int(body: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{key} must be an integer in {low}..{high}")
    return value


# ------------------------------------------------------------------------------------------ start
def start_agent(request: StartRequest, deps: AgentDeps) -> AgentRecord:
    """Create the record (holding the channel's slot for the profile), then start the agent at Agora."""
    profile = deps.profiles[request.profile]
    now = deps.store.now_ms()
    agent_id = secrets.token_hex(12)
    others = {r.bot_uid for r in deps.store.list(channel=request.channel, active_only=True)}
    record = AgentRecord(
        agent_id=agent_id,
        channel=request.channel,
        profile=request.profile,
        name=starting.task_name(NAME_PREFIX, agent_id),
        bot_uid=botuids.pick_bot_uid("agent", deps.rng, avoid=others),
        remote_uids=tuple(request.remote_uids),
        idle_timeout=request.idle_timeout if request.idle_timeout is not None else profile.idle_timeout,
        max_at_ms=now + 1000 * (request.max_duration_seconds or deps.default_max_seconds),
        created_ms=now,
        requested_by=request.requested_by,
        exclusive=request.exclusive,
        state_at_ms=now,
    )
    try:
        deps.store.create(record, max_running=deps.max_running)
    except SlotTaken as taken:
        raise Conflict(
            f"an agent of profile {request.profile} is already active in this channel",
            details={"agentId": taken.holder},
        ) from None
    except AtCapacity as full:
        raise TooManyRequests(
            f"this stack runs at most {full.limit} agents at once and all are active; try again when one ends",
            details={"maxRunning": full.limit},
            headers={"Retry-After": str(CAPACITY_RETRY_SECONDS)},
        ) from None
    _publish(deps, "AgentRequested", record)
    if deps.start_lifecycle is not None:  # before Agora: an agent never runs without its token renewal and maximum
        deps.start_lifecycle(record.agent_id)
    started = run_start(record, deps)
    error = started.last_error
    if started.state == lifecycle.FAILED and error is not None and error.http_status == 422:
        raise TooManyRequests(  # Agora's own quota: the record is FAILED (its place given back), the caller may retry
            f"Agora refused the agent: the App ID's concurrent-agent quota is reached ({error.reason})",
            details={"agentId": started.agent_id, "agoraHttpStatus": 422},
            headers={"Retry-After": str(CAPACITY_RETRY_SECONDS)},
        )
    return started


def _join_request(record: AgentRecord, deps: AgentDeps, token: str) -> Any:
    from agorakit.agora.convoai import JoinRequest

    profile = deps.profiles[record.profile]
    secret = deps.secrets.get_json(profile.secret) if profile.secret and deps.secrets else None
    vendor = profile.resolved(secret)
    return JoinRequest(
        name=record.name,
        channel=record.channel,
        token=token,
        agent_uid=record.bot_uid,
        remote_uids=list(record.remote_uids),
        idle_timeout=record.idle_timeout,
        llm=vendor.get("llm"),
        tts=vendor.get("tts"),
        asr=vendor.get("asr"),
        advanced_features=vendor.get("advanced_features"),
        parameters=vendor.get("parameters"),
        pipeline_id=profile.pipeline_id,
    )


def run_start(record: AgentRecord, deps: AgentDeps) -> AgentRecord:
    """Start (or resume starting) ``record`` at Agora; every failure ends in adopt, ended, or FAILED."""
    now = deps.store.now_ms()
    seconds = schedule.token_seconds(now, record.max_at_ms)
    token = deps.mint_token(record.channel, record.bot_uid, seconds)
    try:
        request = _join_request(record, deps, token)
    except ProfileError as exc:
        return _fail(deps, record, "start", str(exc))
    looks = 0
    for _attempt in range(deps.resolve_looks + 3):
        try:
            result = deps.agora.join(request)
        except AgoraError as exc:
            outcome = _outcome(exc)
            decision, looks = _resolve(record, outcome, looks, deps)
            if decision.action == "adopt" and decision.task is not None:
                return _started(deps, record, decision.task.task_id, now, seconds, adopted=True)
            if decision.action == "ended" and decision.task is not None:
                started = _started(deps, record, decision.task.task_id, now, seconds, adopted=True)
                state = lifecycle.FROM_REMOTE[decision.task.state]
                return _end(deps, started, state if lifecycle.is_terminal(state) else lifecycle.STOPPED,
                            decision.reason)  # fmt: skip
            if decision.action == "fail":
                return _fail(deps, record, "start", f"{decision.reason}: {exc}", exc)
            if outcome == "throttled":
                deps.sleep(1.0)
            continue  # start_again: the same name, so a start that did take effect answers 409
        return _started(deps, record, result.agent_id, now, seconds, adopted=False)
    return _fail(deps, record, "start", "the start did not settle after every retry")


def _outcome(exc: AgoraError) -> starting.Outcome:
    """What a failed join says: no answer at all is ambiguous, 422 (quota) a refusal, 429 a back-off."""
    if isinstance(exc, AgoraRateLimitedError):
        return "throttled"
    if isinstance(exc, AgoraServerError) and exc.http_status == 422:
        return "rejected"
    return starting.classify_start_error(None if isinstance(exc, AgoraUnavailableError) else exc.http_status)


def _resolve(
    record: AgentRecord, outcome: starting.Outcome, looks: int, deps: AgentDeps
) -> tuple[starting.Decision, int]:
    """Read the channel's list until ``resolve_start`` decides; a failing list means "start again" (the name
    makes that safe)."""
    decision = starting.resolve_start(record.name, outcome, None, looks=looks, max_looks=deps.resolve_looks)
    while decision.action == "look_again":
        looks += 1
        try:
            listed = _listed(deps, record.channel)
        except AgoraError as list_error:
            logger.warning("listing %s failed while resolving a start: %s", record.channel, list_error)
            return starting.Decision("start_again", reason="the list failed"), looks
        decision = starting.resolve_start(record.name, outcome, listed, looks=looks, max_looks=deps.resolve_looks)
        if decision.action == "look_again":
            deps.sleep(min(2.0, 0.25 * looks))
    return decision, looks


def _listed(deps: AgentDeps, channel: str) -> list[starting.Listed]:
    return [
        starting.Listed(a.agent_id, a.name, a.status, (a.start_ts or 0) * 1000)
        for a in deps.agora.list_all(channel=channel)
    ]


def _started(
    deps: AgentDeps, record: AgentRecord, agora_id: str, now: int, seconds: int, *, adopted: bool
) -> AgentRecord:
    def change(current: AgentRecord) -> AgentRecord | None:
        if lifecycle.is_terminal(current.state) or current.agora_agent_id:
            return None
        state = (
            current.state if lifecycle.rank(current.state) > lifecycle.rank(lifecycle.STARTING) else lifecycle.STARTING
        )
        return current.with_(agora_agent_id=agora_id, state=state, state_at_ms=now, adopted=adopted,
                             token_expires_ms=now + seconds * 1000)  # fmt: skip

    saved = _update(deps, record.agent_id, change)
    _publish(deps, "AgentStarted", saved)
    return saved


def _fail(deps: AgentDeps, record: AgentRecord, step: str, reason: str, exc: AgoraError | None = None) -> AgentRecord:
    error = AgentError(step, reason[:500], deps.store.now_ms(), exc.http_status if exc else None)
    saved = _update(deps, record.agent_id, lambda r: r.with_(last_error=error))
    return _end(deps, saved, lifecycle.FAILED, reason[:200])


def _end(deps: AgentDeps, record: AgentRecord, state: str, reason: str, at_ms: int | None = None) -> AgentRecord:
    now = at_ms or deps.store.now_ms()

    def change(current: AgentRecord) -> AgentRecord | None:
        if lifecycle.is_terminal(current.state):
            return None
        # a leave asked earlier (STOPPING) keeps its reason: the end is that leave's, not a later caller's
        kept = current.end_reason if current.state == lifecycle.STOPPING and current.end_reason else reason
        return current.with_(state=state, state_at_ms=now, ended_ms=now, end_reason=kept)

    saved = _update(deps, record.agent_id, change)
    if saved.ended_ms == now and saved.state == state:
        _publish(deps, "AgentEnded", saved)
    return saved


def _update(deps: AgentDeps, agent_id: str, change: Callable[[AgentRecord], AgentRecord | None]) -> AgentRecord:
    """Read, change, save on the version; re-read on a lost race. ``change`` returning None: nothing to do."""
    for _ in range(SAVE_RETRIES):
        current = deps.store.get(agent_id)
        if current is None:
            raise NotFound(f"no agent {agent_id}")
        new = change(current)
        if new is None:
            return current
        try:
            return deps.store.save(new)
        except StaleRecord:
            continue
    raise Conflict(f"agent {agent_id} changed {SAVE_RETRIES} times while being updated; try again")


def _publish(deps: AgentDeps, detail_type: str, record: AgentRecord) -> None:
    try:
        deps.events.publish(detail_type, {"agentId": record.agent_id, "channel": record.channel,
                                          "profile": record.profile, "state": record.state,
                                          "endReason": record.end_reason})  # fmt: skip
    except Exception:  # an event is a notification: losing one never fails the use case
        logger.exception("could not publish %s for %s", detail_type, record.agent_id)


# ------------------------------------------------------------------------------------------ reads
def get_agent(agent_id: str, deps: AgentDeps) -> AgentRecord:
    record = deps.store.get(agent_id)
    if record is None:
        raise NotFound(f"no agent {agent_id}")
    return record


def list_agents(deps: AgentDeps, *, channel: str | None = None, active_only: bool = False) -> list[AgentRecord]:
    if channel is not None and not ids.is_channel_name(channel):
        raise BadRequest("channel must be 1..63 characters of Agora's channel-name set")
    return deps.store.list(channel=channel, active_only=active_only)


# ------------------------------------------------------------------------------------------ speak, interrupt
def _running(agent_id: str, deps: AgentDeps) -> AgentRecord:
    record = get_agent(agent_id, deps)
    if record.state != lifecycle.RUNNING or not record.agora_agent_id:
        raise Conflict(f"agent {agent_id} is {record.state}, not RUNNING")
    return record


def speak(agent_id: str, body: Mapping[str, Any], deps: AgentDeps) -> None:
    text, priority = body.get("text"), body.get("priority", "INTERRUPT")
    if set(body) - {"text", "priority"}:
        raise BadRequest("only text and priority may be given")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("text is required")
    if len(text.encode()) > MAX_SPEAK_BYTES:
        raise BadRequest(f"text is {len(text.encode())} bytes; at most {MAX_SPEAK_BYTES} bytes of UTF-8")
    if priority not in ("INTERRUPT", "APPEND", "IGNORE"):
        raise BadRequest("priority must be INTERRUPT, APPEND or IGNORE")
    record = _running(agent_id, deps)
    assert record.agora_agent_id is not None
    _call(lambda: deps.agora.speak(record.agora_agent_id or "", text, priority))


def interrupt(agent_id: str, deps: AgentDeps) -> None:
    record = _running(agent_id, deps)
    _call(lambda: deps.agora.interrupt(record.agora_agent_id or ""))


def _call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except AgoraNotFoundError:
        raise Conflict("Agora no longer runs this agent") from None
    except AgoraParameterError as exc:
        raise Conflict(f"Agora refused: {exc.reason or exc}") from None
    except AgoraRateLimitedError:
        raise TooManyRequests("Agora is rate limiting; try again shortly", headers={"Retry-After": "2"}) from None
    except AgoraError as exc:
        raise UpstreamError(f"Agora failed: {exc.reason or type(exc).__name__}") from None


# ------------------------------------------------------------------------------------------ leave
def leave_agent(agent_id: str, deps: AgentDeps, *, reason: str = "api") -> AgentRecord:
    """Save the conversation (only possible while it runs), then ask Agora to end the agent."""
    record = get_agent(agent_id, deps)
    if lifecycle.is_terminal(record.state):
        return record
    if record.agora_agent_id is None:  # never started (or the start is still being resolved): nothing at Agora
        return _end(deps, record, lifecycle.STOPPED, reason)
    if record.state == lifecycle.RUNNING:
        save_history_now(record, deps)
    try:
        present = deps.agora.leave(record.agora_agent_id)
    except AgoraError as exc:
        raise UpstreamError(f"Agora could not end the agent: {exc.reason or type(exc).__name__}") from None
    if not present:
        return _end(deps, record, lifecycle.STOPPED, reason)
    now = deps.store.now_ms()
    return _update(deps, agent_id, lambda r: None if lifecycle.rank(r.state) >= lifecycle.rank(lifecycle.STOPPING)
                   else r.with_(state=lifecycle.STOPPING, state_at_ms=now, end_reason=reason))  # fmt: skip


def history_key(record: AgentRecord) -> str:
    return f"agents/{starting.task_name('c', record.channel.encode().hex()[:40])}/{record.agent_id}/history.json"


def _store_history(record: AgentRecord, turns: list[dict[str, Any]], source: str, deps: AgentDeps) -> AgentRecord:
    if not turns or len(turns) < record.history_turns:
        return record  # never replace a longer conversation with a shorter one
    key = history_key(record)
    deps.history.put_json(key, {"agentId": record.agent_id, "channel": record.channel, "profile": record.profile,
                                "agoraAgentId": record.agora_agent_id, "source": source, "turns": turns})  # fmt: skip
    saved = _update(deps, record.agent_id, lambda r: r.with_(history_key=key, history_turns=len(turns)))
    _publish(deps, "AgentHistorySaved", saved)
    return saved


def save_history_now(record: AgentRecord, deps: AgentDeps) -> AgentRecord:
    """Fetch the conversation while the agent still runs (Agora forgets it once it stops)."""
    if record.agora_agent_id is None:
        return record
    try:
        history = deps.agora.history(record.agora_agent_id)
    except AgoraError as exc:
        logger.warning("no history for %s: %s", record.agent_id, exc)
        return record
    return _store_history(record, [t.to_dict() for t in history.turns], "poll", deps)


# ------------------------------------------------------------------------------------------ NCS product 17
def apply_event(envelope: Mapping[str, Any], deps: AgentDeps) -> str:  # noqa: PLR0911 - one return per outcome
    """Apply one product-17 notification; returns what was done (for logs and tests)."""
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    agora_id = (payload or {}).get("agent_id") or envelope.get("sid")
    if not isinstance(agora_id, str):
        return "ignored: no agent id"
    record = deps.store.by_agora_id(agora_id)
    if record is None:
        return "ignored: unknown agent"
    event = envelope.get("eventType")
    at = int(envelope.get("notifyMs") or deps.store.now_ms())
    if event == EVENT_HISTORY:
        turns = [dict(t) for t in (payload or {}).get("contents") or [] if isinstance(t, dict)]
        _store_history(record, turns, "ncs-103", deps)
        return "history stored"
    if event == EVENT_ERROR:
        error = AgentError("agora", str((payload or {}).get("message") or "error"), at,
                           code=_int_or_none((payload or {}).get("code")))  # fmt: skip
        _update(deps, record.agent_id, lambda r: r.with_(last_error=error))
        return "error recorded"
    if event == EVENT_JOINED:
        reported = lifecycle.RUNNING
    elif event == EVENT_LEFT:
        reported = lifecycle.FAILED if (payload or {}).get("status") == "FAILED" else lifecycle.STOPPED
    else:
        return f"ignored: event {event}"
    move = lifecycle.apply_report(record.state, record.state_at_ms, reported, at)
    if move.state is None:
        return f"ignored: {move.reason}"
    if lifecycle.is_terminal(move.state):
        _end(deps, record, move.state, str((payload or {}).get("reason") or "left"), at)
        return move.reason
    started = record.started_ms or at

    def change(current: AgentRecord) -> AgentRecord | None:
        again = lifecycle.apply_report(current.state, current.state_at_ms, reported, at)
        if again.state is None:
            return None
        return current.with_(state=again.state, state_at_ms=at, started_ms=current.started_ms or started)

    saved = _update(deps, record.agent_id, change)
    if saved.state == lifecycle.RUNNING:
        _publish(deps, "AgentRunning", saved)
    return move.reason


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------------ lifecycle step
def lifecycle_step(agent_id: str, deps: AgentDeps) -> dict[str, Any]:  # noqa: PLR0911 - one return per outcome
    """What the durable workflow runs at each wake-up: renew the token, or end the agent at its hard maximum.
    Returns ``{"done": bool, "waitUntil": iso-ms}`` for the state machine's Wait."""
    record = get_agent(agent_id, deps)
    if lifecycle.is_terminal(record.state) or record.state == lifecycle.STOPPING:
        return {"done": True}  # ended, or its leave was asked (NCS 102 or the reconciler records the end)
    now = deps.store.now_ms()
    if record.agora_agent_id is not None and record.state in (lifecycle.STARTING, lifecycle.RECOVERING):
        record = _poll_state(record, deps, now)  # NCS is advisory: a lost or too-early 101/102 must not strand it
        if lifecycle.is_terminal(record.state):
            return {"done": True}
        if record.state != lifecycle.RUNNING:
            return {"done": False, "waitUntilMs": min(now + STARTING_POLL_MS, record.max_at_ms)}
    expires = record.token_expires_ms or now
    wake = schedule.next_wake(expires, record.max_at_ms, renew_margin_seconds=deps.renew_margin_seconds)
    if now < wake.at_ms:
        return {"done": False, "waitUntilMs": wake.at_ms}
    if wake.action == "end" or now >= record.max_at_ms:  # a late wake-up past both: the maximum wins
        with lane(END_LANE):
            leave_agent(agent_id, deps, reason="max_duration")
        return {"done": True}
    if record.agora_agent_id is None:  # the start is still being resolved: look again soon, never past the maximum
        return {"done": False, "waitUntilMs": min(now + STARTING_POLL_MS, record.max_at_ms)}
    seconds = schedule.token_seconds(now, record.max_at_ms)
    token = deps.mint_token(record.channel, record.bot_uid, seconds)
    with lane(RENEWAL_LANE):
        deps.agora.update_token(record.agora_agent_id, token)
    saved = _update(deps, agent_id, lambda r: r.with_(token_expires_ms=now + seconds * 1000, renewals=r.renewals + 1))
    assert saved.token_expires_ms is not None
    nxt = schedule.next_wake(saved.token_expires_ms, saved.max_at_ms, renew_margin_seconds=deps.renew_margin_seconds)
    return {"done": False, "waitUntilMs": nxt.at_ms}


def _poll_state(record: AgentRecord, deps: AgentDeps, now: int) -> AgentRecord:
    """Agora's own state of a starting or recovering agent, applied forward only (as an NCS report at ``now``)."""
    try:
        info = deps.agora.query(record.agora_agent_id or "")
    except AgoraNotFoundError:
        return _end(deps, record, lifecycle.STOPPED, "Agora no longer knows the agent")
    except AgoraError as exc:
        logger.warning("querying agent %s failed: %s", record.agent_id, exc)
        return record
    reported = lifecycle.FROM_REMOTE.get(info.status)
    if reported is None:
        return record
    if lifecycle.is_terminal(reported):
        return _end(deps, record, reported, info.message or "ended at Agora", now)

    def change(current: AgentRecord) -> AgentRecord | None:
        move = lifecycle.apply_report(current.state, current.state_at_ms, reported, now)
        if move.state is None or move.state == current.state:
            return None
        return current.with_(state=move.state, state_at_ms=now, started_ms=current.started_ms or now)

    saved = _update(deps, record.agent_id, change)
    if saved.state == lifecycle.RUNNING and record.state != lifecycle.RUNNING:
        _publish(deps, "AgentRunning", saved)
    return saved


# ------------------------------------------------------------------------------------------ reconciler
@dataclass
class ReconcileReport:
    ended: list[str] = field(default_factory=list)  # ours, not at Agora
    stopped: list[str] = field(default_factory=list)  # at Agora, not ours (Agora ids)
    kept: int = 0


def reconcile(deps: AgentDeps) -> ReconcileReport:
    """End what we think runs and Agora does not list; make Agora end what runs that we do not know."""
    report = ReconcileReport()
    live_states = ("IDLE", "STARTING", "RUNNING", "RECOVERING")
    remote = {a.agent_id: a for a in deps.agora.list_all(states=live_states)}
    ours = deps.store.list(active_only=True)
    known = {r.agora_agent_id for r in ours if r.agora_agent_id}
    now = deps.store.now_ms()
    for record in ours:
        young = now - record.state_at_ms < deps.reconcile_grace_seconds * 1000
        if record.agora_agent_id in remote or young:
            report.kept += 1
            continue
        if record.agora_agent_id is None and record.state == lifecycle.REQUESTED:
            _end(deps, record, lifecycle.FAILED, "reconciler: the start never completed")
        else:
            _end(deps, record, lifecycle.STOPPED, "reconciler: Agora no longer lists it")
        report.ended.append(record.agent_id)
    for agora_id, info in remote.items():
        if agora_id in known or not (info.name or "").startswith(NAME_PREFIX + "-"):
            continue  # not one of ours by name: another system's agent on the same App ID
        mine = deps.store.by_agora_id(agora_id)
        if mine is not None and not lifecycle.is_terminal(mine.state):
            continue
        deps.agora.leave(agora_id)
        report.stopped.append(agora_id)
    return report


def event_applier(deps: AgentDeps) -> Callable[[dict[str, Any]], str]:
    """What the NCS inbox processor calls with a product-17 notice (``service.webhooks.logic.dispatch_notice``)."""

    def apply(notice: dict[str, Any]) -> str:
        return apply_event(notice, deps)

    return apply
