"""Soak: concurrent recordings against an Agora emulator with every fault on at once.

The SYNTHESIZED stack in moto with the real handlers (tests/workflow/recording_env.py, as the workflow
tests), the state machine run by moto's Step Functions interpreter, the emulator on loopback with:
injected 429 (no Retry-After), 5xx, 206/65, gateway 502/504, "failed to allocate worker" and held-then-
dropped connections, half of the ambiguous ones AFTER the effect; NCS notices lost, delayed, duplicated and
reordered (delivered over HTTP to a stand-in of the webhook intake that calls ``apply_recording_event``);
Agora's 10 QPS limit; the reconciler run every second as its schedule would.

Half the recordings are stopped through the API, half end by Agora (the host leaves; the recorder leaves
after maxIdleTime; event 11 may be lost, so the reconciler may be what ends it). Printed: the share that
reached the right terminal state (STOPPED, by the API or by the recorder's exit), overlapping tasks (two
recorders in one channel at one time), orphaned tasks (a recorder still running after its recording
ended) and 429s from Agora's QPS limit (ours must never meet it: the shared rate limiter). Target: 100%,
0, 0, 0; the run exits 1 otherwise. Bounded (every wait has a deadline) and seeded.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import random
import sys
import threading
import time
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
#: the workflow's numbers for the soak: the test context with room for 20 recordings on 2 shared cores
CONTEXT: dict[str, Any] = {
    "recordingMaxDurationSeconds": 300, "recordingResourceMaxAgeSeconds": 60, "recordingRetryMaxAttempts": 8,
    "recordingRetryMaxDelaySeconds": 2, "recordingReacquireLimit": 4, "recordingAgoraMaxAttempts": 2,
    "recordingResolveSeconds": 4, "recordingResolvePollSeconds": 1, "recordingStaleSeconds": 120,
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


class Intake(http.server.ThreadingHTTPServer):
    """Stands in for the webhook function: every notice the emulator manages to deliver is applied."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IntakeHandler)
        self.applied = 0
        self.failed = 0
        self.errors: list[str] = []
        self.in_flight = 0
        self.open = True  # closed when the stack goes away (late notices are not ours to apply)
        self.lock = threading.Lock()


