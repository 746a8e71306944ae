"""``TranscriptionStore``: ``fakes.InMemoryTranscriptionStore`` against ``TranscriptionsRepository`` on moto.

One active transcription per channel (released at its end), conditional moves, an atomically increased
``sequenceId`` only while updatable, configurations stored newest-first, agent pointers, files as a set,
listing newest first per channel with a cursor, and the running cap (``transcriptionsMaxRunning``): at most
``max_running`` places held, each given back exactly once by the move that ends its transcription.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from service.recordings.fakes import FakeClock
from service.transcriptions import logic
from service.transcriptions.fakes import InMemoryTranscriptionStore
from service.transcriptions.ports import AtCapacity, ChannelBusy, ConditionFailed, TranscriptionStore
from service.transcriptions.record import Transcription
from service.transcriptions.repository import TranscriptionsRepository, create_table

TABLE = "contract-transcriptions"


@pytest.fixture
def store(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> Iterator[TranscriptionStore]:
    if backend == "fake":
        yield InMemoryTranscriptionStore(clock)
        return
    request.getfixturevalue("aws")
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, TABLE)
    yield TranscriptionsRepository(TABLE, client=client, clock=clock)


def record(tid: str, channel: str = "room", created: int = 1_000) -> Transcription:
    return Transcription(id=tid, channel=channel, status=logic.REQUESTED, languages=("en-US",),
                         bot_uid=4_175_000_001, created_at_ms=created, status_at_ms=created,
                         translate={"en-US": ("fr-FR",)}, uid_languages={1001: ("ja-JP",)})  # fmt: skip


def test_one_active_transcription_per_channel_until_it_ends(store: TranscriptionStore) -> None:
    store.create(record("t1"))
    assert store.get("t1") == record("t1")
    with pytest.raises(ChannelBusy) as busy:
        store.create(record("t2"))
    assert busy.value.holder == "t1"
    with pytest.raises(ConditionFailed):
        store.create(record("t1", channel="elsewhere"))
    store.move("t1", logic.REQUESTED, logic.FAILED, 2_000, error="boom")
    ended = store.get("t1")
    assert (
        ended is not None and ended.status == logic.FAILED and ended.ended_at_ms == 2_000 and ended.last_error == "boom"
    )
    store.create(record("t2"))
    assert store.get("t2") is not None


def test_moves_are_conditional_on_the_state_read(store: TranscriptionStore) -> None:
    store.create(record("t1"))
    with pytest.raises(ConditionFailed) as lost:
        store.move("t1", logic.RUNNING, logic.STOPPING, 5)
    assert lost.value.item is not None and lost.value.item.status == logic.REQUESTED
    with pytest.raises(ConditionFailed) as missing:
        store.move("nope", logic.RUNNING, logic.STOPPING, 5)
    assert missing.value.item is None


def test_agents_attach_by_generation_and_are_found_by_id(store: TranscriptionStore) -> None:
    store.create(record("t1"))
    first = store.attach_agent("t1", "A0", 0, 1_500)
    assert (first.status, first.agent_id, first.agents, first.started_at_ms) == (logic.STARTING, "A0", ("A0",), 1_500)
    assert store.attach_agent("t1", "A0", 0, 1_600).agents == ("A0",)  # repeated: unchanged
    store.move("t1", logic.STARTING, logic.RUNNING, 1_700)
    second = store.attach_agent("t1", "A1", 1, 9_000)
    assert (second.status, second.agent_id, second.generation, second.agents) == (logic.RUNNING, "A1", 1, ("A0", "A1"))
    assert second.started_at_ms == 9_000
    with pytest.raises(ConditionFailed):
        store.attach_agent("t1", "A9", 0, 9_500)  # an older generation never takes over
    found = store.by_agent("A0")
    assert found is not None and found.id == "t1"
    assert store.by_agent("unknown") is None


def test_the_current_agents_token_expiry_is_stored_once_known(store: TranscriptionStore) -> None:
    store.create(record("t1"))
    by_notice = store.attach_agent("t1", "A0", 0, 1_500)  # a notice beat the join's answer: no token known
    assert by_notice.token_expires_ms is None
    assert store.attach_agent("t1", "A0", 0, 1_600, 86_401_000).token_expires_ms == 86_401_000  # the join's answer
    renewed = store.attach_agent("t1", "A1", 1, 80_000_000, 166_400_000)  # the next generation's fresh token
    assert (renewed.agent_id, renewed.token_expires_ms) == ("A1", 166_400_000)
    assert store.attach_agent("t1", "A0", 1, 80_000_500, 1).token_expires_ms == 166_400_000  # an old agent: never
    untokened = store.attach_agent("t1", "A2", 2, 90_000_000)  # a generation without a certificate: no expiry
    assert untokened.token_expires_ms is None
    loaded = store.get("t1")
    assert loaded is not None and loaded.token_expires_ms is None


def test_active_lists_every_transcription_not_ended_oldest_first(store: TranscriptionStore) -> None:
    for n in range(4):
        store.create(record(f"t{n}", channel=f"room-{n}", created=1_000 + n))
    store.attach_agent("t1", "A1", 0, 1_500)
    store.move("t2", logic.REQUESTED, logic.FAILED, 2_000, error="boom")
    store.move("t3", logic.REQUESTED, logic.STOPPING, 2_000)
    assert [t.id for t in store.active()] == ["t0", "t1", "t3"]


def test_sequence_ids_increase_only_while_updatable_and_configs_keep_the_newest(store: TranscriptionStore) -> None:
    store.create(record("t1"))
    with pytest.raises(ConditionFailed):
        store.next_sequence("t1")  # REQUESTED: not yet
    store.attach_agent("t1", "A0", 0, 1_500)
    assert [store.next_sequence("t1") for _ in range(3)] == [0, 1, 2]
    assert store.save_config("t1", 2, languages=["es-ES"], subscribe_uids=[7], translate={"es-ES": ["en-US"]})
    assert not store.save_config("t1", 1, languages=["de-DE"])
    got = store.get("t1")
    assert got is not None
    assert (got.languages, got.subscribe_uids, got.translate, got.applied_sequence) == (
        ("es-ES",), (7,), {"es-ES": ("en-US",)}, 2)  # fmt: skip
    store.move("t1", logic.STARTING, logic.STOPPED, 3_000)
    with pytest.raises(ConditionFailed):
        store.next_sequence("t1")


def test_files_are_a_set_and_lists_are_newest_first_with_a_cursor(store: TranscriptionStore) -> None:
    for i in range(5):
        store.create(record(f"t{i}", channel=f"room{i % 2}", created=1_000 + i))
        store.move(f"t{i}", logic.REQUESTED, logic.STOPPED, 1_100 + i)  # frees the channel for the next
    store.add_files("t1", ["b.vtt", "a.json"])
    store.add_files("t1", ["a.json"])
    got = store.get("t1")
    assert got is not None and got.files == ("a.json", "b.vtt")
    assert [t.id for t in store.list(channel="room0")[0]] == ["t4", "t2", "t0"]
    page, cursor = store.list(limit=2)
    assert [t.id for t in page] == ["t4", "t3"] and cursor
    rest, _ = store.list(limit=10, cursor=cursor)
    assert [t.id for t in rest] == ["t2", "t1", "t0"]


def test_the_running_cap_holds_and_each_end_gives_one_place_back_once(store: TranscriptionStore) -> None:
    store.create(record("c1", channel="cap-1"), max_running=2)
    store.create(record("c2", channel="cap-2"), max_running=2)
    assert store.running() == 2
    with pytest.raises(AtCapacity) as full:
        store.create(record("c3", channel="cap-3"), max_running=2)
    assert full.value.limit == 2 and store.get("c3") is None  # nothing written, the channel not locked
    with pytest.raises(ChannelBusy):  # the channel's lock is told first: a 409 says more than a 429
        store.create(record("c4", channel="cap-1"), max_running=2)
    store.move("c1", logic.REQUESTED, logic.STARTING, 2_000)
    assert store.running() == 2  # a move between live states keeps the place
    stopped = store.move("c1", logic.STARTING, logic.STOPPED, 3_000, reason="api")
    assert stopped.status == logic.STOPPED and stopped.stop_reason == "api" and store.running() == 1
    with pytest.raises(ConditionFailed):  # a second ender that read STARTING: refused, nothing given back twice
        store.move("c1", logic.STARTING, logic.FAILED, 3_500)
    assert store.running() == 1
    store.create(record("c3", channel="cap-3"), max_running=2)  # the place came back
    assert store.running() == 2
    store.move("c2", logic.REQUESTED, logic.FAILED, 4_000, error="Agora 422")
    store.move("c3", logic.REQUESTED, logic.STOPPED, 4_000)
    assert store.running() == 0
    store.create(record("c5", channel="cap-1"))  # no cap asked: still counted
    assert store.running() == 1
