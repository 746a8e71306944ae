"""The three recording functions built with ``create_app(settings, deps)`` on the fakes: the API's routes,
its 4xx answers, a workflow step by name and the reconciler, with no environment and no module reloads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from service.recordings import api_handler, reconciler_handler, workflow_tasks_handler

from tests.unit.recording_world import World, world


def event(method: str, path: str, body: Any = None, *, groups: str = "[admins]", **headers: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event as the JWT authorizer passes it on."""
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "r1", "routeKey": f"{method} {path}", "stage": "$default",
            "authorizer": {"jwt": {"claims": {"sub": "admin-1", "cognito:groups": groups}, "scopes": None}},
        },
        "body": None if body is None else json.dumps(body), "isBase64Encoded": False,
    }  # fmt: skip


@pytest.fixture
def w() -> World:
    return world()


def test_the_api_app_serves_its_routes_with_the_dependencies_it_was_given(w: World) -> None:
    api = api_handler.create_app(w.settings, w.deps)
    created = api(event("POST", "/recordings", {"channel": "room"}, **{"idempotency-key": "k1"}), None)
    assert created["statusCode"] == 202
    recording_id = json.loads(created["body"])["recording_id"]
    assert w.store.lock_holder("room") == recording_id  # the fake store, not a table from the environment
    shown = api(event("GET", f"/recordings/{recording_id}"), None)
    assert shown["statusCode"] == 200 and json.loads(shown["body"])["status"] == "REQUESTED"


@pytest.mark.parametrize(
    ("request_event", "status"),
    [
        (event("POST", "/recordings", {"channel": "room"}, groups="[users]"), 403),
        (event("POST", "/recordings", {"channel": "room", "mode": "nope"}), 422),
        (event("GET", "/recordings/00000000-0000-4000-8000-000000000000"), 404),
        (event("GET", "/recordings/not-a-uuid"), 404),
    ],
)
def test_bad_requests_are_precise_4xx(w: World, request_event: dict[str, Any], status: int) -> None:
    answer = api_handler.create_app(w.settings, w.deps)(request_event, None)
    assert answer["statusCode"] == status and json.loads(answer["body"])
    assert w.store.items == {}


def test_two_apps_in_one_process_keep_their_own_dependencies() -> None:
    first, second = world(), world()
    api_handler.create_app(first.settings, first.deps)(event("POST", "/recordings", {"channel": "a"}), None)
    api_handler.create_app(second.settings, second.deps)(event("POST", "/recordings", {"channel": "b"}), None)
    assert [r["channel"] for r in first.store.items.values()] == ["a"]
    assert [r["channel"] for r in second.store.items.values()] == ["b"]


def test_the_task_app_runs_a_step_by_name_and_refuses_an_unknown_one(w: World) -> None:
    tasks = workflow_tasks_handler.create_app(w.settings, w.deps)
    w.agora.join("room", 1001)
    recording_id = w.create("room")
    assert tasks({"action": "acquire", "recordingId": recording_id})["resourceId"]
    with pytest.raises(workflow_tasks_handler.UnknownStep):
        tasks({"action": "teleport", "recordingId": recording_id})


def test_the_reconciler_app_counts_the_active_recordings(w: World) -> None:
    w.recording_started()
    counts = reconciler_handler.create_app(w.settings, w.deps)()
    assert counts["active"] == 1 and counts["running"] == 1
