"""The rules every channel task shares (service.channeltasks): bot uid slices, the name-keyed start and its
resolution by listing, forward-only lifecycle moves, the renewal / hard-maximum schedule."""

from __future__ import annotations

import itertools
import random

import pytest
from agorakit import ids
from service.channeltasks import botuids, lifecycle, schedule, starting
from service.channeltasks.starting import Listed


# ------------------------------------------------------------------------------------------ bot uids
def test_bot_slices_are_disjoint_and_inside_the_reserved_range() -> None:
    slices = sorted(botuids.RANGES.values(), key=lambda r: r.low)
    for slice_ in slices:
        assert ids.RECORDER_UID_MIN <= slice_.low <= slice_.high <= ids.MAX_UID
    for first, second in itertools.pairwise(slices):
        assert first.high < second.low


@pytest.mark.parametrize("kind", sorted(botuids.RANGES))
def test_pick_bot_uid_stays_in_its_slice_and_is_never_a_user(kind: str) -> None:
    rng = random.Random(7)
    for _ in range(500):
        uid = botuids.pick_bot_uid(kind, rng)
        assert uid in botuids.RANGES[kind]
        assert botuids.bot_kind(uid) == kind
        assert not ids.USER_UID_MIN <= uid <= ids.USER_UID_MAX


def test_pick_bot_uid_avoids_the_uids_in_the_channel() -> None:
    first = botuids.pick_bot_uid("agent", random.Random(3))
    again = botuids.pick_bot_uid("agent", random.Random(3), avoid={first})
    assert again != first and again in botuids.AGENT


def test_pick_bot_uid_gives_up_when_every_draw_is_taken() -> None:
    class Stuck(random.Random):
        def randint(self, a: int, b: int) -> int:
            return a

    with pytest.raises(botuids.NoFreeUid):
        botuids.pick_bot_uid("agent", Stuck(), avoid={botuids.AGENT.low})


def test_unknown_kind_and_user_uids() -> None:
    with pytest.raises(ValueError, match="unknown bot kind"):
        botuids.pick_bot_uid("juggler")
    assert botuids.bot_kind(1234) is None
    assert botuids.bot_kind(None) is None
    assert botuids.bot_kind(ids.MAX_UID) == "bot"
    assert botuids.is_bot_uid(botuids.AGENT.low) and not botuids.is_bot_uid(ids.USER_UID_MAX)


# ------------------------------------------------------------------------------------------ names
def test_task_name_is_stable_per_incarnation() -> None:
    assert starting.task_name("agent", "AB12cd") == "agent-ab12cd"
    assert starting.task_name("agent", "ab12cd") == starting.task_name("agent", "ab12cd")
    assert starting.task_name("stt", "ab12cd", 2) == "stt-ab12cd-g2"
    with pytest.raises(ValueError):
        starting.task_name("agent", "x" * 80)
    with pytest.raises(ValueError):
        starting.task_name("agent", "///")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(409, "conflict"), (None, "ambiguous"), (504, "ambiguous"), (502, "ambiguous"), (500, "ambiguous"),
     (429, "throttled"), (503, "throttled"), (400, "rejected"), (401, "rejected"), (422, "rejected"),
     (404, "rejected")],
)  # fmt: skip
def test_classify_start_error(status: int | None, outcome: str) -> None:
    assert starting.classify_start_error(status) == outcome


# ------------------------------------------------------------------------------------------ resolution
NAME = "agent-0001"


def test_conflict_adopts_the_live_task_bearing_our_name() -> None:
    listed = [
        Listed("other", "agent-0002", "RUNNING", 5),
        Listed("old", NAME, "STOPPED", 1),
        Listed("mine", NAME, "RUNNING", 3),
    ]
    decision = starting.resolve_start(NAME, "conflict", listed, looks=1)
    assert decision.action == "adopt" and decision.task is not None and decision.task.task_id == "mine"


def test_ambiguous_looks_first_then_adopts_when_listed() -> None:
    assert starting.resolve_start(NAME, "ambiguous", None, looks=0).action == "look_again"
    listed = [Listed("mine", NAME, "STARTING", 3)]
    decision = starting.resolve_start(NAME, "ambiguous", listed, looks=1)
    assert decision.action == "adopt" and decision.task == listed[0]


def test_ambiguous_not_listed_looks_again_then_starts_again_under_the_same_name() -> None:
    assert starting.resolve_start(NAME, "ambiguous", [], looks=1, max_looks=3).action == "look_again"
    assert starting.resolve_start(NAME, "ambiguous", [], looks=3, max_looks=3).action == "start_again"


