"""NCS event models: the envelope, RTC channel events (productId 1) and Cloud Recording events (productId 3).

Parsing is defensive because Agora's payloads drift between doc versions and real captures:
``exitStatus``/``leaveStatus``, ``UtcMs``/``utcMs``, ``mixedAllUser`` as bool or ``"true"``, ``fileList``
as a string or a list, ``fileName``/``filename``, uids as numbers (RTC) or strings (recording). Unknown
fields are kept in ``details``/``payload``; unknown event types are not errors. Standard library only,
so the webhook intake pays nothing for it at cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agorakit import jsondoc
from agorakit.errors import AgorakitError
from agorakit.ids import MAX_UID, RECORDER_UID_MIN

__all__ = [
    "LEAVE_REASONS",
    "MAX_UID",
    "PRODUCT_CLOUD_RECORDING",
    "PRODUCT_RTC",
    "RECORDER_UID_MIN",
    "RECORDING_EVENT_NAMES",
    "RTC_EVENT_NAMES",
    "Envelope",
    "NcsEventError",
    "RecordingEvent",
    "RtcChannelEvent",
    "decode_leave_code",
    "is_recorder_bot",
    "loads_envelope",
    "parse_envelope",
    "parse_recording_event",
    "parse_rtc_event",
]

PRODUCT_RTC = 1
PRODUCT_CLOUD_RECORDING = 3
MAX_NOTICE_ID_LENGTH = 512
#: a bound far above Agora's 64 bytes that keeps presence keys under DynamoDB's 2048-byte key limit
MAX_CHANNEL_NAME_BYTES = 1024

RTC_EVENT_NAMES: dict[int, str] = {
    101: "channel_create",
    102: "channel_destroy",
    103: "broadcaster_join",
    104: "broadcaster_leave",
    105: "audience_join",
    106: "audience_leave",
    107: "user_join",
    108: "user_leave",
    111: "role_to_broadcaster",
    112: "role_to_audience",
}

RECORDING_EVENT_NAMES: dict[int, str] = {
    1: "cloud_recording_error",
    2: "cloud_recording_warning",
    3: "cloud_recording_status_update",
    4: "cloud_recording_file_infos",
    11: "session_exit",
    12: "session_failover",
    13: "ha_register_success",
    30: "uploader_started",
    31: "uploaded",
    32: "backuped",
    33: "uploading_progress",
    34: "sts_expired",
    40: "recorder_started",
    41: "recorder_leave",
    42: "recorder_slice_start",
    43: "recorder_audio_stream_state_changed",
    44: "recorder_video_stream_state_changed",
    45: "recorder_snapshot_file",
    46: "recorder_audio_info_changed",
    47: "recorder_video_info_changed",
    60: "vod_started",
    61: "vod_triggered",
    70: "web_recorder_started",
    71: "web_recorder_stopped",
    72: "web_recorder_capability_limit",
    73: "web_recorder_reload",
    80: "transcoder_started",
    81: "transcoder_completed",
    90: "download_failed",
    100: "rtmp_publish_status",
    1001: "postpone_transcode_final_result",
}

#: RTC leave ``reason`` codes (events 104/106/108)
LEAVE_REASONS: dict[int, str] = {
    0: "other",
    1: "quit",
    2: "timeout",
    3: "banned",
    4: "load_balancing",
    5: "replaced_by_new_device",
    9: "multiple_ips",
    10: "network_reconnect",
    12: "token_error",
    99: "network_unknown",
    999: "abnormal_user",
}

RtcKind = Literal["channel_create", "channel_destroy", "join", "leave", "role", "unknown"]
Role = Literal["host", "audience", "communication"]

_RTC_KIND: dict[int, RtcKind] = {
    101: "channel_create",
    102: "channel_destroy",
    103: "join",
    104: "leave",
    105: "join",
    106: "leave",
    107: "join",
    108: "leave",
    111: "role",
    112: "role",
}
_RTC_ROLE: dict[int, Role] = {
    103: "host",
    104: "host",
    105: "audience",
    106: "audience",
    107: "communication",
    108: "communication",
    111: "host",
    112: "audience",
}


class NcsEventError(AgorakitError, ValueError):
    """An NCS body that is not a usable event (not JSON, not an object, or a required field missing)."""


# ---------------------------------------------------------------------------------------------- helpers


def _int(value: Any, name: str, *, required: bool = False) -> int | None:
    """An integer from an int, an integral float or a string of digits; bools are not integers."""
    if value is None or value == "":
        if required:
            raise NcsEventError(f"{name} is required")
        return None
    if isinstance(value, bool):
        raise NcsEventError(f"{name} must be a number, not a bool")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii() and len(text) <= 20:
            number = int(text)
    if number is None:
        raise NcsEventError(f"{name} must be an integer (got {type(value).__name__})")
    # Agora's integers are 64-bit; a larger one (1e308) is not an event and DynamoDB could not store it.
    if not -(2**63) <= number < 2**63:
        raise NcsEventError(f"{name} is out of the 64-bit integer range")
    return number


def _int_lenient(value: Any) -> int | None:
    """Like ``_int`` for optional descriptive fields: a malformed value becomes None instead of an error."""
    try:
        return _int(value, "field")
    except NcsEventError:
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if isinstance(value, int):
        return bool(value)
    return None


def _first(mapping: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in mapping and mapping[name] is not None:
            return mapping[name]
    return None


def _uid(value: Any, name: str = "uid") -> int | None:
    uid = _int(value, name)
    if uid is None:
        return None
    if not 0 <= uid <= MAX_UID:
        raise NcsEventError(f"{name} must be in 0..{MAX_UID} (got {uid})")
    return uid


# ---------------------------------------------------------------------------------------------- envelope


@dataclass(frozen=True, slots=True)
class Envelope:
    """The part of every NCS body that the intake needs; ``payload`` is the product-specific object."""

    notice_id: str
    product_id: int
    event_type: int
    notify_ms: int | None = None
    sid: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def cname(self) -> str | None:
        """The channel: ``payload.cname`` (recording) or ``payload.channelName`` (RTC)."""
        return _str(_first(self.payload, "cname", "channelName"))

    @property
    def event_name(self) -> str | None:
        if self.product_id == PRODUCT_RTC:
            return RTC_EVENT_NAMES.get(self.event_type)
        if self.product_id == PRODUCT_CLOUD_RECORDING:
            return RECORDING_EVENT_NAMES.get(self.event_type)
        return None


def parse_envelope(document: Any) -> Envelope:
    """Validate the envelope fields (noticeId, productId, eventType required); everything else is optional."""
    if not isinstance(document, Mapping):
        raise NcsEventError("the body must be a JSON object")
    notice_id = _str(document.get("noticeId"))
    if notice_id is None or not notice_id.strip():
        raise NcsEventError("noticeId is required")
    if len(notice_id) > MAX_NOTICE_ID_LENGTH:
        raise NcsEventError(f"noticeId is longer than {MAX_NOTICE_ID_LENGTH} characters")
    product_id = _int(document.get("productId"), "productId", required=True)
    event_type = _int(document.get("eventType"), "eventType", required=True)
    assert product_id is not None and event_type is not None
    payload = document.get("payload")
    payload = dict(payload) if isinstance(payload, Mapping) else {}
    sid = _str(document.get("sid")) or _str(payload.get("sid"))
    return Envelope(
        notice_id=notice_id,
        product_id=product_id,
        event_type=event_type,
        notify_ms=_int_lenient(document.get("notifyMs")),
        sid=sid or None,
        payload=payload,
    )


def loads_envelope(body: bytes | str) -> tuple[Envelope, dict[str, Any]]:
    """Parse a raw body: the envelope and the whole decoded document. Raises NcsEventError, never others."""
    try:
        document = jsondoc.loads(body)
    except ValueError as exc:  # JSONDecodeError: syntax, nesting, digits (agorakit.jsondoc)
        raise NcsEventError("the body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise NcsEventError("the body must be a JSON object")
    return parse_envelope(document), document


# ---------------------------------------------------------------------------------------------- RTC


def is_recorder_bot(uid: int | None, platform: int | None, client_type: int | None) -> bool:
    """The cloud recording bot: platform 6 (Linux) with clientType 10, or a uid in our reserved recorder range."""
    if platform == 6 and client_type == 10:
        return True
    return uid is not None and RECORDER_UID_MIN <= uid <= MAX_UID


@dataclass(frozen=True, slots=True)
class RtcChannelEvent:
    """An RTC channel event (productId 1, eventType 101-112). ``ts`` is in seconds."""

    event_type: int
    channel: str
    uid: int | None = None
    platform: int | None = None
    client_type: int | None = None
    client_seq: int | None = None
    reason: int | None = None
    ts: int | None = None
    duration: int | None = None
    account: str | None = None
    last_uid: int | None = None

    @property
    def kind(self) -> RtcKind:
        return _RTC_KIND.get(self.event_type, "unknown")

    @property
    def role(self) -> Role | None:
        return _RTC_ROLE.get(self.event_type)

    @property
    def is_recorder_bot(self) -> bool:
        return is_recorder_bot(self.uid, self.platform, self.client_type)

    @property
    def reason_name(self) -> str | None:
        if self.reason is None:
            return None
        return LEAVE_REASONS.get(self.reason, f"reason_{self.reason}")

    @property
    def carries_session(self) -> bool:
        """Join and leave events describe the session (platform, clientType, account); role changes do not."""
        return self.kind in ("join", "leave")


def parse_rtc_event(envelope: Envelope) -> RtcChannelEvent | None:
    """The RTC event in ``envelope``; None for event types Agora does not document (109, 110, ...).

    Raises NcsEventError when a documented event lacks what it cannot do without (the channel name, the uid).
    """
    if envelope.event_type not in _RTC_KIND:
        return None
    payload = envelope.payload
    channel = _str(payload.get("channelName"))
    if not channel:
        raise NcsEventError(f"RTC event {envelope.event_type} without channelName")
    if len(channel.encode("utf-8")) > MAX_CHANNEL_NAME_BYTES:  # Agora's are < 64 bytes; a key must stay < 2 KB
        raise NcsEventError(f"channelName is longer than {MAX_CHANNEL_NAME_BYTES} bytes")
    kind = _RTC_KIND[envelope.event_type]
    uid = _uid(payload.get("uid"))
    if kind in ("join", "leave", "role") and uid is None:
        raise NcsEventError(f"RTC event {envelope.event_type} without uid")
    return RtcChannelEvent(
        event_type=envelope.event_type,
        channel=channel,
        uid=uid,
        platform=_int_lenient(payload.get("platform")),
        client_type=_int_lenient(payload.get("clientType")),
        client_seq=_int_lenient(payload.get("clientSeq")),
        reason=_int_lenient(payload.get("reason")),
        ts=_int_lenient(payload.get("ts")),
        duration=_int_lenient(payload.get("duration")),
        account=_str(payload.get("account")),
        last_uid=_int_lenient(payload.get("lastUid")),
    )


# ---------------------------------------------------------------------------------------------- recording

#: event 41 ``leaveCode`` bits, current docs (0 = initialisation failed, no bit set)
LEAVE_CODE_BITS: dict[int, str] = {2: "sigint", 4: "idle_timeout", 8: "timer", 16: "stopped"}
#: the 2021 docs' values for the same field
LEAVE_CODE_BITS_LEGACY: dict[int, str] = {1: "sigint", 2: "idle_timeout", 4: "sigterm", 8: "stopped"}


def decode_leave_code(code: int | str | None, *, legacy: bool = False) -> frozenset[str]:
    """Names of the bits set in event 41's ``leaveCode`` (a bitmask: test bits, never equality).

    ``0`` is ``{"init_failed"}``; bits with no documented meaning come back as ``"bit_<value>"``.
    ``legacy=True`` uses the 2021 meanings (1 SIGINT, 2 no users, 4 SIGTERM, 8 stop).
    """
    value = _int(code, "leaveCode")
    if value is None:
        return frozenset()
    if value < 0:
        raise NcsEventError("leaveCode must not be negative")
    if value == 0:
        return frozenset({"init_failed"})
    table = LEAVE_CODE_BITS_LEGACY if legacy else LEAVE_CODE_BITS
    names = set()
    bit = 1
    while bit <= value:
        if value & bit:
            names.add(table.get(bit, f"bit_{bit}"))
        bit <<= 1
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class RecordingEvent:
    """A Cloud Recording event (productId 3). ``details`` keeps every field Agora sent."""

    notice_id: str
    event_type: int
    sid: str | None
    cname: str | None
    uid: str | None
    sequence: int | None
    sendts: int | None
    service_type: int | None
    service_scene: str | None
    msg_name: str | None
    details: dict[str, Any]

    @property
    def name(self) -> str | None:
        return self.msg_name or RECORDING_EVENT_NAMES.get(self.event_type)

    @property
    def dedupe_key(self) -> tuple[str | None, int | None, int]:
        """Agora's advice for recording events: ``(sid, sequence, eventType)`` identifies a resend."""
        return (self.sid, self.sequence, self.event_type)

    @property
    def exit_status(self) -> int | None:
        """Event 11: 0 normal exit, 1 abnormal. ``exitStatus`` now, ``leaveStatus`` in the 2021 docs."""
        return _int_lenient(_first(self.details, "exitStatus", "leaveStatus"))

    @property
    def leave_code(self) -> int | None:
        return _int_lenient(self.details.get("leaveCode"))

    @property
    def leave_reasons(self) -> frozenset[str]:
        code = self.leave_code
        return decode_leave_code(code) if code is not None else frozenset()

    @property
    def utc_ms(self) -> int | None:
        """Events 43/44: ``UtcMs`` in the docs, ``utcMs`` in a real capture."""
        return _int_lenient(_first(self.details, "UtcMs", "utcMs", "utcms"))

    @property
    def status(self) -> int | None:
        return _int_lenient(self.details.get("status"))

    @property
    def progress(self) -> int | None:
        """Event 33: uploaded / recorded x 10000."""
        return _int_lenient(self.details.get("progress"))

    @property
    def error_code(self) -> int | None:
        return _int_lenient(self.details.get("errorCode"))

    @property
    def error_level(self) -> int | None:
        return _int_lenient(self.details.get("errorLevel"))

    @property
    def new_uid(self) -> int | None:
        """Event 12 (failover): the uid of the migrated task."""
        return _int_lenient(self.details.get("newUid"))

    @property
    def mixed_all_user(self) -> bool | None:
        return _bool(self.details.get("mixedAllUser"))

    @property
    def file_list(self) -> list[dict[str, Any]]:
        """Files named by the event, each with ``fileName``: from a string (events 3/4), a list of
        objects (31/32, with ``fileName``) or web recording's ``filename`` (71)."""
        raw = self.details.get("fileList")
        if raw is None:
            raw = self.details.get("filelist")
        if isinstance(raw, str):
            return [{"fileName": name.strip()} for name in raw.split(";") if name.strip()]
        files: list[dict[str, Any]] = []
        if isinstance(raw, list):
            for entry in raw:
                if isinstance(entry, str) and entry.strip():
                    files.append({"fileName": entry.strip()})
                elif isinstance(entry, Mapping):
                    item = dict(entry)
                    name = _str(_first(entry, "fileName", "filename", "file_name"))
                    if name:
                        item["fileName"] = name
                        item.pop("filename", None)
                        files.append(item)
        return files

    @property
    def file_names(self) -> list[str]:
        return [f["fileName"] for f in self.file_list]


def parse_recording_event(envelope: Envelope) -> RecordingEvent:
    """The recording event in ``envelope`` (any eventType; unknown ones keep their details)."""
    payload = envelope.payload
    details = payload.get("details")
    details = dict(details) if isinstance(details, Mapping) else {}
    return RecordingEvent(
        notice_id=envelope.notice_id,
        event_type=envelope.event_type,
        sid=_str(payload.get("sid")) or envelope.sid,
        cname=_str(payload.get("cname")),
        uid=_str(payload.get("uid")),
        sequence=_int_lenient(payload.get("sequence")),
        sendts=_int_lenient(payload.get("sendts")),
        service_type=_int_lenient(payload.get("serviceType")),
        service_scene=_str(payload.get("serviceScene")),
        msg_name=_str(details.get("msgName")),
        details=details,
    )
