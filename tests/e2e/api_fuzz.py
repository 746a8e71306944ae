"""A property-based fuzz of the whole API, driven by docs/openapi.json (schemathesis), against a LocalRuntime.

Every operation gets schema-valid (positive) and schema-invalid (negative) requests, as an admin, an owner
and a viewer. For each answer: no 5xx, the status is one the document lists for the operation, and the body
matches the documented schema for that status. Then a coverage check: every status the document lists for
an operation must have been seen, from the fuzz or from the deterministic cases (``explicit_cases`` here and
tests/e2e/api_faults.py), which reach what random data cannot: a real recording id, a signed webhook, a
second recording on a channel, the Console's projects, Agora and AWS failing. Only ``UNREACHABLE_LOCALLY``
is excused, each entry with its reason.

Over 400 lines on purpose: the runner, its checks (the document's and the stricter ones here: a request the
document allows refused for a schema reason, a 502 for an Agora refusal) and the deterministic cases that
complete its coverage are read together.

Deterministic: Hypothesis is derandomized (the same requests on every run, no example database).
``run_fuzz(budget=...)`` scales the examples; ``make fuzz`` runs a larger budget than ``make test``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.api_faults import projects_cases
from tests.e2e.api_fuzz_agents import ROUTES as AGENT_ROUTES
from tests.e2e.api_fuzz_transcriptions import ROUTES as TRANSCRIPTION_ROUTES

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.json"


@dataclass
class FuzzReport:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    seen: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    failures: list[str] = field(default_factory=list)
    documented: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    #: phase -> (requests, seconds): how the run's time is spent (printed, never asserted)
    phases: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: 5xx answers per phase: the deterministic phase provokes the documented 502/503 on purpose (Agora and AWS
    #: failing); in the fuzz phase every 5xx is also a failure
    server_errors: Counter[str] = field(default_factory=Counter)
    current: str = ""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        import time

        start, before = time.monotonic(), self.requests
        self.current = name
        try:
            yield
        finally:
            self.phases[name] = (self.requests - before, round(time.monotonic() - start, 1))

    def missing(self, *, allowed: Callable[[str, int], bool] | None = None) -> dict[str, list[int]]:
        """Documented statuses never seen (``allowed`` drops the ones known to be unreachable here)."""
        out = {}
        for (method, path), statuses in sorted(self.documented.items()):
            route = f"{method} {path}"
            unseen = statuses - self.seen.get((method, path), set())
            gap = sorted(s for s in unseen if not (allowed and allowed(route, s)))
            if gap:
                out[route] = gap
        return out

    def summary(self) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        phases = ", ".join(f"{name}: {n} requests in {s} s" for name, (n, s) in self.phases.items())
        reached = sum(len(s & self.seen.get(k, set())) for k, s in self.documented.items())
        errors = ", ".join(f"{name}: {self.server_errors[name]}" for name in self.phases)
        return (
            f"{self.requests} requests ({statuses}); {phases}; 5xx per phase: {errors}; "
            f"documented (route, status) pairs reached: "
            f"{reached}/{sum(len(s) for s in self.documented.values())}; {len(self.failures)} failures; "
            f"not reached: {self.missing()}; not reached and not excused: {self.missing(allowed=allowed_gap)}"
        )


#: the smallest playlist size the recordings function may be configured with, and Agora's segments cut at 1 s:
#: the fuzz's recording (LONG_ENOUGH segments) then signs into more than the limit (413) and windows fit (200)
PLAYBACK_MAX_BYTES = 10_000
SEGMENT_SECONDS = 1.0
LONG_ENOUGH = 36  # segments; a signed segment line is 300-450 bytes here
#: emulated seconds per real second in the emulator (its segments, idle exits, rule expiries): the recording
#: reaches LONG_ENOUGH one-second segments in 18 real seconds instead of 36, about as long as the cases that do
#: not need it take meanwhile (3.0 had it wait for them, for more CPU: its playlist changes faster)
TIME_SCALE = 2.0
#: the account's Agora QPS, on both sides: our limiter (AGORA_QPS) and the emulator's gateway, which answers 429
#: past it as Agora does. The fuzz checks answers, not the limiter: at the default 10 QPS its requests queued for
#: slots (10.6 s of AgoraLimiterWaitMs in one run). The limiter has its own tests (tests/contract/
#: test_rate_limiter_contract.py, tests/integration/test_agora_client.py, tests/unit/test_limiter_lanes.py).
ACCOUNT_QPS = 100
#: threads sending the fuzz's cases (each operation's cases on one of them, in the order generated)
FUZZ_THREADS = 4


@contextmanager
def local_stack() -> Iterator[Any]:
    """A LocalRuntime on free ports, with an owner user for the projects routes."""
    from local.identity import LocalUser
    from local.run import LocalRuntime, free_port

    runtime = LocalRuntime(
        api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), sqs_retry_delay=None,
        env_overrides={"PLAYBACK_MAX_BYTES": str(PLAYBACK_MAX_BYTES), "AGORA_QPS": str(ACCOUNT_QPS)},
        emulator_options={"segment_seconds": SEGMENT_SECONDS, "qps": ACCOUNT_QPS, "time_scale": TIME_SCALE},
    ).start()  # fmt: skip
    try:
        runtime.identity.users["owner"] = LocalUser("owner", ("owners",))
        yield runtime
    finally:
        runtime.stop()


def _token(runtime: Any, username: str) -> str:
    import requests

    answer = requests.post(f"{runtime.api_url}/local/token", json={"username": username}, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["id_token"])


def _documented(document: dict[str, Any]) -> dict[tuple[str, str], set[int]]:
    return {
        (method.upper(), path): {int(s) for s in operation["responses"]}
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


class Runner:
    """Sends cases and checks answers; thread-safe counters (the API serves requests concurrently)."""

    def __init__(self, runtime: Any, schema: Any, report: FuzzReport):
        self.runtime, self.schema, self.report = runtime, schema, report
        self.lock = threading.Lock()
        self._local = threading.local()

    @property
    def session(self) -> Any:
        """This thread's HTTP session (a requests.Session is not safe to share between threads)."""
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
        return session

    def record(self, method: str, path: str, status: int, problem: str | None = None) -> None:
        with self.lock:
            self.report.requests += 1
            self.report.by_status[status] += 1
            self.report.seen[(method, path)].add(status)
            if status >= 500:
                self.report.server_errors[self.report.current] += 1
            if problem and len(self.report.failures) < 200:
                self.report.failures.append(problem)

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.report.failures) < 200:
                self.report.failures.append(text)

    def check_case(self, case: Any, headers: dict[str, str]) -> None:
        from schemathesis.checks import (
            content_type_conformance,
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
        )

        response = case.call(base_url=self.runtime.api_url, session=self.session, headers=headers, timeout=60)
        method, path = case.operation.method.upper(), case.operation.path
        problem = None
        try:
            case.validate_response(
                response,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                        response_schema_conformance],
            )  # fmt: skip
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises one group of every failed check
            problem = f"{method} {path} -> {response.status_code}: {str(exc)[:600]}\n  {case.as_curl_command()}"
        strict = stricter_than_schema(case, response) or agora_refusal_as_502(response)
        if problem is None and strict is not None:
            problem = f"{method} {path} -> {response.status_code}: {strict}\n  {case.as_curl_command()}"
        self.record(method, path, response.status_code, problem)

    def send(
        self, method: str, path: str, template: str, *, token: str | None = None, expect: int | None = None, **kw: Any
    ) -> Any:
        """An explicit request; its answer is checked against the document like a fuzzed one, and must have the
        ``expect``-ed status when one is given."""
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.session.request(method, self.runtime.api_url + path, headers=headers, timeout=60, **kw)
        operation = self.schema[template][method]
        problem = None
        try:
            operation.validate_response(response)
        except (Exception, BaseExceptionGroup) as exc:
            problem = f"explicit {method} {path} -> {response.status_code}: {str(exc)[:600]}"
        if response.status_code >= 500 and response.status_code not in self.report.documented.get(
            (method, template), set()
        ):
            problem = problem or f"explicit {method} {path} -> {response.status_code} (an undocumented 5xx)"
        problem = problem or agora_refusal_as_502(response)
        if expect is not None and response.status_code != expect and problem is None:
            problem = f"explicit {method} {path} -> {response.status_code}, expected {expect}: {response.text[:300]}"
        self.record(method, template, response.status_code, problem)
        return response


