"""The recording stack on this machine, for the workflow tests, the integration tests and the bench:
the SYNTHESIZED template provisioned into moto (local.provision), the real handlers dispatched in-process,
and the Agora emulator on loopback. Small workflow numbers come from CDK context (same shape as prod).

Over 400 lines on purpose: the stack, its API events, NCS notices and the waits on executions are shared by
three test tiers and the bench, and each needs the same helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.support.waits import wait_until

if TYPE_CHECKING:
    from service.recordings.record import Recording

#: the workflow's numbers for tests: tiny intervals, a 6 s maximum duration, a 5 s resource age limit (a loaded
#: machine took over 2 s between an acquire and the retried start of a 206/65, which then expired)
TEST_CONTEXT: dict[str, Any] = {
    "agoraAppId": "0123456789abcdef0123456789abcdef",  # the emulator's default App ID
    "recordingRetryIntervalSeconds": 1,
    "recordingRetryMaxAttempts": 5,
    "recordingRetryMaxDelaySeconds": 1,
    "recordingReacquireLimit": 2,
    "recordingMaxDurationSeconds": 6,
    "recordingResourceMaxAgeSeconds": 5,
    "recordingAgoraMaxAttempts": 1,
    "recordingHaGraceSeconds": 1,
    "recordingStaleSeconds": 1,
    "recordingResolveSeconds": 2,
    "recordingResolvePollSeconds": 1,
    # admission control out of the way of the suites that leave recordings running by the dozen (execute=False);
    # tests/workflow/test_recording_admission.py sets the emulator's limit
    "agoraMaxTasks": 1000,
}
#: every deadline of the waits below is multiplied by this: a deadline only says when a wait gives up, a passing
#: test never waits it out, and a CI runner shared with other jobs was seen 10x slower than an idle laptop
WAIT_SCALE = float(os.environ.get("TEST_WAIT_SCALE", "3"))


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """``wait_until`` with the deadline scaled by ``WAIT_SCALE``; returns whether ``predicate`` held (a test asserts
    it, with its own message)."""
    return wait_until(predicate, timeout * WAIT_SCALE, interval=0.05)


MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
APP_CERTIFICATE = "fedcba9876543210fedcba9876543210"
BUCKET = "agora-serverless-test-recordings"
UPLOADER_SECRET = "agora-serverless/test-recording-uploader"
RECORDING_MODULES = (
    "service.recordings.api_handler",
    "service.recordings.workflow_tasks_handler",
    "service.recordings.reconciler_handler",
)


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    groups: tuple[str, ...] = ("admins",),
    subject: str = "admin-1",
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event as the JWT authorizer passes it on: the verified token in the
    Authorization header, its claims flattened (``"[admins hosts]"``) in the request context."""
    from tests.support.apigw import unsigned_jwt

    token_claims: dict[str, Any] = {"sub": subject, **({"cognito:groups": list(groups)} if groups else {})}
    claims: dict[str, Any] = {"sub": subject}
    if groups:
        claims["cognito:groups"] = "[" + " ".join(groups) + "]"
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    hdrs = {
        "content-type": "application/json",
        "authorization": f"Bearer {unsigned_jwt(token_claims)}",
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query or None,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "body": text,
        "isBase64Encoded": False,
    }


def response_json(response: dict[str, Any]) -> Any:
    body = response.get("body")
    return json.loads(body) if body else None


