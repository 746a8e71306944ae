"""A loopback HTTP server that answers AWS requests from a script, for the fast client AND botocore.

Each request takes the next step of :attr:`ScriptedAws.script`: ``(status, headers, body)`` is sent as the
answer; ``RESET`` closes the connection without answering (a reply lost on the way back). What every request
carried (headers, body) is recorded, so a test compares what both clients sent on the same script. With
``close_after_reply`` the server closes each connection once it has answered (while the client believes it
kept alive), and sets :attr:`closed` when it has: an idle keep-alive connection dropped by AWS.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.servers import serving

RESET = "reset"
Step = tuple[int, dict[str, str], bytes] | str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as AWS

    def _answer(self) -> None:
        server: ScriptedAws = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with server.lock:
            server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            server.peers.append(self.client_address[1])
            step = server.script.pop(0) if server.script else server.default
        if step == RESET:
            self._close()
            return
        assert not isinstance(step, str)
        status, headers, payload = step
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        if server.close_after_reply:
            self._close()
            server.closed.set()

    def _close(self) -> None:
        """Close now: shutdown sends the FIN at once (close alone waits for the handler's file objects)."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    do_POST = _answer
    do_GET = _answer

    def log_message(self, *args: Any) -> None:
        pass


class ScriptedAws:
    def __init__(self, *, close_after_reply: bool = False):
        self.script: list[Step] = []
        self.default: Step = (200, {}, b"{}")
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.peers: list[int] = []  # the client port of each request: one port, one connection
        self.lock = threading.Lock()
        self.close_after_reply = close_after_reply
        self.closed = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = serving(self._server)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def play(self, steps: list[Step]) -> None:
        with self.lock:
            self.script = list(steps)
            self.requests = []
            self.peers = []

    def __enter__(self) -> ScriptedAws:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
