"""``AgentStore``: ``fakes.InMemoryAgentStore`` against ``repository.AgentsRepository`` on moto. The same cases, the
same answers: one exclusive agent per (channel, profile), the slot released when the agent ends (and taken over
from an ended holder), saves conditional on the version, the Agora-id index, listing by channel and activity."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest
from service.agents.fakes import InMemoryAgentStore
from service.agents.ports import AgentStore, SlotTaken, StaleRecord
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
    assert got == mine.with_(version=0)
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
