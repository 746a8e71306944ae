"""``AdmissionStore``: ``fakes.InMemoryRecordingStore`` against ``repository.RecordingsRepository`` on moto.

The same answers for a creation held to the admission limits (a slot, a place in line, or nothing past the
cap), the queue's order and positions, an admission (once, within the limit), a queued recording stopped,
and a slot given back exactly once. One table per case: the counters are one item of the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import count
from typing import Any

import pytest
from service.recordings import logic
from service.recordings.fakes import FakeClock, InMemoryRecordingStore
from service.recordings.record import Recording
from service.recordings.repository import Admission, ConditionFailed

from tests.contract.conftest import RECORDINGS_TABLE, create_recordings_table

_ids = count(1)
LIMITS = Admission(max_tasks=2, queue_cap=2)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    """One moto (and its client) for the module; each case gets its own table below."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def store(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[Any]:
    if backend == "fake":
        yield InMemoryRecordingStore(clock)
        return
    from service.recordings.repository import RecordingsRepository

    ddb = request.getfixturevalue("dynamodb")
    create_recordings_table(ddb)
    yield RecordingsRepository(RECORDINGS_TABLE, client=ddb, clock=clock)
    ddb.delete_table(TableName=RECORDINGS_TABLE)


def recording() -> Recording:
    n = next(_ids)
    return Recording(
        recording_id=f"00000000-0000-4000-8000-{n:012d}", channel=f"room{n}", mode="mix", status=logic.REQUESTED,
        active_status=logic.REQUESTED, created_at=1_700_000_000_000 + n, updated_at=1,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{n}",
    )  # fmt: skip


def test_slots_then_a_line_then_nothing(store: Any) -> None:
    recs = [recording() for _ in range(5)]
    kinds = [store.create(r, response={"status": "REQUESTED"}, admission=LIMITS).kind for r in recs]
    assert kinds == ["created", "created", "queued", "queued", "full"]
    assert [store.get(r.recording_id).status for r in recs[:4]] == [logic.REQUESTED] * 2 + [logic.QUEUED] * 2
    assert store.get(recs[0].recording_id).slot_held and not store.get(recs[2].recording_id).slot_held
    assert store.get(recs[4].recording_id) is None and store.lock_holder(recs[4].channel) is None
    assert store.admission_counts() == (2, 2)
    assert [store.queue_position(store.get(r.recording_id)) for r in recs[2:4]] == [1, 2]
    assert [r.recording_id for r in store.queue(10)] == [recs[2].recording_id, recs[3].recording_id]


def test_creations_in_one_millisecond_get_their_own_places_in_line(store: Any) -> None:
    limits = Admission(max_tasks=2, queue_cap=5)
    for _ in range(2):
        store.create(recording(), admission=limits)
    same_ms = [replace(recording(), created_at=1_800_000_000_000) for _ in range(3)]
    for r in reversed(same_ms):  # created in the other order: the line is (createdAt, recordingId)
        assert store.create(r, admission=limits).kind == "queued"
    assert [store.queue_position(store.get(r.recording_id)) for r in same_ms] == [1, 2, 3]
    assert [r.recording_id for r in store.queue(10)] == [r.recording_id for r in same_ms]


def test_a_queued_replay_says_queued(store: Any) -> None:
    for _ in range(2):
        store.create(recording(), admission=LIMITS)
    rec = recording()
    first = store.create(
        rec, idempotency_scope="s1", fingerprint="f", response={"status": "REQUESTED"}, admission=LIMITS
    )
    again = store.create(
        rec, idempotency_scope="s1", fingerprint="f", response={"status": "REQUESTED"}, admission=LIMITS
    )
    assert (first.kind, again.kind, again.response) == ("queued", "replay", {"status": "QUEUED"})
    assert store.admission_counts() == (2, 1)


def test_nobody_jumps_the_line_while_it_is_not_empty(store: Any) -> None:
    a, b, c, d = (recording() for _ in range(4))
    for rec in (a, b, c):
        store.create(rec, admission=LIMITS)
    assert store.release_slot(a.recording_id)  # a slot is free, but c waits ahead
    assert store.create(d, admission=LIMITS).kind == "queued"
    admitted = store.admit(c.recording_id, LIMITS.max_tasks)
    assert admitted is not None and (admitted.status, admitted.active_status) == (logic.REQUESTED, logic.REQUESTED)
    assert admitted.slot_held and admitted.admitted_at is not None
    assert store.admit(d.recording_id, LIMITS.max_tasks) is None  # no slot: nothing written
    assert store.get(d.recording_id).status == logic.QUEUED and store.admission_counts() == (2, 1)
    with pytest.raises(ConditionFailed):
        store.admit(c.recording_id, LIMITS.max_tasks)  # admitted once


def test_a_queued_recording_stopped_leaves_the_line_and_a_slot_comes_back_once(store: Any) -> None:
    a, b, c = (recording() for _ in range(3))
    for rec in (a, b, c):
        store.create(rec, admission=LIMITS)
    stopped = store.cancel_queued(c.recording_id, "api")
    assert stopped is not None and (stopped.status, stopped.outcome, stopped.stop_reason) == (
        logic.STOPPED, logic.OUTCOME_NOT_STARTED, "api",
    )  # fmt: skip
    assert stopped.active_status is None and store.cancel_queued(c.recording_id, "api") is None
    assert store.cancel_queued(a.recording_id, "api") is None  # not queued: stopped like any other
    assert store.admission_counts() == (2, 0)
    assert store.release_slot(a.recording_id) and not store.release_slot(a.recording_id)
    assert not store.release_slot(c.recording_id)  # never held one
    assert store.admission_counts() == (1, 0)
