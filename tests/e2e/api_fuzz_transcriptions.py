"""The fuzz's deterministic cases for ``/transcriptions*`` (captions included) and ``GET /recordings/{id}/captions``
(run by ``api_fuzz.explicit_cases`` against the same LocalRuntime): every documented status, Agora failing through the
emulator's fault script (``401@stt.<op>`` is our 502, ``5xx@stt.<op>`` past the retries our 503) and AWS failing
through the botocore/awsfast hook of ``api_faults.aws_failing``."""

from __future__ import annotations

from typing import Any

from tests.e2e.api_faults import GHOST, RETRIES_OUT, agora_failing, aws_failing

ONE = "/transcriptions/{transcription_id}"
LIST = "/transcriptions"
CAPTIONS = "/recordings/{recording_id}/captions"
TX_CAPTIONS = "/transcriptions/{transcription_id}/captions"
UNKNOWN = "0" * 31 + "1"
GHOST_TX = "f" * 28 + "f503"
#: (method, path, template, body) for the generic 401/403/unknown-query cases of ``api_fuzz._ROUTES``
ROUTES: list[tuple[str, str, str, Any]] = [
    ("POST", LIST, LIST, {"channel": "fuzz-403", "languages": ["en-US"]}),
    ("GET", LIST, LIST, None),
    ("GET", f"/transcriptions/{UNKNOWN}", ONE, None),
    ("PATCH", f"/transcriptions/{UNKNOWN}", ONE, {"languages": ["en-US"]}),
    ("DELETE", f"/transcriptions/{UNKNOWN}", ONE, None),
    ("GET", "/recordings/x/captions", CAPTIONS, None),
    ("GET", f"/transcriptions/{UNKNOWN}/captions", TX_CAPTIONS, None),
]
BODY_ROUTES = {f"POST {LIST}", f"PATCH {ONE}"}


def transcription_cases(runner: Any, admin: str, *, recording: str) -> None:
    rt, s = runner.runtime, runner.send
    # Agora's quota (422 at the join) is our 429 with Retry-After (the transcription FAILED, its place given back)
    rt.emulator.join("fuzz-tx-quota", 1001, role="host")
    before = rt.emulator.stt_configure()["max_agents"]
    rt.emulator.stt_configure(max_agents=0)
    try:
        s("POST", LIST, LIST, token=admin, json={"channel": "fuzz-tx-quota", "languages": ["en-US"]}, expect=429)
    finally:
        rt.emulator.stt_configure(max_agents=before)
    rt.emulator.join("fuzz-tx", 1001, role="host")
    body = {"channel": "fuzz-tx", "languages": ["en-US"], "recording_id": recording}
    tid = s("POST", LIST, LIST, token=admin, json=body, expect=201).json().get("id", UNKNOWN)
    s("POST", LIST, LIST, token=admin, json=body, expect=409)  # the channel is transcribed
    s("GET", f"{LIST}?channel=fuzz-tx&limit=1", LIST, token=admin, expect=200)
    s("GET", f"{LIST}?cursor=!!", LIST, token=admin, expect=400)
    s("GET", f"/transcriptions/{tid}", ONE, token=admin, expect=200)
    s("GET", f"/transcriptions/{UNKNOWN}", ONE, token=admin, expect=404)
    s("GET", "/transcriptions/not-an-id", ONE, token=admin, expect=400)
    s("PATCH", f"/transcriptions/{tid}", ONE, token=admin, json={"languages": ["en-US", "es-ES"]}, expect=200)
    s("PATCH", f"/transcriptions/{tid}", ONE, token=admin, json={}, expect=400)  # nothing to change
    s("PATCH", f"/transcriptions/{UNKNOWN}", ONE, token=admin, json={"languages": ["en-US"]}, expect=404)
    with agora_failing(rt, "401@stt.update"):
        s("PATCH", f"/transcriptions/{tid}", ONE, token=admin, json={"languages": ["en-US"]}, expect=502)
    with agora_failing(rt, *["5xx@stt.update"] * RETRIES_OUT):
        s("PATCH", f"/transcriptions/{tid}", ONE, token=admin, json={"languages": ["en-US"]}, expect=503)
    with agora_failing(rt, "401@stt.leave"):
        s("DELETE", f"/transcriptions/{tid}", ONE, token=admin, expect=502)
    with agora_failing(rt, *["5xx@stt.leave"] * RETRIES_OUT):
        s("DELETE", f"/transcriptions/{tid}", ONE, token=admin, expect=503)
    s("DELETE", f"/transcriptions/{tid}", ONE, token=admin, expect=200)
    s("PATCH", f"/transcriptions/{tid}", ONE, token=admin, json={"languages": ["en-US"]}, expect=409)  # ended
    s("DELETE", f"/transcriptions/{UNKNOWN}", ONE, token=admin, expect=404)
    for channel, script in (("fuzz-tx-502", ["401@stt.join"]), ("fuzz-tx-503", ["5xx@stt.join"] * RETRIES_OUT)):
        with agora_failing(rt, *script):
            expect = 502 if channel.endswith("502") else 503
            s("POST", LIST, LIST, token=admin, json={"channel": channel, "languages": ["en-US"]}, expect=expect)
    s("GET", f"/recordings/{recording}/captions", CAPTIONS, token=admin, expect=200)
    s("GET", "/recordings/00000000-0000-4000-8000-000000000000/captions", CAPTIONS, token=admin, expect=404)
    s("GET", f"/transcriptions/{tid}/captions", TX_CAPTIONS, token=admin, expect=200)
    s("GET", f"/transcriptions/{tid}/captions?expires_in=0", TX_CAPTIONS, token=admin, expect=400)
    s("GET", f"/transcriptions/{UNKNOWN}/captions", TX_CAPTIONS, token=admin, expect=404)
    s("GET", "/transcriptions/not-an-id/captions", TX_CAPTIONS, token=admin, expect=400)
    # AWS failing (503)
    with aws_failing("dynamodb", "Query", "fuzz-tx-aws") as hit:
        s("GET", f"{LIST}?channel=fuzz-tx-aws", LIST, token=admin, expect=503)
    _hit(runner, hit, f"GET {LIST}")
    for method, body_ in (("GET", None), ("PATCH", {"languages": ["en-US"]}), ("DELETE", None)):
        with aws_failing("dynamodb", "GetItem", GHOST_TX) as hit:
            s(method, f"/transcriptions/{GHOST_TX}", ONE, token=admin, json=body_, expect=503)
        _hit(runner, hit, f"{method} {ONE}")
    with aws_failing("dynamodb", "GetItem", GHOST_TX) as hit:
        s("GET", f"/transcriptions/{GHOST_TX}/captions", TX_CAPTIONS, token=admin, expect=503)
    _hit(runner, hit, f"GET {TX_CAPTIONS}")
    with aws_failing("dynamodb", "TransactWriteItems", "fuzz-tx-aws") as hit:
        s("POST", LIST, LIST, token=admin, json={"channel": "fuzz-tx-aws", "languages": ["en-US"]}, expect=503)
    _hit(runner, hit, f"POST {LIST}")
    with aws_failing("dynamodb", "GetItem", GHOST) as hit:
        s("GET", f"/recordings/{GHOST}/captions", CAPTIONS, token=admin, expect=503)
    _hit(runner, hit, f"GET {CAPTIONS}")


def _hit(runner: Any, hit: list[int], route: str) -> None:
    if not hit:
        runner.problem(f"{route}: the AWS fault aimed at it was never met (the route's calls changed?)")
