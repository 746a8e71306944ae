"""The emulator's HTTP front: Basic auth, the QPS limit, injected faults, JSON bodies, replies.

Like Agora's gateway: 401 with a ``message``, 429 "API rate limit exceeded" (``Retry-After`` only
when configured; Agora documents none), and faults drawn per request (faults.py), some of which
come after the request took effect.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from emulator.convoai import convo_error
from emulator.faults import NO_REPLY
from emulator.model import ApiError, gateway_error, rec_error
from emulator.routes import NO_ROUTE, api_route, control

if TYPE_CHECKING:
    from emulator.server import Emulator

logger = logging.getLogger("emulator")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # bursts of concurrent callers are queued, not reset
    emulator: Emulator


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AgoraEmulator/1.0"
    timeout = 10  # idle keep-alive connections are closed after this many seconds
    #: TCP_NODELAY: the headers and the body go out in two writes; with Nagle's algorithm the body waits for the
    #: client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        dispatch(self.server.emulator, self, "GET")

    def do_POST(self) -> None:
        dispatch(self.server.emulator, self, "POST")

    def do_PUT(self) -> None:
        dispatch(self.server.emulator, self, "PUT")

    def do_DELETE(self) -> None:
        dispatch(self.server.emulator, self, "DELETE")


def dispatch(emu: Emulator, handler: Handler, method: str) -> None:
    path, _, query = handler.path.partition("?")
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length > 0 else b""
    request_id = uuid.uuid4().hex
    segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
    try:
        if segments[:1] == ["emulator"]:
            status, body = control(emu, method, segments[1:], raw)
            reply(handler, status, body, request_id)
            return
        if emu.console.handles(method, path):
            _console(emu, handler, method, path, query=query, raw=raw, request_id=request_id)
            return
        op, call = api_route(emu, method, segments, parse_qs(query))
    except ApiError as exc:
        reply(handler, exc.status, exc.body, request_id, exc.headers)
        return
    except (TypeError, ValueError) as exc:  # malformed control input: a clear 400, never a crash
        reply(handler, 400, {"message": f"bad request: {exc}"}, request_id)
        return
    if op is None:
        reply(handler, 404, {"message": NO_ROUTE}, request_id)
        return
    arrived = time.monotonic()
    status, body, headers = _api(emu, handler, op, call, raw)
    with emu._stats_lock:  # logged before the answer leaves, so the log order is the request order
        emu._stats["by_status"]["no reply" if status == NO_REPLY else status] += 1
        emu._stats["log"].append(
            {
                "method": method,
                "host": handler.headers.get("Host"),
                "op": op,
                "status": status,
                "code": body.get("code") if isinstance(body, dict) else None,
                "t": arrived,
            }
        )
    if status == NO_REPLY:  # a timeout: the caller hears nothing, then the connection closes
        time.sleep(emu.faults.timeout_ms / 1000)
        handler.close_connection = True
        return
    reply(handler, status, body, request_id, headers)


def _console(
    emu: Emulator, handler: Handler, method: str, path: str, *, query: str, raw: bytes, request_id: str
) -> None:
    """A Console API request (console.py answers it: its own auth, 10 QPS per API, 201 for reads)."""
    status, body = emu.console.handle(method, path, parse_qs(query), raw, dict(handler.headers.items()))
    with emu._stats_lock:
        op = "console." + emu.console.api_name(method, path)
        emu._stats["requests"] += 1
        emu._stats["by_op"][op] += 1
        emu._stats["by_status"][status] += 1
        emu._stats["log"].append(
            {"method": method, "host": handler.headers.get("Host"), "op": op, "status": status, "code": None,
             "t": time.monotonic()}
        )  # fmt: skip
    reply(handler, status, body, request_id)


def authorized(emu: Emulator, handler: Handler) -> str | None:
    """None when the credentials are right, else the gateway's message."""
    header = handler.headers.get("Authorization")
    if not header:
        return "Unauthorized"
    scheme, _, value = header.partition(" ")
    if scheme != "Basic" or not value:
        return "Invalid authentication credentials"
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "Invalid authentication credentials"
    if not hmac.compare_digest(decoded.encode(), emu.credentials.encode()):
        return "Invalid authentication credentials"
    return None


def _api(emu: Emulator, handler: Handler, op: str, call: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
    with emu._stats_lock:
        emu._stats["requests"] += 1
        emu._stats["by_op"][op] += 1
    problem = authorized(emu, handler)
    if problem is not None:
        with emu._stats_lock:
            emu._stats["auth_failures"] += 1
        return 401, {"message": problem}, {}
    if not emu.limiter.allow():
        with emu._stats_lock:
            emu._stats["throttled"] += 1
        return emu.faults.answer(op, "429")
    fault = emu.faults.draw(op)
    if fault is not None:
        with emu._stats_lock:
            emu._stats["injected"][fault] += 1
        if fault == "slow":
            time.sleep(emu.faults.slow_ms / 1000)
        elif not fault.endswith("_after"):
            return emu.faults.answer(op, fault)
    try:
        body = decode_body(op, handler.headers.get("Content-Type", ""), raw)
        status, answer = call(body)
    except ApiError as exc:
        status, answer, headers = exc.status, exc.body, exc.headers
    except Exception:
        logger.exception("emulator failed on %s", op)
        status, answer, headers = 500, {"message": "emulator internal error"}, {}
    else:
        headers = {}
    if fault is not None and fault.endswith("_after"):  # it took effect; the reply is lost on the way back
        return emu.faults.answer(op, fault)
    return status, answer, headers


def decode_body(op: str, content_type: str, raw: bytes) -> dict[str, Any]:
    """The JSON object of a request, or the 400/415 the gateway (channels) or recording service answers."""
    if not raw:
        return {}
    if op.startswith("agent."):  # Conversational AI answers in its own shape
        try:
            body = json.loads(raw)
        except ValueError:
            raise convo_error(400, "InvalidRequest", "invalid JSON") from None
        if not isinstance(body, dict):
            raise convo_error(400, "InvalidRequest", "the body must be a JSON object")
        return body
    recording = not op.startswith(("channel", "kicking", "stt."))
    if "application/json" not in content_type.lower():
        if recording:
            raise rec_error(400, 8, "Content-Type must be application/json")
        raise gateway_error(415, "Unsupported Media Type")
    try:
        body = json.loads(raw)
    except ValueError:
        if recording:
            raise rec_error(400, 8, "invalid JSON") from None
        raise gateway_error(400, "invalid JSON body") from None
    if not isinstance(body, dict):
        raise rec_error(400, 2, "the body must be a JSON object")
    return body


def reply(handler: Handler, status: int, body: Any, request_id: str, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-Request-ID", request_id)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
        handler.close_connection = True
