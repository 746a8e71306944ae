"""``make demo``: a fresh local stack (random free ports) and a scripted scenario through the public API.

Every step checks what it should have caused and prints why when it did not; a step whose capability
is not in the stack yet fails (it is never skipped), and a step that depends on a failed one fails as
"not run". Exit 0 only if every step passed; the last line is a one-line summary.

Over 400 lines on purpose: the demo is one scripted scenario of ten steps, read top to bottom.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from local.run import LocalRuntime, StartupError, exit_quickly, free_port, quiet_third_party_logs

CHANNEL = "demo-room"
DONE_STATUSES = {"STOPPED"}
FAILED_STATUSES = {"FAILED", "ABORTED", "ERROR", "TIMED_OUT"}


class StepFailed(Exception):
    """The step did not do what it should; the message says what happened instead."""


class FinalFailure(StepFailed):
    """A failure that waiting cannot change (a terminal state)."""


class CapabilityMissing(FinalFailure):
    """The route the step needs is not in the stack: waiting cannot help."""


@dataclass
class Outcome:
    number: int
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class HttpResult:
    status: int
    body: Any
    text: str

    def describe(self) -> str:
        return f"HTTP {self.status} {self.text[:400]}"


def http(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 30.0) -> HttpResult:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback URLs only
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return HttpResult(status, parsed, text)


def poll(check: Callable[[], Any], *, timeout: float, interval: float = 0.25, what: str) -> Any:
    """Call ``check`` until it returns a truthy value; StepFailed with the last reason after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            value = check()
        except FinalFailure:
            raise
        except StepFailed as exc:
            last = str(exc)
            value = None
        if value:
            return value
        time.sleep(interval)
    raise StepFailed(f"{what} did not happen within {timeout:.0f}s (last: {last})")


def find_values(document: Any, predicate: Callable[[str], bool]) -> list[Any]:
    """Every value whose key satisfies ``predicate``, anywhere in a JSON document."""
    found: list[Any] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if predicate(str(key)):
                found.append(value)
            found.extend(find_values(value, predicate))
    elif isinstance(document, list):
        for value in document:
            found.extend(find_values(value, predicate))
    return found


def _brief(recording: dict[str, Any]) -> str:
    """The fields that explain a recording's state (long ids and tokens left out)."""
    keys = ("status", "error", "failure", "cause", "reason", "sid")
    picked = {k: v for k, v in recording.items() if k in keys or "error" in k.lower()}
    return json.dumps(picked or recording, default=str)[:500]


def uids_in(document: Any) -> set[int]:
    """Uids present according to an answer: int lists named users/hosts/audience/uids, else ``uid`` entries
    whose state is not "left"."""
    listed: set[int] = set()
    for value in find_values(document, lambda k: k.lower() in ("hosts", "audience", "users", "uids")):
        for item in value if isinstance(value, list) else []:
            if isinstance(item, int) or (isinstance(item, str) and item.isdigit()):
                listed.add(int(item))
    if listed:
        return listed
    present: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            uid, state = node.get("uid"), str(node.get("state", "in")).lower()
            if (isinstance(uid, int) or (isinstance(uid, str) and uid.isdigit())) and state not in ("left", "out"):
                present.add(int(uid))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return present


