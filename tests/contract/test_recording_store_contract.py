"""``RecordingStore``: ``fakes.InMemoryRecordingStore`` against ``repository.RecordingsRepository`` on moto.

The same cases, the same answers: the statuses ``logic.TRANSITIONS`` allows and no other, one recording per
channel, the Idempotency-Key, the first stop reason, the operation lock, event ordering by sequence, and the
bounded sets and maps NCS events fill.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from service.recordings import logic
from service.recordings.fakes import FakeClock, InMemoryRecordingStore
from service.recordings.ports import RecordingStore
from service.recordings.record import CdnOutput, EventEntry, Recording, Resolution, StartResolution
from service.recordings.repository import CLEANUP, ConditionFailed

from tests.contract.conftest import RECORDINGS_TABLE, create_recordings_table

_ids = count(1)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[object]:
    """One moto (and its client) for the module."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table(dynamodb: Any) -> Iterator[object]:
    """An empty table per case, dropped after it. moto's ``TransactWriteItems`` deep-copies the whole table
    before it writes (its rollback), so on one table shared by the module each creation cost as much as every row
    the earlier cases had left (a cProfile of five cases: 194 creations, 20 of 53 s, mostly ``copy.deepcopy``)."""
    create_recordings_table(dynamodb)
    yield dynamodb
    dynamodb.delete_table(TableName=RECORDINGS_TABLE)


