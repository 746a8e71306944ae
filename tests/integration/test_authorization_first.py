"""Authorization before validation, on every route (issue 21, item 7): a caller outside the route's group gets
403 whatever the body, path or query, never the 422 or 400 that would tell them how to shape a request they may
not make. The routes come from docs/openapi.json, so a new route is covered the day it is documented.

A refused caller must be refused before AWS or Agora is touched: AWS is moto with no tables and Agora is
nowhere, so a handler that reached either would answer 5xx, not 403.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from tests.support.apigw import FakeContext, http_api_event

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())

#: an invalid body for every body route: unknown fields, wrong types, and addresses the server refuses
BAD_BODY = {"unknown": 1, "ip": "0.0.0.0", "uid": "x", "duration_seconds": -5, "channel": "\u0000", "enabled": "no"}
#: the function that serves each path, and the group it requires
FUNCTIONS = {
    "/channels": ("service.channels.handler", "admins"),
    "/kicking-rules": ("service.channels.handler", "admins"),
    "/ncs": ("service.channels.handler", "admins"),
    "/recordings": ("service.recordings.api_handler", "admins"),
    "/projects": ("service.projects.handler", "owners"),
}
ENV = {
    "AGORA_APP_ID": "0123456789abcdef0123456789abcdef",
    "AGORA_REST_SECRET_NAME": "never/read",
    "KICKING_RULES_TABLE": "never-read",
    "PRESENCE_TABLE": "never-read",
    "RECORDINGS_TABLE": "never-read",
    "USAGE_TABLE": "never-read",
    "APP_CERTIFICATE_SECRET_NAME": "never/read",
    "USERS_TABLE": "never-read",
    "XRAY_SDK": "false",
    "POWERTOOLS_METRICS_NAMESPACE": "test",
}


def _routes() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if any(path.startswith(prefix) for prefix in FUNCTIONS):
                out.append((method.upper(), path, operation))
    return out


ROUTES = _routes()


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    for key in ("ADMIN_GROUP", "OWNERS_GROUP", "AGORA_RATE_LIMIT_TABLE"):
        monkeypatch.delenv(key, raising=False)
    modules = {}
    for name in {module for module, _ in FUNCTIONS.values()} | {"service.tokens.handler"}:
        modules[name] = importlib.import_module(name)
        modules[name].reset()  # a new environment: the first call builds the app from these variables
    with mock_aws():
        yield modules
    for module in modules.values():
        module.reset()


def _invalid_event(method: str, path: str, operation: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    """The route with every path value, query parameter and body invalid, from a caller in ``groups``."""
    concrete = re.sub(r"\{[^}]+\}", "%00bad%20value", path)
    query = {p["name"]: "not valid!" for p in operation.get("parameters", []) if p.get("in") == "query"}
    query["unknown"] = "1"
    body = BAD_BODY if "requestBody" in operation else None
    return http_api_event(
        method, concrete, body=body, query=query, claims={"sub": "viewer-1", "cognito:groups": groups},
        route_key=f"{method} {path}",
    )  # fmt: skip


def test_every_admin_and_owner_route_is_documented_here() -> None:
    assert len(ROUTES) >= 20, [f"{m} {p}" for m, p, _ in ROUTES]
    assert any(op.get("requestBody") for _, _, op in ROUTES)


@pytest.mark.parametrize(("method", "path", "operation"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_a_caller_outside_the_group_gets_403_whatever_the_request(
    handlers: dict[str, ModuleType], method: str, path: str, operation: dict[str, Any]
) -> None:
    module, group = next(value for prefix, value in FUNCTIONS.items() if path.startswith(prefix))
    for groups in ([], ["viewers"], ["admins"] if group == "owners" else ["owners"]):
        event = _invalid_event(method, path, operation, groups)
        answer = handlers[module].handler(event, FakeContext())
        body = json.loads(answer["body"])
        assert answer["statusCode"] == 403, (groups, answer)
        assert body["error"]["code"] == "forbidden" and f"'{group}' group" in body["error"]["message"]


def test_a_token_request_without_a_subject_is_401_whatever_the_body(handlers: dict[str, ModuleType]) -> None:
    for path in ("/tokens", "/tokens/rtm"):
        event = http_api_event("POST", path, body=BAD_BODY, claims={"cognito:groups": ["hosts"]})
        answer = handlers["service.tokens.handler"].handler(event, FakeContext())
        assert answer["statusCode"] == 401, answer


def test_an_admin_still_gets_the_validation_answer(handlers: dict[str, ModuleType]) -> None:
    """Authorization first does not hide validation from those allowed: the admin's invalid body is a 422."""
    event = http_api_event(
        "POST", "/kicking-rules", body={"ip": "0.0.0.0", "duration_seconds": 60},
        claims={"sub": "admin-1", "cognito:groups": ["admins"]},
    )  # fmt: skip
    answer = handlers["service.channels.handler"].handler(event, FakeContext())
    assert answer["statusCode"] == 422, answer
    assert "0.0.0.0 is the unspecified address" in json.loads(answer["body"])["error"]["message"]
