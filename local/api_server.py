"""A local HTTP server that behaves like the stack's API Gateway HTTP API (payload format 2.0).

Routes come from the synthesized template (``AWS::ApiGatewayV2::Route`` -> integration -> function),
requests become the same v2 events the functions get on AWS, the JWT authorizer's checks are applied
with the local issuer (``local.identity``), and the Lambda's response is mapped back as API Gateway maps
it. Extras for people: Swagger UI at ``/docs``, the OpenAPI document at ``/openapi.json`` and
``POST /local/token`` to sign in a local user.

Over 400 lines on purpose: API Gateway's behaviour (routing, authorizer, event and response mapping, CORS) and
the HTTP/1.1 transport that feeds it are read and changed together; Swagger's assets are the small tail.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.identity import LocalIdentity, TokenRejected, claims_for_event, scopes_of
from local.provision import Dispatcher, FunctionError, LocalStack, RouteSpec

log = logging.getLogger("local.api")

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_PATH = ROOT / "docs" / "openapi.json"
MAX_BODY = 10 * 1024 * 1024  # API Gateway HTTP API payload limit
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded", "+json", "+xml", "application/yaml")  # fmt: skip
#: hop-by-hop headers API Gateway does not forward
_DROPPED_REQUEST_HEADERS = {"connection", "keep-alive", "transfer-encoding", "upgrade", "cookie"}

Response = tuple[int, list[tuple[str, str]], bytes]


class PortInUse(OSError):
    """The port is taken; the message says which and how to choose another."""


#: pending connections the kernel queues before the server accepts them (http.server's default is 5,
#: which resets connections under a few dozen concurrent clients; API Gateway never does)
LISTEN_BACKLOG = 128
#: how often a server's loop looks whether it was asked to stop (socketserver's default, 0.5 s, was up to half a
#: second of every stop, for each server)
SHUTDOWN_POLL = 0.05


class LocalHTTPServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class BadRequest(Exception):
    """The request's framing cannot be trusted: answer 400 (413 when too large) and close the connection."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class CompiledRoute:
    spec: RouteSpec
    pattern: re.Pattern[str] | None  # None: $default
    names: tuple[str, ...]
    literals: int
    greedy: bool

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.spec.method not in ("ANY", method):
            return None
        if self.pattern is None:
            return {}
        m = self.pattern.fullmatch(path)
        if m is None:
            return None
        return {name: unquote(value) for name, value in zip(self.names, m.groups(), strict=True)}

    @property
    def rank(self) -> tuple[int, int, int, int]:
        """API Gateway prefers the most specific route: literal segments, then no greedy, then a method."""
        return (self.pattern is not None, self.literals, not self.greedy, self.spec.method != "ANY")


def compile_route(spec: RouteSpec) -> CompiledRoute:
    if spec.route_key == "$default":
        return CompiledRoute(spec, None, (), -1, True)
    parts, names, literals, greedy = [], [], 0, False
    for segment in spec.path.strip("/").split("/") if spec.path != "/" else []:
        m = re.fullmatch(r"\{([A-Za-z0-9_.-]+)(\+?)\}", segment)
        if m:
            names.append(m.group(1))
            greedy = greedy or bool(m.group(2))
            parts.append("(.+)" if m.group(2) else "([^/]+)")
        else:
            literals += 1
            parts.append(re.escape(segment))
    return CompiledRoute(spec, re.compile("/" + "/".join(parts)), tuple(names), literals, greedy)


def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return status, [("Content-Type", "application/json"), *(headers or [])], body


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return True  # API Gateway passes bodies without a content type as text
    ct = content_type.lower()
    return any(t in ct for t in TEXT_TYPES)


