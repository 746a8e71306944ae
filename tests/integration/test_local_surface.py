"""The local stack in-process (``LocalRuntime``, what ``make run`` starts): routes that need the whole stack.

``/projects`` reaches the Console API through the emulator (``restBaseUrls`` points there), with the
local App ID as a project whose certificate is the one the token function signs with. One stack for
the module: synthesizing it takes about a minute.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from local.run import LocalRuntime, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    rt = LocalRuntime(api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), sqs_retry_delay=0.2)
    try:
        rt.start()
        yield rt
    finally:
        rt.stop()


def call(rt: LocalRuntime, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        rt.api_url + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Bearer " + rt.identity.issue_token(user))
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw[:1] in (b"{", b"[") else raw


def test_projects_reach_the_emulated_console_and_rotation_reaches_the_token_secret(runtime: LocalRuntime) -> None:
    status, body = call(runtime, "GET", "/projects", "owner")
    assert status == 200, body
    [own] = [p for p in body["projects"] if p["app_id"] == runtime.app_id]
    assert own["serves_this_deployment"] and own["certificate"]["sign_key"] == "********"
    assert runtime.secrets.app_certificate not in json.dumps(body)
    assert call(runtime, "GET", "/projects", "admin")[0] == 403  # owners only
    status, one = call(runtime, "GET", f"/projects/{runtime.app_id}", "owner")
    assert status == 200 and one["project_id"] == own["project_id"]

    status, rotated = call(
        runtime, "POST", f"/projects/{own['project_id']}/certificate/reset", "owner", {"confirm": runtime.app_id}
    )
    assert status == 200, rotated
    new = runtime.emulator.console.project(own["project_id"], runtime.secrets.customer_id)["sign_key"]
    assert new != runtime.secrets.app_certificate
    import boto3

    name = runtime.stack.environment()["APP_CERTIFICATE_SECRET_NAME"]
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    assert stored["app_certificate"] == new
    assert new not in json.dumps(rotated)