@pytest.fixture
def store(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> RecordingStore:
    if backend == "fake":
        return InMemoryRecordingStore(clock)
    from service.recordings.repository import RecordingsRepository

    return RecordingsRepository(RECORDINGS_TABLE, client=request.getfixturevalue("table"), clock=clock)


def recording(status: str = logic.REQUESTED, *, channel: str | None = None, **fields: object) -> Recording:
    n = next(_ids)
    active = status if logic.is_active(status) else None
    base: dict[str, object] = {
        "recording_id": f"00000000-0000-4000-8000-{n:012d}", "channel": channel or f"room{n}", "mode": "mix",
        "status": status, "active_status": active, "created_at": 1_700_000_000_000 + n, "updated_at": 1,
        "agora_errors": {}, "agora_warnings": {},
    }  # fmt: skip
    return Recording(**{**base, **fields})  # type: ignore[arg-type]


def created(store: RecordingStore, rec: Recording) -> Recording:
    assert store.create(rec).kind == "created"
    return rec


def test_a_recording_reads_back_as_it_was_created(store: RecordingStore) -> None:
    rec = created(store, recording(cdn_urls=("rtmp://a/1",), cdn_outputs={}, config_json='{"web": {"url": "x"}}'))
    assert store.get(rec.recording_id) == rec
    assert store.get("00000000-0000-4000-8000-999999999999") is None


def test_the_transcription_link_and_its_error_are_written_and_cleared(store: RecordingStore) -> None:
    rec = created(store, recording(logic.RECORDING))
    store.link_transcription(rec.recording_id, None, "the channel is already transcribed")
    got = store.get(rec.recording_id)
    assert (
        got is not None
        and got.transcription_id is None
        and got.transcription_error == "the channel is already transcribed"
    )
    store.link_transcription(rec.recording_id, "ab" * 16, "the transcription did not stop: 503")
    got = store.get(rec.recording_id)
    assert got is not None and (got.transcription_id, got.transcription_error) == (
        "ab" * 16,
        "the transcription did not stop: 503",
    )
    store.link_transcription(rec.recording_id, "ab" * 16, None)  # a stop that succeeded: the error is gone
    got = store.get(rec.recording_id)
    assert got is not None and (got.transcription_id, got.transcription_error) == ("ab" * 16, None)
    with pytest.raises(ConditionFailed):  # an unknown recording is not created by it
        store.link_transcription("00000000-0000-4000-8000-999999999998", "cd" * 16, None)


@pytest.mark.parametrize("source", [*logic.TRANSITIONS])
def test_only_the_moves_transitions_allow_are_written(store: RecordingStore, source: str) -> None:
    for target in logic.TRANSITIONS:
        rec = created(store, recording(source))
        if not logic.sources_of(target):
            with pytest.raises(ValueError, match="nothing may move"):
                store.transition(rec.recording_id, target)
            continue
        if logic.can_transition(source, target):
            moved = store.transition(rec.recording_id, target, set_={"stopReason": "api"})
            assert (moved.status, moved.stop_reason) == (target, "api")
            assert moved.active_status == (target if logic.is_active(target) else None)
        else:
            with pytest.raises(ConditionFailed) as lost:
                store.transition(rec.recording_id, target)
            assert lost.value.item is not None and lost.value.item.status == source
            assert store.get(rec.recording_id) == rec  # nothing written, not even updatedAt


def test_a_transition_of_an_unknown_recording_fails_without_an_item(store: RecordingStore) -> None:
    with pytest.raises(ConditionFailed) as lost:
        store.transition("00000000-0000-4000-8000-999999999998", logic.STARTING)
    assert lost.value.item is None


def test_one_active_recording_per_channel_and_a_stale_lock_is_taken_over(store: RecordingStore) -> None:
    first = created(store, recording(channel="shared"))
    second = recording(channel="shared")
    outcome = store.create(second)
    assert (outcome.kind, outcome.active_recording_id) == ("busy", first.recording_id)
    assert store.lock_holder("shared") == first.recording_id
    store.transition(first.recording_id, logic.FAILED)  # over, but its lock was never released
    assert store.create(second).kind == "created"
    assert store.lock_holder("shared") == second.recording_id


def test_a_failed_recording_whose_recorder_is_unconfirmed_keeps_its_channel(store: RecordingStore) -> None:
    first = created(store, recording(channel="kept"))
    store.transition(first.recording_id, logic.FAILED)
    store.mark_cleanup(first.recording_id, "not confirmed")
    assert [r.recording_id for r in store.list_active((CLEANUP,))] == [first.recording_id]
    assert store.create(recording(channel="kept")).kind == "busy"
    store.end_cleanup(first.recording_id, "gone")
    assert store.list_active((CLEANUP,)) == []
    assert store.release_lock("kept", "someone-else") is False
    assert store.release_lock("kept", first.recording_id) is True
    assert store.lock_holder("kept") is None


def test_the_idempotency_key_replays_refuses_another_body_and_expires(store: RecordingStore, clock: FakeClock) -> None:
    body = {"recording_id": "first", "status": "REQUESTED"}
    first = recording()
    assert store.create(first, idempotency_scope="k", fingerprint="f1", response=body).kind == "created"
    replay = store.create(recording(), idempotency_scope="k", fingerprint="f1", response={"other": 1})
    assert (replay.kind, replay.response) == ("replay", body)
    assert store.create(recording(), idempotency_scope="k", fingerprint="f2").kind == "mismatch"
    clock.advance(24 * 3600 + 1)
    assert store.create(recording(), idempotency_scope="k", fingerprint="f2").kind == "created"


def test_a_withdrawn_key_is_free_again(store: RecordingStore) -> None:
    first = recording()
    store.create(first, idempotency_scope="w", fingerprint="f")
    store.delete_idempotency("w", "not-the-owner")
    assert store.create(recording(), idempotency_scope="w", fingerprint="f").kind == "replay"
    store.delete_idempotency("w", first.recording_id)
    assert store.create(recording(), idempotency_scope="w", fingerprint="f").kind == "created"


def test_the_first_stop_reason_wins_and_an_ended_recording_is_not_asked(store: RecordingStore) -> None:
    rec = created(store, recording(logic.RECORDING, sid="s1", resource_id="r", recorder_uid=7))
    item, recorded = store.request_stop(rec.recording_id, "api")
    assert recorded and item is not None and item.stop_requested == "api"
    item, recorded = store.request_stop(rec.recording_id, "reconciler")
    assert not recorded and item is not None and item.stop_requested == "api"
    over = created(store, recording(logic.STOPPED))
    item, recorded = store.request_stop(over.recording_id, "api")
    assert not recorded and item is not None and item.stop_requested is None
    assert store.request_stop("00000000-0000-4000-8000-999999999997", "api") == (None, False)


def test_the_wait_parks_only_while_active(store: RecordingStore) -> None:
    rec = created(store, recording(logic.RECORDING))
    assert store.park_wait(rec.recording_id, "token-1").task_token == "token-1"
    over = created(store, recording(logic.FAILED))
    with pytest.raises(ConditionFailed):
        store.park_wait(over.recording_id, "token-2")


def test_the_operation_lock_is_one_holder_until_it_expires(store: RecordingStore, clock: FakeClock) -> None:
    starting = created(store, recording(logic.STARTING))
    with pytest.raises(ConditionFailed):
        store.take_op_lock(starting.recording_id, "a", 30)
    rec = created(store, recording(logic.RECORDING, sid="s2"))
    assert store.take_op_lock(rec.recording_id, "a", 30).op_lock == "a"
    with pytest.raises(ConditionFailed) as lost:
        store.take_op_lock(rec.recording_id, "b", 30)
    assert lost.value.item is not None and lost.value.item.op_lock == "a"
    clock.advance(31)
    assert store.take_op_lock(rec.recording_id, "b", 30).op_lock == "b"
    assert store.release_op_lock(rec.recording_id, "a") is False
    assert store.release_op_lock(rec.recording_id, "b") is True
    assert store.get(rec.recording_id).op_lock is None  # type: ignore[union-attr]


def test_fields_move_only_with_a_newer_sequence(store: RecordingStore) -> None:
    rec = created(store, recording(logic.RECORDING))
    rid = rec.recording_id
    assert store.set_if_newer(rid, "exitSeq", None, {"exitStatus": 1}) is True  # nothing set it yet
    assert store.set_if_newer(rid, "exitSeq", 5, {"exitStatus": 0}) is True
    assert store.set_if_newer(rid, "exitSeq", 3, {"exitStatus": 1}) is False
    assert store.set_if_newer(rid, "exitSeq", 5, {"exitStatus": 1}) is False
    assert store.set_if_newer(rid, "exitSeq", None, {"exitStatus": 1}) is False
    assert store.set_if_newer(rid, "exitSeq", 7, {"exitStatus": 1}) is True
    after = store.get(rid)
    assert after is not None and (after.exit_status, after.exit_seq) == (1, 7)
    assert store.set_if_newer("00000000-0000-4000-8000-999999999996", "exitSeq", 1, {"exitStatus": 0}) is False


def test_sets_and_maps_of_events_stay_bounded(store: RecordingStore) -> None:
    rid = created(store, recording(logic.RECORDING)).recording_id
    store.add_file_names(rid, {"a.m3u8"})
    store.add_file_names(rid, {"a.m3u8", "b.ts"})
    store.add_postponed_files(rid, {"x.mp4"})
    assert [store.add_snapshot(rid, n, max_files=2) for n in ("1.jpg", "2.jpg", "1.jpg", "3.jpg")] == [
        True, True, True, False,
    ]  # fmt: skip
    entry = EventEntry(module=1, level=3, code=52, message="m", sequence=1, at=5)
    assert [store.put_event_entry(rid, "agoraErrors", k, entry, max_entries=2) for k in "1213"] == [
        True, True, True, False,
    ]  # fmt: skip
    after = store.get(rid)
    assert after is not None
    assert after.file_names == {"a.m3u8", "b.ts"} and after.postponed.files == {"x.mp4"}
    assert after.snapshot_files == {"1.jpg", "2.jpg"} and after.snapshots_truncated
    assert after.agora_errors == {"1": entry, "2": entry} and after.agora_warnings == {}


def test_cdn_reports_are_ordered_per_address_on_recordings_that_push(store: RecordingStore) -> None:
    plain = created(store, recording(logic.RECORDING)).recording_id
    report = CdnOutput(url="rtmp://a/1", status="publishing", at=9)
    assert store.set_cdn_status(plain, "k1", report, 1, max_entries=2) is False
    rid = created(store, recording(logic.RECORDING, cdn_urls=("rtmp://a/1",), cdn_outputs={})).recording_id
    assert store.set_cdn_status(rid, "k1", report, 2, max_entries=2) is True
    assert store.set_cdn_status(rid, "k1", report, 1, max_entries=2) is False
    assert store.set_cdn_status(rid, "k1", report, None, max_entries=2) is False
    assert store.set_cdn_status(rid, "k2", report, None, max_entries=2) is True
    assert store.set_cdn_status(rid, "k3", report, 1, max_entries=2) is False  # the map is full
    store.set_cdn_urls(rid, ["rtmp://b/2"])
    after = store.get(rid)
    assert after is not None and after.cdn_urls == ("rtmp://b/2",)
    assert after.cdn_outputs == {"k1": CdnOutput(url="rtmp://a/1", status="publishing", at=9, seq=2), "k2": report}
    with pytest.raises(ConditionFailed):
        store.set_cdn_urls(plain, ["rtmp://b/2"])


def test_an_unknown_start_is_resolved_on_the_item(store: RecordingStore) -> None:
    rec = created(store, recording(logic.STARTING, channel="cand", resource_id="r", recorder_uid=7))
    rid = rec.recording_id
    state = StartResolution(type="AgoraServerError", code=None, http_status=504, since=10)
    store.mark_start_unknown(rid, state)
    store.mark_start_unknown(rid, StartResolution(since=99))  # one already under way: kept
    assert store.get(rid).start_resolution == state  # type: ignore[union-attr]
    assert store.offer_candidate_sid("cand", 8, "sid-x") is False  # another recorder
    assert store.offer_candidate_sid("nobody", 7, "sid-x") is False  # no recording holds that channel
    assert store.offer_candidate_sid("cand", 7, "sid-x") is True
    kicked = StartResolution(since=10, exists=True, rule_id=4, kicked_at=11)
    store.update_start_resolution(rid, kicked)
    assert store.get(rid).start_resolution == kicked  # type: ignore[union-attr]
    removed = Resolution(outcome="removed", reason="kicked", at=12, recorder_uid=7, rule_id=4, rule_lifted=True)
    store.finish_start_resolution(rid, [removed])
    after = store.get(rid)
    assert after is not None and after.start_resolution is None and after.candidate_sid is None
    assert after.resolutions == (removed,)
    adopted = Resolution(outcome="adopted", reason="query", at=13, sid="sid-y")
    moved = store.adopt(rid, "sid-y", [removed, adopted])
    assert (moved.status, moved.sid, moved.resolutions) == (logic.RECORDING, "sid-y", (removed, adopted))
    with pytest.raises(ConditionFailed):
        store.adopt(rid, "sid-z", [])  # only from STARTING
    store.keep_sid(rid, "sid-z", 14)
    assert store.by_sid("sid-z") is not None and store.by_sid("sid-z").started_at == 14  # type: ignore[union-attr]
    assert store.mark_checked(rid, seen=True) is True


def test_a_reconciler_check_is_recorded_without_touching_updated_at(store: RecordingStore) -> None:
    rec = created(store, recording(logic.RECORDING, sid="sid-checked"))
    assert store.mark_checked(rec.recording_id) is True
    plain = store.get(rec.recording_id)
    assert plain is not None and plain.reconciled_at == store.now_ms()
    assert (plain.updated_at, plain.last_seen_at, plain.execution_seen_at) == (1, None, None)
    assert store.mark_checked(rec.recording_id, seen=True, execution_running=True) is True
    both = store.get(rec.recording_id)
    assert both is not None and both.last_seen_at == both.execution_seen_at == both.reconciled_at
    assert both.updated_at == 1  # a check is not a change: the stale rule reads updatedAt
    done = created(store, recording(logic.STOPPED))
    assert store.mark_checked(done.recording_id) is False  # no longer active: nothing to check
    assert store.get(done.recording_id) == done


def test_listings_by_channel_newest_first_in_pages_and_the_active_ones(store: RecordingStore) -> None:
    recs = [created(store, recording(logic.STOPPED, channel=f"list{i}")) for i in range(3)]
    # the same channel for all: a stale lock is taken over each time
    listed = [created(store, recording(logic.FAILED, channel="paged")) for _ in range(5)]
    seen: list[str] = []
    start = None
    while True:
        page, start = store.list_by_channel("paged", limit=2, start_key=start)
        assert len(page) <= 2
        seen.extend(r.recording_id for r in page)
        if not start:
            break
    assert seen == [r.recording_id for r in reversed(listed)]
    live = created(store, recording(logic.RECORDING))
    active = {r.recording_id for r in store.list_active()}
    assert live.recording_id in active and not active & {r.recording_id for r in [*recs, *listed]}
    assert [r.recording_id for r in store.list_active((logic.RECORDING,)) if r.recording_id == live.recording_id]


def test_the_active_ones_are_found_on_every_status_shard_and_under_the_old_unsharded_key(
    backend: str, store: RecordingStore, request: pytest.FixtureRequest
) -> None:
    """``byStatus`` is write-sharded (``status_key``): 64 RECORDING rows land on many index partitions and
    ``list_active`` reads them all; a row written before sharding (bare ``RECORDING``) is still found, and
    its next status change moves it to its shard."""
    from service.recordings.repository import STATUS_SHARDS, status_key

    live = [created(store, recording(logic.RECORDING)) for _ in range(64)]
    found = {r.recording_id: r for r in store.list_active((logic.RECORDING,))}
    assert {r.recording_id for r in live} <= set(found)
    assert all(found[r.recording_id].active_status == logic.RECORDING for r in live)
    if backend == "fake":
        return
    ddb = request.getfixturevalue("table")
    keys = {status_key(logic.RECORDING, r.recording_id) for r in live}
    assert len(keys) > STATUS_SHARDS // 2  # spread, not one partition

    def stored_key(recording_id: str) -> str:
        item = ddb.get_item(TableName=RECORDINGS_TABLE, Key={"pk": {"S": f"REC#{recording_id}"}})["Item"]
        return str(item["activeStatus"]["S"])

    assert {stored_key(r.recording_id) for r in live} == keys
    old = created(store, recording(logic.RECORDING))
    ddb.update_item(
        TableName=RECORDINGS_TABLE,
        Key={"pk": {"S": f"REC#{old.recording_id}"}},
        UpdateExpression="SET activeStatus = :bare",
        ExpressionAttributeValues={":bare": {"S": logic.RECORDING}},
    )
    assert old.recording_id in {r.recording_id for r in store.list_active((logic.RECORDING,))}
    store.transition(old.recording_id, logic.STOPPING)
    assert stored_key(old.recording_id) == status_key(logic.STOPPING, old.recording_id)
    assert old.recording_id in {r.recording_id for r in store.list_active((logic.STOPPING,))}


@pytest.mark.parametrize("parts", [16, 4, 3])
def test_a_part_of_the_active_ones_is_exactly_the_rows_hashed_to_it(
    backend: str, store: RecordingStore, request: pytest.FixtureRequest, parts: int
) -> None:
    """A reconciler shard's ``list_active(part=(i, n))``: the parts are disjoint and together every row; when n
    divides the index's 16 write shards, a part reads only its own index partitions (and the unsharded key)."""
    import zlib

    live = {created(store, recording(logic.RECORDING)).recording_id for _ in range(40)}
    seen: list[str] = []
    for index in range(parts):
        mine = [r.recording_id for r in store.list_active((logic.RECORDING,), part=(index, parts))]
        assert all(zlib.crc32(i.encode()) % parts == index for i in mine)
        seen.extend(mine)
    assert len(seen) == len(set(seen)) and live <= set(seen)
    with pytest.raises(ValueError, match="need 0 <= part < parts"):
        store.list_active(part=(parts, parts))
    if backend == "fake":
        return
    ddb = request.getfixturevalue("table")
    queried: list[str] = []

    def count(params: dict[str, object], **_: object) -> None:
        values = params.get("ExpressionAttributeValues") or {}
        queried.append(str(values))

    ddb.meta.events.register("provide-client-params.dynamodb.Query", count)
    try:
        store.list_active((logic.RECORDING,), part=(0, parts))
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.Query", count)
    assert len(queried) == (16 // parts + 1 if 16 % parts == 0 else 17)


@pytest.mark.parametrize("parts", [1, 16, 3])
def test_queued_rows_are_one_ordered_partition_read_whole_or_by_part(
    backend: str, store: RecordingStore, request: pytest.FixtureRequest, parts: int
) -> None:
    """``QUEUED`` is not write-sharded (the admission queue reads it oldest first in one query): listing it, whole
    or a reconciler shard's part, reads that one key (it once parsed ``QUEUED`` as a shard number: a 500 on
    ``GET /recordings``)."""
    import zlib

    queued = {created(store, recording(logic.QUEUED, active_status=logic.QUEUED)).recording_id for _ in range(6)}
    seen: list[str] = []
    for index in range(parts):
        mine = [r.recording_id for r in store.list_active((logic.QUEUED,), part=(index, parts))]
        assert all(zlib.crc32(i.encode()) % parts == index for i in mine)
        seen.extend(mine)
    assert len(seen) == len(set(seen)) and queued <= set(seen)
    if backend == "fake":
        return
    from service.recordings.repository import status_key

    ddb = request.getfixturevalue("table")
    rid = next(iter(queued))
    item = ddb.get_item(TableName=RECORDINGS_TABLE, Key={"pk": {"S": f"REC#{rid}"}})["Item"]
    assert item["activeStatus"]["S"] == status_key(logic.QUEUED, rid) == logic.QUEUED
