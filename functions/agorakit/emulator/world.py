# ruff: noqa: PLR0912, PLR0915 - request dispatch and the simulation are branchy tables by nature
"""The emulated Agora backend: channels, kicking rules, recording resources and tasks.

Every public method expects the caller to hold ``World.lock``. Time comes from an ``EmuClock``:
segments, ``maxIdleTime`` and kicking-rule expiry run on emulated time (``time_scale`` emulated
seconds per real second); resource-ID expiry (``resource_ttl``) is real time, like the API's.

Behaviour follows /work/shared/agora/recording-ncs-channels.md: resource IDs expire (433) and serve
one start (201/7); one task per (cname, uid) (53); query status values; idle exit after
``maxIdleTime`` (events 41/11/31); stop gives the file list or 206/435; 49 while exiting, then 404.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agorakit.emulator import naming
from agorakit.emulator.uploader import S3Uploader, Upload

MAX_UID = 2**32 - 1
_CNAME_RE = re.compile(r"^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+$")
_PREFIX_RE = re.compile(r"^[a-zA-Z0-9]+$")
S3_REGION_NAMES = {
    0: "us-east-1",
    1: "us-east-2",
    2: "us-west-1",
    3: "us-west-2",
    4: "eu-west-1",
    5: "eu-west-2",
    6: "eu-west-3",
    7: "eu-central-1",
    8: "ap-southeast-1",
    9: "ap-southeast-2",
    10: "ap-northeast-1",
    11: "ap-northeast-2",
    12: "sa-east-1",
    13: "ca-central-1",
    14: "ap-south-1",
    15: "cn-north-1",
    16: "cn-northwest-1",
    18: "af-south-1",
    19: "ap-east-1",
    20: "ap-northeast-3",
    21: "eu-north-1",
    22: "me-south-1",
    24: "ap-southeast-3",
    25: "eu-south-1",
}
VENDORS = {1, 2, 3, 5, 6, 7, 8, 11}
ALL = "#allstream#"

# leaveCode bits (event 41)
LEAVE_INIT_FAILED, LEAVE_IDLE, LEAVE_STOP = 0, 4, 16


class ApiError(Exception):
    """An answer other than 200: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def rec_error(status: int, code: int, reason: str) -> ApiError:
    return ApiError(status, {"code": code, "reason": reason})


def gateway_error(status: int, message: str) -> ApiError:
    return ApiError(status, {"message": message})


class EmuClock:
    """Emulated seconds since start (``now``) and emulated Unix time (``epoch``)."""

    def __init__(self, time_scale: float = 1.0):
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.scale = float(time_scale)
        self._real0 = time.monotonic()
        self._epoch0 = time.time()

    def now(self) -> float:
        return (time.monotonic() - self._real0) * self.scale

    def epoch(self, at: float | None = None) -> float:
        return self._epoch0 + (self.now() if at is None else at)

    def epoch_ms(self, at: float | None = None) -> int:
        return int(self.epoch(at) * 1000)


# ---------------------------------------------------------------------------------------------- channels


@dataclass
class User:
    uid: int
    role: str  # "host" | "audience" | "communication"
    platform: int
    joined_at: float  # emulated seconds
    join_epoch: int
    ip: str | None = None
    account: str | None = None
    client_type: int | None = None
    bot: bool = False

    def publishes(self) -> bool:
        return self.role in ("host", "communication") and not self.bot

    def role_number(self) -> int:
        return {"communication": 1, "host": 2, "audience": 3}.get(self.role, 0)

    def describe(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "role": self.role,
            "platform": self.platform,
            "join": self.join_epoch,
            "ip": self.ip,
            "bot": self.bot,
        }


@dataclass
class Channel:
    name: str
    profile: str  # "live" | "communication"
    session: str
    users: dict[int, User] = field(default_factory=dict)


@dataclass
class Rule:
    id: int
    cname: str | None
    uid: int | None
    ip: str | None
    privileges: list[str]
    expires_at: float  # emulated seconds
    created_epoch: float
    updated_epoch: float

    def matches(self, cname: str, uid: int, ip: str | None) -> bool:
        return (
            (self.cname is None or self.cname == cname)
            and (self.uid is None or self.uid == uid)
            and (self.ip is None or self.ip == ip)
        )


# ---------------------------------------------------------------------------------------------- recording


@dataclass
class Resource:
    id: str
    cname: str
    uid: str
    scene: int
    expired_hour: int
    created_real: float
    sid: str | None = None


@dataclass
class Segment:
    name: str
    duration: float
    epoch_ms: int
    tags: list[str]


@dataclass
class Stream:
    name: str  # m3u8 file name (without prefix)
    uid: str  # "0" in mix
    track: str  # audio | video | audio_and_video
    segments: list[Segment] = field(default_factory=list)
    open_at: float | None = None  # emulated start of the open segment
    target: float = 15.0
    pending_tags: list[str] = field(default_factory=list)
    last_close_ms: int = 0
    first_ms: int | None = None
    announced: bool = False
    dirty: bool = False