#: pydantic error types that come from a rule the document cannot state (a model or field validator raising
#: ValueError: cross-field rules, said in the descriptions); every other type is a schema fact (type, pattern,
#: bound, enum, required, unknown field) the document must state
_DESCRIBED_RULES = frozenset({"value_error", "assertion_error"})


def _error_of(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def stricter_than_schema(case: Any, response: Any) -> str | None:
    """Why a request the document allows (a positive case) was refused for a schema reason, or None.

    A 422 whose field errors include a schema fact (a pattern, a bound, a type...) means the document allows a
    value the server refuses: the document must state that limit. So does a 400 from query, path or header
    validation ("invalid request: ..."). Refusals from described rules (``_DESCRIBED_RULES``) and from the
    resource's state are not the document's to state."""
    meta = getattr(case, "meta", None)
    if meta is None or meta.generation.mode.is_negative or any(c.mode.is_negative for c in meta.components.values()):
        return None
    error = _error_of(response)
    if response.status_code == 422:
        facts = [e for e in (error.get("details") or {}).get("errors") or [] if e.get("type") not in _DESCRIBED_RULES]
        if facts:
            return f"the document allows what the server refuses (422 for a schema reason): {facts[:3]}"
    if response.status_code == 400 and str(error.get("message", "")).startswith("invalid request:"):
        return f"the document allows what the server refuses (400 for a schema reason): {error.get('message')}"
    return None


def agora_refusal_as_502(response: Any) -> str | None:
    """A 502 for a request Agora refused for its content (an Agora 4xx other than our credentials)."""
    if response.status_code != 502:
        return None
    details = _error_of(response).get("details") or {}
    agora_status = details.get("agora_http_status")
    if isinstance(agora_status, int) and 400 <= agora_status < 500 and agora_status not in (401, 403):
        return f"Agora refused the request ({agora_status}) and we answered 502: {_error_of(response)}"
    return None


#: projects operations whose only input is the path: a "negative" case is still a valid request
_PATH_ONLY = {("GET", "/projects"), ("GET", "/projects/{project}"), ("POST", "/projects/{project}/certificate/sync")}

#: operations whose fuzzing we bound harder: each positive POST /recordings starts a workflow
_COSTLY = {("POST", "/recordings"): 0.3}


def fuzz_operations(runner: Runner, tokens: dict[str, str], *, budget: int, seed: int) -> None:
    """Every operation fuzzed as each role, positive then negative.

    Hypothesis generates every case on this thread, one run after another as before (each run derandomized from
    ``seed``: the same cases); the requests are sent and checked on ``FUZZ_THREADS`` senders, all of one
    operation's cases on the same sender in the order generated, so the next cases are generated while the
    answers to the last ones come. (Hypothesis itself stays on one thread: on Python 3.11, ``ast.parse`` in two
    threads at once raises "AST constructor recursion depth mismatch", and Hypothesis parses lambdas' source.)"""
    with Senders(runner, FUZZ_THREADS) as senders:
        for index, result in enumerate(runner.schema.get_all_operations()):
            _fuzz_operation(senders.lane(index), result.ok(), tokens, budget=budget, seed=seed)


class Senders:
    """``size`` threads that send cases and check their answers (``Runner.check_case``), each from its own FIFO.

    An exception out of a check (not a failed check: those are recorded) is raised again when the senders stop."""

    def __init__(self, runner: Runner, size: int):
        import queue

        self.runner = runner
        self.queues: list[queue.Queue[tuple[Any, dict[str, str]] | None]] = [queue.Queue() for _ in range(size)]
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._send, args=(q,), name=f"fuzz-sender-{i}", daemon=True)
            for i, q in enumerate(self.queues)
        ]

    def __enter__(self) -> Senders:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for q in self.queues:
            q.put(None)
        for thread in self.threads:
            thread.join()
        if self.errors and exc[0] is None:
            raise self.errors[0]

    def lane(self, index: int) -> Callable[[Any, dict[str, str]], None]:
        """Where operation number ``index`` sends its cases."""
        q = self.queues[index % len(self.queues)]
        return lambda case, headers: q.put((case, headers))

    def _send(self, q: Any) -> None:
        while (item := q.get()) is not None:
            if self.errors:
                continue  # one error is enough: drain
            try:
                self.runner.check_case(*item)
            except BaseException as exc:  # raised again on the main thread, when the senders stop
                self.errors.append(exc)


