"""The emulator's vocabulary: its errors, its clock and the records of channels, rules and recordings.

Time comes from an ``EmuClock``: segments, ``maxIdleTime`` and kicking-rule expiry run on emulated
time (``time_scale`` emulated seconds per real second); resource-ID expiry is real time, like the API's.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from emulator import naming

MAX_UID = 2**32 - 1
CNAME_RE = re.compile(r"^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+$")
PREFIX_RE = re.compile(r"^[a-zA-Z0-9]+$")
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
    closing_at: float | None = None  # emulated time an empty channel closes (event 102)
    last_uid: int | None = None


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
    snapshot_interval: int | None = None  # snapshotConfig.captureInterval (emulated seconds)
    records_media: bool = True  # False for a screenshots-only task (snapshotConfig without recordingFileConfig)
    next_capture: dict[str, float] = field(default_factory=dict)  # uid -> emulated time of its next screenshot
    snapshots: list[str] = field(default_factory=list)  # object keys of the screenshots taken
    postponed: dict[str, Any] | None = None  # scene 2: {"transMode", "format"} (emulator/postponed.py)
    postponed_due: float | None = None  # emulated time the postponed result is produced
    postponed_phase: int = 0  # 0 waiting, 1 started (event 80 sent), 2 uploading the results, 3 done (81, 1001 sent)
    postponed_files: list[str] = field(default_factory=list)  # object keys of the postponed results
    postponed_uids: dict[str, list[str]] = field(default_factory=dict)  # uid -> its result files (names)
    onhold: bool = False  # web mode: webRecordingConfig.onhold
    cdn_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # CDN push: url -> status, since (cdn.py)
    cdn_current: list[str] = field(default_factory=list)  # the addresses the push goes to now

    def recorded(self) -> bool:
        return any(s.segments for s in self.streams.values())

    def produced(self) -> bool:
        """Anything uploaded: HLS segments or screenshots."""
        return self.recorded() or bool(self.snapshots)

    def _describe_postponed(self) -> dict[str, Any] | None:
        if self.postponed is None:
            return None
        return {**self.postponed, "files": list(self.postponed_files), "done": self.postponed_phase == 3}

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
            "token": self.client_request.get("token"),  # what the recorder joins with (tests verify its signer)
            "leaveCode": self.leave_code,
            "snapshots": list(self.snapshots),
            "postponed": self._describe_postponed(),
            "cdn": {url: output["status"] for url, output in self.cdn_outputs.items()},
            "streams": {
                k: {
                    "m3u8": naming.object_key(self.prefix, s.name),
                    "segments": len(s.segments),
                    "duration": round(sum(x.duration for x in s.segments), 6),
                }
                for k, s in self.streams.items()
            },
        }


def now_real() -> float:
    return time.monotonic()


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"