class Demo:
    def __init__(self, runtime: LocalRuntime, *, out: Callable[[str], None] = print, timeout_scale: float = 1.0):
        self.rt = runtime
        self.api = runtime.api_url
        self.emu = runtime.emulator_url
        self.out = out
        self.scale = timeout_scale
        self.state: dict[str, Any] = {}
        self.outcomes: list[Outcome] = []

    # -- helpers ------------------------------------------------------------------------------
    def route_missing(self, result: HttpResult, route: str) -> None:
        if result.status == 404 and result.body == {"message": "Not Found"}:
            raise CapabilityMissing(f"{route} is not a route of the stack yet (that capability has not landed)")

    def need(self, *keys: str) -> list[Any]:
        missing = [k for k in keys if k not in self.state]
        if missing:
            raise StepFailed(f"not run: it needs {', '.join(missing)} from an earlier step that failed")
        return [self.state[k] for k in keys]

    def recording(self) -> dict[str, Any]:
        rec_id, admin = self.need("recording_id", "token:admin")
        result = http("GET", f"{self.api}/recordings/{quote(rec_id, safe='')}", token=admin)
        self.route_missing(result, "GET /recordings/{id}")
        if result.status != 200 or not isinstance(result.body, dict):
            raise StepFailed(f"GET /recordings/{rec_id}: {result.describe()}")
        return result.body

    @staticmethod
    def status_of(recording: dict[str, Any]) -> str:
        status = recording.get("status") or recording.get("state") or ""
        return str(status).upper()

    def presence(self) -> set[int]:
        (admin,) = self.need("token:admin")
        result = http("GET", f"{self.api}/channels/{CHANNEL}/users?source=webhooks", token=admin)
        self.route_missing(result, "GET /channels/{name}/users")
        if result.status != 200:
            raise StepFailed(f"GET /channels/{CHANNEL}/users?source=webhooks: {result.describe()}")
        return uids_in(result.body)

    # -- the scenario -------------------------------------------------------------------------
    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("sign in a host, a viewer and an admin (local issuer)", self.sign_in),
            ("mint their Agora tokens (POST /tokens) and verify them", self.mint_tokens),
            ("the host and the viewer join the channel (emulator control API)", self.join_channel),
            ("start a cloud recording (POST /recordings as admin)", self.start_recording),
            ("presence appears from NCS webhooks (GET /channels/{name}/users?source=webhooks)", self.presence_step),
            ("the recording runs and uploads segments", self.recording_runs),
            ("stop the recording (POST /recordings/{id}/stop)", self.stop_recording),
            ("webhooks complete the workflow (GET /recordings/{id} -> STOPPED)", self.workflow_done),
            ("the m3u8 lands in S3 and its exact duration is on the recording", self.duration_step),
            ("kick the viewer (POST /channels/{name}/kick)", self.kick_step),
        ]

    def sign_in(self) -> str:
        assert self.rt.identity is not None, "the stack has no JWT authorizer"
        for user in ("host-1", "viewer-1", "admin"):
            result = http("POST", f"{self.api}/local/token", {"username": user})
            if result.status != 200:
                raise StepFailed(f"POST /local/token for {user}: {result.describe()}")
            token = result.body["id_token"]
            claims = self.rt.identity.verify(token)
            self.state[f"token:{user}"] = token
            self.state[f"sub:{user}"] = claims["sub"]
        return "3 ID tokens issued and verified against the authorizer's issuer and audience"

    def mint_tokens(self) -> str:
        from agorakit.tokens import parse_token, verify

        host, viewer = self.need("token:host-1", "token:viewer-1")
        details = []
        for who, token, role in (("host-1", host, "publisher"), ("viewer-1", viewer, "subscriber")):
            result = http("POST", f"{self.api}/tokens", {"channel": CHANNEL, "role": role}, token=token)
            self.route_missing(result, "POST /tokens")
            if result.status != 200:
                raise StepFailed(f"POST /tokens for {who}: {result.describe()}")
            body = result.body
            parsed = parse_token(body["rtc_token"]).to_dict()
            if parsed["app_id"] != self.rt.app_id:
                raise StepFailed(f"{who}'s token is for app {parsed['app_id']}, not {self.rt.app_id}")
            if not verify(body["rtc_token"], self.rt.secrets.app_certificate):
                raise StepFailed(f"{who}'s token is not signed with the app certificate")
            services = parsed.get("services") or []
            uids = {str(s.get("uid")) for s in services}
            channels = {s.get("channel_name") for s in services}
            if str(body["uid"]) not in uids or CHANNEL not in channels:
                raise StepFailed(
                    f"{who}'s token is for uid/channel {uids}/{channels}, expected {body['uid']}/{CHANNEL}"
                )
            if body["role"] != role:
                raise StepFailed(f"{who} asked for {role} and got {body['role']}")
            self.state[f"uid:{who}"] = int(body["uid"])
            details.append(f"{who} uid {body['uid']} {role}")
        denied = http("POST", f"{self.api}/tokens", {"channel": CHANNEL, "role": "publisher"}, token=viewer)
        if denied.status != 403:
            raise StepFailed(f"a viewer asking for a publisher token should get 403, got {denied.describe()}")
        return "; ".join(details) + "; viewer refused a publisher token (403)"

    def join_channel(self) -> str:
        if self.rt.emulator is None:
            raise StepFailed(self.rt.emulator_error or "the Agora emulator is not running")
        host_uid, viewer_uid = self.need("uid:host-1", "uid:viewer-1")
        for uid, role in ((host_uid, "host"), (viewer_uid, "audience")):
            result = http("POST", f"{self.emu}/emulator/channels/{CHANNEL}/join", {"uid": uid, "role": role})
            if result.status != 200:
                raise StepFailed(f"emulator join of {uid}: {result.describe()}")
        return f"uids {host_uid} (host) and {viewer_uid} (audience) are in {CHANNEL}"

    def start_recording(self) -> str:
        (admin,) = self.need("token:admin")
        result = http("POST", f"{self.api}/recordings", {"channel": CHANNEL, "mode": "mix"}, token=admin)
        self.route_missing(result, "POST /recordings")
        if result.status not in (200, 201, 202) or not isinstance(result.body, dict):
            raise StepFailed(f"POST /recordings: {result.describe()}")
        ids = [v for v in find_values(result.body, lambda k: k in ("id", "recording_id", "recordingId")) if v]
        if not ids:
            raise StepFailed(f"POST /recordings answered without a recording id: {result.text[:300]}")
        self.state["recording_id"] = str(ids[0])
        return f"recording {ids[0]} accepted (HTTP {result.status}, status {self.status_of(result.body) or '?'})"

    def presence_step(self) -> str:
        host_uid, viewer_uid = self.need("uid:host-1", "uid:viewer-1")
        expected = {host_uid, viewer_uid}
        seen = poll(lambda: (u := self.presence()) >= expected and u, timeout=30 * self.scale,
                    what=f"presence of {sorted(expected)}")  # fmt: skip
        return f"webhook presence lists {sorted(expected)} (all: {sorted(seen)})"

    def recording_runs(self) -> str:
        self.need("recording_id")

        def running() -> dict[str, Any] | None:
            rec = self.recording()
            status = self.status_of(rec)
            if status in FAILED_STATUSES | DONE_STATUSES:
                raise FinalFailure(f"the recording is {status} before it was stopped: {_brief(rec)}")
            tasks = http("GET", f"{self.emu}/emulator/tasks").body or {}
            for task in tasks.get("tasks", []):
                segments = sum(s.get("segments", 0) for s in (task.get("streams") or {}).values())
                if task.get("cname") == CHANNEL and segments >= 2:
                    self.state["sid"] = task.get("sid")
                    return task
            raise StepFailed(f"recording status {status or '?'}; no emulator task with 2 segments yet")

        task = poll(running, timeout=60 * self.scale, what="a running recording with 2 uploaded segments")
        return f"Agora task {task.get('sid')} is {task.get('state')} with segments uploading"

    def stop_recording(self) -> str:
        rec_id, admin, _ = self.need("recording_id", "token:admin", "sid")
        result = http("POST", f"{self.api}/recordings/{quote(rec_id, safe='')}/stop", {}, token=admin)
        self.route_missing(result, "POST /recordings/{id}/stop")
        if result.status not in (200, 202):
            raise StepFailed(f"POST /recordings/{rec_id}/stop: {result.describe()}")
        return f"stop accepted (HTTP {result.status})"

    def workflow_done(self) -> str:
        self.need("recording_id")

        def stopped() -> dict[str, Any] | None:
            rec = self.recording()
            status = self.status_of(rec)
            if status in FAILED_STATUSES:
                raise FinalFailure(f"the recording ended {status}: {_brief(rec)}")
            if status in DONE_STATUSES:
                return rec
            raise StepFailed(f"status {status or '?'}")

        rec = poll(stopped, timeout=60 * self.scale, what="status STOPPED")
        self.state["recording"] = rec
        return f"status {self.status_of(rec)}"

    def duration_step(self) -> str:
        import boto3
        from agorakit.m3u8 import parse_playlist

        rec_id, _ = self.need("recording_id", "recording")
        bucket = self.rt.recordings_bucket()
        if not bucket:
            raise StepFailed("the stack has no recordings bucket")
        s3 = boto3.client("s3")
        compact = rec_id.replace("-", "")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="recordings/").get("Contents", [])]
        playlists = [k for k in keys if k.endswith(".m3u8") and (compact in k or rec_id in k)]
        if not playlists:
            raise StepFailed(f"no .m3u8 of recording {rec_id} in s3://{bucket}/recordings/ (keys: {keys[:5]})")
        expected = Decimal(0)
        for key in playlists:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            expected += parse_playlist(body).duration_exact_seconds

        def shown() -> Decimal | None:
            rec = self.recording()
            values = find_values(rec, lambda k: "duration" in k.lower())
            numbers = []
            for value in values:
                try:
                    numbers.append(Decimal(str(value)))
                except (InvalidOperation, ValueError):
                    continue
            for number in numbers:
                if abs(number - expected) <= Decimal("0.001"):
                    return number
            raise StepFailed(f"durations on the recording: {values or 'none'}; the m3u8 says {expected}")

        value = poll(shown, timeout=30 * self.scale, what=f"duration {expected}s on the recording")
        return f"{len(playlists)} playlist(s), exact duration {expected}s; the recording shows {value}"

    def kick_step(self) -> str:
        admin, viewer_uid = self.need("token:admin", "uid:viewer-1")
        result = http(
            "POST", f"{self.api}/channels/{CHANNEL}/kick", {"uid": viewer_uid, "duration_seconds": 60}, token=admin
        )
        self.route_missing(result, "POST /channels/{name}/kick")
        if result.status not in (200, 201, 202):
            raise StepFailed(f"POST /channels/{CHANNEL}/kick: {result.describe()}")

        def gone_from_emulator() -> bool:
            channels = http("GET", f"{self.emu}/emulator/channels").body or {}
            users = uids_in([c for c in channels.get("channels", []) if c.get("name", c.get("cname")) == CHANNEL])
            if viewer_uid in users:
                raise StepFailed(f"uid {viewer_uid} is still in the emulated channel")
            return True

        poll(gone_from_emulator, timeout=15 * self.scale, what=f"uid {viewer_uid} leaving the channel")

        def gone_from_presence() -> bool:
            present = self.presence()
            if viewer_uid in present:
                raise StepFailed(f"webhook presence still lists {sorted(present)}")
            return True

        poll(gone_from_presence, timeout=30 * self.scale, what=f"uid {viewer_uid} leaving webhook presence")
        return f"uid {viewer_uid} kicked: out of the channel and out of webhook presence"

    # -- running ------------------------------------------------------------------------------
    def run(self) -> bool:
        steps = self.steps()
        for number, (name, fn) in enumerate(steps, start=1):
            started = time.monotonic()
            self.out(f"[{number}/{len(steps)}] {name} ...")
            try:
                detail, ok = fn(), True
            except StepFailed as exc:
                detail, ok = str(exc), False
            except Exception as exc:  # a demo bug or an unexpected answer: report it, go on
                detail, ok = f"{type(exc).__name__}: {exc}", False
            outcome = Outcome(number, name, ok, detail, time.monotonic() - started)
            self.outcomes.append(outcome)
            self.out(f"      {'ok' if ok else 'FAIL'} ({outcome.seconds:.1f}s): {detail}")
        return all(o.ok for o in self.outcomes)

    def summary(self) -> str:
        passed = sum(o.ok for o in self.outcomes)
        total = len(self.outcomes)
        if passed == total:
            return f"demo: PASSED, {passed}/{total} steps"
        first = next(o for o in self.outcomes if not o.ok)
        return (
            f"demo: FAILED, {passed}/{total} steps passed; "
            f"first failure: step {first.number} ({first.name}): {first.detail}"
        )


