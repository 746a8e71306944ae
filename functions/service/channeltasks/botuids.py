"""Bot uids: every kind of channel task gets its own slice of the reserved bot range.

``agorakit.ids`` reserves ``RECORDER_UID_MIN..MAX_UID`` (4,000,000,000 and up) for bots; users never get
those uids. Inside it each kind has a disjoint slice, so a uid alone tells a presence list which bot it
is, and two kinds of bot in one channel can never collide. The recorder keeps picking from the whole
reserved range today (``service.recordings.logic.pick_recorder_uid``); its slice is where it will move,
and until then ``pick_bot_uid(..., avoid=...)`` is given the uids already in the channel.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from agorakit import ids


@dataclass(frozen=True)
class BotRange:
    kind: str
    low: int
    high: int  # inclusive

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and not isinstance(uid, bool) and self.low <= uid <= self.high

    @property
    def size(self) -> int:
        return self.high - self.low + 1


RECORDER: Final = BotRange("recorder", ids.RECORDER_UID_MIN, 4_099_999_999)
AGENT: Final = BotRange("agent", 4_100_000_000, 4_149_999_999)
STT_SUBSCRIBER: Final = BotRange("stt_subscriber", 4_150_000_000, 4_174_999_999)
STT_PUBLISHER: Final = BotRange("stt_publisher", 4_175_000_000, 4_199_999_999)
#: 4,200,000,000 .. MAX_UID: reserved for kinds to come (Media Push, Media Pull, ...)
RANGES: Final = {r.kind: r for r in (RECORDER, AGENT, STT_SUBSCRIBER, STT_PUBLISHER)}

#: tries before giving up on finding a free uid (the slices hold 25..100 million uids: never reached in practice)
MAX_TRIES: Final = 64


class NoFreeUid(RuntimeError):
    """Every uid tried was in ``avoid``."""


def bot_range(kind: str) -> BotRange:
    try:
        return RANGES[kind]
    except KeyError:
        raise ValueError(f"unknown bot kind {kind!r} (known: {', '.join(sorted(RANGES))})") from None


def pick_bot_uid(kind: str, rng: random.Random | None = None, *, avoid: Collection[int] = ()) -> int:
    """A random uid from ``kind``'s slice that is not in ``avoid`` (the uids already in the channel)."""
    slice_ = bot_range(kind)
    draw = rng or random.SystemRandom()
    for _ in range(MAX_TRIES):
        uid = draw.randint(slice_.low, slice_.high)
        if uid not in avoid:
            return uid
    raise NoFreeUid(f"no free {kind} uid after {MAX_TRIES} tries")


def bot_kind(uid: int | None) -> str | None:
    """The kind of bot a uid belongs to; ``"bot"`` for the reserved range outside any slice; None for a user."""
    if not ids.is_recorder_uid(uid):
        return None
    for slice_ in RANGES.values():
        if uid in slice_:
            return slice_.kind
    return "bot"


def is_bot_uid(uid: int | None) -> bool:
    """Any bot (recorder, agent, transcriber, ...): the whole reserved range."""
    return ids.is_recorder_uid(uid)