@dataclass
class RecordingStack:
    stack: Any
    dispatcher: Any
    emulator: Any
    link: Link
    sfn: Any
    ddb: Any

    @property
    def table(self) -> str:
        return self.stack.physical("RecordingRecordingsTable")

    @property
    def state_machine_arn(self) -> str:
        return self.stack.physical("RecordingWorkflowStateMachine")

    def function_name(self, logical_prefix: str) -> str:
        spec = self.stack.function(logical_prefix)
        assert spec is not None, logical_prefix
        return spec.name

    def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        event = api_event(method, path, **kwargs)
        response = self.dispatcher.invoke(self.function_name("RecordingApiFunction"), event, source="test")
        return response["statusCode"], response_json(response)

    def api_handler(self) -> Any:
        """The API handler itself, for calls from several threads at once (bypassing the dispatcher's pool)."""
        spec = self.dispatcher.spec(self.function_name("RecordingApiFunction"))
        return self.dispatcher.handler(spec), spec

    def task(self, event: dict[str, Any]) -> Any:
        """One workflow step, run by the real task function (tests without execution arrange states so)."""
        return self.dispatcher.invoke(self.function_name("RecordingTaskFunction"), event, source="test")

    def running(self, channel: str, *, host_uid: int = 1001, **body: Any) -> dict[str, Any]:
        """A recording in RECORDING with a real task in the emulator, made by the workflow's own steps
        (for stacks whose executions do not run)."""
        self.emulator.join(channel, host_uid, role="host")
        status, created = self.api("POST", "/recordings", body={"channel": channel, **body})
        assert status == 202, created
        recording_id = created["recording_id"]
        self.acquire_and_start(recording_id)
        self.task({"action": "wait", "recordingId": recording_id, "taskToken": "token-" + recording_id})
        item = self.item(recording_id)
        assert item["status"] == "RECORDING" and item["sid"]
        return item

    def acquire_and_start(self, recording_id: str, attempts: int = 5) -> None:
        """Acquire then start, as the workflow does: a start that finds the resource older than the test
        limit (``recordingResourceMaxAgeSeconds`` = 5 s, which a loaded machine can exceed between the two
        calls) acquires again, like the workflow's CountReacquire. So no test depends on machine speed."""
        from local.runtime import FunctionError

        for attempt in range(attempts):
            self.task({"action": "acquire", "recordingId": recording_id, "reacquires": attempt})
            try:
                self.task({"action": "start", "recordingId": recording_id, "reacquires": attempt})
                return
            except FunctionError as exc:
                if exc.error_type != "AgoraResourceExpiredError" or attempt == attempts - 1:
                    raise

    def reconcile(self) -> dict[str, int]:
        return self.dispatcher.invoke(self.function_name("RecordingReconcilerFunction"), {}, source="schedule")

    def item(self, recording_id: str) -> dict[str, Any]:
        """The stored item itself (camelCase attributes): what the table holds, not the use cases' view of it."""
        from service.adapters.dynamodb import from_item
        from service.recordings.repository import rec_key

        raw = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": rec_key(recording_id)}}, ConsistentRead=True)
        item = from_item(raw.get("Item"))
        assert item is not None, recording_id
        return item

    def recording(self, recording_id: str) -> Recording:
        """The recording as the use cases see it (``repository.from_item``)."""
        from service.recordings.repository import RecordingsRepository

        found = RecordingsRepository(self.table, client=self.ddb).get(recording_id)
        assert found is not None, recording_id
        return found

    def execution_arn(self, recording_id: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{recording_id}"

    def wait_execution(self, recording_id: str, timeout: float = 30.0) -> dict[str, Any]:
        arn = self.execution_arn(recording_id)
        deadline = time.monotonic() + timeout * WAIT_SCALE
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(
            f"execution {recording_id} still RUNNING after {timeout * WAIT_SCALE}s: {self.trail(recording_id)}"
        )

    def trail(self, recording_id: str | None = None, last: int = 40, *, arn: str | None = None) -> list[str]:
        """An execution's last events in short (type, state, and a Lambda's result or error), for a failure
        message: an execution still running is a puzzle without them. ``arn``: another state machine's."""
        out: list[str] = []
        for e in self.history(recording_id, arn=arn)[-last:]:
            details = next((v for k, v in e.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
            what = details.get("name") or details.get("output") or details.get("error") or ""
            out.append(f"+{e['timestamp']:%H:%M:%S.%f} {e['type']} {str(what)[:160]}")
        return out

    def wait_status(self, recording_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout * WAIT_SCALE
        item: dict[str, Any] = {}
        while time.monotonic() < deadline:
            item = self.item(recording_id)
            if item.get("status") == status:
                return item
            time.sleep(0.03)
        raise AssertionError(
            f"recording {recording_id} is {item.get('status')}, not {status}, after {timeout * WAIT_SCALE}s"
        )

    def history(self, recording_id: str | None = None, *, arn: str | None = None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        execution = arn or self.execution_arn(str(recording_id))
        kwargs: dict[str, Any] = {"executionArn": execution, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def states_entered(self, recording_id: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(recording_id)
            if e["type"].endswith("StateEntered")
        ]

    def emulator_tasks(self, channel: str) -> list[dict[str, Any]]:
        return [t for t in self.emulator.tasks() if t["cname"] == channel]


class Link:
    """A TCP forwarder between the functions and the emulator that a test can cut ("Agora unreachable"):
    while down, connections are refused and open ones are closed (so keep-alive cannot hide the outage)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(source)


def _forget_recording_modules() -> None:
    """A new stack is a new environment: the handlers build their apps again (from this stack's variables).

    A handler not imported yet is left alone: the local runtime imports it, under the function's own
    Powertools service name."""
    import sys

    from service.adapters.aws import reset_clients

    reset_clients()
    for name in RECORDING_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            module.reset()


@contextlib.contextmanager
def recording_stack(
    *,
    execute: bool = True,
    emulator_kwargs: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    uploads: bool = False,
) -> Iterator[RecordingStack]:
    """moto + the synthesized stack + the emulator, for one test module. ``execute=False`` leaves
    executions RUNNING without running them (API tests arrange the recording states themselves).
    ``context`` overrides some of ``TEST_CONTEXT`` (the soak needs longer recordings). ``uploads=True``: the
    emulator's recorders upload into the stack's recordings bucket (through "real" S3, which moto intercepts
    in this process) and leave 0.2 s after the task ends."""
    if uploads:
        # the bucket is named once the stack exists (below); the emulator makes an uploader only with one
        uploading = {"s3_endpoint": "https://s3.amazonaws.com", "s3_bucket": "named-below", "exit_seconds": 0.2}
        emulator_kwargs = {**uploading, **(emulator_kwargs or {})}
    import boto3
    from moto import mock_aws

    from emulator import DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, Emulator
    from local.provision import lambda_dispatch, provision, serialized_dynamodb, synth_template

    template = synth_template({**TEST_CONTEXT, **(context or {})})
    emulator = Emulator(**{"qps": 200, "time_scale": 100.0, "seed": 7, **(emulator_kwargs or {})}).start()
    link = Link(emulator.port)
    saved = dict(os.environ)
    try:
        # said explicitly either way: moto's config is process-wide, and a local stack started earlier in this
        # process (LocalRuntime configures its in-process moto server) leaves execute_state_machine on
        config = MOTO_CONFIG if execute else {**MOTO_CONFIG, "stepfunctions": {"execute_state_machine": False}}
        with mock_aws(config=config), serialized_dynamodb():
            stack = provision(template)
            secrets = boto3.client("secretsmanager")
            env = stack.environment()
            secrets.create_secret(
                Name=env["AGORA_REST_SECRET_NAME"],
                SecretString=json.dumps(
                    {"customer_id": DEFAULT_CUSTOMER_ID, "customer_secret": DEFAULT_CUSTOMER_SECRET}
                ),
            )
            secrets.create_secret(
                Name=env["APP_CERTIFICATE_SECRET_NAME"], SecretString=json.dumps({"app_certificate": APP_CERTIFICATE})
            )
            overrides = {"AGORA_REST_BASE_URLS": link.url}
            if not env.get("RECORDINGS_BUCKET"):  # until the media construct provides the bucket
                boto3.client("s3").create_bucket(Bucket=BUCKET)
                overrides["RECORDINGS_BUCKET"] = BUCKET
            uploader = env.get("RECORDING_UPLOADER_SECRET_NAME") or UPLOADER_SECRET
            overrides["RECORDING_UPLOADER_SECRET_NAME"] = uploader
            with contextlib.suppress(secrets.exceptions.ResourceExistsException):
                secrets.create_secret(
                    Name=uploader, SecretString=json.dumps({"access_key": "AKIATEST", "secret_key": "test-secret"})
                )
            with lambda_dispatch(stack) as dispatcher:
                os.environ.update(overrides)
                if uploads:
                    emulator.world.s3_bucket = os.environ["RECORDINGS_BUCKET"]
                _forget_recording_modules()
                yield RecordingStack(
                    stack=stack,
                    dispatcher=dispatcher,
                    emulator=emulator,
                    link=link,
                    sfn=boto3.client("stepfunctions"),
                    ddb=boto3.client("dynamodb"),
                )
    finally:
        link.down()
        emulator.stop()
        os.environ.clear()
        os.environ.update(saved)
        _forget_recording_modules()


class NoticePump:
    """The webhook intake in miniature: a background thread hands this channel's new recording notices
    (product 3), in the order the emulator sent them, to :meth:`deliver`. The base applies each once;
    subclasses choose a hostile delivery (twice, reversed, one lost)."""

    def __init__(self, rs: RecordingStack, channel: str):
        self.rs, self.channel = rs, channel
        self.seen: set[str] = set()
        self.applied: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        for notice in batch:
            self.apply(notice)

    def apply(self, notice: dict[str, Any], times: int = 1) -> None:
        """Apply ``notice`` ``times`` times (an NCS resend), recording its event type once."""
        apply_recording_event = processor_applier()
        for _ in range(times):
            apply_recording_event(notice)
        self.applied.append(int(notice["eventType"]))

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = [
                n
                for n in self.rs.emulator.events()
                if n.get("productId") == 3
                and (n.get("payload") or {}).get("cname") == self.channel
                and n["noticeId"] not in self.seen
            ]
            self.seen.update(n["noticeId"] for n in batch)
            self.deliver(batch)
            time.sleep(0.02)


def recording_notice(
    item: dict[str, Any], event_type: int, sequence: int | None, *, service_type: int = 0, **details: Any
) -> dict[str, Any]:
    """An NCS cloud-recording notice (product 3) for the recording ``item``, as Agora sends it; ``sequence``
    None leaves it out (some events carry none)."""
    payload: dict[str, Any] = {
        "cname": item["channel"],
        "uid": str(item["recorderUid"]),
        "sid": item["sid"],
        "sendts": 1_700_000_000_000 + (sequence or 0),
        "serviceType": service_type,
        "details": details,
    }
    if sequence is not None:
        payload["sequence"] = sequence
    return {"noticeId": uuid.uuid4().hex, "productId": 3, "eventType": event_type, "notifyMs": 1, "payload": payload}


def processor_applier() -> Callable[[Mapping[str, Any]], None]:
    """``apply_recording_event`` as the webhook processor calls it: on the adapters built from this stack's
    variables (the recordings table ``grant_events()`` names, Step Functions)."""
    from service.recordings.events import recording_event_applier
    from service.recordings.settings import RecordingEventSettings

    return recording_event_applier(RecordingEventSettings.from_env())


def apply_notices(*notices: dict[str, Any]) -> None:
    """Apply each notice as the webhook processor does."""
    apply_recording_event = processor_applier()
    for n in notices:
        apply_recording_event(n)
