"""The fuzz's deterministic cases for ``/agents*`` (run by ``api_fuzz.explicit_cases`` against the same
LocalRuntime): every documented status, Agora failing through the emulator's fault script (``401@agent.<op>`` is
our 502, ``429@agent.<op>`` past the client's retries our 429) and AWS failing through the botocore/awsfast hook
of ``api_faults.aws_failing``."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.api_faults import RETRIES_OUT, agora_failing, aws_failing

LIST = "/agents"
ONE = "/agents/{agent_id}"
SPEAK = "/agents/{agent_id}/speak"
INTERRUPT = "/agents/{agent_id}/interrupt"
UNKNOWN = "0" * 23 + "1"
GHOST_AGENT = "f" * 20 + "f503"
START = {"channel": "fuzz-agent", "profile": "assistant", "remoteUids": [1001]}
#: (method, path, template, body) for the generic 401/403/unknown-query cases of ``api_fuzz._ROUTES``
ROUTES: list[tuple[str, str, str, Any]] = [
    ("POST", LIST, LIST, {**START, "channel": "fuzz-agent-403"}),
    ("GET", LIST, LIST, None),
    ("GET", f"/agents/{UNKNOWN}", ONE, None),
    ("DELETE", f"/agents/{UNKNOWN}", ONE, None),
    ("POST", f"/agents/{UNKNOWN}/speak", SPEAK, {"text": "hello"}),
    ("POST", f"/agents/{UNKNOWN}/interrupt", INTERRUPT, None),
]
BODY_ROUTES = {f"POST {LIST}", f"POST {SPEAK}"}


def _running(runner: Any, admin: str, agent_id: str, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = runner.session.get(f"{runner.runtime.api_url}/agents/{agent_id}",
                                 headers={"Authorization": f"Bearer {admin}"}, timeout=30)  # fmt: skip
        if got.status_code == 200 and got.json().get("state") == "RUNNING":
            return True
        time.sleep(0.2)
    return False


def agent_cases(runner: Any, admin: str) -> None:
    rt, s = runner.runtime, runner.send
    # Agora's quota (422 at the join) is our 429 with Retry-After (the agent FAILED, its place given back)
    rt.emulator.join("fuzz-agent-quota", 1001, role="host")
    before = rt.emulator.configure_agents()["max_agents"]
    rt.emulator.configure_agents(max_agents=0)
    try:
        s("POST", LIST, LIST, token=admin, json={**START, "channel": "fuzz-agent-quota"}, expect=429)
    finally:
        rt.emulator.configure_agents(max_agents=before)
    rt.emulator.join("fuzz-agent", 1001, role="host")
    aid = s("POST", LIST, LIST, token=admin, json=START, expect=201).json().get("agentId", UNKNOWN)
    s("POST", LIST, LIST, token=admin, json=START, expect=409)  # one agent per profile per channel
    s("POST", LIST, LIST, token=admin, json={**START, "profile": "nobody"}, expect=400)  # not a configured profile
    s("GET", f"{LIST}?channel=fuzz-agent&active=true", LIST, token=admin, expect=200)
    s("GET", f"/agents/{aid}", ONE, token=admin, expect=200)
    s("GET", f"/agents/{UNKNOWN}", ONE, token=admin, expect=404)
    s("GET", "/agents/not-an-id", ONE, token=admin, expect=400)
    s("POST", f"/agents/{UNKNOWN}/speak", SPEAK, token=admin, json={"text": "hello"}, expect=404)
    s("POST", f"/agents/{UNKNOWN}/interrupt", INTERRUPT, token=admin, expect=404)
    if not _running(runner, admin, aid):
        runner.problem(f"agent {aid} never reached RUNNING: speak/interrupt cases skipped")
        return
    s("POST", f"/agents/{aid}/speak", SPEAK, token=admin, json={"text": "Welcome to the fuzz."}, expect=202)
    s("POST", f"/agents/{aid}/interrupt", INTERRUPT, token=admin, expect=202)
    for route, path, body in ((SPEAK, f"/agents/{aid}/speak", {"text": "hi"}),
                              (INTERRUPT, f"/agents/{aid}/interrupt", None)):  # fmt: skip
        op = "agent.speak" if route == SPEAK else "agent.interrupt"
        with agora_failing(rt, f"401@{op}"):
            s("POST", path, route, token=admin, json=body, expect=502)
        with agora_failing(rt, *[f"429@{op}"] * RETRIES_OUT):
            s("POST", path, route, token=admin, json=body, expect=429)
    with agora_failing(rt, "401@agent.leave"):
        s("DELETE", f"/agents/{aid}", ONE, token=admin, expect=502)
    s("DELETE", f"/agents/{aid}", ONE, token=admin, expect=200)  # the history is saved first and kept
    s("POST", f"/agents/{aid}/speak", SPEAK, token=admin, json={"text": "hi"}, expect=409)  # not RUNNING
    s("POST", f"/agents/{aid}/interrupt", INTERRUPT, token=admin, expect=409)
    s("DELETE", f"/agents/{UNKNOWN}", ONE, token=admin, expect=404)
    # AWS failing (503)
    with aws_failing("dynamodb", "Query", "fuzz-agent-aws") as hit:
        s("GET", f"{LIST}?channel=fuzz-agent-aws", LIST, token=admin, expect=503)
    _hit(runner, hit, f"GET {LIST}")
    with aws_failing("dynamodb", "TransactWriteItems", "fuzz-agent-aws") as hit:
        s("POST", LIST, LIST, token=admin, json={**START, "channel": "fuzz-agent-aws"}, expect=503)
    _hit(runner, hit, f"POST {LIST}")
    for method, route, path, body in (("GET", ONE, "", None), ("DELETE", ONE, "", None),
                                      ("POST", SPEAK, "/speak", {"text": "hi"}),
                                      ("POST", INTERRUPT, "/interrupt", None)):  # fmt: skip
        with aws_failing("dynamodb", "GetItem", GHOST_AGENT) as hit:
            s(method, f"/agents/{GHOST_AGENT}{path}", route, token=admin, json=body, expect=503)
        _hit(runner, hit, f"{method} {route}")


def _hit(runner: Any, hit: list[int], route: str) -> None:
    if not hit:
        runner.problem(f"{route}: the AWS fault aimed at it was never met (the route's calls changed?)")
