"""The states of a channel task and how advisory reports (NCS events, polls, lists) move it.

Two vocabularies: Agora's states (``REMOTE_*``: what ``GET /agents`` says, normalized to these names by
each client) and our record's states (``REQUESTED`` .. ``FAILED``). Reports arrive late, twice or out of
order, so a report only moves a task forward: by rank, with ``RUNNING`` <-> ``RECOVERING`` ordered by the
report's time, and an ended task never comes back (a late "joined" after "left" is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# -------------------------------------------------------------------------------- Agora's states
REMOTE_IDLE: Final = "IDLE"
REMOTE_STARTING: Final = "STARTING"
REMOTE_RUNNING: Final = "RUNNING"
REMOTE_STOPPING: Final = "STOPPING"
REMOTE_STOPPED: Final = "STOPPED"
REMOTE_RECOVERING: Final = "RECOVERING"
REMOTE_FAILED: Final = "FAILED"
LIVE_REMOTE_STATES: Final = frozenset({REMOTE_IDLE, REMOTE_STARTING, REMOTE_RUNNING, REMOTE_RECOVERING})
REMOTE_ENDED_STATES: Final = frozenset({REMOTE_STOPPED, REMOTE_FAILED})

# -------------------------------------------------------------------------------- our record's states
REQUESTED: Final = "REQUESTED"  # the record exists; Agora was not asked yet (or the answer is unknown)
STARTING: Final = "STARTING"  # Agora accepted the start
RUNNING: Final = "RUNNING"
RECOVERING: Final = "RECOVERING"  # Agora restarts it (it may come back RUNNING)
STOPPING: Final = "STOPPING"  # we asked it to leave
STOPPED: Final = "STOPPED"
FAILED: Final = "FAILED"
STATES: Final = (REQUESTED, STARTING, RUNNING, RECOVERING, STOPPING, STOPPED, FAILED)
ACTIVE_STATES: Final = frozenset({REQUESTED, STARTING, RUNNING, RECOVERING, STOPPING})
TERMINAL_STATES: Final = frozenset({STOPPED, FAILED})

_RANK: Final = {REQUESTED: 0, STARTING: 1, RUNNING: 2, RECOVERING: 2, STOPPING: 3, STOPPED: 4, FAILED: 4}

#: Agora's state -> ours
FROM_REMOTE: Final = {
    REMOTE_IDLE: STARTING,
    REMOTE_STARTING: STARTING,
    REMOTE_RUNNING: RUNNING,
    REMOTE_RECOVERING: RECOVERING,
    REMOTE_STOPPING: STOPPING,
    REMOTE_STOPPED: STOPPED,
    REMOTE_FAILED: FAILED,
}


def is_terminal(state: str | None) -> bool:
    return state in TERMINAL_STATES


def is_active(state: str | None) -> bool:
    return state in ACTIVE_STATES


def rank(state: str) -> int:
    try:
        return _RANK[state]
    except KeyError:
        raise ValueError(f"unknown task state {state!r}") from None


def can_move(current: str, target: str) -> bool:
    """A move that a report may make regardless of its time: strictly forward, never out of an end."""
    if current in TERMINAL_STATES:
        return False
    return rank(target) > rank(current)


def sources_of(target: str) -> tuple[str, ...]:
    """The states from which ``target`` may be entered by a forward move (for conditional writes)."""
    return tuple(state for state in STATES if can_move(state, target))


@dataclass(frozen=True)
class Move:
    """The outcome of a report: the state to write (None: ignore the report) and why."""

    state: str | None
    reason: str


def apply_report(current: str, current_at_ms: int, reported: str, reported_at_ms: int) -> Move:
    """How a report of ``reported`` at ``reported_at_ms`` moves a task that is ``current`` since ``current_at_ms``."""
    rank(reported)
    if current in TERMINAL_STATES:
        return Move(None, f"already {current}: a late {reported} is ignored")
    if reported == current:
        return Move(None, f"already {current}")
    if can_move(current, reported):
        return Move(reported, f"{current} -> {reported}")
    if rank(reported) == rank(current) == rank(RUNNING):  # RUNNING <-> RECOVERING: the later report wins
        if reported_at_ms > current_at_ms:
            return Move(reported, f"{current} -> {reported} (a later report)")
        return Move(None, f"{reported} at {reported_at_ms} is older than {current} at {current_at_ms}")
    return Move(None, f"{current} does not go back to {reported}")
