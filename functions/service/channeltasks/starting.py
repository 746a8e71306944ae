"""The name-keyed idempotent start of a channel task and how its ambiguous outcomes are resolved.

Agora's agent APIs (Conversational AI ``/join``, Real-Time STT v7 ``/join``) take a ``name`` that no two
live tasks of a project may share: a second start with the name of a live task answers 409. We derive
the name from our own task id (``task_name``), so a start can always be repeated: if the first one took
effect, the repeat is a 409, never a second bot. What a failed start means is decided here, as pure
logic over Agora's list of the channel's tasks (``GET /agents?channel=``):

- 409: the task exists: adopt the live one that bears our name (look again while the list lags);
- a 504, a 5xx or no answer: it may have started: adopt it if listed, else look again a few times, then
  start again (safe: the name guards against a double);
- 429 or 503: nothing started; start again after a back-off;
- any other 4xx (400, 401, 403, 404, 422): fail with Agora's reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from service.channeltasks.lifecycle import LIVE_REMOTE_STATES, REMOTE_ENDED_STATES, REMOTE_STOPPING

#: names: lower-case letters, digits and "-", at most 64 characters (inside every product's rule)
MAX_NAME_LENGTH: Final = 64
_NAME_PART = re.compile(r"[^a-z0-9-]")

Outcome = Literal["conflict", "ambiguous", "throttled", "rejected"]
Action = Literal["adopt", "look_again", "start_again", "ended", "fail"]

#: how often the list is read after a 409 or an ambiguous failure before deciding without it
DEFAULT_MAX_LOOKS: Final = 3


def task_name(prefix: str, task_id: str, generation: int = 0) -> str:
    """Agora's ``name`` for one incarnation of our task: the same on every retry, a new one per restart."""
    if generation < 0:
        raise ValueError("generation must be >= 0")
    safe_prefix = _NAME_PART.sub("", prefix.lower())
    safe_id = _NAME_PART.sub("", task_id.lower())
    if not safe_prefix or not safe_id:
        raise ValueError("prefix and task id need at least one of a-z 0-9 -")
    name = f"{safe_prefix}-{safe_id}" + (f"-g{generation}" if generation else "")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"task name {name!r} is longer than {MAX_NAME_LENGTH} characters")
    return name


def classify_start_error(http_status: int | None) -> Outcome:
    """What a failed start says about Agora's state. ``None``: no answer at all (timeout, reset)."""
    if http_status == 409:
        return "conflict"
    if http_status is None or http_status in (500, 502, 504) or (http_status > 504):
        return "ambiguous"
    if http_status in (429, 503):
        return "throttled"
    return "rejected"


@dataclass(frozen=True)
class Listed:
    """One entry of Agora's list of tasks in a channel, normalized (state: ``lifecycle.REMOTE_*``)."""

    task_id: str
    name: str | None
    state: str
    created_ms: int = 0


@dataclass(frozen=True)
class Decision:
    action: Action
    task: Listed | None = None
    reason: str = ""


def find_ours(name: str, listed: Iterable[Listed]) -> Listed | None:
    """The task bearing ``name``: the newest live one, else the newest stopping or ended one."""
    mine = [entry for entry in listed if entry.name == name]
    for states in (LIVE_REMOTE_STATES, {REMOTE_STOPPING}, REMOTE_ENDED_STATES):
        found = [entry for entry in mine if entry.state in states]
        if found:
            return max(found, key=lambda entry: (entry.created_ms, entry.task_id))
    return None


def resolve_start(  # noqa: PLR0911 - one return per decision
    name: str, outcome: Outcome, listed: Iterable[Listed] | None, *, looks: int, max_looks: int = DEFAULT_MAX_LOOKS
) -> Decision:
    """What to do after a start failed with ``outcome``; ``listed`` is the channel's list read after the failure
    (None: not read yet), ``looks`` how many times it has been read for this start so far."""
    if outcome == "rejected":
        return Decision("fail", reason="agora rejected the start")
    if outcome == "throttled":
        return Decision("start_again", reason="nothing started (429/503): back off and start again")
    if listed is None:
        return Decision("look_again", reason=f"{outcome}: read the channel's list")
    ours = find_ours(name, listed)
    if ours is not None and ours.state in LIVE_REMOTE_STATES:
        return Decision("adopt", ours, reason=f"{outcome}: {name} is listed as {ours.state}")
    if ours is not None and ours.state == REMOTE_STOPPING:
        return Decision("ended", ours, reason=f"{name} started and is already stopping")
    if ours is not None:
        return Decision("ended", ours, reason=f"{name} started and already ended ({ours.state})")
    if looks < max_looks:
        return Decision("look_again", reason=f"{outcome}: {name} not listed yet (look {looks} of {max_looks})")
    if outcome == "conflict":
        return Decision("fail", reason=f"409 for {name}, but no task of that name is listed")
    return Decision("start_again", reason=f"{name} not listed after {looks} looks: start again under the same name")
