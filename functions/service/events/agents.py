"""AgentsTable stream images -> the Conversational AI agents' events (the only place that reads an agent item for
events).

Facts, from the difference between the old and the new image of an ``AGENT#`` item (the ``AGSLOT#`` slots and
the ``AGORA#`` pointers publish nothing):
- created (INSERT) -> ``Agent Requested``;
- ``agoraAgentId`` appeared (Agora accepted the start, or the agent was adopted from its list) -> ``Started``;
- ``state`` reached RUNNING from REQUESTED or STARTING (in the channel; RECOVERING -> RUNNING is no new fact) ->
  ``Running``;
- ``state`` moved to STOPPED -> ``Stopped`` (``endReason``), to FAILED -> ``Failed`` (``lastError``);
- ``historyTurns`` grew with a ``historyKey`` (the conversation was saved: a poll or NCS 103) -> ``History Saved``.

Every save is conditional on ``version`` and a state only moves forward (``channeltasks.lifecycle``), so each
fact is in exactly one stream record; a save that changes nothing of the above (a token renewal, the last error
recorded) publishes nothing. The record's vendor settings and tokens are never in an item, and never copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.events.model import (
    AgentDetail,
    AgentFailed,
    AgentHistorySaved,
    AgentRequested,
    AgentRunning,
    AgentStarted,
    AgentStopped,
    Event,
    Source,
    iso_ms,
)

AGENT_PREFIX = "AGENT#"
BEFORE_RUNNING = frozenset({"REQUESTED", "STARTING"})


def _is_agent(image: Mapping[str, Any] | None) -> bool:
    return bool(image) and str((image or {}).get("pk", "")).startswith(AGENT_PREFIX)


def _opt_int(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def agent_events(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, source: Source) -> list[Event]:
    """The facts one write of the agents table states (none for a removal, a slot or a pointer)."""
    if new is None or not _is_agent(new):
        return []
    before: Mapping[str, Any] = old if old is not None and _is_agent(old) else {}
    agent_id = str(new.get("agentId") or str(new["pk"])[len(AGENT_PREFIX) :])
    ordering = f"agent:{agent_id}"
    base: dict[str, Any] = {
        "agent_id": agent_id,
        "channel": str(new.get("channel") or ""),
        "profile": str(new.get("profile") or ""),
    }

    def make(model: type[AgentDetail], **fields: Any) -> Event:
        return Event(model(**source.common(model.DETAIL_TYPE, ordering), **base, **fields))

    events: list[Event] = []
    agora_id = _opt_str(new.get("agoraAgentId"))
    if not before:
        events.append(
            make(
                AgentRequested,
                requested_by=_opt_str(new.get("requestedBy")),
                bot_uid=int(new.get("botUid") or 0),
                remote_uids=[int(uid) for uid in new.get("remoteUids") or ()],
                created_at=iso_ms(new.get("createdMs")),
                max_duration_ends_at=iso_ms(new.get("maxAtMs")),
            )
        )
    if agora_id and not before.get("agoraAgentId"):
        events.append(
            make(AgentStarted, agora_agent_id=agora_id, adopted=bool(new.get("adopted")), bot_uid=int(new["botUid"]))
        )
    state, old_state = _opt_str(new.get("state")), _opt_str(before.get("state"))
    if state == "RUNNING" and (old_state is None or old_state in BEFORE_RUNNING):
        events.append(make(AgentRunning, agora_agent_id=agora_id, started_at=iso_ms(new.get("startedMs"))))
    if state != old_state and state == "STOPPED":
        started, ended = _opt_int(new.get("startedMs")), _opt_int(new.get("endedMs"))
        uptime = max(0, ended - started) // 1000 if started is not None and ended is not None else 0
        events.append(
            make(
                AgentStopped,
                agora_agent_id=agora_id,
                reason=_opt_str(new.get("endReason")),
                started_at=iso_ms(started),
                ended_at=iso_ms(ended),
                uptime_seconds=uptime,
                history_turns=int(new.get("historyTurns") or 0),
            )
        )
    elif state != old_state and state == "FAILED":
        error = new.get("lastError")
        error = error if isinstance(error, Mapping) else {}
        events.append(
            make(
                AgentFailed,
                agora_agent_id=agora_id,
                reason=_opt_str(new.get("endReason")),
                error_step=_opt_str(error.get("step")),
                error_reason=_opt_str(error.get("reason")),
                http_status=_opt_int(error.get("httpStatus")),
                error_code=_opt_int(error.get("code")),
                ended_at=iso_ms(new.get("endedMs")),
            )
        )
    turns, old_turns = int(new.get("historyTurns") or 0), int(before.get("historyTurns") or 0)
    if new.get("historyKey") and turns > old_turns:
        events.append(
            make(AgentHistorySaved, history_key=str(new["historyKey"]), turns=turns, previous_turns=old_turns)
        )
    return events
