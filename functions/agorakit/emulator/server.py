# ruff: noqa: PLR0911, PLR0912 - request dispatch and the simulation are branchy tables by nature
"""The Agora emulator's HTTP server and its Python API (``Emulator``).

A real HTTP/1.1 server on loopback (stdlib ``ThreadingHTTPServer``) that speaks Agora's Cloud
Recording paths (``/v1/apps/{appid}/cloud_recording/...``) and channel-management paths
(``/dev/v1/...``) with Basic auth, a QPS limit (429 "API rate limit exceeded"), fault injection,
uploads of Agora-named HLS files to S3 and signed NCS webhooks. A control API under ``/emulator/``
(no auth: a dev tool on loopback) lets tests make users join and leave channels.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hmac
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from agorakit.emulator.uploader import S3Uploader
from agorakit.emulator.webhooks import WebhookSender
from agorakit.emulator.world import ApiError, World, gateway_error, rec_error

logger = logging.getLogger("agorakit.emulator")

DEFAULT_APP_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_CUSTOMER_ID = "emulator-customer"
DEFAULT_CUSTOMER_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented default, not a real secret
NO_ROUTE = "no Route matched with those values"
FAULT_KINDS = ("429", "5xx", "206_65", "slow")


class Faults:
    """Injected failures: random rates, plus a script of faults for the next requests (deterministic tests)."""

    def __init__(
        self,
        *,
        rate_429: float = 0.0,
        rate_5xx: float = 0.0,
        rate_206_65: float = 0.0,
        slow_ms: int = 0,
        rate_slow: float = 0.0,
        retry_after: float | None = 1.0,
        rng: random.Random | None = None,
    ):
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self.rate_429 = rate_429
        self.rate_5xx = rate_5xx
        self.rate_206_65 = rate_206_65
        self.slow_ms = slow_ms
        self.rate_slow = rate_slow
        self.retry_after = retry_after
        self.script: deque[str] = deque()

    def configure(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            if changes.pop("clear", False):
                self.rate_429 = self.rate_5xx = self.rate_206_65 = self.rate_slow = 0.0
                self.slow_ms = 0
                self.retry_after = 1.0
                self.script.clear()
            for name in ("rate_429", "rate_5xx", "rate_206_65", "rate_slow"):
                if changes.get(name) is not None:
                    value = float(changes.pop(name))
                    if not 0.0 <= value <= 1.0:
                        raise ValueError(f"{name} must be in [0, 1]")
                    setattr(self, name, value)
                changes.pop(name, None)
            if changes.get("slow_ms") is not None:
                self.slow_ms = max(0, int(changes.pop("slow_ms")))
            changes.pop("slow_ms", None)
            if "retry_after" in changes:
                value = changes.pop("retry_after")
                self.retry_after = None if value is None else float(value)
            if changes.get("script") is not None:
                script = list(changes.pop("script"))
                unknown = [s for s in script if s not in FAULT_KINDS]
                if unknown:
                    raise ValueError(f"unknown fault kinds {unknown}; use {list(FAULT_KINDS)}")
                self.script.extend(script)
            changes.pop("script", None)
            if changes:
                raise ValueError(f"unknown fault settings {sorted(changes)}")
            return self.describe()

    def describe(self) -> dict[str, Any]:
        return {
            "rate_429": self.rate_429,
            "rate_5xx": self.rate_5xx,
            "rate_206_65": self.rate_206_65,
            "rate_slow": self.rate_slow,
            "slow_ms": self.slow_ms,
            "retry_after": self.retry_after,
            "script": list(self.script),
        }

    def draw(self) -> str | None:
        with self._lock:
            if self.script:
                return self.script.popleft()
            roll = self._rng.random()
            for kind, rate in (("429", self.rate_429), ("5xx", self.rate_5xx), ("206_65", self.rate_206_65)):
                if roll < rate:
                    return kind
                roll -= rate
            return "slow" if self.slow_ms and self._rng.random() < self.rate_slow else None


class SlidingWindow:
    """At most ``qps`` accepted requests in any 1-second window (rejected ones are not counted)."""

    def __init__(self, qps: float):
        self.qps = qps
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        if not self.qps:
            return True
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.qps:
                return False
            self._times.append(now)
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AgoraEmulator/1.0"
    timeout = 10  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.server.emulator._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.emulator._dispatch(self, "POST")

    def do_PUT(self) -> None:
        self.server.emulator._dispatch(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.emulator._dispatch(self, "DELETE")


class Emulator:
    """An emulated Agora REST backend. ``start()`` serves in background threads; ``url`` is its base URL."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        app_id: str = DEFAULT_APP_ID,
        customer_id: str = DEFAULT_CUSTOMER_ID,
        customer_secret: str = DEFAULT_CUSTOMER_SECRET,
        resource_ttl: float = 300.0,
        qps: float = 10,
        s3_endpoint: str | None = None,
        s3_bucket: str | None = None,
        webhook_url: str | None = None,
        ncs_secret: str | None = None,
        webhook_duplicates: float = 0.0,
        webhook_reorder: float = 0.0,
        fault_429: float = 0.0,
        fault_5xx: float = 0.0,
        fault_206_65: float = 0.0,
        slow_ms: int = 0,
        fault_slow: float | None = None,
        time_scale: float = 1.0,
        segment_seconds: float = 15.0,
        exit_seconds: float = 2.0,
        tick_seconds: float = 0.02,
        seed: int | None = None,
    ):
        self.host = host
        self.port = port
        self.app_id = app_id
        self._customer_id = customer_id
        self._customer_secret = customer_secret
        self._rng = random.Random(seed)
        self.qps = qps
        self.limiter = SlidingWindow(qps)
        self.faults = Faults(
            rate_429=fault_429,
            rate_5xx=fault_5xx,
            rate_206_65=fault_206_65,
            slow_ms=slow_ms,
            rate_slow=fault_slow if fault_slow is not None else (1.0 if slow_ms else 0.0),
            rng=random.Random(self._rng.random()),
        )
        self.uploader = S3Uploader(s3_endpoint) if s3_endpoint and s3_bucket else None
        self.webhooks = (
            WebhookSender(
                webhook_url,
                ncs_secret,
                duplicates=webhook_duplicates,
                reorder=webhook_reorder,
                rng=random.Random(self._rng.random()),
            )
            if webhook_url
            else None
        )
        self.world = World(
            app_id=app_id,
            resource_ttl=resource_ttl,
            time_scale=time_scale,
            segment_seconds=segment_seconds,
            exit_seconds=exit_seconds,
            s3_bucket=s3_bucket,
            uploader=self.uploader,
            emit=self.webhooks.send if self.webhooks else None,
            rng=random.Random(self._rng.random()),
        )
        self.tick_seconds = tick_seconds
        self._stats_lock = threading.Lock()
        self._stats: dict[str, Any] = self._fresh_stats()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        return f"Emulator(url={self.url if self._server else None!r}, app_id={self.app_id!r})"

    @staticmethod
    def _fresh_stats() -> dict[str, Any]:
        return {
            "requests": 0,
            "throttled": 0,
            "auth_failures": 0,
            "by_op": Counter(),
            "by_status": Counter(),
            "injected": Counter(),
            "log": collections.deque(maxlen=2000),
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), _Handler)
        self._server.emulator = self
        self.port = self._server.server_address[1]
        self._stopping.clear()
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="emulator-http", daemon=True
        )
        ticker = threading.Thread(target=self._tick_loop, name="emulator-ticker", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        logger.info("Agora emulator listening on %s (app id %s)", self.url, self.app_id)
        return self

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if self.webhooks is not None:
            self.webhooks.close()
        if self.uploader is not None:
            self.uploader.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(self.tick_seconds):
            try:
                with self.world.lock:
                    self.world.tick()
            except Exception:  # the simulation must keep running
                logger.exception("emulator tick failed")

    # ------------------------------------------------------------------ Python control API

    def join(
        self,
        cname: str,
        uid: int,
        role: str = "host",
        platform: int = 1,
        *,
        profile: str | None = None,
        ip: str | None = None,
        account: str | None = None,
    ) -> dict[str, Any]:
        """A user joins the simulated channel (raises ApiError 403 if a kicking rule bans it)."""
        with self.world.lock:
            return self.world.join(cname, uid, role=role, platform=platform, profile=profile, ip=ip, account=account)

    def leave(self, cname: str, uid: int, reason: int = 1) -> bool:
        with self.world.lock:
            return self.world.leave(cname, uid, reason=reason)

    def tasks(self) -> list[dict[str, Any]]:
        with self.world.lock:
            return [t.describe() for t in self.world.tasks.values()]

    def task(self, sid: str) -> dict[str, Any] | None:
        with self.world.lock:
            task = self.world.tasks.get(sid)
            return task.describe() if task else None

    def channels(self) -> list[dict[str, Any]]:
        with self.world.lock:
            return self.world.channel_snapshot()

    def events(self) -> list[dict[str, Any]]:
        """Every NCS envelope generated so far (also without a webhook URL)."""
        with self.world.lock:
            return [json.loads(json.dumps(e)) for e in self.world.events]

    def set_faults(
        self,
        *,
        rate_429: float | None = None,
        rate_5xx: float | None = None,
        rate_206_65: float | None = None,
        rate_slow: float | None = None,
        slow_ms: int | None = None,
        retry_after: float | None = 1.0,
        script: list[str] | None = None,
        clear: bool = False,
    ) -> dict[str, Any]:
        """Fault rates (0..1), the delay of a slow answer (``slow_ms``; ``rate_slow`` of answers are slow),
        the Retry-After sent with 429s (None: no header), and/or a script of faults ("429", "5xx",
        "206_65", "slow") for the next API requests, in order. A script entry wins over the rates."""
        return self.faults.configure(
            rate_429=rate_429,
            rate_5xx=rate_5xx,
            rate_206_65=rate_206_65,
            rate_slow=rate_slow,
            slow_ms=slow_ms,
            retry_after=retry_after,
            script=script,
            clear=clear,
        )

    def set_qps(self, qps: float) -> None:
        self.qps = qps
        self.limiter = SlidingWindow(qps)

    def reset(self) -> None:
        with self.world.lock:
            self.world.reset()
        self.faults.configure(clear=True)
        self.limiter = SlidingWindow(self.qps)
        with self._stats_lock:
            self._stats = self._fresh_stats()

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            s = self._stats
            return {
                "requests": s["requests"],
                "throttled": s["throttled"],
                "auth_failures": s["auth_failures"],
                "by_op": dict(s["by_op"]),
                "by_status": {str(k): v for k, v in s["by_status"].items()},
                "injected": dict(s["injected"]),
                "webhooks": dict(self.webhooks.stats) if self.webhooks else None,
                "uploads": dict(self.uploader.stats) if self.uploader else None,
            }

    def request_log(self) -> list[dict[str, Any]]:
        """Recent API requests: method, op, status, code and the host port they arrived on."""
        with self._stats_lock:
            return list(self._stats["log"])

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        return True if self.webhooks is None else self.webhooks.flush(timeout)

    def drain_uploads(self, timeout: float = 20.0) -> bool:
        return True if self.uploader is None else self.uploader.drain(timeout)

    def wait_for(self, predicate: Any, timeout: float = 10.0, interval: float = 0.01) -> bool:
        """Poll ``predicate(self)`` until true (tests use it instead of sleeps)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(interval)
        return bool(predicate(self))

    # ------------------------------------------------------------------ HTTP

    def _dispatch(self, handler: _Handler, method: str) -> None:
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        request_id = uuid.uuid4().hex
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        try:
            if segments[:1] == ["emulator"]:
                status, body = self._control(method, segments[1:], raw, parse_qs(query))
                self._reply(handler, status, body, request_id)
                return
            op, call = self._route(method, segments, parse_qs(query))
        except ApiError as exc:
            self._reply(handler, exc.status, exc.body, request_id, exc.headers)
            return
        except (TypeError, ValueError) as exc:  # malformed control input: a clear 400, never a crash
            self._reply(handler, 400, {"message": f"bad request: {exc}"}, request_id)
            return
        if op is None:
            self._reply(handler, 404, {"message": NO_ROUTE}, request_id)
            return
        arrived = time.monotonic()
        status, body, headers = self._api(handler, op, call, raw)
        with self._stats_lock:  # logged before the answer leaves, so the log order is the request order
            self._stats["by_status"][status] += 1
            self._stats["log"].append(
                {
                    "method": method,
                    "host": handler.headers.get("Host"),
                    "op": op,
                    "status": status,
                    "code": body.get("code") if isinstance(body, dict) else None,
                    "t": arrived,
                }
            )
        self._reply(handler, status, body, request_id, headers)

    def _authorized(self, handler: _Handler) -> str | None:
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
        expected = f"{self._customer_id}:{self._customer_secret}"
        if not hmac.compare_digest(decoded.encode(), expected.encode()):
            return "Invalid authentication credentials"
        return None

    def _api(self, handler: _Handler, op: str, call: Any, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._stats_lock:
            self._stats["requests"] += 1
            self._stats["by_op"][op] += 1
        problem = self._authorized(handler)
        if problem is not None:
            with self._stats_lock:
                self._stats["auth_failures"] += 1
            return 401, {"message": problem}, {}
        if not self.limiter.allow():
            with self._stats_lock:
                self._stats["throttled"] += 1
            return 429, {"message": "API rate limit exceeded"}, {"Retry-After": "1"}
        fault = self.faults.draw()
        if fault is not None:
            with self._stats_lock:
                self._stats["injected"][fault] += 1
            if fault == "slow":
                time.sleep(self.faults.slow_ms / 1000)
            elif fault == "429":
                headers = {} if self.faults.retry_after is None else {"Retry-After": f"{self.faults.retry_after:g}"}
                return 429, {"message": "API rate limit exceeded"}, headers
            elif fault == "5xx":
                if op.startswith(("channel", "kicking")):
                    return 500, {"message": "internal error"}, {}
                if op == "acquire":
                    return 500, {"code": 504, "reason": "allocate_timeout"}, {}
                return 504, {"code": 62, "reason": "request timeout"}, {}
            elif fault == "206_65":
                return 206, {"code": 65, "reason": "request not completed"}, {}
        body: Any = {}
        if raw:
            content_type = handler.headers.get("Content-Type", "")
            recording = not (op.startswith(("channel", "kicking")))
            if "application/json" not in content_type.lower():
                if recording:
                    return 400, {"code": 8, "reason": "Content-Type must be application/json"}, {}
                return 415, {"message": "Unsupported Media Type"}, {}
            try:
                body = json.loads(raw)
            except ValueError:
                if recording:
                    return 400, {"code": 8, "reason": "invalid JSON"}, {}
                return 400, {"message": "invalid JSON body"}, {}
            if not isinstance(body, dict):
                return 400, {"code": 2, "reason": "the body must be a JSON object"}, {}
        try:
            status, answer = call(body)
        except ApiError as exc:
            return exc.status, exc.body, exc.headers
        except Exception:
            logger.exception("emulator failed on %s", op)
            return 500, {"message": "emulator internal error"}, {}
        return status, answer, {}

    def _route(self, method: str, seg: list[str], query: dict[str, list[str]]) -> tuple[str | None, Any]:
        """(operation name, callable(body) -> (status, body)) for an API path; (None, None) if unknown."""
        world = self.world
        n = len(seg)
        if n >= 4 and seg[0] == "v1" and seg[1] == "apps" and seg[3] == "cloud_recording":
            if seg[2] != self.app_id:
                raise gateway_error(400, "appid is invalid")
            tail = seg[4:]
            if tail == ["acquire"] and method == "POST":
                return "acquire", lambda b: (200, self._locked(world.acquire, b))
            is_start = len(tail) == 5 and tail[0] == "resourceid" and tail[2] == "mode" and tail[4] == "start"
            if is_start and method == "POST":
                return "start", lambda b: self._locked(world.start, tail[1], tail[3], b)
            if len(tail) == 7 and tail[0] == "resourceid" and tail[2] == "sid" and tail[4] == "mode":
                rid, sid, mode, action = tail[1], tail[3], tail[5], tail[6]
                if action == "query" and method == "GET":
                    return "query", lambda b: (200, self._locked(world.query, rid, sid, mode))
                if action == "update" and method == "POST":
                    return "update", lambda b: (200, self._locked(world.update, rid, sid, mode, b))
                if action == "updateLayout" and method == "POST":
                    return "updateLayout", lambda b: (200, self._locked(world.update_layout, rid, sid, mode, b))
                if action == "stop" and method == "POST":
                    return "stop", lambda b: self._stop(rid, sid, mode, b)
            return None, None
        if seg[:3] == ["dev", "v1", "kicking-rule"] and n == 3:
            if method == "POST":
                return "kicking_rule.create", lambda b: (200, self._locked(world.create_rule, b))
            if method == "GET":
                appid = next(iter(query.get("appid") or []), None)
                return "kicking_rule.list", lambda b: (200, self._locked(world.list_rules, appid))
            if method == "PUT":
                return "kicking_rule.update", lambda b: (200, self._locked(world.update_rule, b))
            if method == "DELETE":
                return "kicking_rule.delete", lambda b: (200, self._locked(world.delete_rule, b))
        if seg[:3] == ["dev", "v1", "channel"] and method == "GET":
            if n == 4:
                self._check_app(seg[3])
                page_no = _int_param(query, "page_no", 0)
                page_size = _int_param(query, "page_size", 100)
                return "channel.list", lambda b: (200, self._locked(world.list_channels, page_no, page_size))
            if n == 8 and seg[3] == "user" and seg[4] == "property":
                self._check_app(seg[5])
                if not seg[6].isdigit() or not 1 <= int(seg[6]) <= 2**32 - 1:
                    raise gateway_error(400, "uid must be an integer")
                uid, cname = int(seg[6]), seg[7]
                return "channel.user_status", lambda b: (200, self._locked(world.user_property, uid, cname))
            if n in (6, 7) and seg[3] == "user" and (n == 6 or seg[6] == "hosts_only"):
                self._check_app(seg[4])
                cname, hosts_only = seg[5], n == 7
                op = "channel.hosts" if hosts_only else "channel.users"
                return op, lambda b: (200, self._locked(world.channel_users, cname, hosts_only))
        if seg in (["v1", "ncs", "ip"], ["v2", "ncs", "ip"]) and method == "GET":
            return "ncs.ip", lambda b: (200, {"data": {"service": {"hosts": [{"primaryIP": "127.0.0.1"}]}}})
        return None, None

    def _check_app(self, appid: str) -> None:
        if appid != self.app_id:
            raise gateway_error(400, "invalid appid")

    def _locked(self, fn: Any, *args: Any) -> Any:
        with self.world.lock:
            return fn(*args)

    def _stop(self, rid: str, sid: str, mode: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.world.lock:
            task = self.world.stop(rid, sid, mode, body)
        request = body.get("clientRequest") or {}
        synchronous = not request.get("async_stop", False)
        if self.uploader is not None and synchronous and not self.uploader.wait_task(task.sid, timeout=20.0):
            return 200, {
                "cname": task.cname,
                "uid": task.uid,
                "resourceId": rid,
                "sid": sid,
                "code": 50,
                "reason": "upload timeout",
                "serverResponse": {"uploadingStatus": "unknown"},
            }
        with self.world.lock:
            return self.world.stop_response(task)

    def _control(self, method: str, seg: list[str], raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise gateway_error(400, "invalid JSON") from None
        if not isinstance(body, dict):
            raise gateway_error(400, "the body must be a JSON object")
        if len(seg) == 3 and seg[0] == "channels" and method == "POST" and seg[2] in ("join", "leave"):
            uid: Any = body.get("uid")
            if isinstance(uid, str) and uid.isdigit():
                uid = int(uid)
            if seg[2] == "join":
                user = self.join(
                    seg[1],
                    uid,
                    role=body.get("role", "host"),
                    platform=int(body.get("platform", 1)),
                    profile=body.get("profile"),
                    ip=body.get("ip"),
                    account=body.get("account"),
                )
                return 200, {"joined": True, "user": user}
            return 200, {"left": self.leave(seg[1], uid, reason=int(body.get("reason", 1)))}
        if seg == ["channels"] and method == "GET":
            return 200, {"channels": self.channels()}
        if seg == ["tasks"] and method == "GET":
            return 200, {"tasks": self.tasks()}
        if len(seg) == 2 and seg[0] == "tasks" and method == "GET":
            task = self.task(seg[1])
            if task is None:
                raise gateway_error(404, "no such task")
            return 200, task
        if seg == ["faults"]:
            if method == "GET":
                return 200, self.faults.describe()
            if method == "POST":
                try:
                    options: dict[str, Any] = {k: body[k] for k in body if k != "retry_after"}
                    return 200, self.set_faults(**options, retry_after=body.get("retry_after", 1.0))
                except (TypeError, ValueError) as exc:
                    raise gateway_error(400, str(exc)) from None
        if seg == ["reset"] and method == "POST":
            self.reset()
            return 200, {"reset": True}
        if seg == ["stats"] and method == "GET":
            return 200, self.stats()
        if seg == ["events"] and method == "GET":
            return 200, {"events": self.events()}
        raise gateway_error(404, NO_ROUTE)

    def _reply(
        self, handler: _Handler, status: int, body: Any, request_id: str, headers: dict[str, str] | None = None
    ) -> None:
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


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise gateway_error(400, f"{name} must be an integer") from None


__all__ = ["DEFAULT_APP_ID", "DEFAULT_CUSTOMER_ID", "DEFAULT_CUSTOMER_SECRET", "ApiError", "Emulator", "rec_error"]
