"""``make run`` from start to stop, twice, as a user meets it: a cold template cache then a warm one, ``--state``,
``GET /health``, and Ctrl-C to the process group.

The stack runs as a child process in a session of its own, on free ports, with a temporary directory (``TMPDIR``);
the cold start has a template cache of its own (it must synthesize), the restart without ``--state`` the repository's
(``make run``'s, which ``test_local_run.py`` and ``make demo KEEP=1`` share: the same template, synthesized once
however many of them miss it at once); readiness is ``GET /health`` answering 200, polled. A clean stop is:
exit 0 and "stopped." last, no traceback, nothing left in the temporary directory, every port free again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agorakit.ncs.signature import signature_headers

from tests.support.child import warm_template

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 600  # a cold synth on a loaded 2-core machine


#: every stack this module started: a test that fails before its clean stop must not leave one running
_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_stack_left_running() -> Iterator[None]:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:  # the test failed before stopping it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    """Nothing listens (a connection is refused) and a server may bind it again (as the local stack binds: with
    SO_REUSEADDR, since the connections this test made leave the port in TIME_WAIT for a while)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _call(method: str, url: str, body: Any = None, token: str | None = None, *,
          headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:  # fmt: skip
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload or b"null")
    except ValueError:
        return status, payload.decode()  # a playlist


def _until(condition: Callable[[], Any], what: str, proc: subprocess.Popen[bytes], log: Path,
           timeout: float = 120) -> Any:  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert proc.poll() is None, f"the stack exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    def output(self) -> str:
        return self.log.read_text()


