"""The running caps through the APIs (``POST /agents``, ``POST /transcriptions``) on the DynamoDB repositories (moto)
and the emulator: past ``agentsMaxRunning`` / ``transcriptionsMaxRunning`` a start is a 429 with ``Retry-After`` and
nothing is written; each way an agent or a transcription ends (leave and its NCS 102, the reconciler, Agora's 422 at
the start, a stop) gives its place back once, and the next start gets it. Agora's own limit (the emulator's 422 past
``max_agents``) is a 429 too, with the FAILED record named."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from agorakit.agora.convoai import ConvoAIClient
from agorakit.agora.stt import SttClient
from moto import mock_aws
from service.agents import api_handler, tasks_handler, usecases
from service.agents.fakes import InMemoryHistory, RecordedEvents
from service.agents.profiles import parse_profiles
from service.agents.repository import TABLE_KEYS, AgentsRepository
from service.agents.settings import AgentSettings
from service.transcriptions import handler as transcriptions_api
from service.transcriptions import logic
from service.transcriptions.repository import TranscriptionsRepository, create_table
from service.transcriptions.settings import TranscriptionsSettings
from service.transcriptions.usecases import TranscriptionService

from emulator import Emulator
from tests.integration._emulator_fixtures import APP_ID, make_client, make_emulator, wait_until
from tests.integration.test_agents_usecases import PROFILES, Secrets
from tests.integration.test_emulator_convoai import CERT, token
from tests.support.apigw import FakeContext, http_api_event

ADMIN = {"sub": "admin-1", "cognito:groups": ["admins"]}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emulator:
        for channel, uid in (("cap-a", 1001), ("cap-b", 1002), ("cap-c", 1003)):
            emulator.join(channel, uid)
        yield emulator


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    response = app(http_api_event(method, path, body=body, claims=ADMIN), FakeContext())
    text = response.get("body")
    return response["statusCode"], json.loads(text) if text else None, response.get("headers") or {}


# -------------------------------------------------------------------------------------------------- agents
@pytest.fixture
def agents(emu: Emulator, ddb: Any) -> Iterator[tuple[api_handler.AgentsApi, usecases.AgentDeps]]:
    ddb.create_table(TableName="cap-agents", BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
    settings = AgentSettings(agora_app_id=APP_ID, agora_rest_secret_name="agora/rest", agents_table="cap-agents",
                             agents_max_running=2)  # fmt: skip
    with make_client([emu.url]) as client:
        deps = usecases.AgentDeps(store=AgentsRepository("cap-agents", client=ddb), agora=ConvoAIClient(client),
                                  history=InMemoryHistory(), events=RecordedEvents(),
                                  profiles=parse_profiles(PROFILES), mint_token=token, secrets=Secrets(),
                                  rng=random.Random(21), sleep=lambda s: None, reconcile_grace_seconds=0,
                                  max_running=settings.agents_max_running)  # fmt: skip
        yield api_handler.create_app(settings, deps), deps


def deliver_ncs(emu: Emulator, deps: usecases.AgentDeps, agent_id: str) -> None:
    """The product-17 notices of one agent (the others' are lost: the reconciler's case below)."""
    record = deps.store.get(agent_id)
    assert record is not None and record.agora_agent_id
    for envelope in emu.events():
        if envelope["productId"] == 17 and (envelope.get("payload") or {}).get("agent_id") == record.agora_agent_id:
            usecases.apply_event(envelope, deps)


def start_body(channel: str, uid: int) -> dict[str, Any]:
    return {"channel": channel, "profile": "tutor", "remoteUids": [uid]}


def test_past_the_agents_cap_a_start_is_429_until_one_ends(
    emu: Emulator, agents: tuple[api_handler.AgentsApi, usecases.AgentDeps]
) -> None:
    api, deps = agents
    first = call(api, "POST", "/agents", start_body("cap-a", 1001))
    second = call(api, "POST", "/agents", start_body("cap-b", 1002))
    assert (first[0], second[0]) == (201, 201), (first, second)
    status, refused, headers = call(api, "POST", "/agents", start_body("cap-c", 1003))
    assert status == 429 and headers.get("Retry-After") == "30", (refused, headers)
    assert "at most 2 agents" in refused["error"]["message"] and refused["error"]["details"] == {"maxRunning": 2}
    assert len(emu.agents_state()["agents"]) == 2 and deps.store.running() == 2  # nothing asked of Agora
    assert [a.channel for a in deps.store.list(channel="cap-c")] == []  # nor written

    # the leave: STOPPING holds the place (Agora still runs it) until NCS 102 says it ended
    assert call(api, "DELETE", f"/agents/{first[1]['agentId']}")[1]["state"] == "STOPPING"
    assert deps.store.running() == 2
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "STOPPED")
    deliver_ncs(emu, deps, first[1]["agentId"])
    assert deps.store.get(first[1]["agentId"]).state == "STOPPED"  # type: ignore[union-attr]
    assert deps.store.running() == 1
    deliver_ncs(emu, deps, first[1]["agentId"])  # the same notices again (Agora repeats them): nothing given back twice
    assert deps.store.running() == 1
    third = call(api, "POST", "/agents", start_body("cap-c", 1003))
    assert third[0] == 201, third

    # Agora ends one and its 102 is lost: the reconciler ends ours and gives the place back
    agora_id = deps.store.get(second[1]["agentId"]).agora_agent_id  # type: ignore[union-attr]
    assert agora_id is not None
    emu.world.agent_fail_now(agora_id, "vendor down")
    report = tasks_handler.create_app(deps).reconcile({})
    assert second[1]["agentId"] in report["ended"] and deps.store.running() == 1
    assert call(api, "POST", "/agents", start_body("cap-b", 1002))[0] == 201


def test_agoras_quota_is_a_429_naming_the_failed_agent_and_its_place_comes_back(
    emu: Emulator, agents: tuple[api_handler.AgentsApi, usecases.AgentDeps]
) -> None:
    api, deps = agents
    emu.configure_agents(max_agents=0)  # Agora's limit below ours: its 422
    status, refused, headers = call(api, "POST", "/agents", start_body("cap-a", 1001))
    assert status == 429 and headers.get("Retry-After") == "30", refused
    assert "quota" in refused["error"]["message"] and refused["error"]["details"]["agoraHttpStatus"] == 422
    shown = call(api, "GET", f"/agents/{refused['error']['details']['agentId']}")[1]
    assert shown["state"] == "FAILED" and shown["lastError"]["httpStatus"] == 422
    assert deps.store.running() == 0
    emu.configure_agents(max_agents=20)
    assert call(api, "POST", "/agents", start_body("cap-a", 1001))[0] == 201  # the channel's slot is free too


# -------------------------------------------------------------------------------------------------- transcriptions
@pytest.fixture
def transcriptions(emu: Emulator, ddb: Any) -> Iterator[tuple[transcriptions_api.TranscriptionsApi, Any]]:
    create_table(ddb, "cap-transcriptions")
    settings = TranscriptionsSettings(agora_app_id=APP_ID, agora_rest_secret_name="agora/rest",
                                      transcriptions_table="cap-transcriptions",
                                      transcriptions_max_running=1)  # fmt: skip
    store = TranscriptionsRepository("cap-transcriptions", client=ddb)
    with make_client([emu.url]) as client:
        service = TranscriptionService(store, SttClient(client), time.time, rng=random.Random(8),
                                       max_running=settings.transcriptions_max_running)  # fmt: skip
        yield transcriptions_api.create_app(settings, service), service


def test_past_the_transcriptions_cap_a_start_is_429_until_one_ends(
    emu: Emulator, transcriptions: tuple[transcriptions_api.TranscriptionsApi, TranscriptionService]
) -> None:
    api, service = transcriptions
    status, first, _ = call(api, "POST", "/transcriptions", {"channel": "cap-a", "languages": ["en-US"]})
    assert status == 201, first
    status, refused, headers = call(api, "POST", "/transcriptions", {"channel": "cap-b", "languages": ["en-US"]})
    assert status == 429 and headers.get("Retry-After") == "30", refused
    assert "at most 1 transcriptions" in refused["error"]["message"]
    assert len([a for a in emu.stt_history() if a["channel"] == "cap-b"]) == 0 and service.store.running() == 1
    assert wait_until(lambda: service.settle(first["id"]).status == logic.RUNNING)
    call(api, "DELETE", f"/transcriptions/{first['id']}")
    assert wait_until(lambda: service.settle(first["id"]).status == logic.STOPPED)
    assert service.store.running() == 0
    assert call(api, "POST", "/transcriptions", {"channel": "cap-b", "languages": ["en-US"]})[0] == 201


def test_agoras_stt_quota_is_a_429_naming_the_failed_transcription(
    emu: Emulator, transcriptions: tuple[transcriptions_api.TranscriptionsApi, TranscriptionService]
) -> None:
    api, service = transcriptions
    emu.stt_configure(max_agents=0)
    status, refused, headers = call(api, "POST", "/transcriptions", {"channel": "cap-c", "languages": ["en-US"]})
    assert status == 429 and headers.get("Retry-After") == "30", refused
    assert refused["error"]["details"]["agora_http_status"] == 422 and "quota" in refused["error"]["message"]
    failed = call(api, "GET", f"/transcriptions/{refused['error']['details']['transcription_id']}")[1]
    assert failed["status"] == "FAILED" and "422" in failed["last_error"]
    assert service.store.running() == 0
    emu.stt_configure(max_agents=50)
    assert call(api, "POST", "/transcriptions", {"channel": "cap-c", "languages": ["en-US"]})[0] == 201