def test_conflict_never_listed_fails_instead_of_starting_a_second() -> None:
    decision = starting.resolve_start(NAME, "conflict", [Listed("x", "agent-0009", "RUNNING")], looks=3, max_looks=3)
    assert decision.action == "fail"


def test_a_task_that_already_ended_is_reported_as_ended() -> None:
    decision = starting.resolve_start(NAME, "ambiguous", [Listed("mine", NAME, "FAILED", 3)], looks=1)
    assert decision.action == "ended" and decision.task is not None and decision.task.state == "FAILED"
    stopping = starting.resolve_start(NAME, "conflict", [Listed("mine", NAME, "STOPPING", 3)], looks=1)
    assert stopping.action == "ended"


def test_rejected_and_throttled_need_no_list() -> None:
    assert starting.resolve_start(NAME, "rejected", None, looks=0).action == "fail"
    assert starting.resolve_start(NAME, "throttled", None, looks=0).action == "start_again"


# ------------------------------------------------------------------------------------------ lifecycle
def test_a_late_joined_after_left_does_not_resurrect() -> None:
    move = lifecycle.apply_report(lifecycle.STOPPED, 200, lifecycle.RUNNING, 100)
    assert move.state is None
    assert lifecycle.apply_report(lifecycle.FAILED, 200, lifecycle.RUNNING, 300).state is None


def test_reports_move_forward_only() -> None:
    assert lifecycle.apply_report(lifecycle.REQUESTED, 0, lifecycle.RUNNING, 5).state == lifecycle.RUNNING
    assert lifecycle.apply_report(lifecycle.RUNNING, 10, lifecycle.STARTING, 20).state is None
    assert lifecycle.apply_report(lifecycle.STOPPING, 10, lifecycle.RUNNING, 20).state is None
    assert lifecycle.apply_report(lifecycle.RUNNING, 10, lifecycle.STOPPED, 5).state == lifecycle.STOPPED


def test_running_and_recovering_follow_the_later_report() -> None:
    assert lifecycle.apply_report(lifecycle.RUNNING, 10, lifecycle.RECOVERING, 20).state == lifecycle.RECOVERING
    assert lifecycle.apply_report(lifecycle.RECOVERING, 20, lifecycle.RUNNING, 15).state is None
    assert lifecycle.apply_report(lifecycle.RECOVERING, 20, lifecycle.RUNNING, 25).state == lifecycle.RUNNING


def test_sources_of_matches_can_move_and_every_remote_state_maps() -> None:
    for target in lifecycle.STATES:
        for source in lifecycle.sources_of(target):
            assert lifecycle.can_move(source, target)
    assert lifecycle.sources_of(lifecycle.REQUESTED) == ()
    assert set(lifecycle.FROM_REMOTE) == lifecycle.LIVE_REMOTE_STATES | lifecycle.REMOTE_ENDED_STATES | {
        lifecycle.REMOTE_STOPPING
    }
    with pytest.raises(ValueError):
        lifecycle.apply_report(lifecycle.RUNNING, 0, "DANCING", 1)


# ------------------------------------------------------------------------------------------ schedule
def test_token_seconds_covers_the_rest_and_stays_within_a_day() -> None:
    assert schedule.token_seconds(0, 3_600_000) == 3_600 + schedule.TOKEN_SLACK_SECONDS
    assert schedule.token_seconds(0, 10 * 86_400_000) == schedule.MAX_TOKEN_SECONDS
    assert schedule.token_seconds(5_000, 0) == schedule.TOKEN_SLACK_SECONDS


def test_next_wake_renews_before_expiry_unless_the_maximum_comes_first() -> None:
    wake = schedule.next_wake(86_400_000, 3 * 86_400_000, renew_margin_seconds=600)
    assert wake == schedule.Wake(86_400_000 - 600_000, "renew")
    assert schedule.next_wake(86_400_000, 3_600_000) == schedule.Wake(3_600_000, "end")


def test_restart_due_before_the_product_limit() -> None:
    limit = 72 * 3600
    assert not schedule.restart_due(0, (limit - 301) * 1000, limit)
    assert schedule.restart_due(0, (limit - 300) * 1000, limit)


def test_next_wake_takes_a_margin_in_milliseconds_too() -> None:
    assert schedule.next_wake(86_400_000, 3 * 86_400_000, renew_margin_ms=1_500) == schedule.Wake(86_398_500, "renew")
    assert schedule.next_wake(86_400_000, 86_399_000, renew_margin_ms=500) == schedule.Wake(86_399_000, "end")
