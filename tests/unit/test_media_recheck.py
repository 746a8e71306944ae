"""Re-checks of recordings found incomplete (``service.media.integrity``: ``plan_recheck``, ``follow_up``), driven
through ``service.media.logic`` (``check_integrity``, ``run_recheck``) with an injected clock, an in-memory bucket
and ``FakeRecheckQueue``: the schedule as data, its bounds, and a late segment turning the status complete."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service.media import logic
from service.media.fakes import FakeRecheckQueue
from service.media.integrity import MAX_QUEUE_DELAY_S, Recheck, RecheckPolicy, plan_recheck, public

DAY_MS = 24 * 3600 * 1000
T0 = 1_800_000_000_000
KEY = "recordings/room/abc/sid1_room.m3u8"
SEGMENTS = ["recordings/room/abc/sid1_room_20260101000000000.ts", "recordings/room/abc/sid1_room_20260101000015000.ts"]
PLAYLIST = (
    "#EXTM3U\n#EXT-X-TARGETDURATION:15\n"
    + "".join(f"#EXTINF:15.0,\n{s.rsplit('/', 1)[1]}\n" for s in SEGMENTS)
    + "#EXT-X-ENDLIST\n"
)

policies = st.builds(
    lambda first, cap, window, factor: RecheckPolicy(
        first_delay_s=min(first, cap), max_delay_s=cap, window_s=window, factor=factor
    ),
    st.integers(1, 900),
    st.integers(1, 900),
    st.integers(0, 4 * 24 * 3600),
    st.integers(1, 4),
)


@settings(max_examples=300, deadline=None)
@given(
    policy=policies, attempt=st.integers(0, 500), since=st.integers(10**6, 10**13), elapsed=st.integers(-(10**6), 10**9)
)
def test_a_planned_recheck_is_a_valid_delay_never_after_the_window(policy, attempt, since, elapsed) -> None:
    now = since + elapsed
    plan = plan_recheck(policy, sid="s", attempt=attempt, since_ms=since, now_ms=now)
    end = since + policy.window_s * 1000
    if now >= end:
        assert plan is None  # the window is over: no more re-checks
        return
    assert plan is not None
    assert 1 <= plan.delay_s <= min(policy.max_delay_s, MAX_QUEUE_DELAY_S)
    assert plan.due_ms == now + plan.delay_s * 1000
    assert plan.due_ms < end + 1000  # rounded up to whole seconds, never a whole second past the end
    grown = policy.first_delay_s * policy.factor ** min(attempt, 32)
    assert plan.delay_s == max(1, min(grown, policy.max_delay_s, -(-(end - now) // 1000)))
    assert Recheck.parse(plan.body()) == Recheck(plan.sid, plan.attempt, plan.since_ms, plan.due_ms, 0)


@settings(max_examples=100, deadline=None)
@given(policy=policies)
def test_the_waits_grow_and_the_count_is_bounded(policy) -> None:
    """A recording that stays incomplete: each wait at least the last (until cut by the window's end), and
    the number of re-checks at most the window over the first delay, plus one."""
    now, attempt, waits = T0, 0, []
    while (plan := plan_recheck(policy, sid="s", attempt=attempt, since_ms=T0, now_ms=now)) is not None:
        waits.append(plan.delay_s)
        now, attempt = plan.due_ms, attempt + 1
        assert attempt <= policy.window_s // policy.first_delay_s + 1
    assert now >= T0 + policy.window_s * 1000 or not waits
    assert waits[:-1] == sorted(waits[:-1])


def test_the_default_schedule() -> None:
    policy = RecheckPolicy()
    now, attempt, waits = T0, 0, []
    while (plan := plan_recheck(policy, sid="s", attempt=attempt, since_ms=T0, now_ms=now)) is not None:
        waits.append(plan.delay_s)
        now, attempt = plan.due_ms, attempt + 1
    assert waits[:6] == [60, 120, 240, 480, 900, 900]
    assert sum(waits) == 24 * 3600 and len(waits) == 99  # 4 growing waits (900 s together), then 95 of 900 s


@pytest.mark.parametrize("bad", [{"first_delay_s": 0}, {"max_delay_s": 901}, {"first_delay_s": 61, "max_delay_s": 60},
                                 {"window_s": -1}, {"factor": 0}])  # fmt: skip
def test_policies_sqs_cannot_carry_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        RecheckPolicy(**bad)


@pytest.mark.parametrize(
    "body",
    ['{"mediaRecheck": {"sid": "s", "attempt": -1, "since": 1, "due": 2}}', '{"mediaRecheck": {"sid": ""}}',
     '{"mediaRecheck": {"sid": "s", "attempt": true, "since": 1, "due": 2}}', '{"Records": []}', "[]", "not json"],
)  # fmt: skip
def test_only_a_well_formed_recheck_parses(body: str) -> None:
    assert Recheck.parse(body) is None


# -- the chain through the media logic ---------------------------------------------------------------------------
class Bucket:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {KEY: PLAYLIST.encode(), SEGMENTS[0]: b"x" * 188}

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        return {k: len(v) for k, v in self.objects.items() if k.startswith(prefix)}

    def text(self, bucket: str, key: str) -> str | None:
        data = self.objects.get(key)
        return None if data is None else data.decode()


class Store:
    """The integrity part of ``MediaStore`` (one ended playlist of sid1), with the repository's condition."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def file_items(self, sid: str) -> list[dict[str, Any]]:
        return [{"key": KEY, "bucket": "b", "status": "ok", "stream": "mix", "ended": True}]

    def integrity(self, sid: str) -> dict[str, Any] | None:
        return self.items.get(sid)

    def put_integrity(self, sid: str, item: dict[str, Any]) -> bool:
        stored = self.items.get(sid)
        if stored is not None and stored["checked_at"] > item["checked_at"]:
            return False
        self.items[sid] = dict(item)
        self.writes += 1
        return True


class World:
    def __init__(self, policy: RecheckPolicy | None = None) -> None:
        self.now = T0
        self.bucket, self.store = Bucket(), Store()
        self.queue = FakeRecheckQueue(lambda: self.now)
        self.rechecks = logic.Rechecks(self.queue, policy or RecheckPolicy())

    def playlist_check(self) -> str:
        return logic.check_integrity("sid1", store=self.store, listing=self.bucket, now_ms=self.now,
                                     rechecks=self.rechecks)  # fmt: skip

    def deliver_next(self) -> list[logic.Result]:
        """Move the clock to the next held message and run what is visible then."""
        at = self.queue.next_visible_at()
        assert at is not None, "nothing scheduled"
        self.now = max(self.now, at)
        return [
            logic.run_recheck(r, store=self.store, listing=self.bucket, rechecks=self.rechecks, now_ms=self.now)
            for body in self.queue.receive()
            if (r := Recheck.parse(body)) is not None
        ]

    @property
    def item(self) -> dict[str, Any]:
        return self.store.items["sid1"]


def test_a_late_segment_turns_the_recording_complete_at_the_next_recheck() -> None:
    world = World()
    assert world.playlist_check() == "incomplete"
    assert world.item["recheck"] == "scheduled" and world.item["next_recheck_at"] == T0 + 60_000
    assert [r.integrity for r in world.deliver_next()] == ["incomplete"]  # still missing at +60 s
    assert world.item["rechecks"] == 1 and world.item["next_recheck_at"] == T0 + 180_000  # then 120 s later
    world.bucket.objects[SEGMENTS[1]] = b"y" * 188  # the backup upload lands (no notification)
    assert [r.integrity for r in world.deliver_next()] == ["complete"]
    assert world.item["status"] == "complete" and "next_recheck_at" not in world.item
    assert world.item["rechecks"] == 2  # found whole by the second re-check
    assert world.queue.held == [] and world.queue.sent == 2  # done: nothing more is scheduled


def test_a_recording_that_stays_incomplete_is_given_up_after_the_window() -> None:
    world = World()
    world.playlist_check()
    while world.queue.held:
        world.deliver_next()
    assert world.item["status"] == "incomplete" and world.item["recheck"] == "exhausted"
    assert world.item["next_recheck_at"] is None and world.item["incomplete_since"] == T0
    assert world.now == T0 + DAY_MS and world.item["rechecks"] == world.queue.sent == 99
    shown = public(world.item)
    assert shown is not None and shown["recheck"] == "exhausted" and shown["rechecks"] == 99
    world.now += 1000
    assert world.playlist_check() == "incomplete" and world.queue.held == []  # a late playlist starts no new chain


def test_checks_from_playlists_meanwhile_start_no_second_chain_and_stale_rechecks_do_nothing() -> None:
    world = World()
    world.playlist_check()
    world.now += 5_000
    world.playlist_check()  # another stream's final playlist, while the first re-check is on its way
    assert len(world.queue.held) == 1 and world.item["next_recheck_at"] == T0 + 60_000
    stale = Recheck("sid1", 0, T0, T0 + 59_000, 0)  # a re-check this item no longer waits for
    writes = world.store.writes
    result = logic.run_recheck(
        stale, store=world.store, listing=world.bucket, rechecks=world.rechecks, now_ms=T0 + 60_000
    )
    assert result.outcome == "stale" and world.store.writes == writes
    world.bucket.objects[SEGMENTS[1]] = b"y"
    world.deliver_next()
    again = Recheck("sid1", 0, T0, T0 + 60_000, 0)  # the same message delivered twice (at-least-once)
    assert logic.run_recheck(again, store=world.store, listing=world.bucket, rechecks=world.rechecks,
                             now_ms=world.now).outcome == "stale"  # fmt: skip


def test_an_overdue_recheck_is_replaced_and_the_old_one_then_does_nothing() -> None:
    """The queue backed up: a playlist check after the re-check's due time starts a new one (the window still
    counts from the first finding); the late original then finds it is not the current one."""
    world = World()
    world.playlist_check()
    first = world.item["next_recheck_at"]
    world.now = first + 30_000
    world.playlist_check()
    assert world.item["next_recheck_at"] == world.now + 60_000 and world.item["incomplete_since"] == T0
    results = world.deliver_next()
    assert [r.outcome for r in results] == ["stale"]


def test_without_a_queue_a_check_is_not_repeated() -> None:
    world = World()
    status = logic.check_integrity("sid1", store=world.store, listing=world.bucket, now_ms=T0)
    assert status == "incomplete" and "recheck" not in world.item and world.queue.sent == 0


@settings(max_examples=50, deadline=None)
@given(lands_after_s=st.integers(0, 2 * 24 * 3600), window_h=st.integers(1, 48))
def test_a_segment_landing_within_the_window_is_always_found_and_none_after(lands_after_s, window_h) -> None:
    world = World(RecheckPolicy(window_s=window_h * 3600))
    world.playlist_check()
    landed = T0 + lands_after_s * 1000
    while world.queue.held:
        nxt = world.queue.next_visible_at()
        if nxt is not None and nxt >= landed:
            world.bucket.objects[SEGMENTS[1]] = b"y"
        world.deliver_next()
    found = world.item["status"] == "complete"
    assert found == (landed <= T0 + window_h * 3600 * 1000)
    if found:  # within one wait (at most 900 s) of landing
        assert world.now - landed < 900_000 + 1000
