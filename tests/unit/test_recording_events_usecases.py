"""``service.recordings.events`` against the fakes: NCS notices applied in any order, twice, or late, end in the
state the in-order history gives; an exit ends the wait once; an unknown sid names a starting recorder."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

import pytest
from service.recordings import logic
from service.recordings.events import apply_recording_event
from service.recordings.record import Recording

from tests.unit.recording_world import World, world

SEED = 19


@pytest.fixture
def w() -> World:
    return world()


def notice(rec: Recording, event_type: int, sequence: int | None, **details: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "cname": rec.channel, "uid": str(rec.recorder_uid), "sid": rec.sid,
        "sendts": 1_700_000_000_000 + (sequence or 0), "serviceType": 0, "details": details,
    }  # fmt: skip
    if sequence is not None:
        payload["sequence"] = sequence
    return {"noticeId": uuid.uuid4().hex, "productId": 3, "eventType": event_type, "notifyMs": 1, "payload": payload}


def apply(w: World, *notices: dict[str, Any]) -> None:
    for n in notices:
        apply_recording_event(n, repo=w.store, workflow=w.workflow)


def started(w: World) -> Recording:
    rec = w.store.get(w.recording_started())
    assert rec is not None
    return rec


def history(rec: Recording) -> list[dict[str, Any]]:
    sid = rec.sid
    return [
        notice(rec, 4, 1, fileList=f"{sid}_room.m3u8"),
        notice(rec, 31, 2, fileList=[{"fileName": f"{sid}_room_0.ts"}]),
        notice(rec, 12, 3, newUid=4_000_000_100),
        notice(rec, 1, 4, module=1, errorLevel=3, errorCode=52, errorMsg="upload slow"),
        notice(rec, 33, 5, progress=5000),
        notice(rec, 32, 6, fileList=[{"fileName": f"{sid}_room_1.ts"}]),
        notice(rec, 12, 7, newUid=4_000_000_200),
        notice(rec, 33, 8, progress=10000),
        notice(rec, 41, 9, leaveCode=2),
    ]


def facts(rec: Recording | None) -> tuple[object, ...]:
    assert rec is not None
    return (rec.file_names, rec.upload.status, rec.upload.progress, rec.bot_uid, rec.leave_reasons,
            rec.agora_errors, rec.last_sequence)  # fmt: skip


def test_the_in_order_history_sets_every_fact(w: World) -> None:
    rec = started(w)
    apply(w, *history(rec))
    after = w.store.get(rec.recording_id)
    assert after is not None
    assert after.file_names == {f"{rec.sid}_room.m3u8", f"{rec.sid}_room_0.ts", f"{rec.sid}_room_1.ts"}
    assert (after.upload.status, after.upload.progress, after.bot_uid) == ("backuped", 10000, 4_000_000_200)
    assert after.agora_errors is not None and after.agora_errors["4"].code == 52
    assert after.leave_reasons and after.last_sequence == 9


@pytest.mark.parametrize("shuffle", range(5))
def test_any_order_with_duplicates_ends_where_the_in_order_history_does(shuffle: int) -> None:
    ordered, mixed = world(), world()
    rec_a, rec_b = started(ordered), started(mixed)
    apply(ordered, *history(rec_a))
    events = history(rec_b)
    deliveries = [n for n in events for _ in range(2)]  # every notice delivered twice
    random.Random(SEED + shuffle).shuffle(deliveries)
    apply(mixed, *deliveries)
    a, b = facts(ordered.store.get(rec_a.recording_id)), facts(mixed.store.get(rec_b.recording_id))
    sid_a, sid_b = str(rec_a.sid), str(rec_b.sid)
    assert {n.replace(sid_b, sid_a) for n in b[0]} == a[0]  # type: ignore[attr-defined]
    assert b[1:] == a[1:]


def test_a_stale_event_moves_nothing(w: World) -> None:
    rec = started(w)
    apply(w, notice(rec, 12, 10, newUid=4_000_000_300))
    before = w.store.items[rec.recording_id]["updatedAt"]
    w.clock.advance(5)
    apply(w, notice(rec, 12, 8, newUid=4_000_000_400))
    after = w.store.get(rec.recording_id)
    assert after is not None and after.bot_uid == 4_000_000_300 and after.updated_at == before


def test_an_exit_ends_the_wait_once_however_often_it_comes(w: World) -> None:
    rec = started(w)
    exits = [notice(rec, 11, 20, exitStatus=0)] * 3
    apply(w, *exits)
    after = w.store.get(rec.recording_id)
    assert after is not None and after.stop_requested == logic.REASON_RECORDER_EXITED and after.exit_status == 0
    assert w.workflow.tokens[str(rec.task_token)] == logic.REASON_RECORDER_EXITED


def test_an_event_for_an_unknown_sid_names_the_starting_recorder(w: World) -> None:
    from agorakit.agora.errors import AgoraServerError

    recording_id = w.create("room")
    w.step("acquire", recording_id)
    w.agora.fail("start", AgoraServerError("gateway timeout", http_status=504))
    w.step("start", recording_id)
    starting = w.store.get(recording_id)
    assert starting is not None and starting.sid is None
    named = Recording(**{**starting.__dict__, "sid": "sid-from-ncs"})
    apply(w, notice(named, 40, 1, msgName="recorder_started"))
    after = w.store.get(recording_id)
    assert after is not None and after.candidate_sid == "sid-from-ncs"
    other = Recording(**{**named.__dict__, "recorder_uid": (named.recorder_uid or 0) + 1, "sid": "someone-else"})
    apply(w, notice(other, 40, 1, msgName="recorder_started"))
    assert w.store.get(recording_id).candidate_sid == "sid-from-ncs"  # type: ignore[union-attr]


def test_malformed_or_foreign_notices_change_nothing(w: World) -> None:
    rec = started(w)
    before = dict(w.store.items[rec.recording_id])
    rtc = {**notice(rec, 4, 1, fileList="x.m3u8"), "productId": 1}
    for bad in ({}, {"productId": 3}, rtc, {**notice(rec, 4, 1), "payload": "nope"}):
        apply(w, bad)
    assert w.store.items[rec.recording_id] == before
    assert list(itertools.chain(w.workflow.tokens.values())) == [None]
