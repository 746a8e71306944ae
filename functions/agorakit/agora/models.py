"""Typed request pieces and results of Agora's REST APIs, with the validation Agora would do.

Everything here is pure (no network), so a bad request fails fast with an AgoraParameterError
before any HTTP call, and the body shapes can be unit-tested against the doc's examples.
Plain dataclasses keep the import cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agorakit.agora.errors import AgoraParameterError
from agorakit.agora.regions import VENDORS, s3_region_number
from agorakit.ids import MAX_UID, is_channel_name

__all__ = [
    "MAX_UID",
    "MODES",
    "KickingRule",
    "QueryResult",
    "StartResult",
    "StopResult",
    "StorageConfig",
    "build_recording_config",
    "normalize_file_list",
    "validate_cname",
    "validate_file_name_prefix",
    "validate_mode",
    "validate_uid",
]

MODES = frozenset({"individual", "raw", "mix", "web"})
Mode = Literal["individual", "raw", "mix", "web"]

_PREFIX_SEGMENT_RE = re.compile(r"^[a-zA-Z0-9]+$")
MAX_PREFIX_LENGTH = 128
MAX_IDLE_RANGE = (5, 2_592_000)
DEFAULT_MAX_IDLE_TIME = 300
MAX_UID_LIST = 32
ALL_STREAMS = "#allstream#"


def validate_uid(uid: int | str, *, field_name: str = "uid") -> str:
    """An Agora uid as the string Cloud Recording wants: an integer in 1..2^32-1, never "0"."""
    if isinstance(uid, bool):
        raise AgoraParameterError(f"{field_name} must be an integer or a string of digits, not a bool")
    if isinstance(uid, int):
        value = uid
    elif isinstance(uid, str) and uid.isascii() and uid.isdigit():
        value = int(uid)
    else:
        raise AgoraParameterError(f"{field_name} must be an integer in 1..{MAX_UID} (got {uid!r})")
    if not 1 <= value <= MAX_UID:
        raise AgoraParameterError(f"{field_name} must be in 1..{MAX_UID} (got {value})")
    return str(value)


def validate_cname(cname: str, *, web: bool = False) -> str:
    """Agora's channel-name rules: under 64 bytes of a fixed character set (web mode: any label <= 1024 bytes)."""
    if not isinstance(cname, str) or not cname:
        raise AgoraParameterError("cname must be a non-empty string")
    size = len(cname.encode("utf-8"))
    if web:
        if size > 1024:
            raise AgoraParameterError("cname of a web recording must be at most 1024 bytes")
        return cname
    if size >= 64:
        raise AgoraParameterError(f"cname must be shorter than 64 bytes (got {size})")
    if not is_channel_name(cname):
        raise AgoraParameterError(
            "cname may contain only a-z, A-Z, 0-9, space and ! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ ,"
        )
    return cname


def validate_mode(mode: str) -> str:
    if mode not in MODES:
        raise AgoraParameterError(f"mode must be one of {sorted(MODES)} (got {mode!r})")
    return mode


