"""The fuzz's deterministic phases: every documented 502 and 503, and the projects routes against the local
stack's Console emulator (tests/e2e/api_fuzz.py runs them against the same LocalRuntime as the fuzz).

Failures are injected where we do not own the code, never in our own logic:

- Agora: the emulator's fault script (``5xx@<op>`` until the client's retries run out is our 503; ``401@<op>``,
  a Customer Secret revoked in the Console, is our 502); the Console emulator's ``inject`` likewise.
- AWS: a botocore hook on the shared client of the in-process functions answers one call, picked by its
  parameters (a marker only this request carries), with a ``ServiceUnavailable`` error, as AWS does.

Every answer is checked against the document (status listed, body matches the schema) and must be the
status the case expects, so a case cannot reach its status by accident.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

#: a recording id no one else uses: AWS faults aimed at it cannot hit the workflow of a real recording
GHOST = "00000000-0000-4000-8000-00000000f503"


@contextmanager
def aws_failing(service: str, operation: str, marker: str | None = None, *, times: int = 1) -> Iterator[list[int]]:
    """The next ``times`` calls of ``service.operation`` whose parameters contain ``marker`` fail with AWS's
    ``ServiceUnavailable`` (503). Yields the list of injected failures (its length tells they happened)."""
    import awsfast
    from botocore.exceptions import ClientError
    from service.adapters.aws import client

    aws = client(service)
    injected: list[int] = []

    def fail(params: dict[str, Any], **_: Any) -> None:
        if len(injected) < times and (marker is None or marker in json.dumps(params, default=str)):
            injected.append(1)
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "injected by the API fuzz"},
                 "ResponseMetadata": {"HTTPStatusCode": 503}},
                operation,
            )  # fmt: skip

    def observe(called_service: str, called_operation: str, params: dict[str, Any]) -> None:
        if called_service == service and called_operation == operation:
            fail(params)

    # the local stack runs the functions as deployed: JSON-protocol calls go through awsfast
    # (its observers run before a call is sent); anything else through botocore (its events)
    event = f"before-parameter-build.{aws.meta.service_model.service_id.hyphenize()}.{operation}"
    aws.meta.events.register(event, fail)
    awsfast.CALL_OBSERVERS.append(observe)
    try:
        yield injected
    finally:
        awsfast.CALL_OBSERVERS.remove(observe)
        aws.meta.events.unregister(event, fail)


@contextmanager
def agora_failing(runtime: Any, *script: str) -> Iterator[None]:
    """The emulator answers the next matching calls with these faults; what is left of them is taken back after
    (only these: cases on other operations may be running meanwhile with their own)."""
    runtime.emulator.set_faults(script=list(script))
    try:
        yield
    finally:
        runtime.emulator.set_faults(drop=list(script))


@contextmanager
def console_failing(runtime: Any, *faults: str) -> Iterator[None]:
    console = runtime.emulator.console
    console.inject(*faults)
    try:
        yield
    finally:
        console.faults.clear()


#: enough scripted 5xx to outlast the Agora client's retries on one call (the rest is taken back)
RETRIES_OUT = 6
#: Agora operations failing at once in ``agora_cases``: each case mostly waits out the client's backoff
AGORA_FAULT_THREADS = 6


def agora_cases(runner: Any, admin: str, *, recording: str, channel: str, uid: int) -> None:
    """502 (credentials revoked) and 503 (Agora failing past the retries) on every Agora-backed route;
    ``recording`` is RECORDING in ``channel``, where ``uid`` is a host."""
    rt, s = runner.runtime, runner.send
    rule = s("POST", "/kicking-rules", "/kicking-rules", token=admin, json={"uid": 1_004, "duration_seconds": 60},
             expect=201).json().get("id")  # fmt: skip
    layout, update = "/recordings/{recording_id}/layout", "/recordings/{recording_id}/update"
    cases: list[tuple[str, str, str, str, Any]] = [
        ("channel.list", "GET", "/channels", "/channels", None),
        ("channel.users", "GET", f"/channels/{channel}/users", "/channels/{name}/users", None),
        ("channel.user_status", "GET", f"/channels/{channel}/users/{uid}", "/channels/{name}/users/{uid}", None),
        ("channel.hosts", "GET", f"/channels/{channel}/hosts", "/channels/{name}/hosts", None),
        ("ncs.ip", "GET", "/ncs/ips", "/ncs/ips", None),
        ("kicking_rule.list", "GET", "/kicking-rules?include_agora=true", "/kicking-rules", None),
        ("kicking_rule.create", "POST", f"/channels/{channel}/kick", "/channels/{name}/kick",
         {"uid": 1_005, "duration_seconds": 60}),
        ("kicking_rule.create", "POST", "/kicking-rules", "/kicking-rules", {"uid": 1_006, "duration_seconds": 60}),
        ("kicking_rule.update", "PUT", f"/kicking-rules/{rule}", "/kicking-rules/{rule_id}", {"duration_seconds": 90}),
        ("kicking_rule.delete", "DELETE", f"/kicking-rules/{rule}", "/kicking-rules/{rule_id}", None),
        ("updateLayout", "POST", f"/recordings/{recording}/layout", layout, {"mixedVideoLayout": 1}),
        ("update", "POST", f"/recordings/{recording}/update", update,
         {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["#allstream#"]}}}),
    ]  # fmt: skip
    # each fault script names its operation, so operations fail side by side; one after the other: the cases of
    # one operation, the recording's changes (the API takes one change of a recording at a time, else 409), and
    # a rule's creation with the listing (a create that met a 5xx lists the rules before it repeats the POST, as
    # Agora advises: it would take the listing case's scripted faults, and that case would then get a 200)
    lanes: dict[str, list[tuple[str, str, str, str, Any]]] = {}
    for case in cases:
        lane = "recording" if case[3] in (layout, update) else case[0]
        lanes.setdefault("kicking_rule.list" if lane == "kicking_rule.create" else lane, []).append(case)

    def fail(lane: list[tuple[str, str, str, str, Any]]) -> None:
        for op, method, path, template, body in lane:
            with agora_failing(rt, f"401@{op}"):
                s(method, path, template, token=admin, json=body, expect=502)
            with agora_failing(rt, *[f"5xx@{op}"] * RETRIES_OUT):
                s(method, path, template, token=admin, json=body, expect=503)

    with ThreadPoolExecutor(max_workers=AGORA_FAULT_THREADS, thread_name_prefix="agora-faults") as pool:
        for done in [pool.submit(fail, lane) for lane in lanes.values()]:
            done.result()
    s("DELETE", f"/kicking-rules/{rule}", "/kicking-rules/{rule_id}", token=admin, expect=204)


def aws_cases(runner: Any, tokens: dict[str, str]) -> None:
    """503 on the routes whose only dependencies are AWS: DynamoDB, Step Functions or S3 failing."""
    from agorakit.ncs.signature import signature_headers

    from local.identity import LocalUser

    rt, admin, s = runner.runtime, tokens["admin"], runner.send
    rt.identity.users["fuzz-aws"] = LocalUser("fuzz-aws", ())  # a caller whose uid no function has cached yet
    answer = runner.session.post(f"{rt.api_url}/local/token", json={"username": "fuzz-aws"}, timeout=30)
    viewer = str(answer.json()["id_token"])
    one = "/recordings/{recording_id}"
    with aws_failing("dynamodb", "GetItem", "SUB#") as hit:  # the caller's uid
        s("POST", "/tokens", "/tokens", token=viewer, json={"channel": "demo"}, expect=503)
    _injected(runner, hit, "POST /tokens")
    with aws_failing("dynamodb", "GetItem", "SUB#") as hit:
        s("POST", "/tokens/rtm", "/tokens/rtm", token=viewer, json={"ttl": 600}, expect=503)
    _injected(runner, hit, "POST /tokens/rtm")
    with aws_failing("dynamodb", "Query", "fuzz-aws-503") as hit:
        s("GET", "/recordings?channel=fuzz-aws-503", "/recordings", token=admin, expect=503)
    _injected(runner, hit, "GET /recordings")
    for method, suffix in (("GET", ""), ("POST", "/stop"), ("GET", "/playlist"), ("GET", "/snapshots")):
        with aws_failing("dynamodb", "GetItem", GHOST) as hit:
            s(method, f"/recordings/{GHOST}{suffix}", one + suffix, token=admin, expect=503)
        _injected(runner, hit, f"{method} {one}{suffix}")
    with aws_failing("stepfunctions", "StartExecution") as hit:  # the recording's record is undone, 503
        s("POST", "/recordings", "/recordings", token=admin, json={"channel": "fuzz-sfn-503"}, expect=503)
    _injected(runner, hit, "POST /recordings")
    notice = json.dumps({"noticeId": "fuzz-503", "productId": 1, "eventType": 101, "notifyMs": 1,
                         "payload": {"channelName": "fuzz-live", "ts": 1}}).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", **signature_headers(runner.runtime.secrets.ncs_secret, notice)}
    with aws_failing("dynamodb", "PutItem", "fuzz-503") as hit:  # not stored: NCS must deliver it again
        s("POST", "/webhooks/agora", "/webhooks/agora", data=notice, headers=headers, expect=503)
    _injected(runner, hit, "POST /webhooks/agora")
    s("POST", "/webhooks/agora", "/webhooks/agora", data=notice, headers=headers, expect=200)  # the redelivery


def _injected(runner: Any, hit: list[int], route: str) -> None:
    if not hit:
        runner.problem(f"{route}: the AWS fault aimed at it was never met (the route's calls changed?)")


def projects_cases(runner: Any, owner: str) -> None:
    """Every status of the projects routes against the Console emulator: our own project, another one of
    the account (seeded here: its certificate has nowhere to go, 409), unknown ids, the Console failing.
    Rotating our own certificate (200) is left to ``rotate_last``: it changes the certificate in use."""
    rt, s = runner.runtime, runner.send
    console = rt.emulator.console
    own = next(p for ps in console.state()["projects"].values() for p in ps if p["vendor_key"] == rt.app_id)
    other = console.add_project("fuzz-other", customer_id=rt.secrets.customer_id)
    unknown = "f" * 32  # an App ID of no project
    today = datetime.now(UTC).date()
    usage = f"?from_date={(today - timedelta(days=3)).isoformat()}&to_date={today.isoformat()}"
    status, reset, sync = (
        "/projects/{project}/status",
        "/projects/{project}/certificate/reset",
        "/projects/{project}/certificate/sync",
    )
    s("GET", "/projects", "/projects", token=owner, expect=200)
    for key in (own["id"], own["vendor_key"], other["id"]):
        s("GET", f"/projects/{key}", "/projects/{project}", token=owner, expect=200)
        s("GET", f"/projects/{key}/usage{usage}", "/projects/{project}/usage", token=owner, expect=200)
    s("PUT", f"/projects/{other['id']}/status", status, token=owner, json={"enabled": False}, expect=200)
    s("PUT", f"/projects/{other['id']}/status", status, token=owner, json={"enabled": True}, expect=200)
    s("POST", f"/projects/{own['vendor_key']}/certificate/sync", sync, token=owner, expect=200)  # the same one
    s("POST", f"/projects/{other['id']}/certificate/sync", sync, token=owner, expect=409)
    s("POST", f"/projects/{other['id']}/certificate/reset", reset, token=owner,
      json={"confirm": other["vendor_key"]}, expect=409)  # fmt: skip
    s("PUT", f"/projects/{own['id']}/status", status, token=owner, json={"enabled": False}, expect=400)  # confirm
    for method, path, template, body in (
        ("GET", f"/projects/{unknown}", "/projects/{project}", None),
        ("GET", f"/projects/{unknown}/usage{usage}", "/projects/{project}/usage", None),
        ("PUT", f"/projects/{unknown}/status", status, {"enabled": True}),
        ("POST", f"/projects/{unknown}/certificate/reset", reset, {"confirm": unknown}),
        ("POST", f"/projects/{unknown}/certificate/sync", sync, None),
    ):
        s(method, path, template, token=owner, json=body, expect=404)
    # the Console failing: each case starts from a fresh project list (a status change forgets the cached one)
    key = other["id"]
    for method, path, template, body in (
        ("GET", "/projects", "/projects", None),
        ("GET", f"/projects/{key}", "/projects/{project}", None),
        ("GET", f"/projects/{key}/usage{usage}", "/projects/{project}/usage", None),
        ("PUT", f"/projects/{key}/status", status, {"enabled": True}),
        ("POST", f"/projects/{key}/certificate/reset", reset, {"confirm": other["vendor_key"]}),
        ("POST", f"/projects/{key}/certificate/sync", sync, None),
    ):
        for faults, expected in ((("401",), 502), (("500",) * RETRIES_OUT, 503)):
            s("PUT", f"/projects/{key}/status", status, token=owner, json={"enabled": True}, expect=200)
            with console_failing(rt, *faults):
                s(method, path, template, token=owner, json=body, expect=expected)


def rotate_last(runner: Any, owner: str) -> None:
    """Rotate this deployment's App Certificate (200), then nothing else runs: tokens signed before no longer
    verify, and functions that cached the old certificate would sign with it for their cache's lifetime."""
    app_id = runner.runtime.app_id
    reset = "/projects/{project}/certificate/reset"
    runner.send("POST", f"/projects/{app_id}/certificate/reset", reset, token=owner, json={"confirm": "nope"},
                expect=400)  # fmt: skip
    runner.send("POST", f"/projects/{app_id}/certificate/reset", reset, token=owner, json={"confirm": app_id},
                expect=200)  # fmt: skip