class LocalApi:
    """Maps HTTP requests to the stack's routes; ``handle`` is transport-free (tested without sockets)."""

    def __init__(
        self,
        stack: LocalStack,
        dispatcher: Dispatcher,
        identity: LocalIdentity | None,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        openapi_path: Path = OPENAPI_PATH,
        fire_schedule: Callable[[str], int] | None = None,
        on_request: Callable[[str], None] | None = None,
        health: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
        refused: dict[str, str] | None = None,
    ):
        """``health``: (ready, report) for ``GET /health``. ``refused``: route key -> why the local stack answers
        that route 409 without calling its function (routes that cannot work in the current configuration)."""
        self.stack, self.dispatcher, self.identity = stack, dispatcher, identity
        self.health = health
        self.refused = dict(refused or {})
        self.host, self.port = host, port
        self.openapi_path = openapi_path
        self.fire_schedule = fire_schedule
        self.on_request = on_request
        #: the bus's events (local.events.EventLog) behind GET /local/events, when the stack has a bus
        self.events: Any = None
        self.routes = sorted((compile_route(r) for r in stack.routes), key=lambda c: c.rank, reverse=True)
        self.api_id = next((str(r.ref) for r in stack.by_type("AWS::ApiGatewayV2::Api")), "localapi")
        self.cors = stack.cors
        self._server: LocalHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        api = self

        class Handler(_RequestHandler):
            local_api = api

        try:
            self._server = LocalHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    exc.errno,
                    f"port {self.port} on {self.host} is already in use (choose another with make run PORT=PORT "
                    "or --port PORT)",
                ) from exc
            raise
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL},
                                        name="local-api", daemon=True)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- dispatch -----------------------------------------------------------------------------
    def find_route(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str = "127.0.0.1"
    ) -> Response:
        method = method.upper()
        split = urlsplit(target)
        origin = next((v for k, v in headers if k.lower() == "origin"), None)
        if self.cors and method == "OPTIONS" and origin:
            return self._preflight(origin, headers)
        response = self._route(method, split.path or "/", split.query, headers, body, source_ip)
        if self.cors and origin:
            response = (response[0], response[1] + self._cors_headers(origin), response[2])
        return response

    def _route(  # noqa: PLR0911, PLR0917 - the request's parts; one early answer per local endpoint
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Response:
        if path == "/local/events" and self.events is not None:
            return _json(*self.events.http(method, query))
        local = self._local(method, path, headers, body)
        if local is not None:
            return local
        found = self.find_route(method, path)
        if found is None:
            return _json(404, {"message": "Not Found"})
        route, params = found
        if len(body) > MAX_BODY:
            return _json(413, {"message": "Request Entity Too Large"})
        claims: dict[str, Any] | None = None
        if route.spec.authorizer is not None:
            rejected = self._authorize(route, headers)
            if isinstance(rejected, tuple):
                return rejected
            claims = rejected
        if route.spec.route_key in self.refused:
            return _json(409, {"message": self.refused[route.spec.route_key]})
        event = self.build_event(route, params, method, path, query, headers, body, source_ip, claims)
        try:
            result = self.dispatcher.invoke(route.spec.function, event, source=f"api:{route.spec.route_key}")
        except FunctionError as exc:
            log.error("%s %s: the function failed: %s", method, path, exc)
            return _json(500, {"message": "Internal Server Error"})
        return self.map_response(result)

    def _authorize(self, route: CompiledRoute, headers: list[tuple[str, str]]) -> dict[str, Any] | Response:
        authorizer = route.spec.authorizer
        assert authorizer is not None
        header_name = "authorization"
        for source in authorizer.identity_source:
            if source.lower().startswith("$request.header."):
                header_name = source.split(".", 2)[2].lower()
        value = next((v for k, v in headers if k.lower() == header_name), "")
        token = value[7:].strip() if value[:7].lower() == "bearer " else value.strip()

        def unauthorized(description: str) -> Response:
            challenge = f'Bearer scope="" error="invalid_token" error_description="{description}"'
            return _json(401, {"message": "Unauthorized"}, [("www-authenticate", challenge)])

        if not token:
            return _json(401, {"message": "Unauthorized"})
        if self.identity is None:
            return unauthorized("no local issuer is configured")
        try:
            claims = self.identity.verify(token, issuer=authorizer.issuer, audiences=authorizer.audience)
        except TokenRejected as exc:
            return unauthorized(str(exc))
        if route.spec.scopes and not set(route.spec.scopes) & set(scopes_of(claims)):
            return _json(403, {"message": "Forbidden"})
        return claims

    def build_event(  # noqa: PLR0917 - every part of the request, as API Gateway sees it
        self,
        route: CompiledRoute,
        params: dict[str, str],
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The API Gateway HTTP API payload 2.0 event for this request."""
        merged: dict[str, str] = {}
        cookies: list[str] = []
        for key, value in headers:
            lower = key.lower()
            if lower == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
            if lower in _DROPPED_REQUEST_HEADERS:
                continue
            merged[lower] = f"{merged[lower]},{value}" if lower in merged else value
        request_id = base64.b32encode(uuid.uuid4().bytes)[:16].decode().rstrip("=")
        host = merged.get("host", f"{self.host}:{self.port}")
        merged.setdefault("x-forwarded-for", source_ip)
        merged.setdefault("x-forwarded-proto", "http")
        merged.setdefault("x-forwarded-port", str(self.port))
        merged.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
        query_params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
        now = time.time()
        context: dict[str, Any] = {
            "accountId": self.stack.account,
            "apiId": self.api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": merged.get("user-agent", "")},
            "requestId": request_id,
            "routeKey": route.spec.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }  # fmt: skip
        if claims is not None:
            scopes = scopes_of(claims)
            context["authorizer"] = {"jwt": {"claims": claims_for_event(claims), "scopes": scopes or None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.spec.route_key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": merged,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if query_params:
            event["queryStringParameters"] = query_params
        if params:
            event["pathParameters"] = params
        if body:
            if _is_text(merged.get("content-type")):
                try:
                    event["body"] = body.decode("utf-8")
                except UnicodeDecodeError:
                    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
            else:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        return event

    @staticmethod
    def map_response(result: Any) -> Response:
        """API Gateway's mapping of a payload 2.0 Lambda response (with its format inference)."""
        if isinstance(result, dict) and "statusCode" in result:
            try:
                status = int(result["statusCode"])
            except (TypeError, ValueError):
                return _json(500, {"message": "Internal Server Error"})
            headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
            for key, values in (result.get("multiValueHeaders") or {}).items():
                headers.extend((str(key), str(v)) for v in values)
            headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
            raw = result.get("body")
            if raw is None:
                body = b""
            elif result.get("isBase64Encoded"):
                try:
                    body = base64.b64decode(str(raw))
                except ValueError:
                    return _json(500, {"message": "Internal Server Error"})
            else:
                body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
            return status, headers, body
        # no statusCode: API Gateway treats the whole result as a JSON body with status 200
        body = result.encode() if isinstance(result, str) else json.dumps(result).encode()
        return 200, [("Content-Type", "application/json")], body

    # -- CORS (when the template's API has a CorsConfiguration) ---------------------------------
    def _origin_allowed(self, origin: str) -> bool:
        allowed = [str(o) for o in (self.cors or {}).get("AllowOrigins") or []]
        return "*" in allowed or origin in allowed

    def _cors_headers(self, origin: str) -> list[tuple[str, str]]:
        if not self._origin_allowed(origin):
            return []
        cors = self.cors or {}
        out = [("Access-Control-Allow-Origin", origin if "*" not in cors.get("AllowOrigins", []) else "*"),
               ("Vary", "Origin")]  # fmt: skip
        if cors.get("AllowCredentials"):
            out.append(("Access-Control-Allow-Credentials", "true"))
        if cors.get("ExposeHeaders"):
            out.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
        return out

    def _preflight(self, origin: str, headers: list[tuple[str, str]]) -> Response:
        cors = self.cors or {}
        out = self._cors_headers(origin)
        if out:
            out.append(("Access-Control-Allow-Methods", ",".join(cors.get("AllowMethods") or ["*"])))
            out.append(("Access-Control-Allow-Headers", ",".join(cors.get("AllowHeaders") or ["*"])))
            if cors.get("MaxAge") is not None:
                out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
        return 204, out, b""

    # -- local extras -------------------------------------------------------------------------
    def _local(  # noqa: PLR0911, PLR0912 - a small router for the local-only endpoints
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> Response | None:
        if path in {"/docs", "/docs/"}:
            return 200, [("Content-Type", "text/html; charset=utf-8")], swagger_html().encode()
        if path.startswith("/docs/") and path.rsplit("/", 1)[1] in SWAGGER_ASSETS:
            return _swagger_asset(path.rsplit("/", 1)[1])
        if path == "/openapi.json" and method == "GET":
            if not self.openapi_path.exists():
                return _json(404, {"message": f"{self.openapi_path.name} is missing: run `make openapi`"})
            return 200, [("Content-Type", "application/json")], self.openapi_path.read_bytes()
        if path == "/health" and method in {"GET", "HEAD"} and self.health is not None:
            ready, report = self.health()
            return _json(200 if ready else 503, report)
        if not path.startswith("/local/") and path != "/":
            return None
        if path == "/" and method == "GET" and self.find_route("GET", "/") is None:
            return _json(200, self.index())
        if path == "/local/token" and method == "POST":
            return self._token(body)
        if path == "/local/users" and method == "GET":
            users = self.identity.users.values() if self.identity else []
            return _json(
                200, {"users": [{"username": u.username, "groups": list(u.groups), "sub": u.sub} for u in users]}
            )
        if path == "/local/jwks.json" and method == "GET" and self.identity:
            return _json(200, self.identity.jwks())
        if path == "/local/routes" and method == "GET":
            return _json(200, {"routes": [self._route_info(r.spec) for r in self.routes]})
        m = re.fullmatch(r"/local/schedules/([^/]+)", path)
        if m and method == "POST" and self.fire_schedule is not None:
            try:
                ran = self.fire_schedule(unquote(m.group(1)))
            except KeyError as exc:
                return _json(404, {"message": str(exc.args[0])})
            return _json(202, {"schedule": m.group(1), "targets_started": ran})
        if path.startswith("/local/"):
            return _json(404, {"message": "Not Found"})
        return None

    def _token(self, body: bytes) -> Response:
        if self.identity is None:
            return _json(503, {"message": "no local issuer: the template has no JWT authorizer"})
        try:
            request = json.loads(body or b"{}")
            username = str(request["username"])
            ttl = int(request.get("ttl", 3600))
        except (ValueError, KeyError, TypeError):
            return _json(400, {"message": 'send {"username": "host-1"} (optional "ttl" in seconds)'})
        if not 1 <= ttl <= 86400:
            return _json(400, {"message": "ttl must be between 1 and 86400 seconds"})
        try:
            user = self.identity.user(username)
        except KeyError as exc:
            return _json(404, {"message": str(exc.args[0]), "users": sorted(self.identity.users)})
        token = self.identity.issue_token(username, ttl=ttl)
        return _json(200, {"id_token": token, "token_type": "Bearer", "expires_in": ttl, "username": username,
                           "sub": user.sub, "groups": list(user.groups)})  # fmt: skip

    def _route_info(self, spec: RouteSpec) -> dict[str, Any]:
        return {"route": spec.route_key, "function": spec.function, "auth": "JWT" if spec.authorizer else "NONE",
                "scopes": spec.scopes}  # fmt: skip

    def index(self) -> dict[str, Any]:
        return {
            "message": "agora-serverless local stack",
            "docs": f"{self.url}/docs",
            "openapi": f"{self.url}/openapi.json",
            "token": f'POST {self.url}/local/token {{"username": "host-1"}}',
            "users": f"{self.url}/local/users",
            "health": f"{self.url}/health",
            "routes": [self._route_info(r.spec) for r in self.routes],
        }


class _RequestHandler(BaseHTTPRequestHandler):
    local_api: LocalApi
    protocol_version = "HTTP/1.1"
    server_version = "agora-serverless-local"
    #: TCP_NODELAY: the headers and the body go out in two writes; with Nagle's algorithm the body waits for the
    #: client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request
    disable_nagle_algorithm = True

    def _read_body(self) -> bytes:
        """The body per RFC 9112 section 6; anything ambiguous (the stuff of request smuggling) is a BadRequest."""
        lengths = self.headers.get_all("Content-Length") or []
        codings = self.headers.get_all("Transfer-Encoding") or []
        if codings:
            if lengths:
                raise BadRequest("both Content-Length and Transfer-Encoding are present")
            names = [c.strip().lower() for value in codings for c in value.split(",") if c.strip()]
            if names != ["chunked"]:
                raise BadRequest(f"unsupported Transfer-Encoding {', '.join(codings)!r} (only chunked)")
            return self._read_chunked()
        values = {v.strip() for value in lengths for v in value.split(",")}
        if not values:
            return b""
        if len(values) > 1:
            raise BadRequest("conflicting Content-Length values")
        (value,) = values
        if not value.isdigit() or not value.isascii():
            raise BadRequest(f"Content-Length {value[:40]!r} is not a number")
        length = int(value)
        if length > MAX_BODY:
            raise BadRequest("the body is larger than 10 MB", 413)
        body = self.rfile.read(length)
        if len(body) != length:
            raise BadRequest("the body is shorter than its Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024).strip()
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or not all(c in b"0123456789abcdefABCDEF" for c in size_text) or len(size_text) > 8:
                raise BadRequest("malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                while self.rfile.readline(8192).strip():  # trailers, up to the blank line
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise BadRequest("the body is larger than 10 MB", 413)
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                raise BadRequest("a chunk is shorter than its size")
            body += chunk

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except BadRequest as exc:
            status = exc.status
            self.close_connection = True
            message = "Request Entity Too Large" if status == 413 else "Bad Request"
            self._send(status, *_json(status, {"message": f"{message}: {exc.reason}"})[1:], close=True)
            self._log_line(started, status)
            return
        headers = [(k, v) for k, v in self.headers.items()]
        try:
            status, out_headers, out_body = self.local_api.handle(
                self.command, self.path, headers, body, self.client_address[0]
            )
        except Exception:
            log.exception("local API failure on %s %s", self.command, self.path)
            status, out_headers, out_body = _json(500, {"message": "Internal Server Error"})
        self._send(status, out_headers, out_body)
        self._log_line(started, status)

    def _log_line(self, started: float, status: int) -> None:
        if self.local_api.on_request is not None:
            ms = (time.perf_counter() - started) * 1000
            self.local_api.on_request(f"{self.command} {self.path.split('?')[0]} -> {status} ({ms:.0f} ms)")

    def _send(self, status: int, out_headers: list[tuple[str, str]], out_body: bytes, close: bool = False) -> None:
        self.send_response(status)
        names = {k.lower() for k, _ in out_headers}
        for key, value in out_headers:
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        if "apigw-requestid" not in names:
            self.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        self.send_header("Content-Length", str(len(out_body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out_body)

    def __getattr__(self, name: str) -> Any:
        """Every method reaches the router (``do_TRACE``, ``do_QUERY``...): unknown ones get API Gateway's 404,
        not http.server's 501."""
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


# ---- Swagger UI (assets shipped inside aws-lambda-powertools, so it works offline) ----------------
SWAGGER_ASSETS = {"swagger-ui-bundle.min.js": "application/javascript", "swagger-ui.min.css": "text/css"}


def _swagger_dir() -> Path | None:
    try:
        import aws_lambda_powertools.event_handler.openapi.swagger_ui as ui
    except ImportError:  # pragma: no cover - Powertools is a dependency
        return None
    return Path(ui.__file__).parent


def _swagger_asset(name: str) -> Response:
    directory = _swagger_dir()
    if directory is None or not (directory / name).exists():
        return _json(404, {"message": "Swagger UI assets are not installed (aws-lambda-powertools)"})
    return (
        200,
        [("Content-Type", SWAGGER_ASSETS[name]), ("Cache-Control", "max-age=3600")],
        (directory / name).read_bytes(),
    )


def swagger_html() -> str:
    if _swagger_dir() is None:
        return (
            "<!doctype html><title>agora-serverless API</title><p>Swagger UI's assets are not installed here; "
            'the OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p>'
        )
    return """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agora-serverless API (local)</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body>
<div style="font-family:sans-serif;padding:8px 16px;background:#f5f5f5">
Local stack. Get a token: <code>curl -s -X POST /local/token -d '{"username":"host-1"}'</code>
(users: <a href="/local/users">/local/users</a>), then <b>Authorize</b> with the <code>id_token</code>.
</div>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
</script></body></html>
"""
