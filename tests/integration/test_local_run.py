"""``make run`` as a user meets it: start ``python -m local.run``, use the printed curls, stop it with Ctrl-C.

The stack runs in a child process (it hosts every handler in-process with the stack's environment).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.synth import cached_template, template_key
from tests.support.child import warm_template
from tests.support.waits import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@pytest.mark.slow
def test_run_serves_the_printed_routes_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    api, moto, emulator, web = _free_port(), _free_port(), _free_port(), _free_port()
    warm_template(web_port=web)
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.run", "--port", str(api), "--moto-port", str(moto),
         "--emulator-port", str(emulator), "--web-port", str(web)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while "Ctrl-C stops it" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the local stack did not start in 300 s"
            time.sleep(0.2)
        banner = (tmp_path / "run.log").read_text()
        base = f"http://127.0.0.1:{api}"
        assert f"{base}/docs" in banner and f"API={base};" in banner
        assert 'curl -s -X POST "$API/local/token"' in banner
        assert 'curl -s -w \'\\n\' -X POST "$API/tokens" -H "Authorization: Bearer $HOST"' in banner
        assert f"Web example (sign in, tokens, renewal):  http://127.0.0.1:{web}/" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/config.js", timeout=10) as resp:
            assert f'"apiUrl": "{base}"' in resp.read().decode()

        status, body = _call("POST", f"{base}/local/token", {"username": "host-1"})
        assert status == 200
        token = body["id_token"]
        status, minted = _call("POST", f"{base}/tokens", {"channel": "room-1", "role": "publisher"}, token)
        assert status == 200 and minted["role"] == "publisher" and minted["rtc_token"].startswith("007")
        assert _call("POST", f"{base}/tokens", {"channel": "room-1"})[0] == 401
        with urllib.request.urlopen(f"{base}/docs", timeout=10) as resp:
            assert b"swagger-ui" in resp.read()
        status, tasks = _call("GET", f"http://127.0.0.1:{emulator}/emulator/tasks")
        assert status == 200 and "tasks" in tasks
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output[-3000:]
    assert output.rstrip().endswith("stopped.")
    assert "POST /tokens -> 200" in output and "POST /tokens -> 401" in output


def test_a_taken_port_exits_2_with_a_clear_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "local.run", "--port", str(port), "--moto-port", str(_free_port()),
             "--emulator-port", str(_free_port())],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"port {port} for the local API is already in use" in result.stderr
    assert "choose another with make run PORT=PORT or --port PORT" in result.stderr  # make run users and the rest


def test_a_wildcard_cors_origin_is_refused_before_anything_starts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.run", "--cors-origins", "*"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: --cors-origins: corsOrigins '*' is refused"), result.stderr


def _lock_waiters(lock: Path) -> int:
    """Lock requests blocked on ``lock`` (``/proc/locks`` lists each waiter as a line with ``->``)."""
    inode = f":{lock.stat().st_ino} "
    return sum(1 for line in Path("/proc/locks").read_text().splitlines() if "->" in line and inode in line)


def test_a_cache_miss_waits_for_the_start_already_synthesizing_and_reads_its_template(tmp_path: Path) -> None:
    """Two stacks starting at once (make run and make demo, two test workers) synthesize a missing template once:
    the second finds the first's lock, waits, and reads what the first stored (had it synthesized, the stack's
    resources would be in it, not this placeholder)."""
    context = {"agoraAppId": "d" * 32}
    path = tmp_path / f"template-{template_key(context)}.json"
    lock = path.with_name(f".{path.stem}.lock")
    lock.touch()
    got: list[tuple[dict[str, Any], bool]] = []
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first start, synthesizing
        second = threading.Thread(target=lambda: got.append(cached_template(context, tmp_path)), daemon=True)
        second.start()
        # the second start missed the cache and now waits on the lock (or it ended without waiting: a failure)
        assert wait_until(lambda: _lock_waiters(lock) > 0 or not second.is_alive(), timeout=60)
        assert second.is_alive(), got
        path.write_text('{"Resources": {"FromTheFirstStart": {}}}')  # what the first start stores
    second.join(60)
    assert got == [({"Resources": {"FromTheFirstStart": {}}}, True)]


LAZY_BATCH_CHECK = """
import sys
from local.patches import moto_batch_imported_lazily
moto_batch_imported_lazily()
import moto.stepfunctions.parser.models  # what a local stack's first state machine loads in its moto server
print("ec2 imported:", "moto.ec2" in sys.modules, "batch models imported:", "moto.batch.models" in sys.modules)
import boto3
from moto import mock_aws
from moto.backends import get_backend
with mock_aws():
    batch = boto3.client("batch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    print("compute environments:", batch.describe_compute_environments()["computeEnvironments"])
from moto.batch import batch_backends
from moto.batch.models import batch_backends as real
print("same backend:", batch_backends is real and get_backend("batch") is real)
"""


def test_the_step_functions_interpreter_loads_without_ec2_and_batch_still_answers() -> None:
    """A fresh interpreter, as ``make run``'s: the interpreter's import no longer drags in Batch's and EC2's models
    (``local.patches.moto_batch_imported_lazily``); a Batch request through moto still reaches its real backend."""
    result = subprocess.run([sys.executable, "-c", LAZY_BATCH_CHECK], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "ec2 imported: False batch models imported: False", "compute environments: []", "same backend: True",
    ]  # fmt: skip
