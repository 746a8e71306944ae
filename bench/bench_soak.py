"""Soak: concurrent recordings through the local stack (``LocalRuntime``, what ``python -m local.run`` serves)
with every Agora fault on at once.

The SYNTHESIZED stack provisioned into moto, the real handlers dispatched as Lambda would (concurrent
invocations), Step Functions run by moto's interpreter, the recordings API over HTTP (JWT, API Gateway's
event), NCS notices from the emulator to the real webhook intake over HTTP (stored, then applied by the
inbox stream's processor), the reconciler invoked every second as its schedule would. The emulator, on
loopback, injects: 429 (no Retry-After), 5xx, 206/65, gateway 502/504, "failed to allocate worker" and
held-then-dropped connections, half of the ambiguous ones AFTER the effect; NCS notices lost, delayed,
duplicated and reordered; Agora's 10 QPS limit.

Half the recordings are stopped through the API, half end by Agora (the host leaves; the recorder leaves
after maxIdleTime; event 11 may be lost, so the reconciler may be what ends it). Printed: the share that
reached the right terminal state (STOPPED, by the API or by the recorder's exit), overlapping tasks (two
recorders in one channel at one time), orphaned tasks (a recorder still running after its recording
ended) and 429s from Agora's QPS limit (ours must never meet it: the shared rate limiter). Target: 100%,
0, 0, 0; the run exits 1 otherwise. Bounded (every wait has a deadline) and seeded.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = 20
AGORA_QPS_SETTING = 9
SEED = 20261129
FAULTS: dict[str, Any] = {
    "fault_429": 0.04, "fault_5xx": 0.04, "fault_206_65": 0.04, "fault_502": 0.02, "fault_504": 0.02,
    "fault_allocate": 0.02, "fault_timeout": 0.02, "timeout_ms": 400, "fault_after_effect": 0.5,
    "webhook_loss": 0.15, "webhook_delay": 0.2, "webhook_delay_ms": 800, "webhook_duplicates": 0.1,
    "webhook_reorder": 0.1, "qps": 10, "time_scale": 20.0, "seed": SEED,
}  # fmt: skip
#: the workflow's numbers for the soak (CDK context): short intervals, with room for 20 recordings on 2 shared cores
CONTEXT: dict[str, Any] = {
    "recordingMaxDurationSeconds": 300, "recordingResourceMaxAgeSeconds": 60, "recordingRetryMaxAttempts": 8,
    "recordingRetryMaxDelaySeconds": 2, "recordingReacquireLimit": 4, "recordingAgoraMaxAttempts": 2,
    "recordingRetryIntervalSeconds": 1, "recordingHaGraceSeconds": 1, "recordingResolveSeconds": 4,
    "recordingResolvePollSeconds": 1, "recordingStaleSeconds": 120,
    # Our shared limiter at 9 QPS against the emulator's (Agora's) 10, so 8/s x 9/10 = 7.2/s: with the old 8 %
    # headroom, a run at agoraQps 10 met the limit once in 107 requests (40 threads on 2 shared cores).
    "agoraQps": AGORA_QPS_SETTING,
}  # fmt: skip
MAX_IDLE = 5  # emulated seconds: a quarter of a real second at time_scale 20


def _environment() -> None:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():  # fmt: skip
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_PROFILE", None)
    for path in (ROOT / "functions", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger().setLevel(logging.CRITICAL)


class Stack:
    """The local stack as a client and an operator see it: the API over HTTP, the table, the executions."""

    def __init__(self, rt: Any):
        from service.recordings.repository import RecordingsRepository

        self.rt = rt
        self.token = rt.identity.issue_token("admin")
        self.repo = RecordingsRepository(rt.stack.physical("RecordingRecordingsTable"))
        self.executions = rt.stack.physical("RecordingWorkflowStateMachine").replace(":stateMachine:", ":execution:")
        self.reconciler = rt.stack.function("RecordingReconcilerFunction").name
        self.api_answers: dict[int, int] = {}
        self.lock = threading.Lock()

    def api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.rt.api_url + path, data=None if body is None else json.dumps(body).encode(), method=method
        )
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", "Bearer " + self.token)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 - loopback
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError:  # a reset or a timeout: the client does not know; it tries again (idempotently)
            status, raw = 0, b""
        with self.lock:
            self.api_answers[status] = self.api_answers.get(status, 0) + 1
        return status, json.loads(raw) if raw[:1] == b"{" else None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """As a client uses the API: a 503 (our answer to a slow Agora), 429 or no answer is tried again."""
        for _ in range(20):
            status, payload = self.api(method, path, body, headers)
            if status not in (0, 429, 502, 503, 504):
                return status, payload
            time.sleep(0.5)
        return status, payload

    def item(self, recording_id: str) -> dict[str, Any]:
        return dict(self.repo.get(recording_id) or {})

    def execution(self, recording_id: str) -> str:
        import boto3

        described = boto3.client("stepfunctions").describe_execution(executionArn=f"{self.executions}:{recording_id}")
        return str(described["status"])

    def reconcile(self) -> None:
        self.rt.dispatcher.invoke(self.reconciler, {}, source="schedule:soak")


def run_one(stack: Stack, index: int, rng: random.Random, results: list[dict[str, Any]]) -> None:
    rt = stack.rt
    channel = f"soak{SEED % 1000}x{index:02d}"
    by_api = index % 2 == 0
    rt.emulator.join(channel, 1001, role="host")
    body = {"channel": channel, "recording_config": {"maxIdleTime": MAX_IDLE}}
    status, created = stack.call("POST", "/recordings", body, {"Idempotency-Key": f"soak-{uuid.uuid4().hex}"})
    result: dict[str, Any] = {"channel": channel, "by_api": by_api, "post": status}
    results[index] = result
    if status != 202:
        return
    recording_id = created["recording_id"]
    result["recording_id"] = recording_id
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and stack.item(recording_id).get("status") in ("REQUESTED", "STARTING"):
        time.sleep(0.1)
    time.sleep(rng.uniform(0.5, 2.0))  # recording
    if by_api:
        result["stop"] = stack.call("POST", f"/recordings/{recording_id}/stop")[0]
    else:
        rt.emulator.leave(channel, 1001)  # the host leaves: the recorder leaves after maxIdleTime
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and stack.execution(recording_id) == "RUNNING":
        time.sleep(0.2)
    item = stack.item(recording_id)
    result.update(status=item.get("status"), reason=item.get("stopReason"),
                  resolutions=[r.get("outcome") for r in item.get("resolutions") or []])  # fmt: skip
    if by_api:
        rt.emulator.leave(channel, 1001)


def right(result: dict[str, Any]) -> bool:
    if result.get("status") != "STOPPED":
        return False
    expected = {"api"} if result["by_api"] else {"recorder_exited", "reconciler"}
    return result.get("reason") in expected


def main() -> int:
    _environment()
    from local.run import LocalRuntime, _DropMetricLines, free_port, quiet_third_party_logs

    quiet_third_party_logs()
    sys.stdout = _DropMetricLines(sys.stdout)  # type: ignore[assignment]  # Powertools' cold-start EMF lines
    rng = random.Random(SEED)
    started = time.monotonic()
    rt = LocalRuntime(
        api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), sqs_retry_delay=0.2,
        emulator_options=FAULTS, context=CONTEXT, env_overrides={"POWERTOOLS_LOG_LEVEL": "ERROR"},
    )  # fmt: skip
    with rt:
        ready = time.monotonic()
        stack = Stack(rt)
        done = threading.Event()
        reconciler_failures: list[str] = []

        def reconcile() -> None:
            while not done.wait(1.0):
                try:
                    stack.reconcile()
                except Exception as exc:  # a failed run is repaired by the next, as on AWS
                    reconciler_failures.append(str(exc)[:200])

        threading.Thread(target=reconcile, daemon=True).start()
        results: list[dict[str, Any]] = [{} for _ in range(RECORDINGS)]
        seeds = [random.Random(rng.random()) for _ in range(RECORDINGS)]
        threads = [threading.Thread(target=run_one, args=(stack, i, seeds[i], results)) for i in range(RECORDINGS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
        done.set()
        channels = {r["channel"] for r in results if r}
        rt.emulator.wait_for(lambda e: not [t for t in e.running_tasks() if t["cname"] in channels], timeout=20)
        history = [t for t in rt.emulator.task_history() if t["cname"] in channels]
        sids = {t["sid"] for t in history}
        overlaps = [pair for pair in rt.emulator.overlapping_tasks() if set(pair) & sids]
        orphans = [t for t in rt.emulator.running_tasks() if t["cname"] in channels]
        flushed = rt.emulator.flush_webhooks(timeout=60)  # NCS delivers one notice at a time: let it finish
        rt.dispatcher.drain(timeout=10)
        stats = rt.emulator.stats()
        failed_invocations: dict[str, int] = {}
        for invocation in list(rt.dispatcher.invocations):
            if not invocation.ok:
                key = f"{invocation.function.split('-', 1)[-1]}: {(invocation.error or '')[:80]}"
                failed_invocations[key] = failed_invocations.get(key, 0) + 1
        invocations = len(rt.dispatcher.invocations)
    elapsed = time.monotonic() - started
    ok = sum(1 for r in results if r and right(r))
    resolved = [o for r in results for o in r.get("resolutions") or []]
    webhooks = stats.get("webhooks") or {}
    print(f"{RECORDINGS} recordings at once through the local stack's HTTP API ({RECORDINGS // 2} stopped through "
          f"the API, {RECORDINGS // 2} ended by Agora), every fault on; {elapsed:.0f}s "
          f"({ready - started:.0f}s to start the stack)")  # fmt: skip
    print(f"our rate limiter at {AGORA_QPS_SETTING} QPS, the emulator enforces Agora's {FAULTS['qps']}")
    print(f"Agora requests {stats['requests']}, injected faults {dict(sorted(stats['injected'].items()))}")
    lost, queued = int(webhooks.get("lost", 0)), int(webhooks.get("queued", 0))
    print(f"NCS: {lost + queued} notices, {lost} lost, {webhooks.get('delayed')} delayed, "
          f"{webhooks.get('duplicated')} duplicated, {webhooks.get('reordered')} reordered; "
          f"{webhooks.get('delivered')} deliveries to the intake ({'all' if flushed else 'not all'} done by the end), "
          f"{webhooks.get('failed')} undeliverable; start resolutions: adopted {resolved.count('adopted')}, "
          f"removed {resolved.count('removed')}; tasks started {len(history)}")  # fmt: skip
    print(
        f"API answers {dict(sorted(stack.api_answers.items()))}; {invocations} function invocations, "
        f"{sum(failed_invocations.values())} raised (Step Functions' Retry or the stream's retry took them):"
    )
    for key, count in sorted(failed_invocations.items(), key=lambda kv: -kv[1]):
        print(f"  {count:3d} x {key}")
    for failure in reconciler_failures[:5]:
        print(f"  reconciler: {failure}")
    for r in results:
        if r and not right(r):
            print(f"  wrong: {r}")
    share = 100.0 * ok / RECORDINGS
    throttled = int(stats["throttled"])
    print(f"right terminal state {ok}/{RECORDINGS} ({share:.0f}%), overlapping tasks {len(overlaps)}, "
          f"orphaned tasks {len(orphans)}, 429s from Agora's QPS limit {throttled} (target 100%, 0, 0, 0)")  # fmt: skip
    print(f"SUMMARY soak: {share:.0f}% right terminal state, {len(overlaps)} overlapping, {len(orphans)} orphaned, "
          f"{throttled} QPS 429s over {RECORDINGS} recordings through the local stack with every fault on "
          f"(target 100%, 0, 0, 0)")  # fmt: skip
    return 0 if ok == RECORDINGS and not overlaps and not orphans and throttled == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
