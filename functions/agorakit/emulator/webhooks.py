"""Background delivery of signed NCS webhooks, so API answers never wait for the receiver.

Like NCS: HTTP POST of compact JSON with ``Agora-Signature`` (HMAC-SHA1) and ``Agora-Signature-V2``
(HMAC-SHA256) over the exact body; success is HTTP 200; a failure is retried 3 times (4 attempts);
``notifyMs`` changes on every attempt. Optional duplicates and reordering imitate NCS's "expect
duplicates, ordering not guaranteed".
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

logger = logging.getLogger("agorakit.emulator.webhooks")


class WebhookSender:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        duplicates: float = 0.0,
        reorder: float = 0.0,
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
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._lock = threading.Lock()
        self.stats = {"queued": 0, "attempts": 0, "delivered": 0, "failed": 0, "duplicated": 0, "reordered": 0}
        self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
        self._thread.start()

    def send(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            self.stats["queued"] += 1
        self._queue.put(copy.deepcopy(envelope))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was delivered or given up (tests use it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
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
