"""Pure rules of a transcription: what a start may ask, the agent's name per generation, how Agora's reports
move the record, when the 72-hour restart is due, and what an hour costs. No I/O, no clock reads.

States are the channel-task states (``service.channeltasks.lifecycle``, shared with the Conversational AI agents):
a report only moves a record forward; ``RUNNING`` <-> ``RECOVERING`` by the later report; an ended record never
comes back. A restart keeps the record
``RUNNING`` and moves ``agent_id`` to the next generation's agent.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agorakit import ids

from service.channeltasks import botuids, lifecycle, schedule, starting

# the channel-task states and Agora's, shared with the Conversational AI agents (service.channeltasks.lifecycle)
REQUESTED: Final = lifecycle.REQUESTED
STARTING: Final = lifecycle.STARTING
RUNNING: Final = lifecycle.RUNNING
RECOVERING: Final = lifecycle.RECOVERING
STOPPING: Final = lifecycle.STOPPING
STOPPED: Final = lifecycle.STOPPED
FAILED: Final = lifecycle.FAILED
STATES: Final = lifecycle.STATES
ACTIVE: Final = lifecycle.ACTIVE_STATES
TERMINAL: Final = lifecycle.TERMINAL_STATES
UPDATABLE: Final = frozenset({STARTING, RUNNING, RECOVERING})
FROM_REMOTE: Final = lifecycle.FROM_REMOTE

MAX_LANGUAGES: Final = 4
MAX_UID_LANGUAGES: Final = 5
#: Agora ends every task after 72 hours; the restart joins the next agent this long before that
LIFETIME_MS: Final = 72 * 3600 * 1000
RESTART_MARGIN_MS: Final = 10 * 60 * 1000
#: the Real-Time STT bot's slice of the reserved bot range (service.channeltasks.botuids: one slice per kind, so a
#: transcriber never collides with a recorder or a Conversational AI agent; v7 has one bot, ``pubBotUid``)
BOT_UID_LOW: Final = botuids.STT_PUBLISHER.low
BOT_UID_HIGH: Final = botuids.STT_PUBLISHER.high
#: Agora's price list for Real-Time STT (docs.agora.io "Real-Time STT / Pricing", read 2026): USD per 1,000 minutes
PRICE_PER_1000_MIN: Final = 16.99
TRANSLATION_PRICE_PER_1000_MIN: Final = 8.99


class RuleError(ValueError):
    """A request the rules refuse (the API answers 400 with this message)."""


@dataclass(frozen=True)
class StartSpec:
    channel: str
    languages: tuple[str, ...]
    uid_languages: Mapping[int, tuple[str, ...]]
    translate: Mapping[str, tuple[str, ...]]
    subscribe_uids: tuple[int, ...] | None
    max_idle_seconds: int


def _languages(values: Sequence[str], what: str) -> tuple[str, ...]:
    if not 1 <= len(values) <= MAX_LANGUAGES:
        raise RuleError(f"{what}: 1 to {MAX_LANGUAGES} languages")
    if len(set(values)) != len(values):
        raise RuleError(f"{what}: a language is listed twice")
    return tuple(values)


def check_start(
    channel: str,
    languages: Sequence[str],
    *,
    uid_languages: Mapping[int, Sequence[str]] | None = None,
    translate: Mapping[str, Sequence[str]] | None = None,
    subscribe_uids: Sequence[int] | None = None,
    max_idle_seconds: int = 30,
) -> StartSpec:
    langs = _languages(languages, "languages")
    per_uid = dict(uid_languages or {})
    if len(per_uid) > MAX_UID_LANGUAGES:
        raise RuleError(f"uid_languages: at most {MAX_UID_LANGUAGES} uids")
    for uid in [*per_uid, *(subscribe_uids or ())]:
        if ids.is_recorder_uid(uid):
            raise RuleError(f"uid {uid} is in the reserved bot range: bots are not transcribed")
    pairs = {source: _languages(targets, f"translate[{source}]") for source, targets in (translate or {}).items()}
    spoken = set(langs) | {lang for per in per_uid.values() for lang in per}
    for source, targets in pairs.items():
        if source not in spoken:
            raise RuleError(f"translate: {source} is not a transcribed language ({', '.join(sorted(spoken))})")
        if source in targets:
            raise RuleError(f"translate: {source} is translated into itself")
    return StartSpec(
        channel=channel,
        languages=langs,
        uid_languages={uid: _languages(v, f"uid_languages[{uid}]") for uid, v in per_uid.items()},
        translate=pairs,
        subscribe_uids=tuple(subscribe_uids) if subscribe_uids is not None else None,
        max_idle_seconds=max_idle_seconds,
    )


NAME_PREFIX: Final = "tx"


def agent_name(transcription_id: str, generation: int) -> str:
    """Agora's unique ``name`` of the agent of one generation (``channeltasks.starting.task_name``: ``tx-<id>``,
    then ``tx-<id>-g<n>`` per restart): repeating a join with it never starts two."""
    return starting.task_name(NAME_PREFIX, transcription_id, generation)


def pick_bot_uid(rng: random.Random, avoid: Collection[int] = ()) -> int:
    """A bot uid from the STT slice of the reserved range, not one already in the channel."""
    return botuids.pick_bot_uid(botuids.STT_PUBLISHER.kind, rng, avoid=avoid)


def next_state(current: str, current_at_ms: int, reported: str, reported_at_ms: int) -> str | None:
    """The state a report moves a record to, or None when the report is stale, repeated or backwards
    (``channeltasks.lifecycle.apply_report``)."""
    return lifecycle.apply_report(current, current_at_ms, reported, reported_at_ms).state


def restart_due_ms(
    started_at_ms: int,
    margin_ms: int = RESTART_MARGIN_MS,
    lifetime_ms: int = LIFETIME_MS,
    token_expires_ms: int | None = None,
) -> int:
    """When the next generation must join: ``margin_ms`` before Agora's 72-hour end of the current agent, or
    ``margin_ms`` before its bot's RTC token expires if that comes first (``channeltasks.schedule.next_wake``, the
    agents' renewal schedule: v7's ``update`` cannot renew a token, so STT renews by a restart, the new agent
    joining with a fresh token before the old one leaves). ``lifetime_ms`` is shorter only in tests."""
    if not 0 < margin_ms < lifetime_ms:
        raise ValueError("the margin must be within the lifetime")
    end_due = started_at_ms + lifetime_ms - margin_ms
    if token_expires_ms is None:
        return end_due
    return schedule.next_wake(token_expires_ms, end_due, renew_margin_ms=margin_ms).at_ms


def cost_per_hour(translated_languages: int = 0, *, streams: int = 1) -> float:
    """USD per hour of one channel transcribed (``streams`` agents) with ``translated_languages`` targets."""
    if translated_languages < 0 or streams < 1:
        raise ValueError("counts must be non-negative (streams at least 1)")
    per_minute = (PRICE_PER_1000_MIN + translated_languages * TRANSLATION_PRICE_PER_1000_MIN) / 1000
    return round(per_minute * 60 * streams, 4)
