"""Every Agora call of the agents and the transcriptions draws from the account's limiter in its lane: what a person
waits for (the APIs) INTERACTIVE, the lifecycle's and the restart's joins START, their leaves and the token renewal
STOP, the reconciler RECONCILE (docs/agents.md, "Limiter lanes"). Each entry point is built with ``create_app`` on a
real client against the emulator whose limiter (``LaneRecorder``) remembers the lane of each acquisition."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from agorakit.agora.convoai import ConvoAIClient
from agorakit.agora.ratelimit import Lane, current_lane
from agorakit.agora.stt import SttClient
from service.agents import api_handler, tasks_handler, usecases
from service.agents.fakes import InMemoryAgentStore, InMemoryHistory, RecordedEvents
from service.agents.profiles import parse_profiles
from service.agents.settings import AgentSettings
from service.transcriptions import handler as transcriptions_api
from service.transcriptions import logic, workflow_handler
from service.transcriptions.fakes import InMemoryTranscriptionStore
from service.transcriptions.settings import TranscriptionsSettings
from service.transcriptions.usecases import TranscriptionService

from emulator import Emulator
from tests.integration._emulator_fixtures import APP_ID, make_client, make_emulator, wait_until
from tests.integration.test_agents_usecases import PROFILES, Clock, Secrets
from tests.integration.test_emulator_convoai import CERT, token
from tests.support.apigw import FakeContext, http_api_event
from tests.support.lanes import LaneRecorder

ADMIN = {"sub": "admin-1", "cognito:groups": ["admins"]}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emulator:
        yield emulator


@pytest.fixture
def limiter() -> LaneRecorder:
    return LaneRecorder()


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = app(http_api_event(method, path, body=body, claims=ADMIN), FakeContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


# -------------------------------------------------------------------------------------------------- agents
@pytest.fixture
def agents(emu: Emulator, limiter: LaneRecorder) -> Iterator[usecases.AgentDeps]:
    emu.join("lanes-room", 1001)
    with make_client([emu.url], rate_limiter=limiter) as client:
        yield usecases.AgentDeps(store=InMemoryAgentStore(Clock()), agora=ConvoAIClient(client),
                                 history=InMemoryHistory(), events=RecordedEvents(),
                                 profiles=parse_profiles(PROFILES), mint_token=token, secrets=Secrets(),
                                 rng=random.Random(9), sleep=lambda s: None, reconcile_grace_seconds=0)  # fmt: skip


def test_every_agent_api_call_is_interactive(emu: Emulator, agents: usecases.AgentDeps, limiter: LaneRecorder):
    settings = AgentSettings(agora_app_id=APP_ID, agora_rest_secret_name="agora/rest", agents_table="agents")
    api = api_handler.create_app(settings, agents)
    status, agent = call(api, "POST", "/agents", {"channel": "lanes-room", "profile": "tutor", "remoteUids": [1001]})
    assert status == 201, agent
    assert limiter.take() == [Lane.INTERACTIVE]  # the join a person waits for
    assert wait_until(lambda: emu.agents_state()["agents"][-1]["status"] == "RUNNING")
    for envelope in emu.events():
        if envelope["productId"] == 17:
            usecases.apply_event(envelope, agents)
    assert call(api, "POST", f"/agents/{agent['agentId']}/speak", {"text": "Hello"})[0] == 202
    assert call(api, "POST", f"/agents/{agent['agentId']}/interrupt")[0] == 202
    assert call(api, "GET", "/agents")[0] == 200  # the table only: no Agora call, no slot taken
    status, ended = call(api, "DELETE", f"/agents/{agent['agentId']}")
    assert status == 200, ended
    lanes = limiter.take()
    assert len(lanes) >= 4 and set(lanes) == {Lane.INTERACTIVE}  # speak, interrupt, history, leave
    assert current_lane() is None  # the block ended with the request


def test_the_lifecycle_joins_renews_and_ends_in_start_and_stop(
    emu: Emulator, agents: usecases.AgentDeps, limiter: LaneRecorder
) -> None:
    agents.max_seconds = 7 * 86_400
    tasks = tasks_handler.create_app(agents)
    record = usecases.start_agent(usecases.parse_start({"channel": "lanes-room", "profile": "tutor",
                                                        "remoteUids": [1001], "maxDurationSeconds": 3 * 86_400},
                                                       requested_by="admin", deps=agents), agents)  # fmt: skip
    assert limiter.take() == [None]  # a use case called outside any entry point names no lane
    assert wait_until(lambda: emu.agents_state()["agents"][-1]["status"] == "RUNNING")
    first = tasks.lifecycle({"agentId": record.agent_id})  # reads Agora's state of a starting agent
    assert first["done"] is False and limiter.take() == [Lane.START]
    clock = agents.store._clock  # type: ignore[attr-defined]
    renewed_at = usecases.get_agent(record.agent_id, agents).token_expires_ms
    assert renewed_at is not None
    clock.now = (renewed_at - agents.renew_margin_seconds * 1000) / 1000
    tasks.lifecycle({"agentId": record.agent_id})
    assert usecases.get_agent(record.agent_id, agents).renewals == 1
    assert limiter.take() == [Lane.STOP]  # the renewal: RENEWAL_LANE
    clock.now = record.max_at_ms / 1000
    assert tasks.lifecycle({"agentId": record.agent_id})["done"] is True
    lanes = limiter.take()
    assert lanes and set(lanes) == {Lane.STOP}  # the history read and the leave at the hard maximum
    assert usecases.RENEWAL_LANE is Lane.STOP and usecases.END_LANE is Lane.STOP


def test_the_agents_reconciler_is_in_its_own_lane(emu: Emulator, agents: usecases.AgentDeps, limiter: LaneRecorder):
    usecases.start_agent(usecases.parse_start({"channel": "lanes-room", "profile": "studio", "remoteUids": [1001]},
                                              requested_by="admin", deps=agents), agents)  # fmt: skip
    limiter.take()
    report = tasks_handler.create_app(agents).reconcile({})
    assert report["kept"] >= 1
    lanes = limiter.take()
    assert lanes and set(lanes) == {Lane.RECONCILE}


# -------------------------------------------------------------------------------------------------- transcriptions
@pytest.fixture
def transcriptions(emu: Emulator, limiter: LaneRecorder) -> Iterator[TranscriptionService]:
    clock = Clock()
    with make_client([emu.url], rate_limiter=limiter) as client:
        yield TranscriptionService(InMemoryTranscriptionStore(clock), SttClient(client), clock,
                                   rng=random.Random(4), lifetime_ms=3_600_000, restart_margin_ms=600_000)  # fmt: skip


def test_every_transcription_api_call_is_interactive(
    emu: Emulator, transcriptions: TranscriptionService, limiter: LaneRecorder
) -> None:
    emu.join("lanes-tx", 2001)
    settings = TranscriptionsSettings(agora_app_id=APP_ID, agora_rest_secret_name="agora/rest",
                                      transcriptions_table="transcriptions")  # fmt: skip
    api = transcriptions_api.create_app(settings, transcriptions)
    status, started = call(api, "POST", "/transcriptions", {"channel": "lanes-tx", "languages": ["en-US"]})
    assert status == 201, started
    assert limiter.take() == [Lane.INTERACTIVE]
    assert wait_until(lambda: transcriptions.settle(started["id"]).status == logic.RUNNING)
    limiter.take()
    assert call(api, "PATCH", f"/transcriptions/{started['id']}", {"languages": ["en-US", "fr-FR"]})[0] == 200
    assert call(api, "GET", "/transcriptions")[0] == 200
    assert call(api, "DELETE", f"/transcriptions/{started['id']}")[0] == 200
    lanes = limiter.take()
    assert len(lanes) >= 2 and set(lanes) == {Lane.INTERACTIVE}  # the update, the leave (and the state read)


def test_the_restart_joins_in_start_and_the_old_agent_leaves_in_stop(
    emu: Emulator, transcriptions: TranscriptionService, limiter: LaneRecorder
) -> None:
    emu.join("lanes-tx2", 2002)
    from service.transcriptions.usecases import StartCommand

    started = transcriptions.start(StartCommand("lanes-tx2", ["en-US"]))
    assert wait_until(lambda: transcriptions.settle(started.id).status == logic.RUNNING)
    limiter.take()
    record = transcriptions.get(started.id)
    assert record.started_at_ms is not None
    transcriptions.clock.now = (record.started_at_ms + 3_600_000) / 1000  # type: ignore[attr-defined]
    answer = workflow_handler.create_app(transcriptions)({"transcriptionId": started.id})
    assert answer["done"] is False and transcriptions.get(started.id).generation == 1
    assert limiter.take() == [Lane.START, Lane.STOP]  # the next agent joins, then the old one leaves
    transcriptions.stop(started.id)


def test_the_transcriptions_reconciler_is_in_its_own_lane(
    emu: Emulator, transcriptions: TranscriptionService, limiter: LaneRecorder
) -> None:
    from service.transcriptions import reconciler_handler
    from service.transcriptions.usecases import StartCommand

    emu.join("lanes-tx3", 2003)
    started = transcriptions.start(StartCommand("lanes-tx3", ["en-US"]))
    assert wait_until(lambda: transcriptions.settle(started.id).status == logic.RUNNING)
    limiter.take()
    report = reconciler_handler.create_app(transcriptions)({})
    assert report["errors"] == 0
    lanes = limiter.take()
    assert lanes and set(lanes) == {Lane.RECONCILE}  # Agora's list (and any look at one agent)
    transcriptions.stop(started.id)
