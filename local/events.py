"""The events bus on the local stack: what apps would receive, visible at ``GET /local/events`` and
optionally forwarded to a local HTTP endpoint (``python -m local.run --forward-events URL``).

The publisher function runs unchanged and calls PutEvents on moto's EventBridge. moto does route a bus's
events through its rules to SQS targets (it does not call HTTP endpoints or keep archives), so this module
provisions what the template's bus needs in moto and subscribes to it the way an app would:
- the bus (the template's ``AWS::Events::EventBus``, which the provisioner leaves to this module);
- a capture queue and a rule on the bus matching every event of this stack, targeting the queue;
- a capture thread that moves each delivered envelope from the queue into an ``EventLog``.

``EventLog`` numbers the envelopes in arrival order; ``GET /local/events?after=<cursor>&wait=<s>`` returns
those after the cursor (long-polling up to ``wait`` seconds when there are none) and the new cursor.
``Forwarder`` POSTs each envelope, in order, to a URL with EventBridge's API-destination policy, bounded:
429, 5xx and connection errors are retried with exponential backoff and jitter up to ``attempts`` times,
other 4xx are not retried; what is given up is kept in ``dead_letters`` (the target's DLQ locally).
The archive and replay are not emulated.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from local.resources import LocalStack

log = logging.getLogger("local.events")
SOURCE_PREFIX = "agora-serverless."
MAX_WAIT_S = 20.0
MAX_PAGE = 500


class EventLog:
    """Envelopes in arrival order; cursor N means "the first N have been seen"."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def append(self, envelope: dict[str, Any]) -> int:
        with self._changed:
            self._items.append(envelope)
            self._changed.notify_all()
            return len(self._items)

    def after(self, cursor: int, *, limit: int = MAX_PAGE, wait: float = 0.0) -> tuple[list[dict[str, Any]], int]:
        """The envelopes after ``cursor`` (waiting up to ``wait`` s for one) and the cursor to pass next."""
        deadline = time.monotonic() + wait
        with self._changed:
            while len(self._items) <= cursor:
                left = deadline - time.monotonic()
                if left <= 0:
                    return [], cursor
                self._changed.wait(left)
            page = self._items[cursor : cursor + limit]
            return list(page), cursor + len(page)

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def http(self, method: str, query: str) -> tuple[int, dict[str, Any]]:
        """``GET /local/events?after=<cursor>&limit=<n>&wait=<seconds>`` -> (status, JSON body)."""
        if method != "GET":
            return 405, {"message": "GET /local/events?after=<cursor>"}
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            cursor = int(params.get("after") or 0)
            limit = int(params.get("limit") or MAX_PAGE)
            wait = float(params.get("wait") or 0)
        except ValueError:
            return 400, {"message": "after and limit are integers (a cursor from a previous answer), wait seconds"}
        if cursor < 0 or not 1 <= limit <= MAX_PAGE or not 0 <= wait <= MAX_WAIT_S:
            return 400, {"message": f"after >= 0, limit 1-{MAX_PAGE}, wait 0-{MAX_WAIT_S:g} seconds"}
        events, nxt = self.after(cursor, limit=limit, wait=wait)
        return 200, {"events": events, "cursor": str(nxt)}


class _Thread(threading.Thread):
    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()


class Capture(_Thread):
    """Moves envelopes from the capture queue (fed by the bus's rule) into the log."""

    def __init__(self, sqs: Any, queue_url: str, log_: EventLog):
        super().__init__("events:capture")
        self.sqs, self.queue_url, self.log = sqs, queue_url, log_

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:
                log.exception("reading the events capture queue failed")
                self._stop_event.wait(0.5)
                continue
            for message in answer.get("Messages") or []:
                try:
                    self.log.append(json.loads(message["Body"]))
                except ValueError:
                    log.warning("not an event envelope in the capture queue: %.200s", message["Body"])
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class RetryPolicy:
    """EventBridge's policy for an API destination, bounded for a local run."""

    attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


def retryable(status: int | None) -> bool:
    """None: no answer (connection refused, timeout); EventBridge retries 429 and 5xx, not other 4xx."""
    return status is None or status == 429 or status >= 500


class Forwarder(_Thread):
    """POSTs every envelope of the log, in order, to ``url`` (``post``: url, body, timeout -> HTTP status)."""

    def __init__(
        self,
        log_: EventLog,
        url: str,
        *,
        policy: RetryPolicy | None = None,
        post: Callable[[str, bytes, float], int] | None = None,
        seed: int | None = None,
    ):
        super().__init__("events:forward")
        self.log_, self.url, self.policy, self.post = log_, url, policy or RetryPolicy(), post
        self.seed = seed
        self.delivered = 0
        self.dead_letters: list[dict[str, Any]] = []
        self._rng = random.Random(self.seed)

    def run(self) -> None:
        cursor = 0
        while not self._stop_event.is_set():
            events, cursor = self.log_.after(cursor, limit=50, wait=1.0)
            for envelope in events:
                self.forward(envelope)

    def forward(self, envelope: dict[str, Any]) -> bool:
        body = json.dumps(envelope).encode()
        status: int | None = None
        for attempt in range(self.policy.attempts):
            if attempt and self._stop_event.wait(self.policy.delay(attempt, self._rng)):
                break
            try:
                status = (self.post or _httpx_post)(self.url, body, self.policy.timeout_s)
            except Exception as exc:
                log.info("forwarding %s: %s", envelope.get("detail-type"), exc)
                status = None
            if status is not None and 200 <= status < 300:
                self.delivered += 1
                return True
            if not retryable(status):
                break
        self.dead_letters.append({"event": envelope, "status": status})
        log.warning("event %s not delivered to %s (last status %s)", envelope.get("id"), self.url, status)
        return False


def _httpx_post(url: str, body: bytes, timeout: float) -> int:
    import httpx

    return httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=timeout).status_code


@dataclass
class LocalEvents:
    log: EventLog
    capture: Capture
    forwarder: Forwarder | None
    bus_name: str

    def signal_stop(self) -> None:
        """Tell the threads to stop without waiting for them (``stop`` waits)."""
        for thread in (self.capture, self.forwarder):
            if thread is not None:
                thread.stop()

    def stop(self) -> None:
        self.signal_stop()
        for thread in (self.capture, self.forwarder):
            if thread is not None and thread.is_alive():
                thread.join(3.0)


def start_local_events(stack: LocalStack, session: Any, *, forward_url: str | None = None) -> LocalEvents | None:
    """Create the template's bus in moto, subscribe the capture queue, start the threads (None: no bus)."""
    buses = stack.by_type("AWS::Events::EventBus")
    if not buses:
        return None
    bus_name = str(buses[0].ref)
    events, sqs = session.client("events"), session.client("sqs")
    events.create_event_bus(Name=bus_name)
    queue_name = f"{stack.stack_name}-local-events"[:80]
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"{stack.stack_name}-local-capture"[:64]
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps({"source": [{"prefix": SOURCE_PREFIX}]}))
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "capture", "Arn": queue_arn}])
    log_ = EventLog()
    capture = Capture(sqs, queue_url, log_)
    capture.start()
    forwarder = Forwarder(log_, forward_url) if forward_url else None
    if forwarder is not None:
        forwarder.start()
    stack.skipped.pop("AWS::Events::EventBus", None)
    return LocalEvents(log=log_, capture=capture, forwarder=forwarder, bus_name=bus_name)
