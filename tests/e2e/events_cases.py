"""An app follows a recording from request to verified files through the local stack's events alone.

``LocalRuntime`` (what ``python -m local.run`` serves), with a hostile NCS: every notice delivered twice and
the upload notices (31, 32) lost. The app reads ``GET /local/events?after=<cursor>&wait=<s>`` (the EventBridge
envelopes the bus routed) and, at the same time, receives them on its own HTTP endpoint through
``--forward-events`` (which answers 503 to the first deliveries: they are retried). The test checks the exact
facts each ordering key received, each once, in sequence order, every detail valid against its schema.
Run in a child process by ``test_local_stack_e2e.py``. Every wait polls the events with a deadline: no fixed sleeps.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.run import LocalRuntime
from tests.e2e.hostile_cases import CONTEXT, EMULATOR, api, emulator, join, leave, local_stack, start, wait, wait_ended
from tests.support.event_contracts import assert_valid
from tests.support.servers import serving

pytestmark = pytest.mark.slow
HOST = 1001
FAIL_FIRST = 2  # the app's endpoint answers 503 this many times first


class App(ThreadingHTTPServer):
    """The app's webhook endpoint: 503 to the first deliveries, then 200; keeps every body it accepted."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with app.lock:
                    if app.refused < FAIL_FIRST:
                        app.refused += 1
                        status = 503
                    else:
                        app.accepted.append(json.loads(body))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)
        serving(self).start()


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    server = App()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def runtime(app: App) -> Iterator[LocalRuntime]:
    forward = f"http://127.0.0.1:{app.server_port}/events"
    with local_stack(emulator_options=EMULATOR, context=CONTEXT, forward_events=forward) as rt:
        yield rt


class Reader:
    """The app's reader of ``GET /local/events``: follows the cursor, keeps every envelope."""

    def __init__(self, rt: LocalRuntime):
        self.rt, self.cursor, self.seen = rt, "0", []

    def poll(self) -> list[dict[str, Any]]:
        url = f"{self.rt.api_url}/local/events?after={self.cursor}&wait=2"
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
        self.cursor = body["cursor"]
        for envelope in body["events"]:
            assert {"detail-type", "detail", "source", "id", "time"} <= set(envelope)
            assert_valid(envelope)
        self.seen.extend(body["events"])
        return list(self.seen)

    def of(self, key: str) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["detail"]["ordering_key"] == key]


def _types(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in sorted(envelopes, key=lambda e: int(e["detail"]["sequence"]))]


def test_a_recording_followed_through_events_alone(runtime: LocalRuntime, app: App) -> None:
    emulator(runtime, "POST", "/emulator/webhooks", {"duplicates": 1.0, "lose_types": [31, 32]})
    channel = "ev" + uuid.uuid4().hex[:10]
    reader = Reader(runtime)
    join(runtime, channel)
    recording_id = start(runtime, channel)
    key = f"recording:{recording_id}"
    wait("Recording Started", lambda: reader.poll() and "Recording Started" in _types(reader.of(key)))
    assert api(runtime, "POST", f"/recordings/{recording_id}/stop")[0] in (200, 202)
    status, done = wait_ended(runtime, recording_id)
    assert status == "SUCCEEDED" and done["status"] == "STOPPED", done
    leave(runtime, channel)
    sid = str(done["sid"])

    def settled() -> bool:
        reader.poll()
        media = {e["detail-type"]: e for e in reader.seen if e["detail"].get("sid") == sid and "media:" in
                 e["detail"]["ordering_key"]}  # fmt: skip
        integrity = media.get("Recording Integrity Checked")
        left = [e for e in reader.of(f"channel:{channel}:user:{HOST}") if e["detail-type"] == "User Left Channel"]
        closed = reader.of(f"channel:{channel}")  # Agora's channel-destroy notice (102) comes after the last leave
        return bool(integrity and integrity["detail"]["status"] == "complete"
                    and "Recording Duration Computed" in media and left and closed)  # fmt: skip

    wait("files verified, the host gone and the channel closed", settled)
    assert runtime.emulator.flush_webhooks(timeout=30)
    webhooks = emulator(runtime, "GET", "/emulator/stats")["webhooks"]
    assert webhooks["duplicated"] > 0, webhooks
    reader.poll()  # anything the flushed duplicates could have caused

    # the recording, in order, each fact once; Stopped and Files Ready come from one write (the stop
    # response's uploadingStatus, since NCS 31/32 were lost): same sequence, in the documented order
    assert _types(reader.of(key)) == [
        "Recording Requested", "Recording Started", "Recording Stopped", "Recording Files Ready",
    ]  # fmt: skip
    lifecycle = {e["detail-type"]: e["detail"] for e in reader.of(key)}
    assert lifecycle["Recording Stopped"]["reason"] == "api"
    assert lifecycle["Recording Files Ready"]["uploading_status"] == "uploaded"
    assert lifecycle["Recording Files Ready"]["files"] and lifecycle["Recording Started"]["sid"] == sid
    # the files' facts: "complete" once and last (a late segment could first make a check "incomplete"); the
    # duration once its streams ended (again only if a longer copy changed it)
    checks = sorted(reader.of(f"media:{sid}:#INTEGRITY"), key=lambda e: int(e["detail"]["sequence"]))
    statuses = [e["detail"]["status"] for e in checks]
    assert statuses[-1] == "complete" and "complete" not in statuses[:-1], statuses
    durations = [e["detail"]["duration_us"] for e in reader.of(f"media:{sid}:#TOTALS")]
    assert durations and durations[-1] > 0 and len(set(durations)) == len(durations)
    assert {e["detail"]["recording_id"] for e in reader.seen if e["detail"].get("sid") == sid} == {recording_id}
    # the host joined once and left once, although every RTC notice came twice
    assert _types(reader.of(f"channel:{channel}:user:{HOST}")) == ["User Joined Channel", "User Left Channel"]
    assert _types(reader.of(f"channel:{channel}")) == ["Channel Closed"]
    bots = [e for e in reader.seen if e["detail"].get("bot") and e["detail"]["channel"] == channel]
    assert {e["detail-type"] for e in bots} == {"User Joined Channel", "User Left Channel"}  # the recorder
    ids = [e["detail"]["event_id"] for e in reader.seen]
    assert len(ids) == len(set(ids)), "no fact published twice"

    # the app's own endpoint got the same events (after its 503s were retried), none lost
    def forwarded() -> bool:
        return {e["id"] for e in app.accepted} >= {e["id"] for e in reader.seen}

    wait("every event forwarded to the app's endpoint", forwarded)
    assert app.refused == FAIL_FIRST
    assert runtime.events.forwarder.dead_letters == []