def _fuzz_operation(
    send: Callable[[Any, dict[str, str]], None], operation: Any, tokens: dict[str, str], *, budget: int, seed: int
) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seed_of
    from schemathesis import GenerationMode

    key = (operation.method.upper(), operation.path)
    projects = key[1].startswith("/projects")
    #: one strategy per mode for every role: built and validated once (Hypothesis caches both on the object)
    strategies = {mode: operation.as_strategy(generation_mode=mode) for mode in GenerationMode}
    for role, token in tokens.items():
        if role == "owner" and not projects:
            continue  # owners are only owners: elsewhere they are viewers
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if projects and role == "owner" and mode == GenerationMode.NEGATIVE and key in _PATH_ONLY:
                continue  # a path-only operation has no invalid request: its "negative" cases are positive
            examples = max(2, int(budget * _COSTLY.get(key, 1.0) * (1.0 if role == "admin" else 0.4)))
            headers = {"Authorization": f"Bearer {token}"} if key[1] != "/webhooks/agora" else {}

            @settings(
                max_examples=examples,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @seed_of(seed)
            @given(case=strategies[mode])
            def run(case: Any) -> None:
                send(case, run.headers)  # type: ignore[attr-defined]

            run.headers = headers  # type: ignore[attr-defined]
            run()


def explicit_cases(runner: Runner, tokens: dict[str, str]) -> None:
    """What random data cannot reach: real ids, signed webhooks, Agora and AWS failing, the Console's projects,
    a missing token.

    After the generic cases of every route, the projects cases run on a thread of their own while the others go
    on: only the projects function calls the Console API (whose faults they inject), and they call nothing else
    the other cases use; each thread's cases keep their order."""
    from concurrent.futures import ThreadPoolExecutor

    rec = start_recording(runner, tokens["admin"])  # first: it must grow to LONG_ENOUGH segments meanwhile
    generic_cases(runner, tokens)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="projects") as console_side:
        projects = console_side.submit(projects_cases, runner, tokens["owner"])
        agora_and_aws_cases(runner, tokens, rec)
        projects.result()


