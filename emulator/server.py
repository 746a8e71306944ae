"""The Agora emulator's Python API (``Emulator``): options, lifecycle, and what tests inspect.

A real HTTP/1.1 server on loopback (gateway.py) speaks Agora's Cloud Recording paths
(``/v1/apps/{appid}/cloud_recording/...``), channel-management paths (``/dev/v1/...``) and the Console API
(``/dev/v1/project*``, ``/dev/v3/usage``: console.py, mounted as it is) with Basic
auth, a QPS limit, injected faults (faults.py), uploads of Agora-named HLS files to S3 and signed NCS
webhooks (webhooks.py). A control API under ``/emulator/`` (routes.py; no auth: a dev tool on
loopback) lets tests make users join and leave channels, inject faults and read the task history.
"""

from __future__ import annotations

import collections
import errno
import json
import logging
import random
import threading
import time
from collections import Counter
from typing import Any

from emulator.console import ConsoleEmulator
from emulator.faults import Faults, SlidingWindow
from emulator.gateway import Handler, Server
from emulator.options import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET
from emulator.stt import MAX_LIFETIME, SttService
from emulator.uploader import S3Uploader
from emulator.webhooks import WebhookSender
from emulator.world import ApiError, World

logger = logging.getLogger("emulator")


class Emulator:
    """An emulated Agora REST backend. ``start()`` serves in background threads; ``url`` is its base URL.

    The hostile settings (faults, webhook loss and delay, ``max_tasks``, ``channel_close_seconds``,
    ``resource_ttl``) follow Agora's documented behaviour; the fault and loss rates default to 0 so
    that a test opts in to the hostility it exercises.
    """

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
        max_tasks: int = 50,
        s3_endpoint: str | None = None,
        s3_bucket: str | None = None,
        webhook_url: str | None = None,
        ncs_secret: str | None = None,
        webhook_duplicates: float = 0.0,
        webhook_reorder: float = 0.0,
        webhook_loss: float = 0.0,
        webhook_delay: float = 0.0,
        webhook_delay_ms: int = 2000,
        webhook_lose_types: list[int] | tuple[int, ...] = (),
        fault_429: float = 0.0,
        fault_5xx: float = 0.0,
        fault_206_65: float = 0.0,
        fault_502: float = 0.0,
        fault_504: float = 0.0,
        fault_allocate: float = 0.0,
        fault_timeout: float = 0.0,
        fault_after_effect: float = 0.0,
        timeout_ms: int = 15_000,
        retry_after: float | None = None,
        slow_ms: int = 0,
        fault_slow: float | None = None,
        time_scale: float = 1.0,
        segment_seconds: float = 15.0,
        exit_seconds: float = 2.0,
        postpone_seconds: float = 600.0,
        channel_close_seconds: float = 30.0,
        tick_seconds: float = 0.02,
        seed: int | None = None,
        app_certificate: str | None = None,
        project_name: str = "emulator",
        console_qps: float = 10,
        stt_fail_rate: float = 0.0,
        stt_max_lifetime: float = MAX_LIFETIME,
        stt_upload_seconds: float = 0.0,
    ):
        self.host = host
        self.port = port
        self.app_id = app_id
        self.customer_id = customer_id
        self.credentials = f"{customer_id}:{customer_secret}"
        self._rng = random.Random(seed)
        self.qps = qps
        self.limiter = SlidingWindow(qps)
        self.faults = Faults(
            rate_429=fault_429,
            rate_5xx=fault_5xx,
            rate_206_65=fault_206_65,
            rate_502=fault_502,
            rate_504=fault_504,
            rate_allocate=fault_allocate,
            rate_timeout=fault_timeout,
            after_effect=fault_after_effect,
            timeout_ms=timeout_ms,
            slow_ms=slow_ms,
            rate_slow=fault_slow if fault_slow is not None else (1.0 if slow_ms else 0.0),
            retry_after=retry_after,
            rng=random.Random(self._rng.random()),
        )
        self.uploader = S3Uploader(s3_endpoint) if s3_endpoint and s3_bucket else None
        self.webhooks = (
            WebhookSender(
                webhook_url,
                ncs_secret,
                duplicates=webhook_duplicates,
                reorder=webhook_reorder,
                loss=webhook_loss,
                delay=webhook_delay,
                delay_ms=webhook_delay_ms,
                lose_types=webhook_lose_types,
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
            channel_close_seconds=channel_close_seconds,
            max_tasks=max_tasks,
            s3_bucket=s3_bucket,
            uploader=self.uploader,
            emit=self.webhooks.send if self.webhooks else None,
            rng=random.Random(self._rng.random()),
        )
        # Real-Time STT v7 agents in the same channels (stt.py)
        self.stt = SttService(
            self.world,
            rng=random.Random(self._rng.random()),
            fail_rate=stt_fail_rate,
            max_lifetime=stt_max_lifetime,
            upload_seconds=stt_upload_seconds,
        )
        self.world.postpone_seconds = postpone_seconds  # scene 2: emulated seconds until the postponed result
        # the Console API (projects, App Certificate, usage) for the same account; the App ID is one of its
        # projects, whose certificate is ``app_certificate`` (the local stack's) or a generated one
        self.console = ConsoleEmulator(
            accounts={customer_id: customer_secret}, qps=console_qps, seed=self._rng.getrandbits(32)
        )
        self._project_seed = {"name": project_name, "app_certificate": app_certificate}
        self._seed_project()
        self.tick_seconds = tick_seconds
        self._stats_lock = threading.Lock()
        self._stats: dict[str, Any] = self._fresh_stats()
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def _seed_project(self) -> None:
        self.console.add_project(
            str(self._project_seed["name"]),
            customer_id=self.customer_id,
            vendor_key=self.app_id,
            sign_key=self._project_seed["app_certificate"],
        )

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
        self._server = _bind(self.host, self.port)
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
                    self.stt.tick()
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

    def set_faults(self, *, clear: bool = False, **settings: Any) -> dict[str, Any]:
        """Change the injected faults (faults.py): the rates ``rate_429``, ``rate_5xx``, ``rate_206_65``,
        ``rate_502``, ``rate_504``, ``rate_allocate``, ``rate_timeout``, ``rate_slow`` (0..1);
        ``after_effect`` (share of ambiguous faults on mutating requests that come after the effect);
        ``slow_ms``, ``timeout_ms``; ``retry_after`` sent with 429s (None: no header, Agora's way);
        ``script``: faults for the next requests, ``kind`` or ``kind@op``. A script entry wins over
        the rates; ``drop``: script entries to take back (each once, if still waiting); ``clear`` first returns
        everything to the defaults."""
        return self.faults.configure(clear=clear, **settings)

    def set_webhooks(self, **settings: Any) -> dict[str, Any]:
        """Change NCS delivery: ``loss``, ``delay``, ``delay_ms``, ``lose_types``, ``duplicates``, ``reorder``."""
        if self.webhooks is None:
            raise ValueError("no webhook URL: nothing is delivered")
        return self.webhooks.configure(**settings)

    def task_history(self, cname: str | None = None) -> list[dict[str, Any]]:
        """Every recording task, per channel: when it started and when its recorder left (None: running)."""
        with self.world.lock:
            return [dict(entry) for entry in self.world.history if cname is None or entry["cname"] == cname]

    def overlapping_tasks(self) -> list[tuple[str, str]]:
        """Pairs of sids whose recorders were in the same channel at the same time."""
        with self.world.lock:
            return self.world.overlaps()

    def running_tasks(self) -> list[dict[str, Any]]:
        """The tasks whose recorder has not left yet."""
        return [entry for entry in self.task_history() if entry["ended_at"] is None]

    # Real-Time STT v7 (stt.py)
    def stt_configure(self, **settings: Any) -> dict[str, Any]:
        """Change ``max_lifetime``, ``start_seconds``, ``cue_seconds`` (emulated seconds), ``fail_rate``,
        ``max_agents`` (live agents per project; a join beyond is 422)."""
        with self.world.lock:
            return self.stt.configure(**settings)

    def stt_history(self) -> list[dict[str, Any]]:
        with self.world.lock:
            return self.stt.history()

    def stt_overlaps(self) -> list[tuple[str, str]]:
        with self.world.lock:
            return self.stt.overlaps()

    # Conversational AI agents (convoai.py)
    def agents_state(self) -> dict[str, Any]:
        """Every agent (``describe()``), every agent ever created with its start and end, the pairs of agents with
        one name or one channel and uid live at one time (an ambiguous start must never leave such a pair)."""
        with self.world.lock:
            history = [dict(entry) for entry in self.world.agent_history]
            return {
                "agents": [a.describe() for a in self.world.agents.values()],
                "history": history,
                "overlaps": _agent_overlaps(history),
                "settings": self.world.configure_agents(),
            }

    def configure_agents(self, **settings: Any) -> dict[str, Any]:
        with self.world.lock:
            return self.world.configure_agents(**settings)

    def set_qps(self, qps: float) -> None:
        self.qps = qps
        self.limiter = SlidingWindow(qps)

    def reset(self) -> None:
        with self.world.lock:
            self.world.reset()
            self.stt.reset()
        self.console.reset()
        self._seed_project()
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
                "webhooks": self.webhooks.snapshot() if self.webhooks else None,
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


def _agent_overlaps(history: list[dict[str, Any]]) -> list[list[str]]:
    """Pairs of agents with the same name, or the same channel and uid, alive at the same time."""
    found = []
    for i, a in enumerate(history):
        for b in history[i + 1 :]:
            same = a["name"] == b["name"] or (a["channel"] == b["channel"] and a["uid"] == b["uid"])
            a_end = float("inf") if a["ended"] is None else a["ended"]
            b_end = float("inf") if b["ended"] is None else b["ended"]
            if same and a["created"] < b_end and b["created"] < a_end:
                found.append([a["agent_id"], b["agent_id"]])
    return found


def _bind(host: str, port: int) -> Server:
    """The listening server; a taken port is named in the error (the CLI prints it as it is)."""
    try:
        return Server((host, port), Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is already in use (choose another with --port)"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        error = OSError(message)
        error.errno = exc.errno
        raise error from None


__all__ = ["DEFAULT_APP_ID", "DEFAULT_CUSTOMER_ID", "DEFAULT_CUSTOMER_SECRET", "ApiError", "Emulator"]
