"""The state every part of the emulated Agora backend shares, and the NCS envelopes they publish.

``World`` (world.py) is this base plus one mixin per part: channels and users (channels.py), kicking
rules (rules.py), recording tasks (recording.py), segments and uploads (segments.py). The abstract
hooks below are the calls one part makes into another. Every method expects ``lock`` to be held.
"""

from __future__ import annotations

import abc
import itertools
import math
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from emulator.model import Channel, EmuClock, Resource, Rule, Task, User, rec_error
from emulator.uploader import S3Uploader


class WorldBase(abc.ABC):
    """State shared by the parts, the NCS event helpers, and the hooks one part calls in another."""

    def __init__(
        self,
        *,
        app_id: str,
        resource_ttl: float = 300.0,
        time_scale: float = 1.0,
        segment_seconds: float = 15.0,
        exit_seconds: float = 2.0,
        channel_close_seconds: float = 30.0,
        max_tasks: int = 50,
        s3_bucket: str | None = None,
        uploader: S3Uploader | None = None,
        emit: Callable[[dict[str, Any]], None] | None = None,
        rng: random.Random | None = None,
    ):
        self.lock = threading.RLock()
        self.app_id = app_id
        self.resource_ttl = resource_ttl
        self.segment_seconds = segment_seconds
        self.exit_seconds = exit_seconds
        self.channel_close_seconds = channel_close_seconds  # emulated seconds an empty channel stays open
        self.max_tasks = max_tasks  # Agora's peak concurrent workers (PCW): 50
        self.s3_bucket = s3_bucket
        self.uploader = uploader
        self._emit = emit
        self.rng = rng or random.Random()
        self.clock = EmuClock(time_scale)
        self.resources: dict[str, Resource] = {}
        self.tasks: dict[str, Task] = {}
        self.channels: dict[str, Channel] = {}
        self.rules: dict[int, Rule] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.history: list[dict[str, Any]] = []  # per task: channel, start, end (tests assert on overlaps)
        self._rule_ids = itertools.count(1953)
        self._client_seq: dict[tuple[str, int], int] = {}
        self._rtc_notice = itertools.count(1)

    def reset(self) -> None:
        self.resources.clear()
        self.tasks.clear()
        self.channels.clear()
        self.rules.clear()
        self.events.clear()
        self.history.clear()
        self._client_seq.clear()

    # ------------------------------------------------------------------ events

    def _publish(self, envelope: dict[str, Any]) -> None:
        self.events.append(envelope)
        if self._emit is not None:
            self._emit(envelope)

    def _recording_event(self, task: Task, event_type: int, service_type: int, details: dict[str, Any]) -> None:
        sequence = task.sequence
        task.sequence += 1
        self._publish(
            {
                "noticeId": uuid.uuid4().hex,
                "productId": 3,
                "eventType": event_type,
                "notifyMs": self.clock.epoch_ms(),
                "sid": task.sid,
                "payload": {
                    "cname": task.cname,
                    "uid": task.uid,
                    "sid": task.sid,
                    "sequence": sequence,
                    "sendts": self.clock.epoch_ms(),
                    "serviceType": service_type,
                    "details": details,
                },
            }
        )

    def _rtc_event(self, channel: Channel, event_type: int, payload: dict[str, Any]) -> None:
        self._publish(
            {
                "noticeId": f"{abs(hash(channel.session)) % 10**10}:{next(self._rtc_notice)}:{event_type}",
                "productId": 1,
                "eventType": event_type,
                "notifyMs": self.clock.epoch_ms(),
                "sid": channel.session,
                "payload": {"channelName": channel.name, **payload},
            }
        )

    def _next_client_seq(self, cname: str, uid: int) -> int:
        key = (cname, uid)
        seq = max(self._client_seq.get(key, 0) + 1, self.clock.epoch_ms())
        self._client_seq[key] = seq
        return seq

    # ------------------------------------------------------------------ task history

    def _history_start(self, task: Task) -> None:
        self.history.append(
            {
                "sid": task.sid,
                "cname": task.cname,
                "uid": task.uid,
                "resource_id": task.resource_id,
                "mode": task.mode,
                "started_at": task.started_at,
                "started_ms": self.clock.epoch_ms(task.started_at),
                "ended_at": None,
                "ended_ms": None,
                "leave_code": None,
            }
        )

    def _history_end(self, task: Task) -> None:
        for entry in reversed(self.history):
            if entry["sid"] == task.sid and entry["ended_at"] is None:
                entry.update(
                    ended_at=task.ended_at,
                    ended_ms=self.clock.epoch_ms(task.ended_at),
                    leave_code=task.leave_code,
                )

    def overlaps(self) -> list[tuple[str, str]]:
        """Pairs of tasks whose recorders were in one channel at one time (Agora bills both)."""
        found = []
        for i, a in enumerate(self.history):
            for b in self.history[i + 1 :]:
                if a["cname"] != b["cname"]:
                    continue
                a_end = math.inf if a["ended_at"] is None else a["ended_at"]
                b_end = math.inf if b["ended_at"] is None else b["ended_at"]
                if a["started_at"] < b_end and b["started_at"] < a_end:
                    found.append((a["sid"], b["sid"]))
        return found

    def check_capacity(self) -> None:
        """406 ``vendor_over_load`` once ``max_tasks`` recorders are working (Agora's PCW limit)."""
        busy = sum(1 for task in self.tasks.values() if task.state != "exited")
        if self.max_tasks and busy >= self.max_tasks:
            raise rec_error(400, 406, "vendor_over_load")

    # ------------------------------------------------------------------ hooks between the parts

    @abc.abstractmethod
    def join(
        self,
        cname: str,
        uid: int,
        *,
        role: str = "host",
        platform: int = 1,
        profile: str | None = None,
        ip: str | None = None,
        account: str | None = None,
        client_type: int | None = None,
        bot: bool = False,
    ) -> dict[str, Any]:
        """A user joins a channel (channels.py)."""

    @abc.abstractmethod
    def _leave(self, channel: Channel, user: User, *, reason: int) -> None:
        """A user leaves a channel (channels.py)."""

    @abc.abstractmethod
    def _close_empty_channels(self) -> None:
        """Channels empty for ``channel_close_seconds`` close (event 102) (channels.py)."""

    @abc.abstractmethod
    def _banned(self, cname: str, uid: int, ip: str | None, privilege: str) -> Rule | None:
        """The kicking rule that denies ``privilege``, if any (rules.py)."""

    @abc.abstractmethod
    def _exit(self, task: Task, leave_code: int, *, exit_status: int = 0, bot_leaves: bool = True) -> None:
        """A recording task ends: last segments, events 41/11 (segments.py)."""

    @abc.abstractmethod
    def _files_response(self, task: Task) -> dict[str, Any]:
        """The file list part of a query or stop answer (segments.py)."""

    @abc.abstractmethod
    def _web_files(self, task: Task) -> list[dict[str, Any]]:
        """The file list of a web recording (segments.py)."""

    # CDN push of web tasks (cdn.py)
    @abc.abstractmethod
    def _cdn_start(self, task: Task, urls: list[str]) -> None:
        """A web task starts pushing to ``urls``."""

    @abc.abstractmethod
    def _cdn_tick(self, task: Task, now: float) -> None:
        """Addresses that were connecting publish (or fail)."""

    @abc.abstractmethod
    def _cdn_update(self, task: Task, request: dict[str, Any]) -> None:
        """update's rtmpPublishConfig / webRecordingConfig.onhold."""

    @abc.abstractmethod
    def _cdn_exit(self, task: Task) -> None:
        """The task ends: every address disconnects."""

    @abc.abstractmethod
    def _cdn_state(self, task: Task) -> list[dict[str, Any]]:
        """The rtmp_publish_service entry of a query's extensionServiceState."""
