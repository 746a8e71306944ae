"""``SttAgora``: ``fakes.FakeStt`` against ``SttClient`` talking to the emulator's Real-Time STT on loopback.

The same calls, answers and error classes: a join answers STARTING and the agent runs; a running name is 409
(``SttNameConflict``) and ``find_running`` finds it; ``sequenceId`` must increase; a stopped agent is 404 for
update and False for leave; an ended name may be joined again; list filters by channel and state.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

import pytest
from agorakit.agora.errors import AgoraNotFoundError, AgoraParameterError
from agorakit.agora.stt import SttClient, SttJoin, SttNameConflict
from service.recordings.fakes import FakeClock
from service.transcriptions.fakes import FakeStt
from service.transcriptions.ports import SttAgora

from tests.integration._emulator_fixtures import make_client, make_emulator, wait_until

BOT = 4_175_000_009
_channels = count(1)


@pytest.fixture(scope="module")
def emulator() -> Iterator[object]:
    emu = make_emulator(qps=10_000, time_scale=50.0)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def agora(backend: str, clock: FakeClock, request: pytest.FixtureRequest) -> SttAgora:
    if backend == "fake":
        return FakeStt(clock)
    emu = request.getfixturevalue("emulator")
    return SttClient(make_client([emu.url]))  # type: ignore[attr-defined]


def join(channel: str, name: str | None = None) -> SttJoin:
    return SttJoin(name=name or f"name-{channel}", channel=channel, languages=["en-US"], bot_uid=BOT,
                   max_idle_seconds=0)  # fmt: skip


def test_join_runs_and_a_running_name_is_a_conflict_found_by_listing(agora: SttAgora) -> None:
    channel = f"contract-stt-{next(_channels)}"
    agent = agora.join(join(channel))
    assert agent.status == "STARTING" and agent.agent_id
    assert wait_until(lambda: agora.get(agent.agent_id).status == "RUNNING")
    with pytest.raises(SttNameConflict):
        agora.join(join(channel))
    found = agora.find_running(f"name-{channel}", channel)
    assert found is not None and found.agent_id == agent.agent_id and found.name == f"name-{channel}"
    assert [a.agent_id for a in agora.list_agents(channel=channel)] == [agent.agent_id]
    assert agora.list_agents(channel=channel, state="STOPPED") == []
    assert agora.find_running("another-name", channel) is None
    agora.leave(agent.agent_id)


def test_sequence_ids_must_increase_and_an_update_changes_something(agora: SttAgora) -> None:
    channel = f"contract-stt-{next(_channels)}"
    agent = agora.join(join(channel))
    assert agora.update(agent.agent_id, 0, languages=["en-US", "fr-FR"]).agent_id == agent.agent_id
    agora.update(agent.agent_id, 3, subscribe_uids=[1001])
    for stale in (3, 2):
        with pytest.raises(AgoraParameterError):
            agora.update(agent.agent_id, stale, languages=["en-US"])
    with pytest.raises(AgoraParameterError):
        agora.update(agent.agent_id, 9)
    agora.leave(agent.agent_id)


def test_a_stopped_agent_is_gone_and_its_name_free(agora: SttAgora) -> None:
    channel = f"contract-stt-{next(_channels)}"
    agent = agora.join(join(channel))
    assert agora.leave(agent.agent_id) is True
    assert agora.get(agent.agent_id).status == "STOPPED"
    assert agora.leave(agent.agent_id) is False
    with pytest.raises(AgoraNotFoundError):
        agora.update(agent.agent_id, 1, languages=["en-US"])
    with pytest.raises(AgoraNotFoundError):
        agora.get("NO-SUCH-AGENT")
    assert [a.agent_id for a in agora.list_agents(channel=channel, state="STOPPED")] == [agent.agent_id]
    again = agora.join(join(channel))
    assert again.agent_id != agent.agent_id
    agora.leave(again.agent_id)