def validate_file_name_prefix(prefix: Sequence[str]) -> list[str]:
    """``fileNamePrefix``: a list of alphanumeric segments, at most 128 characters joined with slashes."""
    if isinstance(prefix, str):
        raise AgoraParameterError("fileNamePrefix must be a list of segments, not a string")
    segments = list(prefix)
    for segment in segments:
        if not isinstance(segment, str) or not _PREFIX_SEGMENT_RE.match(segment):
            raise AgoraParameterError(
                f"fileNamePrefix segment {segment!r} must be non-empty and contain only a-z, A-Z and 0-9"
            )
    total = len("/".join(segments))
    if total > MAX_PREFIX_LENGTH:
        raise AgoraParameterError(f"fileNamePrefix is {total} characters with slashes; at most {MAX_PREFIX_LENGTH}")
    return segments


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """Where Agora uploads the files. ``region`` is an AWS region name for vendor 1 (mapped to Agora's
    number), or Agora's number for other vendors. Keys never appear in the repr."""

    vendor: int = 1
    region: str | int = "us-east-1"
    bucket: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    file_name_prefix: Sequence[str] = field(default_factory=list)
    sts_token: str | None = field(default=None, repr=False)
    sts_expiration: int | None = None
    extension_params: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.vendor not in VENDORS:
            raise AgoraParameterError(f"storage vendor {self.vendor!r} is not one Agora supports")
        if not self.bucket or not isinstance(self.bucket, str):
            raise AgoraParameterError("storage bucket is required")
        if not self.access_key or not self.secret_key:
            raise AgoraParameterError("storage access_key and secret_key are required")
        validate_file_name_prefix(self.file_name_prefix)
        self.region_number()
        if self.vendor == 11 and not (self.extension_params or {}).get("endpoint"):
            raise AgoraParameterError("vendor 11 (S3-compatible) needs extension_params['endpoint']")
        if self.sts_token and self.vendor not in (1, 2, 3):
            raise AgoraParameterError("sts_token is supported for vendors 1, 2 and 3 only")

    def region_number(self) -> int:
        if self.vendor == 1:
            if isinstance(self.region, bool):
                raise AgoraParameterError("storage region must be an AWS region name")
            if isinstance(self.region, int):
                from agorakit.agora.regions import s3_region_name

                s3_region_name(self.region)  # validates the number
                return self.region
            return s3_region_number(self.region)
        if self.vendor in (5, 6, 11):
            return 0
        if isinstance(self.region, bool) or not isinstance(self.region, int) or self.region < 0:
            raise AgoraParameterError(f"storage region for vendor {self.vendor} must be Agora's region number")
        return self.region

    def to_agora(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "vendor": self.vendor,
            "region": self.region_number(),
            "bucket": self.bucket,
            "accessKey": self.access_key,
            "secretKey": self.secret_key,
        }
        if self.file_name_prefix:
            body["fileNamePrefix"] = list(self.file_name_prefix)
        if self.sts_token:
            body["stsToken"] = self.sts_token
        if self.sts_expiration is not None:
            body["stsExpiration"] = int(self.sts_expiration)
        if self.extension_params:
            body["extensionParams"] = dict(self.extension_params)
        return body

    @classmethod
    def from_agora(cls, body: Mapping[str, Any]) -> StorageConfig:
        """Validate a raw ``storageConfig`` dict by reading it back (keys Agora uses)."""
        try:
            return cls(
                vendor=body.get("vendor", 1),
                region=_region_from_body(body),
                bucket=body["bucket"],
                access_key=body["accessKey"],
                secret_key=body["secretKey"],
                file_name_prefix=body.get("fileNamePrefix") or [],
                sts_token=body.get("stsToken"),
                sts_expiration=body.get("stsExpiration"),
                extension_params=body.get("extensionParams"),
            )
        except KeyError as exc:
            raise AgoraParameterError(f"storageConfig.{exc.args[0]} is required") from None
        except TypeError as exc:
            raise AgoraParameterError(f"storageConfig is malformed: {exc}") from None


def _region_from_body(body: Mapping[str, Any]) -> str | int:
    region = body.get("region", 0)
    if isinstance(region, bool):
        raise AgoraParameterError("storageConfig.region must be a number")
    if isinstance(region, str) and not region.isdigit():
        return region  # an AWS name given by a caller; mapped by StorageConfig
    if isinstance(region, str | int):
        return int(region)
    raise AgoraParameterError("storageConfig.region must be a number")