def start_recording(runner: Runner, admin: str) -> str:
    """A recording in a channel with a host (its id), another on the same channel (409), the same idempotency key
    with another body (422)."""
    s = runner.send
    runner.runtime.emulator.join("fuzz-live", 1001, role="host")
    created = s("POST", "/recordings", "/recordings", token=admin, json={"channel": "fuzz-live"},
                headers={"Idempotency-Key": "fuzz-1"}).json()  # fmt: skip
    s("POST", "/recordings", "/recordings", token=admin, json={"channel": "fuzz-live"})  # 409
    s("POST", "/recordings", "/recordings", token=admin, json={"channel": "fuzz-live", "mode": "individual"},
      headers={"Idempotency-Key": "fuzz-1"})  # fmt: skip  # 422: same key, another body
    return str(created.get("recording_id", ""))


def generic_cases(runner: Runner, tokens: dict[str, str]) -> None:
    """Every route without a token (401), with the wrong group (403), with an unknown query parameter (400), and
    the routes with a body with broken JSON (400), another content type (415) and an unknown field (422)."""
    from tests.e2e.api_fuzz_agents import BODY_ROUTES as AGENT_BODY_ROUTES
    from tests.e2e.api_fuzz_transcriptions import BODY_ROUTES

    admin, owner, viewer = tokens["admin"], tokens["owner"], tokens["viewer"]
    s = runner.send
    js = {"Content-Type": "application/json"}
    text = {"Content-Type": "text/plain"}
    for method, path, template, body in _ROUTES:
        s(method, path, template, json=body)  # no token: API Gateway's 401
        wrong = viewer if "/projects" not in path else admin
        s(method, path, template, token=wrong, json=body)  # the wrong group: 403
        right = owner if "/projects" in path else admin
        s(method, path + "?unknown=1", template, token=right, json=body)  # an unknown query parameter: 400
        body_routes = {"POST /tokens", "POST /tokens/rtm", "POST /recordings", "POST /channels/{name}/kick",
                       "POST /kicking-rules", "PUT /kicking-rules/{rule_id}",
                       "PUT /projects/{project}/status", "POST /projects/{project}/certificate/reset",
                       "POST /recordings/{recording_id}/update", "POST /recordings/{recording_id}/layout"}  # fmt: skip
        if f"{method} {template}" in body_routes | BODY_ROUTES | AGENT_BODY_ROUTES:
            good = owner if "/projects" in path else admin
            s(method, path, template, token=good, data="{not json", headers=js)  # 400
            s(method, path, template, token=good, data="x", headers=text)  # 415
            s(method, path, template, token=good, json={"unknown": 1})  # 422


