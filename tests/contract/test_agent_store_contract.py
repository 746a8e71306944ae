"""``AgentStore``: ``fakes.InMemoryAgentStore`` against ``repository.AgentsRepository`` on moto. The same cases, the
same answers: one exclusive agent per (channel, profile), the slot released when the agent ends (and taken over
from an ended holder), saves conditional on the version, the Agora-id index, listing by channel and activity."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest
from service.agents.fakes import InMemoryAgentStore
from service.agents.ports import AgentStore, AtCapacity, SlotTaken, StaleRecord
from service.agents.record import AgentError, AgentRecord
from service.agents.repository import TABLE_KEYS
from service.channeltasks import lifecycle

AGENTS_TABLE = "contract-agents"
_ids = count(1)


@pytest.fixture(scope="module")
def table() -> Iterator[object]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName=AGENTS_TABLE, BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
        yield ddb


@pytest.fixture
def store(backend: str, table: object) -> AgentStore:
    if backend == "fake":
        return InMemoryAgentStore()
    from service.agents.repository import AgentsRepository

    return AgentsRepository(AGENTS_TABLE, client=table)


def record(channel: str, profile: str = "tutor", *, exclusive: bool = True) -> AgentRecord:
    n = next(_ids)
    return AgentRecord(agent_id=f"a{n:04d}", channel=channel, profile=profile, name=f"agent-a{n:04d}",
                       bot_uid=4_100_000_000 + n, remote_uids=(1001, 1002), idle_timeout=30, max_at_ms=10_000,
                       created_ms=n, requested_by="admin", exclusive=exclusive)  # fmt: skip


def test_create_get_and_round_trip(store: AgentStore) -> None:
    mine = record("c-round")
    store.create(mine)
    got = store.get(mine.agent_id)
    assert got == mine.with_(version=0, counted=True)
    error = AgentError("start", "boom", 5, http_status=504, code=None)
    saved = store.save(got.with_(state=lifecycle.STARTING, agora_agent_id="AG1" + mine.agent_id, last_error=error))
    assert saved.version == 1 and store.get(mine.agent_id) == saved
    assert store.by_agora_id("AG1" + mine.agent_id) == saved
    assert store.by_agora_id("nobody") is None and store.get("nobody") is None


def test_one_exclusive_agent_per_channel_and_profile(store: AgentStore) -> None:
    first = record("c-slot")
    store.create(first)
    with pytest.raises(SlotTaken) as caught:
        store.create(record("c-slot"))
    assert caught.value.holder == first.agent_id
    store.create(record("c-slot", "other"))  # another profile
    store.create(record("c-slot", exclusive=False))  # asked otherwise
    current = store.get(first.agent_id)
    assert current is not None
    store.save(current.with_(state=lifecycle.STOPPED))  # ending releases the slot
    store.create(record("c-slot"))


def test_saves_are_conditional_on_the_version(store: AgentStore) -> None:
    mine = record("c-version")
    store.create(mine)
    read_once = store.get(mine.agent_id)
    assert read_once is not None
    store.save(read_once.with_(state=lifecycle.STARTING))
    with pytest.raises(StaleRecord) as caught:
        store.save(read_once.with_(state=lifecycle.FAILED))  # a writer that read before the first save
    assert caught.value.current is not None and caught.value.current.state == lifecycle.STARTING


def test_list_by_channel_and_activity(store: AgentStore) -> None:
    a, b = record("c-list"), record("c-list", "other")
    store.create(a)
    store.create(b)
    store.create(record("c-elsewhere"))
    current = store.get(b.agent_id)
    assert current is not None
    store.save(current.with_(state=lifecycle.FAILED))
    assert [r.agent_id for r in store.list(channel="c-list")] == [a.agent_id, b.agent_id]
    assert [r.agent_id for r in store.list(channel="c-list", active_only=True)] == [a.agent_id]


@pytest.fixture
def fresh(backend: str, table: object) -> AgentStore:
    """A store of its own (its own table on the real side): the running count starts at 0."""
    if backend == "fake":
        return InMemoryAgentStore()
    from service.agents.repository import AgentsRepository

    name = f"contract-agents-cap-{next(_ids)}"
    table.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)  # type: ignore[attr-defined]
    return AgentsRepository(name, client=table)


def end(store: AgentStore, agent_id: str, state: str = lifecycle.STOPPED) -> AgentRecord:
    current = store.get(agent_id)
    assert current is not None
    return store.save(current.with_(state=state))


def test_the_running_cap_holds_and_each_end_gives_one_place_back_once(fresh: AgentStore) -> None:
    a, b = record("c-cap-1"), record("c-cap-2", exclusive=False)
    fresh.create(a, max_running=2)
    fresh.create(b, max_running=2)
    assert fresh.running() == 2
    third = record("c-cap-3")
    with pytest.raises(AtCapacity) as caught:
        fresh.create(third, max_running=2)
    assert caught.value.limit == 2 and fresh.get(third.agent_id) is None  # nothing written
    with pytest.raises(SlotTaken):  # the channel's slot is told first: a 409 says more than a 429
        fresh.create(record("c-cap-1"), max_running=2)
    ended = end(fresh, a.agent_id, lifecycle.FAILED)
    assert not ended.counted and fresh.running() == 1
    fresh.save(ended.with_(history_key="k", history_turns=2))  # a later save of the ended record: nothing more
    assert fresh.running() == 1
    fresh.create(third, max_running=2)  # the place came back
    assert fresh.running() == 2 and fresh.get(third.agent_id).counted  # type: ignore[union-attr]


def test_a_stale_end_gives_nothing_back(fresh: AgentStore) -> None:
    mine = record("c-cap-stale")
    fresh.create(mine, max_running=5)
    read_once = fresh.get(mine.agent_id)
    assert read_once is not None
    fresh.save(read_once.with_(state=lifecycle.STOPPED))
    with pytest.raises(StaleRecord):  # a second ender that read before the first: refused, no second release
        fresh.save(read_once.with_(state=lifecycle.FAILED))
    assert fresh.running() == 0


def test_without_a_cap_every_agent_still_counts(fresh: AgentStore) -> None:
    agents = [record(f"c-nocap-{n}") for n in range(3)]
    for one in agents:
        fresh.create(one)
    assert fresh.running() == 3
    for one in agents:
        end(fresh, one.agent_id)
    assert fresh.running() == 0


def test_concurrent_starts_never_pass_the_cap(fresh: AgentStore) -> None:
    """Eight starts at once for three places: exactly three are written, the others refused, none lost."""
    from concurrent.futures import ThreadPoolExecutor

    from local.patches import serialized_dynamodb

    candidates = [record(f"c-race-{n}") for n in range(8)]

    def attempt(one: AgentRecord) -> bool:
        try:
            fresh.create(one, max_running=3)
        except AtCapacity:
            return False
        return True

    # moto takes no lock: a cancelled transaction restores a deep copy of the table and undoes a concurrent one's
    # writes. DynamoDB makes each request atomic; serialized_dynamodb gives moto that (as the local stack runs it)
    with serialized_dynamodb(), ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, candidates))
    assert outcomes.count(True) == 3 and fresh.running() == 3
    written = [one.agent_id for one in candidates if fresh.get(one.agent_id) is not None]
    assert written == [one.agent_id for one, ok in zip(candidates, outcomes, strict=True) if ok]
