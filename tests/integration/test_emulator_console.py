"""The Console API mounted in the emulator's HTTP server: ConsoleClient against ``Emulator.url``.

The emulator's own App ID is a project of the account (with the certificate it was given), so the
local stack's ``/projects`` routes find the deployment's project; Agora's quirks (201 for reads,
milliseconds in ``created``, 415 without JSON, 429 without Retry-After) come through the real server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from agorakit.agora.console import ConsoleClient
from agorakit.agora.errors import AgoraAuthError

from tests.integration._emulator_fixtures import APP_ID, CUSTOMER_ID, CUSTOMER_SECRET, make_emulator

CERT = "c" * 32


@pytest.fixture(scope="module")
def emu():
    emulator = make_emulator(app_certificate=CERT, project_name="local", qps=1000).start()
    yield emulator
    emulator.stop()


def _client(emu, secret: str = CUSTOMER_SECRET) -> ConsoleClient:
    return ConsoleClient(
        customer_id=CUSTOMER_ID, customer_secret=secret, base_urls=[emu.url], timeout=5.0, max_attempts=1
    )


def _raw(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def _basic() -> str:
    import base64

    return "Basic " + base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()


def test_the_emulators_app_id_is_a_project_with_the_given_certificate(emu) -> None:
    emu.reset()
    with _client(emu) as client:
        projects = client.list_projects()
        [own] = [p for p in projects if p.vendor_key == APP_ID]
        assert own.name == "local" and own.sign_key == CERT and own.enabled
        assert client.find_project(APP_ID).id == own.id
        rotated = client.reset_sign_key(own.id, previous=CERT)
        assert rotated.sign_key != CERT and len(rotated.sign_key) == 32
    assert emu.console.project(own.id, CUSTOMER_ID)["sign_key"] == rotated.sign_key
    emu.reset()  # a reset brings the seeded project back, with the configured certificate
    assert [p["sign_key"] for p in emu.console.state()["projects"][CUSTOMER_ID]] == [CERT]


def test_reads_answer_201_with_milliseconds_and_415_without_json(emu) -> None:
    emu.reset()
    headers = {"Authorization": _basic(), "Content-Type": "application/json"}
    status, body, _ = _raw("GET", f"{emu.url}/dev/v1/projects", headers=headers)
    assert status == 201 and body["projects"][0]["created"] > 10**12
    status, body, _ = _raw("GET", f"{emu.url}/dev/v1/projects", headers={"Authorization": _basic()})
    assert status == 415
    status, body, _ = _raw("GET", f"{emu.url}/dev/v3/usage?project_id={APP_ID}&from_date=2026-01-01"
                           "&to_date=2026-01-02&business=default", headers=headers)  # fmt: skip
    assert status == 404 and "Project not found" in json.dumps(body)
    assert emu.stats()["by_op"]["console.list_projects"] == 2


def test_wrong_credentials_are_refused(emu) -> None:
    with _client(emu, secret="wrong") as client, pytest.raises(AgoraAuthError):
        client.list_projects()


def test_the_console_limit_is_10_per_second_per_api_without_retry_after(emu) -> None:
    emu.reset()
    headers = {"Authorization": _basic(), "Content-Type": "application/json"}
    statuses = [_raw("GET", f"{emu.url}/dev/v1/projects", headers=headers)[:1][0] for _ in range(14)]
    assert statuses.count(429) >= 1 and statuses[:10] == [201] * 10
    status, _, hdrs = _raw("GET", f"{emu.url}/dev/v1/projects", headers=headers)
    if status == 429:
        assert hdrs.get("Retry-After") is None


def test_the_control_api_adds_projects_usage_and_faults(emu) -> None:
    emu.reset()
    status, body, _ = _raw("POST", f"{emu.url}/emulator/console/projects", {"name": "second", "id": "Sec0nd"})
    assert status == 200 and body["project"]["id"] == "Sec0nd"
    status, _, _ = _raw("POST", f"{emu.url}/emulator/console/usage",
                        {"project_id": "Sec0nd", "date": "2026-01-01", "usage": {"durationAudioAll": 7}})  # fmt: skip
    assert status == 200
    with _client(emu) as client:
        [day] = client.usage("Sec0nd", "2026-01-01", "2026-01-01").days
    assert day.usage["durationAudioAll"] == 7
    status, body, _ = _raw("POST", f"{emu.url}/emulator/console/faults", {"faults": ["429"]})
    assert status == 200 and body["faults"] == ["429"]
    status, state, _ = _raw("GET", f"{emu.url}/emulator/console")
    assert {p["id"] for p in state["projects"][CUSTOMER_ID]} >= {"Sec0nd"}