def storage_body(storage: StorageConfig | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(storage, StorageConfig):
        return storage.to_agora()
    if isinstance(storage, Mapping):
        return StorageConfig.from_agora(storage).to_agora()
    raise AgoraParameterError("storage_config must be a StorageConfig or a dict")


def _uid_list(values: Any, name: str) -> list[str]:
    if not isinstance(values, list | tuple):
        raise AgoraParameterError(f"recordingConfig.{name} must be a list")
    out = []
    for value in values:
        out.append(ALL_STREAMS if value == ALL_STREAMS else validate_uid(value, field_name=f"{name} entry"))
    if len(out) > MAX_UID_LIST:
        raise AgoraParameterError(f"recordingConfig.{name} has {len(out)} entries; at most {MAX_UID_LIST}")
    return out


def _uid_group(count: int) -> int:
    for group, top in enumerate((2, 7, 12, 17, 32, 49)):
        if count <= top:
            return group
    return 5


def build_recording_config(  # noqa: PLR0912 - one check per documented recordingConfig rule
    mode: str, recorder_uid: str, config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``recordingConfig`` with the documented defaults applied and Agora's rules checked.

    - ``maxIdleTime`` 300 unless set (Agora's default of 30 s ends many recordings before a host joins);
    - the recorder's own uid is never subscribed: removed from subscribe lists, added to unsubscribe lists
      (or, with no lists at all, both unsubscribe lists are ``[recorder uid]``, which records everyone else);
    - individual/raw mode gets ``subscribeUidGroup`` if absent (sized from explicit lists, else the largest group).
    """
    cfg: dict[str, Any] = dict(config or {})
    idle = cfg.setdefault("maxIdleTime", DEFAULT_MAX_IDLE_TIME)
    if isinstance(idle, bool) or not isinstance(idle, int) or not MAX_IDLE_RANGE[0] <= idle <= MAX_IDLE_RANGE[1]:
        raise AgoraParameterError(f"recordingConfig.maxIdleTime must be an integer in {list(MAX_IDLE_RANGE)}")
    if cfg.get("channelType", 0) not in (0, 1):
        raise AgoraParameterError("recordingConfig.channelType must be 0 (communication) or 1 (live)")
    if cfg.get("streamTypes", 2) not in (0, 1, 2):
        raise AgoraParameterError("recordingConfig.streamTypes must be 0, 1 or 2")
    if mode == "raw" and "streamMode" in cfg:
        raise AgoraParameterError("recordingConfig.streamMode is not accepted in raw mode")
    if mode != "mix" and ("transcodingConfig" in cfg or "audioProfile" in cfg):
        raise AgoraParameterError("transcodingConfig and audioProfile apply to mix mode only")

    explicit: set[str] = set()
    for kind in ("Audio", "Video"):
        sub_key, unsub_key = f"subscribe{kind}Uids", f"unsubscribe{kind}Uids"
        if sub_key in cfg and unsub_key in cfg:
            raise AgoraParameterError(f"set {sub_key} or {unsub_key}, not both")
        if sub_key in cfg:
            subs = [u for u in _uid_list(cfg[sub_key], sub_key) if u != recorder_uid]
            if not subs:
                raise AgoraParameterError(f"recordingConfig.{sub_key} subscribes nobody but the recorder")
            cfg[sub_key] = subs
            explicit.update(u for u in subs if u != ALL_STREAMS)
        elif unsub_key in cfg:
            unsubs = _uid_list(cfg[unsub_key], unsub_key)
            if recorder_uid not in unsubs:
                unsubs.append(recorder_uid)
            if len(unsubs) > MAX_UID_LIST:
                raise AgoraParameterError(f"recordingConfig.{unsub_key} would exceed {MAX_UID_LIST} entries")
            cfg[unsub_key] = unsubs
    has_any_list = any(k in cfg for k in ("subscribeAudioUids", "unsubscribeAudioUids",
                                           "subscribeVideoUids", "unsubscribeVideoUids"))  # fmt: skip
    if not has_any_list:
        # Setting a list for one media type only would drop the other type, so set both.
        cfg["unsubscribeAudioUids"] = [recorder_uid]
        cfg["unsubscribeVideoUids"] = [recorder_uid]
    if mode in ("individual", "raw") and "subscribeUidGroup" not in cfg:
        all_streams = any(ALL_STREAMS in cfg.get(k, []) for k in ("subscribeAudioUids", "subscribeVideoUids"))
        cfg["subscribeUidGroup"] = _uid_group(len(explicit)) if explicit and not all_streams else 5
    return cfg


def normalize_file_list(server_response: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """(file_list, fileListMode) from a query/stop ``serverResponse``, as a list of dicts in every mode.

    ``fileListMode:"string"`` gives one M3U8 name; ``"json"`` a list; web mode nests ``fileList`` (with a
    lower-case ``filename``) in ``extensionServiceState``. Each entry gets ``fileName``.
    """
    mode = server_response.get("fileListMode")
    raw = server_response.get("fileList")
    files: list[dict[str, Any]] = []
    if isinstance(raw, str):
        if raw:
            files.append({"fileName": raw})
        mode = mode or "string"
    elif isinstance(raw, list):
        files.extend(_file_entry(item) for item in raw if isinstance(item, Mapping | str))
        mode = mode or "json"
    for state in server_response.get("extensionServiceState") or []:
        payload = state.get("payload") if isinstance(state, Mapping) else None
        if isinstance(payload, Mapping) and isinstance(payload.get("fileList"), list):
            files.extend(_file_entry(item) for item in payload["fileList"] if isinstance(item, Mapping | str))
    return files, mode


def _file_entry(item: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(item, str):
        return {"fileName": item}
    entry = dict(item)
    if "fileName" not in entry and "filename" in entry:
        entry["fileName"] = entry["filename"]
    return entry


def uploading_status(server_response: Mapping[str, Any]) -> str | None:
    status = server_response.get("uploadingStatus")
    if isinstance(status, str):
        return status
    for state in server_response.get("extensionServiceState") or []:
        payload = state.get("payload") if isinstance(state, Mapping) else None
        if isinstance(payload, Mapping) and isinstance(payload.get("uploadingStatus"), str):
            return payload["uploadingStatus"]
    return None


@dataclass(frozen=True)
class StartResult:
    resource_id: str
    sid: str


@dataclass(frozen=True)
class QueryResult:
    status: int | None
    file_list: list[dict[str, Any]]
    file_list_mode: str | None
    raw: dict[str, Any]

    @property
    def running(self) -> bool:
        """Status 4 or 5: all components ready / in progress (the doc's start-succeeded test)."""
        return self.status in (4, 5)

    @property
    def rtmp_outputs(self) -> list[tuple[str, str]]:
        """Web recording with CDN push: ``(rtmpUrl, status)`` per address, from the ``rtmp_publish_service``
        entry of ``serverResponse.extensionServiceState`` (empty for anything else or a malformed answer)."""
        server = self.raw.get("serverResponse") if isinstance(self.raw, dict) else None
        states = server.get("extensionServiceState") if isinstance(server, dict) else None
        out: list[tuple[str, str]] = []
        for state in states if isinstance(states, list) else []:
            if not isinstance(state, dict) or state.get("serviceName") != "rtmp_publish_service":
                continue
            payload = state.get("payload")
            outputs = payload.get("outputs") if isinstance(payload, dict) else None
            for output in outputs if isinstance(outputs, list) else []:
                if not isinstance(output, dict):
                    continue
                url, status = output.get("rtmpUrl"), output.get("status")
                if isinstance(url, str) and url and isinstance(status, str) and status:
                    out.append((url, status))
        return out


@dataclass(frozen=True)
class StopResult:
    outcome: Literal["stopped", "empty", "gone"]
    file_list: list[dict[str, Any]]
    uploading_status: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class KickingRule:
    """One banning rule as Agora lists it (``ts`` is the expiry, UTC ISO)."""

    id: int
    cname: str | None
    uid: int | None
    ip: str | None
    privileges: list[str]
    ts: str | None
    raw: dict[str, Any]

    @classmethod
    def from_agora(cls, rule: Mapping[str, Any]) -> KickingRule:
        uid = rule.get("uid")
        return cls(
            id=int(rule["id"]),
            cname=rule.get("cname") or None,
            uid=int(uid) if uid not in (None, "", 0, "0") else None,
            ip=rule.get("ip") or None,
            privileges=list(rule.get("privileges") or []),
            ts=rule.get("ts"),
            raw=dict(rule),
        )
