"""The Console emulator behind httpx's MockTransport (unit tests) or a loopback HTTP server (integration)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from emulator.console import ConsoleEmulator
from tests.support.servers import serving


def mock_transport(emulator: ConsoleEmulator) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = emulator.handle(
            request.method,
            request.url.path,
            parse_qs(request.url.query.decode()),
            request.content,
            dict(request.headers),
        )
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


class ConsoleServer:
    """``ConsoleEmulator`` mounted on a real HTTP server on loopback (what the emulator's server will do)."""

    def __init__(self, emulator: ConsoleEmulator):
        self.emulator = emulator
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body = outer.emulator.handle(
                    self.command, parts.path, parse_qs(parts.query), raw, dict(self.headers.items())
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = serving(self._server)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
