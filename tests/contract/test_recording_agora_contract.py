"""``RecordingAgora``: ``fakes.FakeRecordingAgora`` against ``AgoraClient`` talking to the emulator on loopback.

The same calls, the same answers and the same error classes (the workflow's Retry/Catch match on them):
a resource starts one task; a second start is 201/7; a second recorder with the channel's uid is 53; a
stopped task is gone for query (404) and for stop ("gone"); a kicking rule takes the recorder out.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest
from agorakit.agora.errors import AgoraAlreadyStartedError, AgoraConflictError, AgoraNotFoundError, AgoraParameterError
from service.recordings.fakes import FakeClock, FakeRecordingAgora
from service.recordings.ports import RecordingAgora

from tests.integration._emulator_fixtures import make_client, make_emulator, storage

UID = 4_000_000_001
_channels = count(1)


@pytest.fixture(scope="module")
def emulator() -> Iterator[object]:
    emu = make_emulator(qps=10_000)  # the cases, not the QPS limit (tests/integration covers that)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def agora(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> RecordingAgora:
    if backend == "fake":
        return FakeRecordingAgora(clock)
    emu = request.getfixturevalue("emulator")
    return make_client([emu.url])  # type: ignore[attr-defined]


@pytest.fixture
def channel() -> str:
    return f"contract{next(_channels)}"


def started(agora: RecordingAgora, channel: str, uid: int = UID) -> tuple[str, str]:
    resource = agora.acquire(channel, uid)
    result = agora.start(resource, channel, uid, "mix", token=None, storage_config=storage())
    assert result.resource_id == resource and result.sid
    return resource, result.sid


def test_acquire_gives_a_new_resource_each_time(agora: RecordingAgora, channel: str) -> None:
    first, second = agora.acquire(channel, UID), agora.acquire(channel, UID)
    assert first and second and first != second


def test_a_started_recorder_runs_and_sits_in_the_channel(agora: RecordingAgora, channel: str) -> None:
    resource, sid = started(agora, channel)
    agora.query(resource, sid, "mix")  # no error: it runs
    assert agora.user_status(channel, UID)["in_channel"] is True


def test_a_second_start_on_the_resource_is_already_started(agora: RecordingAgora, channel: str) -> None:
    resource, _ = started(agora, channel)
    with pytest.raises(AgoraAlreadyStartedError):
        agora.start(resource, channel, UID, "mix", token=None, storage_config=storage())


def test_a_second_recorder_with_the_same_uid_in_the_channel_conflicts(agora: RecordingAgora, channel: str) -> None:
    started(agora, channel)
    other = agora.acquire(channel, UID)
    with pytest.raises(AgoraConflictError):
        agora.start(other, channel, UID, "mix", token=None, storage_config=storage())


def test_a_resource_starts_only_the_channel_and_uid_it_was_acquired_for(agora: RecordingAgora, channel: str) -> None:
    resource = agora.acquire(channel, UID)
    with pytest.raises(AgoraParameterError):
        agora.start(resource, channel, UID + 1, "mix", token=None, storage_config=storage())


def test_a_stopped_task_is_gone_for_query_and_stop(agora: RecordingAgora, channel: str) -> None:
    resource, sid = started(agora, channel)
    first = agora.stop(resource, sid, channel, UID, "mix")
    assert first.outcome == "empty"  # nobody published: nothing was uploaded (206/435)
    assert agora.stop(resource, sid, channel, UID, "mix").outcome == "gone"
    with pytest.raises(AgoraNotFoundError):
        agora.query(resource, sid, "mix")
    assert agora.user_status(channel, UID)["in_channel"] is False


def test_a_kicking_rule_removes_the_recorder_and_ends_its_task(agora: RecordingAgora, channel: str) -> None:
    resource, sid = started(agora, channel)
    rule = agora.create_kicking_rule(channel, uid=UID, seconds=60)
    assert isinstance(rule, int)
    assert agora.user_status(channel, UID)["in_channel"] is False
    with pytest.raises(AgoraNotFoundError):
        agora.query(resource, sid, "mix")
    agora.delete_kicking_rule(rule)


def test_nobody_is_in_an_unknown_channel(agora: RecordingAgora, channel: str) -> None:
    assert agora.user_status(channel, UID) == {"in_channel": False, "role": None, "join": None, "platform": None}
