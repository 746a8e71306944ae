"""Background delivery of signed NCS webhooks, so API answers never wait for the receiver.

Like NCS: HTTP POST of compact JSON with ``Agora-Signature`` (HMAC-SHA1) and ``Agora-Signature-V2``
(HMAC-SHA256) over the exact body; success is HTTP 200; a failure is retried 3 times (4 attempts);
``notifyMs`` changes on every attempt. Optional duplicates and reordering imitate NCS's "expect
duplicates, ordering not guaranteed"; loss and delay its "advisory" delivery: a lost notification
is never sent (``loss`` of all, every one of ``lose_types``, the next one of each of ``lose_once``),
a delayed one (``delay`` of all) is held up to ``delay_ms`` while later ones overtake it.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import random
import threading
import time
import urllib.request
from typing import Any

from agorakit.ncs.signature import signature_headers

logger = logging.getLogger("emulator.webhooks")


class WebhookSender:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        duplicates: float = 0.0,
        reorder: float = 0.0,
        loss: float = 0.0,
        delay: float = 0.0,
        delay_ms: int = 2000,
        lose_types: list[int] | tuple[int, ...] = (),
        retries: int = 3,
        timeout: float = 10.0,
        retry_delay: float = 0.2,
        rng: random.Random | None = None,
    ):
        self.url = url
        self._secret = secret
        self.duplicates = duplicates
        self.reorder = reorder
        self.retries = retries
        self.timeout = timeout
        self.retry_delay = retry_delay
        self._rng = rng or random.Random()
        self._fate = random.Random(self._rng.random())  # loss and delay, drawn by the sending threads
        self.loss = self.delay = 0.0
        self.delay_ms = 2000
        self.lose_types: set[int] = set()
        self.lose_once: list[int] = []
        self._delayed = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._lock = threading.Lock()
        self.stats = {"queued": 0, "attempts": 0, "delivered": 0, "failed": 0, "duplicated": 0, "reordered": 0}
        self.stats.update(lost=0, delayed=0)
        self.lost: list[dict[str, Any]] = []  # what was never sent: event type, sid, noticeId
        self.configure(loss=loss, delay=delay, delay_ms=delay_ms, lose_types=list(lose_types))
        self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
        self._thread.start()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change the delivery settings; unknown names or rates outside [0, 1] raise ValueError."""
        with self._lock:
            for name in ("loss", "delay", "duplicates", "reorder"):
                value = changes.pop(name, None)
                if value is not None:
                    if not 0.0 <= float(value) <= 1.0:
                        raise ValueError(f"{name} must be in [0, 1]")
                    setattr(self, name, float(value))
            if changes.get("delay_ms") is not None:
                self.delay_ms = max(0, int(changes["delay_ms"]))
            changes.pop("delay_ms", None)
            if changes.get("lose_types") is not None:
                self.lose_types = {int(t) for t in changes["lose_types"]}
            changes.pop("lose_types", None)
            if changes.get("lose_once") is not None:
                self.lose_once.extend(int(t) for t in changes["lose_once"])
            changes.pop("lose_once", None)
            if changes:
                raise ValueError(f"unknown webhook settings {sorted(changes)}")
            return self._settings()

    def _settings(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "delay": self.delay,
            "delay_ms": self.delay_ms,
            "lose_types": sorted(self.lose_types),
            "lose_once": list(self.lose_once),
            "duplicates": self.duplicates,
            "reorder": self.reorder,
        }

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self.stats, "lost_events": [dict(e) for e in self.lost]}

    def send(self, envelope: dict[str, Any]) -> None:
        event_type = envelope.get("eventType")
        with self._lock:
            once = event_type in self.lose_once
            if once:
                self.lose_once.remove(event_type)  # type: ignore[arg-type]
            if once or event_type in self.lose_types or (self.loss and self._fate.random() < self.loss):
                self.stats["lost"] += 1
                self.lost.append(
                    {"eventType": event_type, "sid": envelope.get("sid"), "noticeId": envelope["noticeId"]}
                )
                return
            held = self.delay and self._fate.random() < self.delay
            seconds = self._fate.uniform(0.1, 1.0) * self.delay_ms / 1000 if held else 0.0
            self.stats["queued"] += 1
            if held:
                self.stats["delayed"] += 1
                self._delayed += 1
        item = copy.deepcopy(envelope)
        if not held:
            self._queue.put(item)
            return
        timer = threading.Timer(seconds, self._release, args=(item,))
        timer.daemon = True
        timer.start()

    def _release(self, item: dict[str, Any]) -> None:
        self._queue.put(item)
        with self._lock:
            self._delayed -= 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was delivered or given up (tests use it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0 and self._delayed == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            batch = [item]
            if self.reorder and self._rng.random() < self.reorder:
                try:
                    nxt = self._queue.get(timeout=0.05)
                except queue.Empty:
                    nxt = None
                else:
                    if nxt is None:  # the shutdown sentinel: put it back for the next round
                        self._queue.task_done()
                        self._queue.put(None)
                if nxt is not None:
                    batch = [nxt, item]  # the later event overtakes this one
                    with self._lock:
                        self.stats["reordered"] += 1
            for envelope in batch:
                try:
                    self._deliver(envelope)
                    if self.duplicates and self._rng.random() < self.duplicates:
                        with self._lock:
                            self.stats["duplicated"] += 1
                        self._deliver(envelope)
                except Exception:  # the sender must survive anything
                    logger.exception("webhook delivery crashed")
                finally:
                    self._queue.task_done()

    def _deliver(self, envelope: dict[str, Any]) -> bool:
        for attempt in range(self.retries + 1):
            envelope["notifyMs"] = int(time.time() * 1000)
            body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            headers = {"Content-Type": "application/json"}
            if self._secret:
                headers.update(signature_headers(self._secret, body))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
            with self._lock:
                self.stats["attempts"] += 1
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    ok = response.status == 200
            except Exception as exc:  # HTTPError, URLError, timeouts
                ok = False
                logger.debug("webhook attempt %d to %s failed: %s", attempt + 1, self.url, exc)
            if ok:
                with self._lock:
                    self.stats["delivered"] += 1
                return True
            if attempt < self.retries:
                time.sleep(self.retry_delay * (2**attempt))
        with self._lock:
            self.stats["failed"] += 1
        logger.warning("webhook event %s given up after %d attempts", envelope.get("eventType"), self.retries + 1)
        return False