class _IntakeHandler(http.server.BaseHTTPRequestHandler):
    server: Intake

    def do_POST(self) -> None:
        from service.recordings.events import apply_recording_event

        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        notice = json.loads(body or b"{}")
        status = 200
        with self.server.lock:
            mine = notice.get("productId") == 3 and self.server.open
            self.server.in_flight += mine
        if mine:
            try:
                apply_recording_event(notice)
            except Exception as exc:  # the intake answers 500 and NCS would resend; counted, never hidden
                status = 500
                with self.server.lock:
                    self.server.failed += 1
                    self.server.errors.append(f"event {notice.get('eventType')}: {type(exc).__name__}: {exc}"[:300])
            else:
                with self.server.lock:
                    self.server.applied += 1
            finally:
                with self.server.lock:
                    self.server.in_flight -= 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def _api(rs: Any, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    """The API as a client uses it: a 503 (our answer to a slow Agora) is tried again."""
    for _ in range(20):
        status, body = rs.api(method, path, **kwargs)
        if status != 503:
            return status, body
        time.sleep(0.5)
    return status, body


def run_one(rs: Any, index: int, rng: random.Random, results: list[dict[str, Any]]) -> None:
    channel = f"soak{SEED % 1000}x{index:02d}"
    by_api = index % 2 == 0
    rs.emulator.join(channel, 1001, role="host")
    status, body = _api(
        rs, "POST", "/recordings", body={"channel": channel, "recording_config": {"maxIdleTime": MAX_IDLE}}
    )
    result: dict[str, Any] = {"channel": channel, "by_api": by_api, "post": status}
    results[index] = result
    if status != 202:
        return
    recording_id = body["recording_id"]
    result["recording_id"] = recording_id
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and rs.item(recording_id).get("status") in ("REQUESTED", "STARTING"):
        time.sleep(0.1)
    time.sleep(rng.uniform(0.5, 2.0))  # recording
    if by_api:
        result["stop"] = _api(rs, "POST", f"/recordings/{recording_id}/stop")[0]
    else:
        rs.emulator.leave(channel, 1001)  # the host leaves: the recorder leaves after maxIdleTime
    with contextlib.suppress(AssertionError):  # judged below from the item
        rs.wait_execution(recording_id, timeout=240)
    item = rs.item(recording_id)
    result.update(status=item.get("status"), reason=item.get("stopReason"),
                  resolutions=[r.get("outcome") for r in item.get("resolutions") or []])  # fmt: skip
    if by_api:
        rs.emulator.leave(channel, 1001)


def right(result: dict[str, Any]) -> bool:
    if result.get("status") != "STOPPED":
        return False
    expected = {"api"} if result["by_api"] else {"recorder_exited", "reconciler"}
    return result.get("reason") in expected


def main() -> int:
    _environment()
    from tests.workflow.recording_env import recording_stack

    intake = Intake()
    threading.Thread(target=intake.serve_forever, daemon=True).start()
    emulator_kwargs = {**FAULTS, "webhook_url": f"http://127.0.0.1:{intake.server_address[1]}/ncs"}
    rng = random.Random(SEED)
    started = time.monotonic()
    with recording_stack(emulator_kwargs=emulator_kwargs, context=CONTEXT) as rs:
        done = threading.Event()

        def reconcile() -> None:
            while not done.wait(1.0):
                try:
                    rs.reconcile()
                except Exception as exc:  # a failed run is repaired by the next, as on AWS
                    print(f"reconciler run failed: {exc}", flush=True)

        threading.Thread(target=reconcile, daemon=True).start()
        results: list[dict[str, Any]] = [{} for _ in range(RECORDINGS)]
        seeds = [random.Random(rng.random()) for _ in range(RECORDINGS)]
        threads = [threading.Thread(target=run_one, args=(rs, i, seeds[i], results)) for i in range(RECORDINGS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
        done.set()
        channels = {r["channel"] for r in results if r}
        rs.emulator.wait_for(lambda e: not [t for t in e.running_tasks() if t["cname"] in channels], timeout=20)
        history = [t for t in rs.emulator.task_history() if t["cname"] in channels]
        sids = {t["sid"] for t in history}
        overlaps = [pair for pair in rs.emulator.overlapping_tasks() if set(pair) & sids]
        orphans = [t for t in rs.emulator.running_tasks() if t["cname"] in channels]
        stats = rs.emulator.stats()
        with intake.lock:
            intake.open = False
        deadline = time.monotonic() + 10
        while intake.in_flight and time.monotonic() < deadline:  # let the last notices finish with the stack
            time.sleep(0.05)
    intake.shutdown()
    elapsed = time.monotonic() - started
    ok = sum(1 for r in results if r and right(r))
    resolved = [o for r in results for o in r.get("resolutions") or []]
    webhooks = stats.get("webhooks") or {}
    print(f"{RECORDINGS} recordings at once ({RECORDINGS // 2} stopped through the API, {RECORDINGS // 2} ended by "
          f"Agora), every fault on, {elapsed:.0f}s")  # fmt: skip
    print(f"our rate limiter at {AGORA_QPS_SETTING} QPS, the emulator enforces Agora's {FAULTS['qps']}")
    print(f"Agora requests {stats['requests']}, injected faults {dict(stats['injected'])}")
    print(f"NCS: {webhooks.get('lost', '?')} lost, "
          f"{intake.applied} applied, {intake.failed} failed to apply; "
          f"start resolutions: adopted {resolved.count('adopted')}, removed {resolved.count('removed')}; "
          f"tasks started {len(history)}")  # fmt: skip
    for error in intake.errors:
        print(f"  intake: {error}")
    for r in results:
        if r and not right(r):
            print(f"  wrong: {r}")
    share = 100.0 * ok / RECORDINGS
    throttled = int(stats["throttled"])
    print(f"right terminal state {ok}/{RECORDINGS} ({share:.0f}%), overlapping tasks {len(overlaps)}, "
          f"orphaned tasks {len(orphans)}, 429s from Agora's QPS limit {throttled} (target 100%, 0, 0, 0)")  # fmt: skip
    print(f"SUMMARY soak: {share:.0f}% right terminal state, {len(overlaps)} overlapping, {len(orphans)} orphaned, "
          f"{throttled} QPS 429s over {RECORDINGS} recordings with every fault on (target 100%, 0, 0, 0)")  # fmt: skip
    return 0 if ok == RECORDINGS and not overlaps and not orphans and throttled == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
