"""Serves the web example (``examples/web/``) on an origin of its own, as a real web app would be served.

The page is static; only ``/config.js`` is generated, so the page knows where the local API is and
signs in with the local issuer (``POST /local/token``). Deployed, the same page reads a ``config.js``
written by hand (see docs/web-client.md). Loopback only; GET and HEAD only.
"""

from __future__ import annotations

import errno
import json
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from local.api_server import LISTEN_BACKLOG, SHUTDOWN_POLL, PortInUse

WEB_ROOT = Path(__file__).resolve().parents[1] / "examples" / "web"


def local_config(api_url: str, users: list[dict[str, Any]], *, real_agora: bool = False, app_id: str = "") -> str:
    """The page's configuration for the local stack (the deployed one names an OIDC issuer instead).

    ``realAgora``: the stack mints tokens for a real Agora project (``AGORA_APP_ID`` in local.env), so the page
    may join a real channel with the Agora Web SDK; ``agoraAppId``: the App ID the tokens are minted for (the
    emulator's local one when ``realAgora`` is false); ``localEvents``: the API serves the bus's events at
    ``GET /local/events``, so recording cards list them live (a deployed API has no such endpoint)."""
    config = {"apiUrl": api_url, "signIn": "local", "localUsers": users, "renewBeforeSeconds": 30,
              "realAgora": real_agora, "agoraAppId": app_id, "localEvents": True}  # fmt: skip
    return f"window.AGORA_SERVERLESS_CONFIG = {json.dumps(config, indent=2)};\n"


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class WebServer:
    """A static file server for ``root`` with a generated ``/config.js``."""

    def __init__(self, *, host: str, port: int, config_js: str, root: Path = WEB_ROOT):
        self.host, self.port, self.root = host, port, root
        self.config_js = config_js
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        web = self

        class Handler(_Handler):
            server_ref = web

        try:
            self._server = _Server((self.host, self.port), Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    exc.errno, f"port {self.port} for the web example is already in use on {self.host}; "
                    "choose another with make run WEB_PORT=PORT or --web-port PORT"
                ) from exc  # fmt: skip
            raise
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, name="local-web",
                         daemon=True).start()  # fmt: skip

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def resolve(self, target: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path; never outside ``root``."""
        path = unquote(urlsplit(target).path)
        if path == "/config.js":
            return 200, "application/javascript; charset=utf-8", self.config_js.encode()
        if path.endswith("/"):
            path += "index.html"
        root = self.root.resolve()
        candidate = (root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return 404, "text/plain; charset=utf-8", b"not found\n"
        kind = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        return 200, kind, candidate.read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server_ref: WebServer
    protocol_version = "HTTP/1.1"
    server_version = "agora-serverless-web"

    def do_GET(self) -> None:
        status, kind, body = self.server_ref.resolve(self.path)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass
