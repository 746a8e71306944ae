"""The local API server on the wire: HTTP/1.1 framing as a strict front end answers it, API Gateway's 404 for
unknown methods, CORS for configured origins only, and a listen backlog that holds a burst of clients."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.api_server import LISTEN_BACKLOG, LocalApi
from local.identity import LocalIdentity
from local.provision import AuthorizerSpec, Dispatcher, FunctionSpec, LocalStack, RouteSpec

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LOCAL1234"
AUDIENCE = "localclientid"
ORIGIN = "http://127.0.0.1:8081"


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps({"body": event.get("body", ""), "method": event["routeKey"]})}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalApi]:
    auth = AuthorizerSpec("Auth", ISSUER, [AUDIENCE], ["$request.header.Authorization"])
    fns = {"Echo": FunctionSpec("echo-fn", f"{__name__}.echo_handler", {}, "Echo", "arn:fn:echo", 10, 256)}
    routes = [
        RouteSpec("POST /echo", "POST", "/echo", "echo-fn", "2.0", None, []),
        RouteSpec("GET /echo", "GET", "/echo", "echo-fn", "2.0", None, []),
        RouteSpec("POST /private", "POST", "/private", "echo-fn", "2.0", auth, []),
    ]
    stack = LocalStack(
        stack_name="T", region="us-east-1", account="123456789012", template={}, functions=fns, routes=routes
    )
    stack.cors = {"AllowOrigins": [ORIGIN], "AllowHeaders": ["authorization", "content-type", "idempotency-key"],
                  "AllowMethods": ["GET", "POST"], "MaxAge": 3600}  # fmt: skip
    identity = LocalIdentity(issuer=ISSUER, audience=AUDIENCE)
    api = LocalApi(stack, Dispatcher(stack), identity, port=0, openapi_path=tmp_path / "openapi.json")
    api.start()
    yield api
    api.stop()


def exchange(api: LocalApi, raw: bytes, *, read_all: bool = True) -> bytes:
    """Send raw bytes; read until the server closes (read_all) or one response is complete."""
    with socket.create_connection((api.host, api.port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            if not read_all and b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                if len(rest) >= length:
                    return data


def responses(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))  # fmt: skip
        out.append((status, rest[:length]))
        data = rest[length:]
    return out


def test_conflicting_content_length_and_transfer_encoding_is_400_and_the_smuggled_request_is_never_served(
    server: LocalApi,
) -> None:
    smuggled = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
           + f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n")  # fmt: skip
    got = responses(exchange(server, raw))
    assert len(got) == 1, got  # the connection closed after the 400: nothing else was read from it
    assert got[0][0] == 400 and b"both Content-Length and Transfer-Encoding" in got[0][1]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (b"Content-Length: abc\r\n", b"is not a number"),
        (b"Content-Length: -1\r\n", b"is not a number"),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n", b"conflicting Content-Length"),
        (b"Content-Length: 3, 4\r\n", b"conflicting Content-Length"),
        (b"Transfer-Encoding: gzip, chunked\r\n", b"unsupported Transfer-Encoding"),
        (b"Transfer-Encoding: chunked\r\n", b"malformed chunk size"),
    ],
)
def test_invalid_framing_is_400_and_closes(server: LocalApi, headers: bytes, reason: bytes) -> None:
    raw = b"POST /echo HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nzz\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
    data = exchange(server, raw)
    got = responses(data)
    assert len(got) == 1 and got[0][0] == 400 and reason in got[0][1], data
    assert b"connection: close" in data.lower()


def test_chunked_body_alone_is_read_and_the_connection_stays_usable(server: LocalApi) -> None:
    one = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"
    two = b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = responses(exchange(server, one + two))
    assert [s for s, _ in got] == [200, 200]
    assert json.loads(got[0][1])["body"] == "abcde"


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND", "DELETE"])
def test_unknown_methods_and_routes_answer_like_api_gateway(server: LocalApi, method: str) -> None:
    data = exchange(server, f"{method} /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert responses(data) == [(404, b'{"message":"Not Found"}')]
    data = exchange(server, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert responses(data) == [(404, b'{"message":"Not Found"}')]


def test_cors_preflight_and_response_headers_only_for_allowed_origins(server: LocalApi) -> None:
    preflight = ("OPTIONS /private HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\n"
                 "Access-Control-Request-Headers: authorization,content-type\r\nConnection: close\r\n\r\n")  # fmt: skip
    allowed = exchange(server, preflight.format(origin=ORIGIN).encode()).lower()
    assert allowed.startswith(b"http/1.1 204")
    assert f"access-control-allow-origin: {ORIGIN}".encode() in allowed
    assert b"access-control-allow-headers: authorization,content-type,idempotency-key" in allowed
    assert b"access-control-max-age: 3600" in allowed
    refused = exchange(server, preflight.format(origin="http://evil.example").encode()).lower()
    assert b"access-control-allow-origin" not in refused
    get = "GET /echo HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
    good = exchange(server, get.format(origin=ORIGIN).encode()).lower()
    assert f"access-control-allow-origin: {ORIGIN}".encode() in good
    evil = exchange(server, get.format(origin="http://evil.example").encode()).lower()
    assert b"access-control-allow-origin" not in evil


def test_a_burst_of_concurrent_connections_is_queued_not_reset(server: LocalApi) -> None:
    """Open many connections before the server can accept any (its accept loop is held), then serve them all."""
    assert server._server is not None and server._server.request_queue_size == LISTEN_BACKLOG == 128
    clients = 100
    results: list[int | str] = []
    lock = threading.Lock()
    gate = threading.Event()

    def one() -> None:
        try:
            data = exchange(server, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            outcome: int | str = responses(data)[0][0]
        except OSError as exc:
            outcome = type(exc).__name__
        with lock:
            results.append(outcome)

    # hold the accept loop: the listening socket's queue alone must absorb the burst
    original = server._server.get_request

    def held() -> Any:
        gate.wait(10)
        return original()

    server._server.get_request = held  # type: ignore[method-assign]
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(30)
    assert results.count(200) == clients, sorted(map(str, results))[:10]