def _start(tmp: Path, name: str, *extra: str, cache: Path | None = None) -> Stack:
    """``python -m local.run`` on free ports, until ``GET /health`` answers 200; ``cache``: the template cache
    (None: the repository's, as ``make run`` uses)."""
    ports = {"api": _free_port(), "moto": _free_port(), "emulator": _free_port(), "web": _free_port()}
    if cache is None:  # the repository's cache: from this worker's synthesis if it misses (the cold start's is its own)
        warm_template(web_port=ports["web"])
    log = tmp / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE")}  # as in a user's shell
    env.update(PYTHONUNBUFFERED="1", TMPDIR=str(tmp / "tmp"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.run", "--port", str(ports["api"]), "--moto-port", str(ports["moto"]),
         "--emulator-port", str(ports["emulator"]), "--web-port", str(ports["web"]), "--quiet",
         "--config", str(tmp / "local.env"), *(["--cache-dir", str(cache)] if cache else []), *extra],
        cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    _STARTED.append(proc)
    stack = Stack(proc, log, ports)

    def healthy() -> bool:
        try:
            return _call("GET", f"{stack.api}/health")[0] == 200
        except OSError:
            return False

    _until(healthy, "GET /health answering 200", proc, log, timeout=START_TIMEOUT)
    # the API answers before the banner is printed: the tests read the banner, so wait for its last line too
    _until(lambda: "\nready in " in stack.output(), "the banner's 'ready in' line", proc, log, timeout=START_TIMEOUT)
    return stack


def _stop_cleanly(stack: Stack, tmp: Path) -> str:
    os.killpg(stack.proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    try:
        code = stack.proc.wait(timeout=60)
    finally:
        if stack.proc.poll() is None:
            os.killpg(stack.proc.pid, signal.SIGKILL)
    output = stack.output()
    assert code == 0, output[-3000:]
    assert output.rstrip().endswith("stopped."), output[-3000:]
    assert "Traceback" not in output and "BrokenPipeError" not in output, output[-3000:]
    assert list((tmp / "tmp").iterdir()) == [], "left in the temporary directory"
    taken = [f"{name} {port}" for name, port in stack.ports.items() if not _port_free(port)]
    assert taken == [], "ports still taken after the stop"
    return output


def _banner_value(output: str, prefix: str) -> str:
    line = next(line for line in output.splitlines() if line.strip().startswith(prefix))
    return line.strip().removeprefix(prefix)


@pytest.mark.slow
def test_cold_then_warm_start_state_kept_health_and_a_clean_stop(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "local.env").write_text("EMULATOR_OPTIONS=time_scale=20\n")
    state = tmp_path / "state"

    # -- first start: nothing cached, a fresh state directory ----------------------------------------------
    first = _start(tmp_path, "first", "--state", str(state), cache=tmp_path / "cache")
    output = first.output()
    assert "template: synthesized" in output
    assert "end-of-life" not in output.lower(), "the Node.js end-of-life banner was printed"
    for phase in ("AWS (moto server) on", "provisioned in moto:", "Agora emulator on", "local API on",
                  "web example on", "ready in"):  # fmt: skip
        assert phase in output, phase
    status, health = _call("GET", f"{first.api}/health")
    assert status == 200 and health["status"] == "ready"
    assert health["moto"]["ready"] and health["emulator"]["ready"] and health["functions"]["ready"]
    assert health["functions"]["count"] > 5 and health["functions"]["missing"] == []

    ncs_secret = _banner_value(output, "export NCS_SECRET=").strip("'")
    admin = _call("POST", f"{first.api}/local/token", {"username": "admin"})[1]["id_token"]
    emulator = f"http://127.0.0.1:{first.ports['emulator']}"
    assert _call("POST", f"{emulator}/emulator/channels/persist/join", {"uid": 1001, "role": "host"})[0] == 200
    status, created = _call("POST", f"{first.api}/recordings", {"channel": "persist"}, admin)
    assert status in (200, 201, 202), created
    rec = created["recording_id"]

    def status_is(wanted: str) -> Callable[[], bool]:
        return lambda: _call("GET", f"{first.api}/recordings/{rec}", token=admin)[1].get("status") == wanted

    _until(status_is("RECORDING"), "the recording to record", first.proc, first.log)
    assert _call("POST", f"{first.api}/recordings/{rec}/stop", token=admin)[0] in (200, 202)
    _until(status_is("STOPPED"), "the recording to stop", first.proc, first.log)
    files = _until(lambda: _call("GET", f"{first.api}/recordings/{rec}", token=admin)[1].get("files"),
                   "the recording's files", first.proc, first.log)  # fmt: skip
    _stop_cleanly(first, tmp_path)
    assert sorted(p.name for p in state.iterdir()) == ["data", "identity.json", "identity.pem", "secrets.json"]

    # -- second start: the template from the cache, the same secrets, key and data -------------------------
    second = _start(tmp_path, "second", "--state", str(state), cache=tmp_path / "cache")
    output = second.output()
    assert "template: from the cache" in output and "restored" in output
    assert _banner_value(output, "export NCS_SECRET=").strip("'") == ncs_secret
    status, again = _call("GET", f"{second.api}/recordings/{rec}", token=admin)  # the ID token from before
    assert status == 200 and again["status"] == "STOPPED" and all(f in again["files"] for f in files)
    status, playlist = _call("GET", f"{second.api}/recordings/{rec}/playlist", token=admin)
    assert status == 200 and playlist.startswith("#EXTM3U") and ".ts" in playlist, playlist  # the restored bucket
    body = json.dumps({"noticeId": "state-1", "productId": 1, "eventType": 101, "notifyMs": 1700000000000,
                       "payload": {"channelName": "persist", "ts": 1700000000}}).encode()  # fmt: skip
    status, _ = _call("POST", f"{second.api}/webhooks/agora", raw=body, headers=signature_headers(ncs_secret, body))
    assert status == 200  # the banner's NCS secret from before the restart still verifies
    _stop_cleanly(second, tmp_path)


@pytest.mark.slow
def test_without_state_a_restart_is_fresh(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "local.env").write_text("")
    first = _start(tmp_path, "first")
    admin = _call("POST", f"{first.api}/local/token", {"username": "admin"})[1]["id_token"]
    secret = _banner_value(first.output(), "export NCS_SECRET=")
    assert _call("GET", f"{first.api}/recordings?channel=x", token=admin)[0] == 200
    _stop_cleanly(first, tmp_path)
    second = _start(tmp_path, "second")
    assert _call("GET", f"{second.api}/recordings?channel=x", token=admin)[0] == 401  # a new signing key
    assert _banner_value(second.output(), "export NCS_SECRET=") != secret
    _stop_cleanly(second, tmp_path)
