"""Agora's cloud recording REST service in virtual time, behind an ``httpx.MockTransport``.

Our ``AgoraClient`` talks to it unchanged (its limiter, retries, backoff and ``classify`` table run as in
Lambda); this is the other end of the wire, with the emulator's rules (``emulator/``):

- QPS per App ID: ``emulator.faults.SlidingWindow`` on the virtual clock (at most ``qps`` accepted requests in
  any 1-second window, rejected ones not counted), then 429 ``API rate limit exceeded`` with no Retry-After;
- the concurrent-task limit: start answers 400 / code 406 ``vendor_over_load`` once ``max_tasks`` recorders
  work (``emulator.base.check_capacity``);
- the resource TTL: start with a resource ID older than ``resource_ttl`` (5 minutes) is 400 / 433;
  an unknown one 1001, a second task of the same channel and uid 53, a repeated start 201 / 7;
- query and stop of a task that exited: 404 ``failed to find worker`` (stop: "gone");
- each request arrives after a network delay (the jitter the limiter's headroom absorbs) and takes Agora's
  processing time, both spent on the calling invocation's clock (it keeps its Lambda slot meanwhile).

Every task is kept with its lifetime, so the run can count overlapping tasks in a channel and orphans.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from emulator.faults import SlidingWindow

#: Agora's processing time per operation, seconds (uniform in the range): modelled, not measured
LATENCY = {"acquire": (0.2, 0.5), "start": (0.5, 1.5), "query": (0.1, 0.3), "stop": (0.5, 1.5), "other": (0.1, 0.3)}
#: one-way network delay between a Lambda in the region and Agora's gateway, seconds
NETWORK = (0.01, 0.15)

_TASK = re.compile(r"/resourceid/(?P<rid>[^/]+)(?:/sid/(?P<sid>[^/]+))?/mode/(?P<mode>[^/]+)/(?P<op>\w+)$")


@dataclass
class Resource:
    id: str
    cname: str
    uid: int
    acquired_at: float
    sid: str | None = None


@dataclass
class Task:
    sid: str
    resource_id: str
    cname: str
    uid: int
    mode: str
    started_at: float
    ended_at: float | None = None

    @property
    def running(self) -> bool:
        return self.ended_at is None


@dataclass
class SimAgora:
    """One App ID's cloud recording service. ``clock`` is the calling invocation's clock; ``sleep`` spends its
    time; ``on_exit(task)`` hears every task that ends (NCS event 11 is the simulation's business)."""

    clock: Callable[[], float]
    sleep: Callable[[float], None]
    rng: random.Random
    qps: float = 10.0
    max_tasks: int = 50
    resource_ttl: float = 300.0
    on_exit: Callable[[Task], None] | None = None
    resources: dict[str, Resource] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    by_channel: dict[str, list[Task]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    running_max: int = 0
    _running: int = 0
    _next: int = 0
    _arrival: float = 0.0

    def __post_init__(self) -> None:
        self.window = SlidingWindow(self.qps, clock=lambda: self._arrival)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the wire -------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        op = self._operation(path)
        self.sleep(self.rng.uniform(*NETWORK))
        self._arrival = self.clock()
        self.counts[f"calls:{op}"] += 1
        if not self.window.allow():
            self.counts["429"] += 1
            self.sleep(self.rng.uniform(*NETWORK))
            return httpx.Response(429, json={"message": "API rate limit exceeded"})  # no Retry-After
        body = json.loads(request.content) if request.content else {}
        status, answer = self._answer(op, path, body)  # the effect at arrival, the answer after Agora's time
        self.sleep(self.rng.uniform(*LATENCY.get(op, LATENCY["other"])) + self.rng.uniform(*NETWORK))
        return httpx.Response(status, json=answer)

    @staticmethod
    def _operation(path: str) -> str:
        if path.endswith("/acquire"):
            return "acquire"
        match = _TASK.search(path)
        if match:
            return match["op"]
        return "kicking_rule" if "kicking-rule" in path else "other"

    def _answer(self, op: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # noqa: PLR0911 - Agora's table
        if op == "acquire":
            return self._acquire(body)
        match = _TASK.search(path)
        if match is None:
            if op == "kicking_rule":
                self._next += 1
                return 200, {"status": "success", "id": self._next}
            return 200, {"success": True, "data": {"in_channel": False, "join": 0, "role": 0, "platform": 0}}
        if op == "start":
            return self._start(match["rid"], match["mode"], body)
        task = self.tasks.get(match["sid"] or "")
        if task is None or not task.running or task.resource_id != match["rid"]:
            return 404, {"code": 404, "reason": "failed to find worker"}
        if op == "query":
            server = {"status": 5, "fileList": [], "fileListMode": "json"}
            return 200, {"resourceId": task.resource_id, "sid": task.sid, "serverResponse": server}
        if op == "stop":
            self.end(task)
            files = [{"fileName": f"{task.sid}_{task.cname}.m3u8"}]
            server = {"fileList": files, "fileListMode": "json", "uploadingStatus": "uploaded"}
            return 200, {"resourceId": task.resource_id, "sid": task.sid, "serverResponse": server}
        return 200, {"resourceId": task.resource_id, "sid": task.sid}

    def _id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}{self._next:09d}"

    def _acquire(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        resource = Resource(self._id("rid"), str(body["cname"]), int(body["uid"]), self._arrival)
        self.resources[resource.id] = resource
        return 200, {"cname": resource.cname, "uid": str(resource.uid), "resourceId": resource.id}

    def _start(self, resource_id: str, mode: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        resource = self.resources.get(resource_id)
        if resource is None:
            return 400, {"code": 1001, "reason": "failed to parse resource id"}
        if resource.sid is not None:
            return 201, {"code": 7, "reason": "The recording has already been started", "sid": resource.sid}
        if self._arrival - resource.acquired_at > self.resource_ttl:
            self.counts["433"] += 1
            return 400, {"code": 433, "reason": "resource expired"}
        cname, uid = str(body["cname"]), int(body["uid"])
        if any(t.running and t.cname == cname and t.uid == uid for t in self._in_channel(cname)):
            return 400, {"code": 53, "reason": "a task with the same cname and uid already exists"}
        if self.max_tasks and self._running >= self.max_tasks:
            self.counts["406"] += 1
            return 400, {"code": 406, "reason": "vendor_over_load"}
        task = Task(self._id("sid"), resource_id, cname, uid, mode, started_at=self._arrival)
        resource.sid = task.sid
        self.tasks[task.sid] = task
        self.by_channel.setdefault(cname, []).append(task)
        self._running += 1
        self.running_max = max(self.running_max, self._running)
        return 200, {"cname": cname, "uid": str(uid), "resourceId": resource_id, "sid": task.sid}

    def _in_channel(self, cname: str) -> list[Task]:
        return self.by_channel.get(cname, [])

    # -- what happens at Agora without a request ------------------------------------------------
    def end(self, task: Task) -> None:
        """The task ends (stop, or by itself: idle channel, an error)."""
        if not task.running:
            return
        task.ended_at = self.clock()
        self._running -= 1
        if self.on_exit is not None:
            self.on_exit(task)

    # -- what the run reports -------------------------------------------------------------------
    def overlapping(self) -> int:
        """Pairs of tasks of one channel that ran at the same time (two recorders of one recording)."""
        found = 0
        for tasks in self.by_channel.values():
            for i, a in enumerate(tasks):
                for b in tasks[i + 1 :]:
                    a_end = float("inf") if a.ended_at is None else a.ended_at
                    b_end = float("inf") if b.ended_at is None else b.ended_at
                    if a.started_at < b_end and b.started_at < a_end:
                        found += 1
        return found

    def running(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.running]