@dataclass
class Task:
    sid: str
    resource_id: str
    cname: str
    uid: str
    mode: str
    client_request: dict[str, Any]
    started_at: float  # emulated
    started_real: float
    prefix: list[str]
    storage: dict[str, Any]
    max_idle: int
    stream_types: int
    av_types: list[str]
    correct_extinf: bool
    expired_hour: int
    max_recording_hour: int | None
    state: str = "running"  # running | exiting | exited
    status: int = 1
    last_active: float = 0.0
    sequence: int = 0
    streams: dict[str, Stream] = field(default_factory=dict)
    active_tracks: set[tuple[int, str]] = field(default_factory=set)
    leave_code: int | None = None
    exit_status: int = 0
    exit_real: float | None = None
    uploaded_event_sent: bool = False
    last_progress: float = 0.0
    layout: dict[str, Any] | None = None
    ended_at: float | None = None

    def recorded(self) -> bool:
        return any(s.segments for s in self.streams.values())

    def describe(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "resourceId": self.resource_id,
            "cname": self.cname,
            "uid": self.uid,
            "mode": self.mode,
            "state": self.state,
            "status": self.status,
            "maxIdleTime": self.max_idle,
            "fileNamePrefix": self.prefix,
            "leaveCode": self.leave_code,
            "streams": {
                k: {
                    "m3u8": naming.object_key(self.prefix, s.name),
                    "segments": len(s.segments),
                    "duration": round(sum(x.duration for x in s.segments), 6),
                }
                for k, s in self.streams.items()
            },
        }


def _now_real() -> float:
    return time.monotonic()