class _QuietHandlers:
    """stdout that drops what in-process handlers print (EMF metrics, logs) so the scenario reads clearly."""

    def __init__(self, stream: Any, dispatcher: Any):
        self._stream, self._dispatcher = stream, dispatcher

    def write(self, text: str) -> int:
        if getattr(self._dispatcher.current, "active", False):
            return len(text)
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.demo", description="scripted scenario on a fresh local stack"
    )
    parser.add_argument("--time-scale", type=float, default=10.0, help="emulated Agora seconds per real second")
    parser.add_argument("--verbose", action="store_true", help="show API requests and function logs")
    parser.add_argument("--keep", action="store_true",
                        help="leave the stack up after the scenario, with the banner (Ctrl-C stops it)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_third_party_logs()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    print("demo: starting a fresh local stack (one line per phase, with its time) ...", flush=True)
    runtime = LocalRuntime(
        progress=lambda line: print(f"demo: {line.strip()}", flush=True), web_port=0 if args.keep else None,
        api_port=free_port(), moto_port=free_port(), emulator_port=free_port(),
        env_overrides={} if args.verbose else {"POWERTOOLS_LOG_LEVEL": "ERROR"},
        emulator_options={"time_scale": args.time_scale},
        on_request=(lambda line: print(f"        {line}", flush=True)) if args.verbose else None,
        sqs_retry_delay=1.0,
    )  # fmt: skip
    started = time.monotonic()
    try:
        runtime.start()
    except StartupError as exc:
        print(f"demo: FAILED, the local stack did not start: {exc}", flush=True)
        return exc.exit_code
    original_stdout = sys.stdout
    if not args.verbose:
        sys.stdout = _QuietHandlers(original_stdout, runtime.dispatcher)
    try:
        print(f"demo: stack up in {time.monotonic() - started:.1f}s at {runtime.api_url}", flush=True)
        demo = Demo(runtime, out=lambda line: print(line, flush=True))
        ok = demo.run()
        print(demo.summary(), flush=True)
        if args.keep:
            sys.stdout = original_stdout
            _keep(runtime)
    finally:
        runtime.stop()
        sys.stdout = original_stdout
    if args.keep:
        print("stopped.", flush=True)
    return 0 if ok else 1


def _keep(runtime: LocalRuntime) -> None:
    """The stack stays up with the demo's data, and ``make run``'s banner, until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(runtime.banner(), flush=True)
    print("demo: the stack stays up (--keep); Ctrl-C stops it", flush=True)
    while not stop.wait(0.5):
        pass
    print("\nstopping ...", flush=True)


if __name__ == "__main__":
    exit_quickly(main())