def agora_and_aws_cases(runner: Runner, tokens: dict[str, str], rec: str) -> None:
    """Tokens, the recording ``rec`` (running in fuzz-live), every Agora- and AWS-backed failure, transcriptions,
    agents, channels, kicking rules and webhooks: one sequence (each case builds on the state the ones before
    left)."""
    from concurrent.futures import ThreadPoolExecutor

    from agorakit.ncs.signature import signature_headers

    from tests.e2e.api_faults import agora_cases, aws_cases
    from tests.e2e.api_fuzz_agents import agent_cases
    from tests.e2e.api_fuzz_transcriptions import transcription_cases

    rt = runner.runtime
    admin, viewer, host = tokens["admin"], tokens["viewer"], tokens["host"]
    s = runner.send
    js = {"Content-Type": "application/json"}
    # tokens
    s("POST", "/tokens", "/tokens", token=viewer, json={"channel": "demo", "ttl": 3600})
    s("POST", "/tokens", "/tokens", token=viewer, json={"channel": "demo", "role": "publisher"})
    s("POST", "/tokens", "/tokens", token=host, json={"channel": "demo", "role": "publisher", "rtm": True})
    # the recording: its changes
    _wait(lambda: runner.session.get(f"{rt.api_url}/recordings/{rec}", headers=_auth(admin), timeout=30)
          .json().get("status") == "RECORDING")  # fmt: skip
    one = "/recordings/{recording_id}"
    s("GET", f"/recordings/{rec}", one, token=admin)
    s("GET", "/recordings?channel=fuzz-live&limit=1", "/recordings", token=admin)
    s("GET", "/recordings?channel=fuzz-live&next_token=eyJhIjogMX0", "/recordings", token=admin)  # 400
    s("GET", "/recordings/00000000-0000-4000-8000-000000000000", one, token=admin)  # 404
    layout, update = f"{one}/layout", f"{one}/update"
    s("POST", f"/recordings/{rec}/layout", layout, token=admin, json={"mixedVideoLayout": 1})
    s("POST", f"/recordings/{rec}/update", update, token=admin,
      json={"webRecordingConfig": {"onhold": True}})  # fmt: skip  # 409: not a web recording
    s("POST", f"/recordings/{rec}/layout", layout, token=admin, json={"mixedVideoLayout": 1},
      headers={"X-Unused": "1"})  # fmt: skip
    rt.emulator.set_faults(script=["5xx@update", "5xx@update", "5xx@update", "5xx@update"])
    s("POST", f"/recordings/{rec}/update", update, token=admin,
      json={"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["#allstream#"]}}})  # fmt: skip  # 503
    rt.emulator.set_faults(clear=True)
    s("POST", f"/recordings/{rec}/update", update, token=admin,
      json={"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["#allstream#"]}}})  # fmt: skip  # 200
    # while the recording grows to LONG_ENOUGH segments: the cases that do not need it; the agents' on a thread
    # of their own meanwhile (their faults name agent.* operations and their own markers, and a stopped agent
    # is all they leave), then the AWS-only 503s alone (one of them fails any StartExecution)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="agents") as agents_side:
        agents = agents_side.submit(agent_cases, runner, admin)  # /agents*
        agora_cases(runner, admin, recording=rec, channel="fuzz-live", uid=1001)  # every Agora-backed 502 and 503
        for path in (layout, update):
            s("POST", path.replace("{recording_id}", "00000000-0000-4000-8000-000000000000"), path, token=admin,
              json={"mixedVideoLayout": 1} if path == layout else {"webRecordingConfig": {"onhold": True}})  # fmt: skip
        # channels and kicking rules
        s("GET", "/channels", "/channels", token=admin)
        s("GET", "/channels/fuzz-live/users?source=webhooks", "/channels/{name}/users", token=admin)
        s("GET", "/channels/fuzz-live/users/1001", "/channels/{name}/users/{uid}", token=admin)
        s("GET", "/channels/fuzz-live/hosts", "/channels/{name}/hosts", token=admin)
        rt.emulator.join("fuzz-chat", 1101, role="communication", profile="communication")
        s("GET", "/channels/fuzz-chat/hosts", "/channels/{name}/hosts", token=admin, expect=409)  # Agora's 400
        s("GET", "/ncs/ips", "/ncs/ips", token=admin)
        s("POST", "/kicking-rules", "/kicking-rules", token=admin, json={"uid": 1003, "duration_seconds": 60})  # 201
        s("POST", "/tokens/rtm", "/tokens/rtm", token=viewer, json={"ttl": 600})  # 200
        rule = s("POST", "/channels/fuzz-live/kick", "/channels/{name}/kick", token=admin,
                 json={"uid": 1002, "duration_seconds": 60}).json()  # fmt: skip
        s("GET", "/kicking-rules?include_agora=true", "/kicking-rules", token=admin)
        s("PUT", f"/kicking-rules/{rule.get('id')}", "/kicking-rules/{rule_id}", token=admin,
          json={"duration_seconds": 120})  # fmt: skip
        s("DELETE", f"/kicking-rules/{rule.get('id')}", "/kicking-rules/{rule_id}", token=admin)  # 204
        s("DELETE", "/kicking-rules/999999999", "/kicking-rules/{rule_id}", token=admin)  # 404
        s("PUT", "/kicking-rules/999999999", "/kicking-rules/{rule_id}", token=admin, json={"duration_seconds": 120})
        # webhooks: signed, duplicate, malformed, unsigned, too large
        secret = rt.secrets.ncs_secret
        notice = json.dumps({"noticeId": "fuzz-1", "productId": 1, "eventType": 101, "notifyMs": 1,
                             "payload": {"channelName": "fuzz-live", "ts": 1}}).encode()  # fmt: skip
        hook = "/webhooks/agora"
        s("POST", hook, hook, data=notice, headers={**js, **signature_headers(secret, notice)})
        s("POST", hook, hook, data=b"[]", headers={**js, **signature_headers(secret, b"[]")})  # 400
        s("POST", hook, hook, data=notice, headers=js)  # 401
        big = b'{"noticeId":"x","productId":1,"eventType":101,"payload":{"a":"' + b"a" * 300_000 + b'"}}'
        s("POST", hook, hook, data=big, headers={**js, **signature_headers(secret, big)})  # 413
        transcription_cases(runner, admin, recording=rec)  # /transcriptions* and the live recording's captions
        agents.result()
    aws_cases(runner, tokens)  # every AWS-only 503
    playlist, stop = f"{one}/playlist", f"{one}/stop"

    def window(query: str = "?limit=1") -> Any:
        return runner.session.get(f"{rt.api_url}/recordings/{rec}/playlist{query}", headers=_auth(admin), timeout=30)

    _wait(lambda: int(window().headers.get("X-Playlist-Segments") or 0) >= LONG_ENOUGH, timeout=120)
    s("POST", f"/recordings/{rec}/stop", stop, token=admin)  # 202 (or 200 when already ended)
    _wait(lambda: runner.session.get(f"{rt.api_url}/recordings/{rec}", headers=_auth(admin), timeout=30)
          .json().get("status") in ("STOPPED", "FAILED"))  # fmt: skip
    s("POST", f"/recordings/{rec}/stop", stop, token=admin)  # 200
    s("POST", f"/recordings/{rec}/layout", layout, token=admin, json={"mixedVideoLayout": 1})  # 409: ended
    s("POST", "/recordings/00000000-0000-4000-8000-000000000000/stop", stop, token=admin)  # 404
    _wait(lambda: window().headers.get("X-Playlist-Ended") == "true", timeout=30)  # the last upload lands late
    refused = s("GET", f"/recordings/{rec}/playlist", playlist, token=admin, expect=413).json()
    fits = str(refused.get("error", {}).get("message", "")).partition("limit=")[2].split(" ", 1)[0] or "1"
    s("GET", f"/recordings/{rec}/playlist?limit={fits}", playlist, token=admin, expect=200)  # the window it names
    s("GET", f"/recordings/{rec}/playlist?limit=1&expires_in=60", playlist, token=admin, expect=200)
    s("GET", "/recordings/00000000-0000-4000-8000-000000000000/playlist", playlist, token=admin)  # 404
    shots = f"{one}/snapshots"
    s("GET", f"/recordings/{rec}/snapshots?limit=5&expires_in=60", shots, token=admin)  # 200 (a mix: none)
    s("GET", "/recordings/00000000-0000-4000-8000-000000000000/snapshots", shots, token=admin)  # 404


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: S110 - the next poll tells
            pass
        time.sleep(0.25)


#: one concrete path per documented route, for the "no token" (401) and "wrong group" (403) cases
_ROUTES: list[tuple[str, str, str, Any]] = [
    ("POST", "/tokens", "/tokens", {"channel": "demo", "role": "publisher"}),
    ("POST", "/recordings", "/recordings", {"channel": "fuzz-403"}),
    ("GET", "/recordings", "/recordings", None),
    ("GET", "/recordings/x", "/recordings/{recording_id}", None),
    ("POST", "/recordings/x/stop", "/recordings/{recording_id}/stop", None),
    ("POST", "/recordings/x/update", "/recordings/{recording_id}/update", {"webRecordingConfig": {"onhold": True}}),
    ("POST", "/recordings/x/layout", "/recordings/{recording_id}/layout", {"mixedVideoLayout": 1}),
    ("GET", "/channels", "/channels", None),
    ("GET", "/channels/x/users", "/channels/{name}/users", None),
    ("GET", "/channels/x/users/1", "/channels/{name}/users/{uid}", None),
    ("POST", "/channels/x/kick", "/channels/{name}/kick", {"uid": 5}),
    ("GET", "/channels/x/hosts", "/channels/{name}/hosts", None),
    ("GET", "/ncs/ips", "/ncs/ips", None),
    ("POST", "/kicking-rules", "/kicking-rules", {"uid": 5, "duration_seconds": 60}),
    ("POST", "/tokens/rtm", "/tokens/rtm", {"ttl": 600}),
    ("GET", "/recordings/x/playlist", "/recordings/{recording_id}/playlist", None),
    ("GET", "/recordings/x/snapshots", "/recordings/{recording_id}/snapshots", None),
    ("GET", "/kicking-rules", "/kicking-rules", None),
    ("PUT", "/kicking-rules/1", "/kicking-rules/{rule_id}", {"duration_seconds": 60}),
    ("DELETE", "/kicking-rules/1", "/kicking-rules/{rule_id}", None),
    ("GET", "/projects", "/projects", None),
    ("GET", "/projects/x", "/projects/{project}", None),
    ("PUT", "/projects/x/status", "/projects/{project}/status", {"enabled": True}),
    ("GET", "/projects/x/usage?from_date=2026-01-01&to_date=2026-01-02", "/projects/{project}/usage", None),
    ("POST", "/projects/x/certificate/reset", "/projects/{project}/certificate/reset", {"confirm": "x"}),
    ("POST", "/projects/x/certificate/sync", "/projects/{project}/certificate/sync", None),
    *TRANSCRIPTION_ROUTES,
    *AGENT_ROUTES,
]

#: documented statuses the local stack cannot produce, and why (the coverage check allows exactly these)
UNREACHABLE_LOCALLY: dict[tuple[str, int], str] = {
    ("POST /recordings", 429): (
        "past admissionQueueCap: this stack admits 1,000 and queues 1,000 more (TEST_CONTEXT), beyond the fuzz's "
        "budget; tests/e2e/admission_cases.py reaches it on a stack with agoraMaxTasks 2 and admissionQueueCap 2"
    ),
}


def allowed_gap(route: str, status: int) -> bool:
    return (route, status) in UNREACHABLE_LOCALLY


def run_fuzz(*, budget: int, seed: int = 12) -> FuzzReport:
    import schemathesis

    from tests.e2e.api_faults import rotate_last

    document = json.loads(OPENAPI.read_text())
    report = FuzzReport(documented=_documented(document))
    with local_stack() as runtime:
        schema = schemathesis.openapi.from_dict(document)
        tokens = {name: _token(runtime, user) for name, user in
                  (("admin", "admin"), ("owner", "owner"), ("viewer", "viewer-1"), ("host", "host-1"))}  # fmt: skip
        runner = Runner(runtime, schema, report)
        with report.phase("deterministic"):
            explicit_cases(runner, tokens)
        with report.phase("fuzz"):
            fuzz_operations(runner, {"admin": tokens["admin"], "owner": tokens["owner"], "viewer": tokens["viewer"]},
                            budget=budget, seed=seed)  # fmt: skip
        with report.phase("rotation"):
            rotate_last(runner, tokens["owner"])
    return report


def main() -> int:
    budget = int(os.environ.get("FUZZ_EXAMPLES", "150"))
    report = run_fuzz(budget=budget, seed=int(os.environ.get("FUZZ_SEED", "12")))
    print(report.summary())
    for failure in report.failures[:50]:
        print(failure, file=sys.stderr)
    missing = report.missing(allowed=allowed_gap)
    if missing:
        print(f"documented statuses never answered: {missing} (known unreachable locally: {UNREACHABLE_LOCALLY})",
              file=sys.stderr)  # fmt: skip
    successes = {200, 201, 202, 204} - set(report.by_status)
    if successes:
        print(f"success statuses never answered: {sorted(successes)}", file=sys.stderr)
    if report.by_status[500]:
        print(f"{report.by_status[500]} x 500", file=sys.stderr)
    return 1 if report.failures or missing or successes or report.by_status[500] else 0


if __name__ == "__main__":
    sys.exit(main())
