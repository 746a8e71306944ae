"""Real Agora mode, offline: what the local stack wires when local.env names a real project.

Nothing reaches Agora: the test mints tokens (local signing with the named certificate) and checks the wiring
(no emulator, the functions' REST hosts, the refused routes, the page's configuration); it never calls a route that
would talk to Agora's RESTful API.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from agorakit.tokens.parser import parse_token

from local.config import RealAgora
from local.run import EMULATOR_PLACEHOLDER, LOCAL_APP_ID, LocalRuntime, free_port

APP_ID = "0f" * 16
CERT = "e1" * 16


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def template_without_hosts() -> dict[str, Any]:
    """The template real Agora mode provisions when no REST hosts are named, read before the module's stack starts
    (a running in-process stack sets the functions' variables in this process's environment, and the template's
    settings read some of them)."""
    real = RealAgora.from_values(app_id=APP_ID, app_certificate=CERT)
    assert real is not None
    other = LocalRuntime(api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), web_port=0,
                         real_agora=real)  # fmt: skip
    return other._template()  # the phase that reads the cached template (nothing starts)


@pytest.fixture(scope="module")
def runtime(template_without_hosts: dict[str, Any]) -> Iterator[LocalRuntime]:
    real = RealAgora.from_values(app_id=APP_ID, app_certificate=CERT, ncs_secret="real-ncs-secret",
                                 rest_urls="https://api.agora.io")  # fmt: skip
    assert real is not None
    with LocalRuntime(api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), web_port=0,
                      real_agora=real) as rt:  # fmt: skip
        yield rt


@pytest.mark.slow
def test_tokens_are_minted_for_the_real_project(runtime: LocalRuntime) -> None:
    host = _call("POST", f"{runtime.api_url}/local/token", {"username": "host-1"})[1]["id_token"]
    status, minted = _call("POST", f"{runtime.api_url}/tokens", {"channel": "real", "role": "publisher"}, host)
    assert status == 200, minted
    parsed = parse_token(minted["rtc_token"])
    assert parsed.to_dict()["app_id"] == APP_ID
    assert parsed.verify(CERT) and not parsed.verify("0" * 32)


@pytest.mark.slow
def test_the_rest_client_is_wired_to_agora_and_the_emulator_does_not_run(runtime: LocalRuntime) -> None:
    assert runtime.emulator is None and runtime.stack is not None
    urls = {spec.environment.get("AGORA_REST_BASE_URLS") for spec in runtime.stack.functions.values()} - {None}
    assert urls == {"https://api.agora.io"}
    app_ids = {spec.environment.get("AGORA_APP_ID") for spec in runtime.stack.functions.values()} - {None}
    assert app_ids == {APP_ID}  # the real project's, in the template emulator mode reads from the cache too
    environments = json.dumps([spec.environment for spec in runtime.stack.functions.values()])
    assert LOCAL_APP_ID not in environments and EMULATOR_PLACEHOLDER not in environments
    assert runtime.secrets.app_certificate == CERT and runtime.secrets.ncs_secret == "real-ncs-secret"
    status, health = _call("GET", f"{runtime.api_url}/health")
    assert status == 200 and health["emulator"]["mode"].startswith("real Agora")
    assert "real Agora mode" in runtime.banner()


@pytest.mark.slow
def test_routes_that_cannot_work_are_refused_with_the_reason(runtime: LocalRuntime) -> None:
    admin = _call("POST", f"{runtime.api_url}/local/token", {"username": "admin"})[1]["id_token"]
    status, body = _call("POST", f"{runtime.api_url}/recordings", {"channel": "real"}, admin)
    assert status == 409 and "cannot be reached from Agora's cloud" in body["message"]
    status, _ = _call("POST", f"{runtime.api_url}/recordings", {"channel": "real"})
    assert status == 401  # authorization first, as API Gateway would
    status, body = _call("GET", f"{runtime.api_url}/channels", token=admin)
    assert status == 409 and "AGORA_CUSTOMER_ID" in body["message"]  # no REST credentials named


@pytest.mark.slow
def test_the_page_is_told_to_use_the_real_app_id(runtime: LocalRuntime) -> None:
    assert runtime.web_url is not None
    with urllib.request.urlopen(f"{runtime.web_url}/config.js", timeout=10) as resp:
        text = resp.read().decode()
    assert '"realAgora": true' in text and f'"agoraAppId": "{APP_ID}"' in text


@pytest.mark.slow
def test_without_rest_hosts_the_functions_keep_their_default_agora_hosts(
    template_without_hosts: dict[str, Any],
) -> None:
    """Real Agora mode without AGORA_REST_URLS: no ``AGORA_REST_BASE_URLS`` at all, as a template synthesized
    without ``restBaseUrls`` (the functions then call Agora's own hosts); the App ID is still the real one."""
    template = template_without_hosts
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    variables = [(f["Properties"].get("Environment") or {}).get("Variables") or {} for f in functions]
    assert variables and all("AGORA_REST_BASE_URLS" not in v for v in variables)
    assert {v["AGORA_APP_ID"] for v in variables if "AGORA_APP_ID" in v} == {APP_ID}
    assert LOCAL_APP_ID not in json.dumps(template) and EMULATOR_PLACEHOLDER not in json.dumps(template)
