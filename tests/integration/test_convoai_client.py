"""ConvoAIClient (agorakit.agora.convoai) against the emulator over HTTP: typed answers, Agora's status codes as our
error classes, the ambiguous 504 retried into a 409 that says ``maybe_executed``, leave of a gone agent, the list
walked page by page, and the account limiter consulted on every call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agorakit.agora import LocalTokenBucket
from agorakit.agora.convoai import ConvoAIClient, JoinRequest
from agorakit.agora.errors import (
    AgoraConflictError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraServerError,
)

from emulator import Emulator
from tests.integration._emulator_fixtures import make_client, make_emulator, wait_until
from tests.integration.test_emulator_convoai import AGENT_UID, CERT, token

LLM = {"url": "https://llm.example/v1/chat/completions", "api_key": "sk-client-test", "system_messages": []}
TTS = {"vendor": "microsoft", "params": {"key": "tts-key", "region": "eastus"}}


def request(name: str, channel: str = "room", uid: int = AGENT_UID, **kw: object) -> JoinRequest:
    options: dict[str, object] = {"llm": LLM, "tts": TTS, "asr": {"language": "en-US"}, "remote_uids": [1001]}
    options.update(kw)
    return JoinRequest(name=name, channel=channel, token=token(channel, uid), agent_uid=uid, **options)  # type: ignore[arg-type]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emulator:
        yield emulator


class CountingBucket(LocalTokenBucket):
    def __init__(self) -> None:
        super().__init__(1000, 1000)
        self.taken = 0

    def acquire(self, tokens: int = 1) -> None:  # type: ignore[override]
        self.taken += tokens
        super().acquire(tokens)


@pytest.fixture
def limiter() -> CountingBucket:
    return CountingBucket()


@pytest.fixture
def convo(emu: Emulator, limiter: CountingBucket) -> Iterator[ConvoAIClient]:
    with make_client([emu.url], rate_limiter=limiter) as agora:
        yield ConvoAIClient(agora)


def test_join_query_speak_history_leave(emu: Emulator, convo: ConvoAIClient, limiter: CountingBucket) -> None:
    emu.join("room", 1001)
    started = convo.join(request("agent-c1"))
    assert started.status == "STARTING" and started.agent_id
    assert wait_until(lambda: convo.query(started.agent_id).status == "RUNNING", interval=0.15)
    convo.speak(started.agent_id, "Hello there")
    convo.interrupt(started.agent_id)
    history = convo.history(started.agent_id)
    assert [t.role for t in history.turns if t.content == "Hello there"] == ["assistant"]
    convo.update_token(started.agent_id, token("room", expire=7200))
    assert convo.leave(started.agent_id) is True
    assert wait_until(lambda: convo.query(started.agent_id).status == "STOPPED", interval=0.15)
    assert convo.leave(started.agent_id) is False  # 404: already gone
    with pytest.raises(AgoraNotFoundError):
        convo.history(started.agent_id)
    assert limiter.taken >= 8  # every call took a slot of the account's limiter


def test_the_request_refuses_what_agora_would(convo: ConvoAIClient) -> None:
    with pytest.raises(AgoraParameterError):
        request("x", remote_uids=[]).body()
    with pytest.raises(AgoraParameterError):
        request("x", llm=None).body()
    assert "llm" not in request("x", llm=None, tts=None, pipeline_id="pl-1").body()["properties"]
    with pytest.raises(AgoraParameterError):
        convo.speak("A1", "x" * 513)
    assert "sk-client-test" not in repr(request("x"))


def test_a_504_after_the_effect_becomes_a_409_that_may_have_executed(emu: Emulator, convo: ConvoAIClient) -> None:
    emu.set_faults(script=["504_after@agent.join"])
    with pytest.raises(AgoraConflictError) as caught:
        convo.join(request("agent-amb"))
    assert caught.value.maybe_executed
    [listed] = list(convo.list_all(channel="room"))
    assert listed.name == "agent-amb" and listed.status in ("STARTING", "RUNNING")
    assert emu.agents_state()["overlaps"] == []


def test_quota_and_503(emu: Emulator, convo: ConvoAIClient) -> None:
    emu.configure_agents(max_agents=0)
    with pytest.raises(AgoraServerError) as caught:
        convo.join(request("agent-q"))
    assert caught.value.http_status == 422 and caught.value.retryable
    emu.configure_agents(max_agents=20)
    emu.set_faults(script=["503@agent.join"])
    assert convo.join(request("agent-q")).agent_id  # 503 is retried: nothing had started


def test_list_all_walks_every_page_in_every_state(emu: Emulator, convo: ConvoAIClient) -> None:
    emu.configure_agents(agent_start_seconds=10_000)
    ids = {convo.join(request(f"agent-p{i}", uid=AGENT_UID + i)).agent_id for i in range(7)}
    assert {a.agent_id for a in convo.list_all(channel="room", limit=3)} == ids  # STARTING: found (all states)
    assert list(convo.list_all(channel="room", states=("RUNNING",))) == []
    with pytest.raises(AgoraParameterError):
        convo.list_page(states=("DANCING",))
