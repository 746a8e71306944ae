"""``/agents*`` (service.agents.api_handler) in process, with API Gateway v2 events, over the real ConvoAIClient and
the emulator: who may call, precise 4xx for every malformed input, and the whole life of an agent."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from agorakit.agora.convoai import ConvoAIClient
from service.agents import api_handler, usecases
from service.agents.fakes import InMemoryAgentStore, InMemoryHistory, RecordedEvents
from service.agents.profiles import parse_profiles
from service.agents.settings import AgentSettings

from emulator import Emulator
from tests.integration._emulator_fixtures import APP_ID, make_client, make_emulator, wait_until
from tests.integration.test_agents_usecases import PROFILES, Secrets
from tests.integration.test_emulator_convoai import CERT, token

CONTEXT = SimpleNamespace(function_name="agents", function_version="$LATEST", memory_limit_in_mb=256,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:agents",
                          aws_request_id="req-1")  # fmt: skip


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emulator:
        emulator.join("room", 1001)
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[api_handler.AgentsApi]:
    settings = AgentSettings(agora_app_id=APP_ID, agora_rest_secret_name="agora/rest", agents_table="agents",
                             agents_group="teachers")  # fmt: skip
    with make_client([emu.url]) as agora:
        deps = usecases.AgentDeps(store=InMemoryAgentStore(), agora=ConvoAIClient(agora), history=InMemoryHistory(),
                                  events=RecordedEvents(), profiles=parse_profiles(PROFILES), mint_token=token,
                                  secrets=Secrets(), rng=random.Random(3), sleep=lambda s: None)  # fmt: skip
        yield api_handler.create_app(settings, deps)


def call(api: Any, method: str, path: str, *, body: Any = None, raw: str | None = None, query: dict | None = None,
         groups: str | None = "[admins]") -> tuple[int, Any]:  # fmt: skip
    claims: dict[str, Any] = {"sub": "user-1"}
    if groups is not None:
        claims["cognito:groups"] = groups
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": urlencode(query or {}),
        "queryStringParameters": {k: str(v) for k, v in (query or {}).items()} or None,
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path, "sourceIp": "198.51.100.7"}, "stage": "$default",
                           "authorizer": {"jwt": {"claims": claims, "scopes": None}}},
        "body": raw if raw is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }  # fmt: skip
    response = api(event, CONTEXT)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


START = {"channel": "room", "profile": "tutor", "remoteUids": [1001]}


def test_the_life_of_an_agent_through_the_api(emu: Emulator, api: Any) -> None:
    status, agent = call(api, "POST", "/agents", body=START)
    assert status == 201 and agent["state"] == "STARTING" and agent["botUid"] >= 4_100_000_000
    assert "llm" not in json.dumps(agent) and "sk-llm-secret-42" not in json.dumps(agent)
    status, again = call(api, "POST", "/agents", body=START)
    assert status == 409 and again["error"]["details"]["agentId"] == agent["agentId"]
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    for envelope in emu.events():
        if envelope["productId"] == 17:
            usecases.apply_event(envelope, api.deps)
    status, shown = call(api, "GET", f"/agents/{agent['agentId']}")
    assert status == 200 and shown["state"] == "RUNNING" and shown["lastError"] is None
    assert call(api, "POST", f"/agents/{agent['agentId']}/speak", body={"text": "Hello class"})[0] == 202
    assert call(api, "POST", f"/agents/{agent['agentId']}/interrupt")[0] == 202
    status, listed = call(api, "GET", "/agents", query={"channel": "room", "active": "true"})
    assert status == 200 and [a["agentId"] for a in listed["agents"]] == [agent["agentId"]]
    status, ended = call(api, "DELETE", f"/agents/{agent['agentId']}")
    assert status == 200 and ended["state"] == "STOPPING" and ended["history"]["turns"] >= 1


@pytest.mark.parametrize(
    ("method", "path", "kw", "expected"),
    [("POST", "/agents", {"raw": "{"}, 400), ("POST", "/agents", {"raw": "[]"}, 422),
     ("POST", "/agents", {}, 422), ("POST", "/agents", {"body": {**START, "llm": {}}}, 422),
     ("POST", "/agents", {"body": {**START, "profile": "x"}}, 400),
     ("GET", "/agents/nothex", {}, 400), ("GET", "/agents/" + "a" * 24, {}, 404),
     ("POST", "/agents/" + "a" * 24 + "/speak", {"body": {"text": "x" * 600}}, 422),
     ("POST", "/agents/" + "a" * 24 + "/speak", {"body": {"text": "hi"}}, 404),
     ("DELETE", "/agents/" + "a" * 24, {}, 404), ("GET", "/agents", {"query": {"channel": "a/b"}}, 400),
     ("GET", "/agents", {"query": {"colour": "red"}}, 400)],
)  # fmt: skip
def test_precise_4xx(api: Any, method: str, path: str, kw: dict[str, Any], expected: int) -> None:
    status, body = call(api, method, path, **kw)
    assert status == expected and body["error"]["message"]


def test_only_admins_or_the_agents_group(api: Any) -> None:
    assert call(api, "GET", "/agents", groups="[viewers]")[0] == 403
    assert call(api, "GET", "/agents", groups=None)[0] == 403
    assert call(api, "GET", "/agents", groups="[teachers]")[0] == 200