class World:
    def __init__(
        self,
        *,
        app_id: str,
        resource_ttl: float = 300.0,
        time_scale: float = 1.0,
        segment_seconds: float = 15.0,
        exit_seconds: float = 2.0,
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
        self._rule_ids = itertools.count(1953)
        self._client_seq: dict[tuple[str, int], int] = {}
        self._rtc_notice = itertools.count(1)

    def reset(self) -> None:
        self.resources.clear()
        self.tasks.clear()
        self.channels.clear()
        self.rules.clear()
        self.events.clear()
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

    # ------------------------------------------------------------------ channels (control API)

    def active_rules(self) -> list[Rule]:
        now = self.clock.now()
        for rule_id in [r.id for r in self.rules.values() if r.expires_at <= now]:
            del self.rules[rule_id]
        return list(self.rules.values())

    def _banned(self, cname: str, uid: int, ip: str | None, privilege: str) -> Rule | None:
        for rule in self.active_rules():
            if privilege in rule.privileges and rule.matches(cname, uid, ip):
                return rule
        return None

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
        if not isinstance(cname, str) or not _CNAME_RE.match(cname) or len(cname.encode()) >= 64:
            raise gateway_error(400, "invalid channel name")
        if isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_UID:
            raise gateway_error(400, "uid must be an integer in 1..2^32-1")
        if role not in ("host", "audience", "communication"):
            raise gateway_error(400, "role must be host, audience or communication")
        if not bot:
            rule = self._banned(cname, uid, ip, "join_channel")
            if rule is not None:
                raise ApiError(403, {"message": "banned by a kicking rule", "rule_id": rule.id})
        now = self.clock.now()
        channel = self.channels.get(cname)
        if channel is None:
            wanted = profile or ("communication" if role == "communication" else "live")
            channel = Channel(name=cname, profile=wanted, session=uuid.uuid4().hex)
            self.channels[cname] = channel
            self._rtc_event(channel, 101, {"ts": int(self.clock.epoch())})
        if channel.profile == "communication":
            role = "communication"
        elif role == "communication":
            role = "host"
        existing = channel.users.get(uid)
        if existing is not None:
            if existing.bot != bot:  # same uid from another device: the older one is dropped (reason 5)
                self._leave(channel, existing, reason=5)
            elif existing.role != role and channel.profile == "live":
                existing.role = role
                seq = self._next_client_seq(cname, uid)
                event = 111 if role == "host" else 112
                self._rtc_event(
                    channel,
                    event,
                    {
                        "uid": uid,
                        "clientSeq": seq,
                        "ts": int(self.clock.epoch()),
                        "account": existing.account or str(uid),
                    },
                )
                return existing.describe()
            else:
                return existing.describe()
        if channel.name not in self.channels:  # the reason-5 leave emptied and removed it
            self.channels[cname] = channel
            self._rtc_event(channel, 101, {"ts": int(self.clock.epoch())})
        user = User(
            uid=uid,
            role=role,
            platform=platform,
            joined_at=now,
            join_epoch=int(self.clock.epoch()),
            ip=ip,
            account=account,
            client_type=client_type,
            bot=bot,
        )
        channel.users[uid] = user
        event = {"host": 103, "audience": 105, "communication": 107}[role]
        payload: dict[str, Any] = {
            "uid": uid,
            "platform": platform,
            "clientSeq": self._next_client_seq(cname, uid),
            "ts": int(self.clock.epoch()),
        }
        if client_type is not None:
            payload["clientType"] = client_type
        if event != 107:
            payload["account"] = account or str(uid)
        self._rtc_event(channel, event, payload)
        return user.describe()

    def leave(self, cname: str, uid: int, *, reason: int = 1) -> bool:
        channel = self.channels.get(cname)
        if channel is None or uid not in channel.users:
            return False
        self._leave(channel, channel.users[uid], reason=reason)
        return True

    def _leave(self, channel: Channel, user: User, *, reason: int) -> None:
        channel.users.pop(user.uid, None)
        event = {"host": 104, "audience": 106, "communication": 108}[user.role]
        payload: dict[str, Any] = {
            "uid": user.uid,
            "platform": user.platform,
            "clientSeq": self._next_client_seq(channel.name, user.uid),
            "reason": reason,
            "ts": int(self.clock.epoch()),
            "duration": int(self.clock.now() - user.joined_at),
        }
        if user.client_type is not None:
            payload["clientType"] = user.client_type
        if event != 108:
            payload["account"] = user.account or str(user.uid)
        self._rtc_event(channel, event, payload)
        if user.bot:
            for task in self.tasks.values():
                mine = task.state == "running" and task.cname == channel.name and int(task.uid) == user.uid
                if mine and reason == 3:  # the bot was kicked out: the task ends abnormally
                    self._exit(task, LEAVE_INIT_FAILED, exit_status=1, bot_leaves=False)
        if not channel.users:
            self.channels.pop(channel.name, None)
            self._rtc_event(channel, 102, {"ts": int(self.clock.epoch()), "lastUid": user.uid})

    def channel_snapshot(self) -> list[dict[str, Any]]:
        return [
            {"cname": c.name, "profile": c.profile, "users": [u.describe() for u in c.users.values()]}
            for c in sorted(self.channels.values(), key=lambda c: c.name)
        ]

    # ------------------------------------------------------------------ channel management REST

    def _check_appid(self, appid: Any) -> None:
        if appid != self.app_id:
            raise gateway_error(400, "invalid appid")

    def rule_view(self, rule: Rule) -> dict[str, Any]:
        return {
            "id": rule.id,
            "appid": self.app_id,
            "uid": rule.uid or 0,
            "opid": 0,
            "cname": rule.cname or "",
            "ip": rule.ip or "",
            "ts": _iso(self.clock.epoch(rule.expires_at)),
            "privileges": list(rule.privileges),
            "createAt": _iso(rule.created_epoch),
            "updateAt": _iso(rule.updated_epoch),
        }

    @staticmethod
    def _rule_seconds(body: dict[str, Any]) -> int:
        if "time_in_seconds" in body:
            value = body["time_in_seconds"]
            lo, hi, unit = 10, 86_430, 1
        elif "time" in body:
            value = body["time"]
            lo, hi, unit = 1, 1440, 60
        else:
            return 3600
        if isinstance(value, bool) or not isinstance(value, int):
            raise gateway_error(400, "time must be an integer")
        if value == 0:
            return 0
        return min(max(value, lo), hi) * unit

    def create_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_appid(body.get("appid"))
        cname = body.get("cname") or None
        uid = body.get("uid")
        ip = body.get("ip") or None
        if uid is not None and (isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_UID):
            raise gateway_error(400, "uid must be a number in 1..2^32-1")
        if cname is not None and (not isinstance(cname, str) or not _CNAME_RE.match(cname)):
            raise gateway_error(400, "invalid cname")
        if cname is None and uid is None and ip is None:
            raise gateway_error(400, "one of cname, uid, ip is required")
        privileges = body.get("privileges")
        if (
            not isinstance(privileges, list)
            or not privileges
            or not set(privileges) <= {"join_channel", "publish_audio", "publish_video"}
        ):
            raise gateway_error(400, "privileges is required")
        seconds = self._rule_seconds(body)
        now = self.clock.now()
        rule = Rule(
            id=next(self._rule_ids),
            cname=cname,
            uid=uid,
            ip=ip,
            privileges=list(privileges),
            expires_at=now + seconds,
            created_epoch=self.clock.epoch(),
            updated_epoch=self.clock.epoch(),
        )
        if seconds > 0:
            self.rules[rule.id] = rule
        if "join_channel" in privileges:
            for channel in list(self.channels.values()):
                for user in list(channel.users.values()):
                    if rule.matches(channel.name, user.uid, user.ip) and channel.name in self.channels:
                        self._leave(channel, user, reason=3)
        return {"status": "success", "id": rule.id}

    def list_rules(self, appid: Any) -> dict[str, Any]:
        self._check_appid(appid)
        return {"status": "success", "rules": [self.rule_view(r) for r in self.active_rules()]}

    def update_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_appid(body.get("appid"))
        rule = self._find_rule(body.get("id"))
        seconds = self._rule_seconds(body)
        rule.expires_at = self.clock.now() + seconds
        rule.updated_epoch = self.clock.epoch()
        if seconds == 0:
            self.rules.pop(rule.id, None)
        return {"status": "success", "result": {"id": rule.id, "ts": _iso(self.clock.epoch(rule.expires_at))}}

    def delete_rule(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check_appid(body.get("appid"))
        rule = self._find_rule(body.get("id"))
        self.rules.pop(rule.id, None)
        return {"status": "success", "id": rule.id}

    def _find_rule(self, rule_id: Any) -> Rule:
        if isinstance(rule_id, bool) or not isinstance(rule_id, int):
            raise gateway_error(400, "id must be a number")
        self.active_rules()
        rule = self.rules.get(rule_id)
        if rule is None:
            raise gateway_error(404, "rule not found")
        return rule

    def list_channels(self, page_no: int, page_size: int) -> dict[str, Any]:
        if not 1 <= page_size <= 500 or page_no < 0:
            raise gateway_error(400, "invalid page_no or page_size")
        names = sorted(self.channels)
        page = names[page_no * page_size : (page_no + 1) * page_size]
        channels = [{"channel_name": n, "user_count": len(self.channels[n].users)} for n in page]
        return {"success": True, "data": {"channels": channels, "total_size": len(names)}}

    def channel_users(self, cname: str, hosts_only: bool = False) -> dict[str, Any]:
        channel = self.channels.get(cname)
        if channel is None:
            return {"success": True, "data": {"channel_exist": False}}
        users = list(channel.users.values())
        if channel.profile == "communication":
            if hosts_only:
                raise gateway_error(400, "hosts_only applies to live channels")
            return {
                "success": True,
                "data": {"channel_exist": True, "mode": 1, "total": len(users), "users": [u.uid for u in users]},
            }
        hosts = [u.uid for u in users if u.role == "host"]
        if hosts_only:
            return {"success": True, "data": {"channel_exist": True, "mode": 2, "broadcasters": hosts}}
        audience = [u.uid for u in users if u.role == "audience"]
        return {
            "success": True,
            "data": {
                "channel_exist": True,
                "mode": 2,
                "broadcasters": hosts,
                "audience": audience[:10_000],
                "audience_total": len(audience),
            },
        }

    def user_property(self, uid: int, cname: str) -> dict[str, Any]:
        channel = self.channels.get(cname)
        user = channel.users.get(uid) if channel else None
        if user is None:
            return {"success": True, "data": {"in_channel": False}}
        return {
            "success": True,
            "data": {
                "join": user.join_epoch,
                "uid": uid,
                "in_channel": True,
                "platform": user.platform,
                "role": user.role_number(),
            },
        }

    # ------------------------------------------------------------------ cloud recording REST

    def _validate_cname(self, cname: Any, *, web: bool) -> str:
        if not isinstance(cname, str) or not cname:
            raise rec_error(400, 2, "cname is required and must be a string")
        if web:
            if len(cname.encode()) > 1024:
                raise rec_error(400, 2, "cname is longer than 1024 bytes")
            return cname
        if len(cname.encode()) >= 64 or not _CNAME_RE.match(cname):
            raise rec_error(400, 1013, "invalid channel name")
        return cname

    @staticmethod
    def _validate_uid(uid: Any) -> str:
        if not isinstance(uid, str):
            raise rec_error(400, 2, "uid must be a string")
        if not uid.isascii() or not uid.isdigit() or not 1 <= int(uid) <= MAX_UID or uid != str(int(uid)):
            raise rec_error(400, 2, "uid must be a string of an integer in 1..4294967295")
        return uid

    def acquire(self, body: dict[str, Any]) -> dict[str, Any]:
        request = body.get("clientRequest", {})
        if not isinstance(request, dict):
            raise rec_error(400, 2, "clientRequest must be an object")
        scene = request.get("scene", 0)
        if scene not in (0, 1, 2) or isinstance(scene, bool):
            raise rec_error(400, 2, "Acquire: invalid scene value!")
        uid = self._validate_uid(body.get("uid"))
        cname = self._validate_cname(body.get("cname"), web=scene == 1)
        hours = request.get("resourceExpiredHour", 72)
        if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 720:
            raise rec_error(400, 2, "Acquire: invalid resourceExpiredHour value!")
        rid = base64.urlsafe_b64encode(os.urandom(96)).decode().rstrip("=")
        self.resources[rid] = Resource(
            id=rid, cname=cname, uid=uid, scene=scene, expired_hour=hours, created_real=_now_real()
        )
        return {"cname": cname, "uid": uid, "resourceId": rid}

    def _validate_storage(self, storage: Any) -> dict[str, Any]:
        if not isinstance(storage, dict):
            raise rec_error(400, 2, "storageConfig is required")
        vendor = storage.get("vendor")
        if vendor not in VENDORS or isinstance(vendor, bool):
            raise rec_error(400, 2, "storageConfig.vendor is invalid")
        region = storage.get("region")
        if isinstance(region, bool) or not isinstance(region, int):
            raise rec_error(400, 2, "storageConfig.region must be a number")
        if vendor == 1 and region not in S3_REGION_NAMES:
            raise rec_error(400, 2, "storageConfig.region is not an Amazon S3 region number")
        for key in ("bucket", "accessKey", "secretKey"):
            if not isinstance(storage.get(key), str) or not storage[key]:
                raise rec_error(400, 2, f"storageConfig.{key} is required")
        prefix = storage.get("fileNamePrefix", [])
        if not isinstance(prefix, list) or not all(isinstance(p, str) and _PREFIX_RE.match(p) for p in prefix):
            raise rec_error(400, 2, "storageConfig.fileNamePrefix is invalid")
        if len("/".join(prefix)) > 128:
            raise rec_error(400, 2, "storageConfig.fileNamePrefix is longer than 128 characters")
        return storage

    def start(self, resource_id: str, mode: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if mode not in ("individual", "raw", "mix", "web"):
            raise gateway_error(404, "no Route matched with those values")
        resource = self.resources.get(resource_id)
        if resource is None:
            raise rec_error(400, 1001, "failed to parse resource id")
        if resource.sid is not None:
            task = self.tasks.get(resource.sid)
            if task is not None:
                self._recording_event(
                    task,
                    3,
                    0,
                    {
                        "msgName": "cloud_recording_status_update",
                        "status": task.status,
                        "recordingMode": 0 if task.mode in ("individual", "raw") else 1,
                        "fileList": "",
                    },
                )
            return 201, {
                "cname": resource.cname,
                "uid": resource.uid,
                "resourceId": resource_id,
                "code": 7,
                "reason": "The recording has already been started",
            }
        if _now_real() - resource.created_real > self.resource_ttl:
            raise rec_error(400, 433, "resource expired")
        web = mode == "web"
        uid = self._validate_uid(body.get("uid"))
        cname = self._validate_cname(body.get("cname"), web=web)
        if cname != resource.cname or uid != resource.uid or (resource.scene == 1) != web:
            raise rec_error(400, 432, "the cname, uid or mode do not match the resource id")
        request = body.get("clientRequest")
        if not isinstance(request, dict):
            raise rec_error(400, 2, "clientRequest is required")
        storage = self._validate_storage(request.get("storageConfig"))
        config = request.get("recordingConfig") or {}
        if not isinstance(config, dict):
            raise rec_error(400, 2, "recordingConfig must be an object")
        max_idle = config.get("maxIdleTime", 30)
        if isinstance(max_idle, bool) or not isinstance(max_idle, int) or not 5 <= max_idle <= 2_592_000:
            raise rec_error(400, 2, "recordingConfig.maxIdleTime is out of range")
        stream_types = config.get("streamTypes", 2)
        if stream_types not in (0, 1, 2):
            raise rec_error(400, 2, "recordingConfig.streamTypes is invalid")
        for kind in ("Audio", "Video"):
            if f"subscribe{kind}Uids" in config and f"unsubscribe{kind}Uids" in config:
                raise rec_error(400, 2, f"set subscribe{kind}Uids or unsubscribe{kind}Uids, not both")
        if mode == "raw" and ("streamMode" in config or "extensionServiceConfig" in request):
            raise rec_error(400, 2, "raw mode accepts neither streamMode nor extensionServiceConfig")
        if web and not isinstance(request.get("extensionServiceConfig"), dict):
            raise rec_error(400, 2, "extensionServiceConfig is required in web mode")
        file_config = request.get("recordingFileConfig") or {}
        av_types = file_config.get("avFileType", ["hls"]) if isinstance(file_config, dict) else None
        if (
            not isinstance(av_types, list)
            or not av_types
            or not set(av_types) <= {"hls", "mp4"}
            or ("hls" not in av_types)
        ):
            raise rec_error(400, 2, "recordingFileConfig.avFileType is invalid")
        if mode == "updateLayout":
            raise rec_error(400, 2, "bad mode")
        for task in self.tasks.values():
            if task.state != "exited" and task.cname == cname and task.uid == uid:
                raise rec_error(400, 53, "a task with the same cname and uid already exists")
        max_recording_hour = None
        if web:
            for service in request["extensionServiceConfig"].get("extensionServices") or []:
                hour = (service.get("serviceParam") or {}).get("maxRecordingHour")
                if isinstance(hour, int):
                    max_recording_hour = hour
        private = config.get("privateParams")
        correct = False
        if isinstance(private, str):
            try:
                correct = bool(json.loads(private).get("correctEXTINF"))
            except (ValueError, AttributeError):
                correct = False
        sid = uuid.uuid4().hex
        now = self.clock.now()
        task = Task(
            sid=sid,
            resource_id=resource_id,
            cname=cname,
            uid=uid,
            mode=mode,
            client_request=request,
            started_at=now,
            started_real=_now_real(),
            prefix=list(storage.get("fileNamePrefix") or []),
            storage=storage,
            max_idle=max_idle,
            stream_types=stream_types,
            av_types=list(av_types),
            correct_extinf=correct,
            expired_hour=resource.expired_hour,
            max_recording_hour=max_recording_hour,
            last_active=now,
            last_progress=now,
        )
        resource.sid = sid
        self.tasks[sid] = task
        if web:
            self._recording_event(
                task, 70, 6, {"msgName": "web_recorder_started", "recorderStartTime": self.clock.epoch_ms()}
            )
        else:
            profile = "live" if config.get("channelType", 0) == 1 else "communication"
            self.join(cname, int(uid), role="host", platform=6, client_type=10, bot=True, profile=profile)
            self._recording_event(task, 40, 1, {"msgName": "recorder_started", "status": 0})
        self._recording_event(task, 30, 2, {"msgName": "uploader_started", "status": 0})
        return 200, {"cname": cname, "uid": uid, "resourceId": resource_id, "sid": sid}

    def _task_for(self, resource_id: str, sid: str, mode: str, *, stopping: bool = False) -> Task:
        task = self.tasks.get(sid)
        if task is None or task.resource_id != resource_id or task.mode != mode:
            if resource_id not in self.resources:
                raise rec_error(400, 1001, "failed to parse resource id")
            raise rec_error(404, 404, "failed to find worker")
        if task.state == "exiting":
            raise rec_error(400, 49, "the recording task is exiting")
        if task.state == "exited":
            raise rec_error(404, 404, "failed to find worker")
        if self.clock.now() - task.started_at > task.expired_hour * 3600:
            raise rec_error(404, 404, "failed to find worker")
        return task

    def _check_body(self, task: Task, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("cname") != task.cname or body.get("uid") != task.uid:
            raise rec_error(400, 2, "cname or uid does not match the task")
        request = body.get("clientRequest", {})
        if not isinstance(request, dict):
            raise rec_error(400, 2, "clientRequest must be an object")
        return request

    def query(self, resource_id: str, sid: str, mode: str) -> dict[str, Any]:
        task = self._task_for(resource_id, sid, mode)
        server = {"status": task.status, **self._files_response(task)}
        return {"cname": task.cname, "uid": task.uid, "resourceId": resource_id, "sid": sid, "serverResponse": server}

    def update(self, resource_id: str, sid: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task_for(resource_id, sid, mode)
        request = self._check_body(task, body)
        subscribe = request.get("streamSubscribe")
        if isinstance(subscribe, dict):
            config = task.client_request.setdefault("recordingConfig", {})
            for group, kind in (("audioUidList", "Audio"), ("videoUidList", "Video")):
                lists = subscribe.get(group)
                if isinstance(lists, dict):
                    config.pop(f"subscribe{kind}Uids", None)
                    config.pop(f"unsubscribe{kind}Uids", None)
                    for key in (f"subscribe{kind}Uids", f"unsubscribe{kind}Uids"):
                        if key in lists:
                            config[key] = list(lists[key])
        if "storageConfig" in request:
            task.storage = self._validate_storage(request["storageConfig"])
        return {"cname": task.cname, "uid": task.uid, "resourceId": resource_id, "sid": sid}

    def update_layout(self, resource_id: str, sid: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
        if mode != "mix":
            raise rec_error(400, 2, "updateLayout applies to mix mode only")
        task = self._task_for(resource_id, sid, mode)
        request = self._check_body(task, body)
        layout = request.get("mixedVideoLayout", 0)
        if layout not in (0, 1, 2, 3):
            raise rec_error(400, 1028, "invalid updateLayout body")
        task.layout = dict(request)
        return {"cname": task.cname, "uid": task.uid, "resourceId": resource_id, "sid": sid}

    def stop(self, resource_id: str, sid: str, mode: str, body: dict[str, Any]) -> Task:
        task = self._task_for(resource_id, sid, mode, stopping=True)
        self._check_body(task, body)
        self._exit(task, LEAVE_STOP)
        return task

    def stop_response(self, task: Task) -> tuple[int, dict[str, Any]]:
        base = {"cname": task.cname, "uid": task.uid, "resourceId": task.resource_id, "sid": task.sid}
        if not task.recorded():
            return 206, {
                **base,
                "code": 435,
                "reason": "no recorded data",
                "serverResponse": {"fileListMode": "string", "fileList": "", "uploadingStatus": "uploaded"},
            }
        failed = self.uploader.failed(task.sid) if self.uploader else 0
        uploading = "backuped" if failed else "uploaded"
        server: dict[str, Any]
        if task.mode == "web":
            files = self._web_files(task)
            server = {
                "extensionServiceState": [
                    {"payload": {"uploadingStatus": uploading}, "serviceName": "upload_service"},
                    {
                        "payload": {"fileList": files, "onhold": False, "state": "exit"},
                        "serviceName": "web_recorder_service",
                    },
                ]
            }
        else:
            server = {**self._files_response(task), "uploadingStatus": uploading}
        return 200, {**base, "serverResponse": server}

    # ------------------------------------------------------------------ file lists

    def _file_entries(self, task: Task, *, ms: bool) -> list[dict[str, Any]]:
        entries = []
        for stream in task.streams.values():
            if not stream.segments:
                continue
            start = stream.first_ms or 0
            entries.append(
                {
                    "fileName": naming.object_key(task.prefix, stream.name),
                    "trackType": stream.track,
                    "uid": stream.uid,
                    "mixedAllUser": stream.uid == "0",
                    "isPlayable": True,
                    "sliceStartTime": start if ms else start // 1000,
                }
            )
        return entries

    def _web_files(self, task: Task) -> list[dict[str, Any]]:
        return [
            {"filename": e["fileName"], "sliceStartTime": e["sliceStartTime"]}
            for e in self._file_entries(task, ms=True)
        ]

    def _files_response(self, task: Task) -> dict[str, Any]:
        if task.mode == "web":
            state = "inProgress" if task.state == "running" else "exit"
            return {
                "extensionServiceState": [
                    {
                        "serviceName": "web_recorder_service",
                        "payload": {"fileList": self._web_files(task), "onhold": False, "state": state},
                    }
                ]
            }
        entries = self._file_entries(task, ms=False)
        if task.mode == "mix" and task.av_types == ["hls"]:
            return {"fileListMode": "string", "fileList": entries[0]["fileName"] if entries else ""}
        out: dict[str, Any] = {"fileListMode": "json", "fileList": entries}
        if task.mode in ("individual", "raw"):
            starts = [s.first_ms for s in task.streams.values() if s.first_ms]
            out["sliceStartTime"] = min(starts) if starts else 0
        return out

    # ------------------------------------------------------------------ the simulation

    def _subscribed(self, task: Task, uid: int, track: str) -> bool:
        config = task.client_request.get("recordingConfig") or {}
        kind = "Audio" if track == "audio" else "Video"
        other = "Video" if kind == "Audio" else "Audio"
        sub = config.get(f"subscribe{kind}Uids")
        unsub = config.get(f"unsubscribe{kind}Uids")
        if sub is not None:
            return ALL in sub or str(uid) in [str(x) for x in sub]
        if unsub is not None:
            return str(uid) not in [str(x) for x in unsub]
        # A list for one media type only means nothing of the other type is recorded.
        return not (f"subscribe{other}Uids" in config or f"unsubscribe{other}Uids" in config)

    def _wanted_tracks(self, task: Task) -> set[tuple[int, str]]:
        """(uid, track) pairs that are being published and recorded right now."""
        channel = self.channels.get(task.cname)
        if channel is None:
            return set()
        tracks = {0: ["audio"], 1: ["video"], 2: ["audio", "video"]}[task.stream_types]
        wanted = set()
        for user in channel.users.values():
            if not user.publishes() or str(user.uid) == task.uid:
                continue
            for track in tracks:
                if self._banned(task.cname, user.uid, user.ip, f"publish_{track}"):
                    continue
                if self._subscribed(task, user.uid, track):
                    wanted.add((user.uid, track))
        return wanted

    def _has_publishers(self, task: Task) -> bool:
        channel = self.channels.get(task.cname)
        return channel is not None and any(u.publishes() for u in channel.users.values())

    def _stream(self, task: Task, key: str, uid: str, track: str) -> Stream:
        stream = task.streams.get(key)
        if stream is None:
            if task.mode in ("individual", "raw"):
                name = naming.individual_m3u8(task.sid, task.cname, uid, track)
            else:
                name = naming.mix_m3u8(task.sid, task.cname)
            stream = Stream(name=name, uid=uid, track=track, target=self._target())
            task.streams[key] = stream
        return stream

    def _target(self) -> float:
        return round(self.segment_seconds + self.rng.uniform(0.0, 0.12), 3)

    def tick(self) -> None:
        now = self.clock.now()
        for task in list(self.tasks.values()):
            if task.state == "running":
                self._advance(task, now)
            elif task.state == "exiting":
                self._finish_exit(task)

    def _advance(self, task: Task, now: float) -> None:
        elapsed = now - task.started_at
        task.status = 1 if elapsed < 0.5 else 4 if elapsed < 1.5 else 5
        active: dict[str, tuple[str, str]] = {}
        if task.mode == "web":
            active["mix"] = ("0", "audio_and_video")
        else:
            wanted = self._wanted_tracks(task)
            for uid, track in sorted(wanted - task.active_tracks):
                self._recording_event(
                    task,
                    43 if track == "audio" else 44,
                    1,
                    {
                        "msgName": f"recorder_{track}_stream_state_changed",
                        "streamUid": str(uid),
                        "state": 0,
                        "UtcMs": self.clock.epoch_ms(),
                    },
                )
            for uid, track in sorted(task.active_tracks - wanted):
                self._recording_event(
                    task,
                    43 if track == "audio" else 44,
                    1,
                    {
                        "msgName": f"recorder_{track}_stream_state_changed",
                        "streamUid": str(uid),
                        "state": 1,
                        "UtcMs": self.clock.epoch_ms(),
                    },
                )
            task.active_tracks = wanted
            if task.mode in ("individual", "raw"):
                for uid, track in wanted:
                    active[f"{uid}:{track}"] = (str(uid), track)
            elif wanted:
                active["mix"] = ("0", "audio_and_video")
        for key, (stream_uid, stream_track) in active.items():
            stream = self._stream(task, key, stream_uid, stream_track)
            if stream.open_at is None:
                self._open(task, stream, now)
            while now - stream.open_at >= stream.target:  # type: ignore[operator]
                self._close_segment(task, stream, stream.target)
        for key, stream in task.streams.items():
            if key not in active and stream.open_at is not None:
                self._close_partial(task, stream, now)
        self._upload_dirty(task)
        if task.mode == "web":
            if task.max_recording_hour and now - task.started_at >= task.max_recording_hour * 3600:
                self._exit(task, LEAVE_STOP)
            return
        if self._has_publishers(task):
            task.last_active = now
        elif now - task.last_active >= task.max_idle:
            self._exit(task, LEAVE_IDLE)
            return
        if task.recorded() and now - task.last_progress >= 60:
            task.last_progress = now
            self._recording_event(task, 33, 2, {"msgName": "uploading_progress", "progress": 10000})

    def _open(self, task: Task, stream: Stream, now: float) -> None:
        stream.open_at = now
        start_ms = self.clock.epoch_ms(now)
        if stream.segments:
            stream.pending_tags.append("#EXT-X-DISCONTINUITY")
        if task.mode in ("individual", "raw"):
            stream.pending_tags.append(
                f"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE={stream.track.upper()},TIME={start_ms}"
            )
        self._recording_event(
            task,
            42,
            1,
            {
                "msgName": "recorder_slice_start",
                "startUtcMs": start_ms,
                "discontinueUtcMs": stream.last_close_ms,
                "mixedAllUser": stream.uid == "0",
                "streamUid": stream.uid,
                "trackType": stream.track,
            },
        )

    def _close_segment(self, task: Task, stream: Stream, duration: float) -> None:
        assert stream.open_at is not None
        start_ms = self.clock.epoch_ms(stream.open_at)
        if task.mode in ("individual", "raw"):
            name = naming.individual_ts(task.sid, task.cname, stream.uid, stream.track, start_ms)
        else:
            name = naming.mix_ts(task.sid, task.cname, start_ms)
        stream.segments.append(
            Segment(name=name, duration=round(duration, 6), epoch_ms=start_ms, tags=stream.pending_tags)
        )
        stream.pending_tags = []
        if stream.first_ms is None:
            stream.first_ms = start_ms
        stream.open_at += duration
        stream.last_close_ms = self.clock.epoch_ms(stream.open_at)
        stream.target = self._target()
        stream.dirty = True
        self._upload(task, name, naming.fake_ts(duration), "video/mp2t")

    def _close_partial(self, task: Task, stream: Stream, now: float) -> None:
        assert stream.open_at is not None
        duration = round(now - stream.open_at, 3)
        if duration >= 0.5:
            self._close_segment(task, stream, duration)
        stream.open_at = None
        stream.last_close_ms = self.clock.epoch_ms(now)

    def render_m3u8(self, task: Task, stream: Stream, *, ended: bool) -> str:
        longest = max((s.duration for s in stream.segments), default=self.segment_seconds)
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-ALLOW-CACHE:YES",
            f"#EXT-X-TARGETDURATION:{math.ceil(longest)}",
        ]
        comma = "," if task.correct_extinf else ""
        for segment in stream.segments:
            lines.extend(segment.tags)
            lines.append(f"#EXTINF:{segment.duration:.6f}{comma}")
            lines.append(segment.name)
        if ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def _upload_dirty(self, task: Task, *, ended: bool = False) -> None:
        for stream in task.streams.values():
            if not stream.segments or not (stream.dirty or ended):
                continue
            stream.dirty = False
            body = self.render_m3u8(task, stream, ended=ended).encode()
            self._upload(task, stream.name, body, "application/vnd.apple.mpegurl")
            if not stream.announced:
                stream.announced = True
                self._recording_event(
                    task,
                    4,
                    0,
                    {"msgName": "cloud_recording_file_infos", "fileList": naming.object_key(task.prefix, stream.name)},
                )

    def _upload(self, task: Task, name: str, body: bytes, content_type: str) -> None:
        if self.uploader is None or not self.s3_bucket:
            return
        region = (
            S3_REGION_NAMES.get(task.storage.get("region", 0), "us-east-1")
            if task.storage.get("vendor") == 1
            else "us-east-1"
        )
        self.uploader.put(
            Upload(
                task=task.sid,
                bucket=self.s3_bucket,
                key=naming.object_key(task.prefix, name),
                body=body,
                content_type=content_type,
                access_key=task.storage.get("accessKey", ""),
                secret_key=task.storage.get("secretKey", ""),
                region=region,
            )
        )

    def _exit(self, task: Task, leave_code: int, *, exit_status: int = 0, bot_leaves: bool = True) -> None:
        now = self.clock.now()
        for stream in task.streams.values():
            if stream.open_at is not None:
                self._close_partial(task, stream, now)
        self._upload_dirty(task, ended=True)
        task.state = "exiting"
        task.status = 7
        task.leave_code = leave_code
        task.exit_status = exit_status
        task.ended_at = now
        task.exit_real = _now_real() + self.exit_seconds / self.clock.scale
        if task.mode == "web":
            self._recording_event(
                task,
                71,
                6,
                {
                    "msgName": "web_recorder_stopped",
                    "code": 0,
                    "message": "ok",
                    "details": {},
                    "fileList": self._web_files(task),
                },
            )
        else:
            self._recording_event(task, 41, 1, {"msgName": "recorder_leave", "leaveCode": leave_code})
            if bot_leaves:
                channel = self.channels.get(task.cname)
                bot = channel.users.get(int(task.uid)) if channel else None
                if channel is not None and bot is not None and bot.bot:
                    self._leave(channel, bot, reason=1)
        self._recording_event(task, 11, 0, {"msgName": "session_exit", "exitStatus": exit_status})
        self._finish_exit(task)

    def _finish_exit(self, task: Task) -> None:
        if not task.uploaded_event_sent:
            pending_done = self.uploader is None or self.uploader.pending(task.sid) == 0
            if pending_done:
                task.uploaded_event_sent = True
                if task.recorded():
                    failed = self.uploader.failed(task.sid) if self.uploader else 0
                    event, msg = (32, "backuped") if failed else (31, "uploaded")
                    files = self._file_entries(task, ms=True)
                    details: dict[str, Any] = {"msgName": msg, "status": 0}
                    if task.mode != "web":
                        details["fileList"] = files
                    self._recording_event(task, event, 2, details)
        if task.uploaded_event_sent and task.exit_real is not None and _now_real() >= task.exit_real:
            task.state = "exited"
            task.status = 8


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"
