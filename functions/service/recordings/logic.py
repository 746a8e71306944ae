"""The rules of a recording, as pure functions: statuses and their transitions, recorder uids, storage
prefixes, token and resource lifetimes, request fingerprints, stop reasons, event ordering and the API view.

Nothing here touches AWS or Agora, so every rule is unit-tested without a network.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from agorakit import ids

if TYPE_CHECKING:
    from service.recordings.record import EventEntry, Recording, Resolution

REQUESTED: Final = "REQUESTED"
STARTING: Final = "STARTING"
RECORDING: Final = "RECORDING"
STOPPING: Final = "STOPPING"
STOPPED: Final = "STOPPED"
FAILED: Final = "FAILED"
#: accepted while Agora has no room (its concurrent-task limit): holds its channel, has no workflow yet, and is
#: started in order as slots free (``service.recordings.admission``); the reconciler leaves it alone
QUEUED: Final = "QUEUED"

ACTIVE_STATUSES: Final = (REQUESTED, STARTING, RECORDING, STOPPING)
TERMINAL_STATUSES: Final = (STOPPED, FAILED)
WAITING_STATUSES: Final = (QUEUED,)

#: allowed moves; a status never goes back (STARTING -> STARTING is a re-acquire). A QUEUED recording is
#: admitted (REQUESTED), or stopped before it started (STOPPED, outcome ``not_started``), or failed.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    QUEUED: frozenset({REQUESTED, STOPPED, FAILED}),
    REQUESTED: frozenset({STARTING, STOPPING, FAILED}),
    STARTING: frozenset({STARTING, RECORDING, STOPPING, FAILED}),
    RECORDING: frozenset({STOPPING, FAILED}),
    STOPPING: frozenset({STOPPING, STOPPED, FAILED}),
    STOPPED: frozenset(),
    FAILED: frozenset(),
}

#: the start step's outcome when Agora's answer did not say whether a recorder started (``resolve`` finds out;
#: the state machine's choice matches on it)
START_OUTCOME_UNKNOWN: Final = "unknown"

#: why a recording stopped (``stopReason``)
REASON_API: Final = "api"
REASON_RECORDER_EXITED: Final = "recorder_exited"
REASON_RECONCILER: Final = "reconciler"
REASON_MAX_DURATION: Final = "max_duration"
STOP_REASONS: Final = frozenset({REASON_API, REASON_RECORDER_EXITED, REASON_RECONCILER, REASON_MAX_DURATION})
#: the ``StopReason`` of the ``RecordingsEnded`` metric: a stop reason, ``failed``, or ``other`` (bounded: a dimension)
ENDED_FAILED: Final = "failed"
ENDED_REASONS: Final = STOP_REASONS | {ENDED_FAILED, "other"}

#: recorder bots use uids no user is ever given (``agorakit.ids``)
RECORDER_UID_MIN: Final = ids.RECORDER_UID_MIN
RECORDER_UID_MAX: Final = ids.RECORDER_UID_MAX

MAX_TOKEN_SECONDS: Final = 86_400
#: the recorder's token outlives the longest recording by this much (start happens after the token is made)
TOKEN_MARGIN_SECONDS: Final = 900
MAX_RESOURCE_EXPIRED_HOUR: Final = 720
#: fileNamePrefix: segments of a-z A-Z 0-9, at most 128 characters joined with "/"
MAX_PREFIX_LENGTH: Final = 128
PREFIX_ROOT: Final = "recordings"
#: errors (event 1) and warnings (event 2) kept per recording
MAX_EVENT_ENTRIES: Final = 20
#: screenshot names kept on a recording (event 45); the rest are only in the bucket (the item stays < 400 KB)
MAX_SNAPSHOT_FILES: Final = 500

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


#: a workflow step sleeps in Lambda for a limiter slot at most this long; a longer wait is the state machine's
#: (the step returns ``{"waitSeconds": n}`` and a Wait state brings it back: a burst costs transitions, not Lambdas)
LIMITER_SLEEP_SECONDS: Final = 1.0
#: the most jitter a held-back step adds to its wait (``throttle_wait``): the window grows with the waits so far
#: but stops here, below a resource ID's life, so a start that waited long is not sent after its resource aged
JITTER_WINDOW_MAX_SECONDS: Final = 30


def throttle_wait(
    retry_after: float | None,
    throttled_seconds: int,
    max_total_seconds: int,
    jitter: float = 0.0,
    within: float | None = None,
) -> int | None:
    """Whole seconds the workflow waits before repeating a step our limiter held back (``retry_after``: the
    seconds to its next slot), or None when that would take the step's waits past ``max_total_seconds``
    (or when the refusal was Agora's own 429, which names no slot): the error then goes to the state
    machine's Retry and, in the end, its Catch.

    ``jitter`` (a uniform draw in [0, 1)) adds up to ``max(1, throttled_seconds)`` seconds, at most
    ``JITTER_WINDOW_MAX_SECONDS``: an execution that has already waited w seconds waits up to w more, so its
    window grows about 1.5x a round. Without it every held-back execution comes back when the lane reopens and
    only ``rate`` of them a second get through: n waiters cost about n/rate rounds each (``python -m bench
    scale``: 110 transitions a recording for 400 starts in a minute at 10 QPS); with it, about log(n/rate) rounds
    each. Unbounded, the window outgrew a resource ID's life: a start that waited long found its resource aged,
    acquired again and waited longer still (a workflow test at 1 QPS: waits of 75 s, then 273 s).

    ``within``: the seconds after which the step is no use (a start's resource ID ages): when the slot comes
    before, the wait ends by then."""
    if retry_after is None or retry_after < 0:
        return None
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), not {jitter}")
    window = min(max(1, throttled_seconds), JITTER_WINDOW_MAX_SECONDS)
    seconds = max(1, math.ceil(retry_after + jitter * window))
    if within is not None and retry_after < within:
        seconds = max(1, min(seconds, math.floor(within)))
    if throttled_seconds + seconds > max_total_seconds:
        return None
    return seconds


class TransitionError(ValueError):
    """A status change that would move a recording backwards."""


# ------------------------------------------------------------------------------- admission (Agora's task limit)
#: the outcome of a recording stopped while it was still QUEUED
OUTCOME_NOT_STARTED: Final = "not_started"


def admission_estimate_seconds(position: int, max_tasks: int, typical_recording_seconds: int) -> int:
    """A rough wait for the ``position``-th queued recording (1 = next): with ``max_tasks`` recordings of
    ``typical_recording_seconds`` each running, a slot frees every ``typical / max_tasks`` seconds on average."""
    if position < 1 or max_tasks < 1:
        return 0
    return math.ceil(position * typical_recording_seconds / max_tasks)


def admission_retry_after(max_tasks: int, typical_recording_seconds: int) -> int:
    """``Retry-After`` of a 429 when the queue is full: about when one queued recording will have started,
    between 1 second and an hour."""
    return max(1, min(3600, admission_estimate_seconds(1, max_tasks, typical_recording_seconds)))


def state_machine_of(execution_arn: str) -> str:
    """The state machine ARN of an execution ARN (the inverse of ``execution_arn``): a queued recording
    stores its future execution's ARN, so whoever admits it can start it without more configuration."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        raise ValueError(f"not an execution ARN: {execution_arn!r}")
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def is_active(status: str | None) -> bool:
    return status in ACTIVE_STATUSES


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL_STATUSES


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        raise TransitionError(f"a recording cannot go from {current} to {target}")


def sources_of(target: str) -> tuple[str, ...]:
    """The statuses from which ``target`` may be entered (for conditional writes)."""
    return tuple(status for status, targets in TRANSITIONS.items() if target in targets)


def pick_recorder_uid(rng: random.Random | None = None) -> int:
    """A random uid from the reserved recorder range; a 53 conflict makes the workflow pick another."""
    return (rng or random.SystemRandom()).randint(RECORDER_UID_MIN, RECORDER_UID_MAX)


def channel_segment(channel: str) -> str:
    """The channel as one fileNamePrefix segment: alphanumerics only (Agora rejects "-", "_", "/", ...).

    A channel with no alphanumerics at all gets a stable hash so its files still group together.
    """
    safe = _NON_ALNUM.sub("", channel)
    if not safe:
        safe = "c" + hashlib.sha256(channel.encode()).hexdigest()[:16]
    return safe


def file_name_prefix(channel: str, recording_id: str) -> list[str]:
    """["recordings", <channel alphanumerics>, <recording id hex>] within Agora's 128-character limit."""
    rid = _NON_ALNUM.sub("", recording_id)
    room = MAX_PREFIX_LENGTH - len(PREFIX_ROOT) - len(rid) - 2
    return [PREFIX_ROOT, channel_segment(channel)[:room], rid]


def token_lifetime(max_duration_seconds: int) -> int:
    """Seconds of validity for the recorder's RTC token: the longest recording plus a margin, at most 24 h."""
    if max_duration_seconds < 1:
        raise ValueError("max_duration_seconds must be positive")
    return min(MAX_TOKEN_SECONDS, max_duration_seconds + TOKEN_MARGIN_SECONDS)


def resource_expired_hour(max_duration_seconds: int) -> int:
    """acquire's ``resourceExpiredHour``: stop must still be callable when the longest recording ends."""
    return max(1, min(MAX_RESOURCE_EXPIRED_HOUR, math.ceil(max_duration_seconds / 3600) + 1))


def resource_age_seconds(acquired_at_ms: int, now_ms: int) -> float:
    return max(0.0, (now_ms - acquired_at_ms) / 1000.0)


def resource_too_old(acquired_at_ms: int | None, now_ms: int, max_age_seconds: float) -> bool:
    """True when a resource ID is too old to start with (unknown age counts as too old)."""
    return acquired_at_ms is None or resource_age_seconds(acquired_at_ms, now_ms) > max_age_seconds


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """A hash of a request body that ignores key order and whitespace (Idempotency-Key comparisons)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_idempotency_key(key: str) -> str:
    if not _IDEMPOTENCY_KEY.match(key):
        raise ValueError("Idempotency-Key must be 1-255 printable ASCII characters without spaces")
    return key


def idempotency_scope(subject: str, key: str) -> str:
    """Keys are per caller: two callers choosing the same key never see each other's recordings."""
    return hashlib.sha256(f"{subject}\x00{key}".encode()).hexdigest()


def ended_reason(reason: Any) -> str:
    """The metric dimension for a stop reason: one of ``ENDED_REASONS`` whatever a caller passed."""
    return reason if reason in STOP_REASONS or reason == ENDED_FAILED else "other"


def stop_reason(state: Mapping[str, Any]) -> str:
    """Why the wait ended, from the workflow state: the callback's reason, or the maximum duration."""
    wait = state.get("wait")
    if isinstance(wait, Mapping):
        reason = wait.get("reason")
        if isinstance(reason, str) and reason:
            return reason
    if state.get("timeout") is not None:
        return REASON_MAX_DURATION
    return "unknown"


def workflow_error(state: Mapping[str, Any]) -> tuple[str, str]:
    """(error name, message) of a caught error: Step Functions gives ``{"Error", "Cause"}`` where a Lambda's
    Cause is JSON ``{"errorType", "errorMessage", ...}``."""
    error = state.get("error")
    if not isinstance(error, Mapping):
        return "Unknown", "the workflow failed without an error description"
    name = str(error.get("Error") or "Unknown")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        message = str(parsed.get("errorMessage") or "") if isinstance(parsed, Mapping) else cause
    return name, message[:1000]


def sequence_is_newer(stored: int | None, incoming: int | None) -> bool:
    """Event ordering per (sid, sequence): an event moves a field only if it is newer than what set it.

    An event without a sequence cannot be ordered; it may fill a field that no sequenced event has set.
    """
    if incoming is None:
        return stored is None
    return stored is None or incoming > stored


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entries(value: Mapping[str, EventEntry] | None) -> list[dict[str, Any]]:
    """errors/warnings are stored as a map keyed by event sequence (idempotent); shown in sequence order."""
    if not value:
        return []
    out = []
    for key in sorted(value, key=lambda k: int(k) if k.isdigit() else -1):
        entry = value[key]
        fields = {"module": entry.module, "level": entry.level, "code": entry.code, "message": entry.message,
                  "sequence": entry.sequence, "at": entry.at}  # fmt: skip
        out.append({k: v for k, v in fields.items() if v is not None})
    return out


def _resolution_view(entry: Resolution) -> dict[str, Any]:
    fields = {"outcome": entry.outcome, "reason": entry.reason, "at": entry.at, "sid": entry.sid,
              "recorderUid": entry.recorder_uid, "ruleId": entry.rule_id, "ruleLifted": entry.rule_lifted}  # fmt: skip
    return {k: v for k, v in fields.items() if v is not None}


def view(
    item: Recording,
    *,
    media: Mapping[str, Any] | None = None,
    integrity: Mapping[str, Any] | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The API representation of a recording (never the task token or lock internals). ``now_ms``: the use
    case's clock, for what depends on time (postponed ``overdue``)."""
    error = None
    failure = item.failure
    if failure is not None and (failure.type or failure.code is not None):
        error = {"type": failure.type, "code": failure.code, "reason": failure.reason}
    out: dict[str, Any] = {
        "recording_id": item.recording_id,
        "channel": item.channel,
        "mode": item.mode,
        "status": item.status,
        "recorder_uid": item.recorder_uid,
        "bot_uid": item.bot_uid if item.bot_uid is not None else item.recorder_uid,
        "sid": item.sid,
        "resource_id": item.resource_id,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "started_at": iso(item.started_at),
        "stopped_at": iso(item.stopped_at),
        "stop_requested": item.stop_requested,
        "stop_reason": item.stop_reason,
        "outcome": item.outcome,
        "files": sorted(item.file_names),
        "snapshots": sorted(item.snapshot_files),
        "snapshots_truncated": item.snapshots_truncated,
        "uploading_status": item.upload.status,
        "uploading_status_from": item.upload.status_from or ("agora" if item.upload.status else None),
        "files_uploaded": len(item.file_names),
        "upload_progress_percent": None if item.upload.progress is None else item.upload.progress / 100,
        "last_upload_at": iso(item.upload.last_upload_at),
        "start_resolutions": [_resolution_view(r) for r in item.resolutions],
        "recorder_unconfirmed": item.recorder_unconfirmed,
        "exit_status": item.exit_status,
        "leave_reasons": list(item.leave_reasons),
        "reacquires": item.reacquires,
        "error": error,
        "agora_errors": _entries(item.agora_errors),
        "agora_warnings": _entries(item.agora_warnings),
        "cdn": cdn_view(item),
        "transcription_id": item.transcription_id,
        "transcription_error": item.transcription_error,
    }
    out["postponed"] = _postponed_view(item, now_ms)
    if media is not None:
        out["media"] = _plain(dict(media))
    if integrity is not None:
        out["integrity"] = _plain(dict(integrity))
    return out


def _postponed_view(item: Recording, now_ms: int | None) -> dict[str, Any] | None:
    """Postponed transcoding / audio mixing, when the recording asked for it (``postponed_rules.view``)."""
    if "postponed" not in item.config_json:
        return None
    from service.recordings.postponed_rules import view

    return view(item, item.config(), now_ms=now_ms)


def acquire_scene(postponed: Mapping[str, Any] | None, mode: str) -> int:
    """acquire's ``scene``: 2 for postponed transcoding / audio mixing, 1 for web, else 0."""
    if postponed:
        return 2
    return 1 if mode == "web" else 0


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of ``state_machine_arn`` (known before it starts)."""
    parts = state_machine_arn.split(":")
    if len(parts) != 7 or parts[5] != "stateMachine":
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return ":".join([*parts[:5], "execution", parts[6], name])


def max_recording_hour(max_duration_seconds: int) -> int:
    """Web mode's ``maxRecordingHour`` in [1, 720], covering the configured maximum duration."""
    return max(1, min(MAX_RESOURCE_EXPIRED_HOUR, math.ceil(max_duration_seconds / 3600)))


def web_extension_config(
    web: Mapping[str, Any], max_duration_seconds: int, cdn_urls: Sequence[str] | None = None
) -> dict[str, Any]:
    """``extensionServiceConfig`` for a web page recording of ``web`` (url, size, ...), with CDN push to
    ``cdn_urls`` (``rtmp_publish_service``, ``error_ignore``: a CDN failure does not end the recording)."""
    params = {k: v for k, v in web.items() if v is not None}
    params["maxRecordingHour"] = max_recording_hour(max_duration_seconds)
    services: list[dict[str, Any]] = [
        {"serviceName": "web_recorder_service", "errorHandlePolicy": "error_abort", "serviceParam": params}
    ]
    if cdn_urls:
        services.append(rtmp_publish_service(cdn_urls))
    return {"errorHandlePolicy": "error_abort", "extensionServices": services}


# ------------------------------------------------------------------------------- CDN push (web mode)
#: the states NCS event 100 (``rtmp_publish_status``) reports for a CDN address
CDN_STATUSES: Final = frozenset({"connecting", "publishing", "onhold", "disconnected"})
#: CDN addresses whose last state a recording keeps (current and replaced ones; the item stays small)
MAX_CDN_ENTRIES: Final = 20


def rtmp_publish_service(cdn_urls: Sequence[str]) -> dict[str, Any]:
    """The ``rtmp_publish_service`` extension service pushing the web recording to ``cdn_urls``."""
    return {
        "serviceName": "rtmp_publish_service",
        "errorHandlePolicy": "error_ignore",
        "serviceParam": {"outputs": [{"rtmpUrl": url} for url in cdn_urls]},
    }


def cdn_urls(config: Mapping[str, Any]) -> list[str] | None:
    """The CDN addresses a recording's stored configuration (``configJson``) starts with, if any."""
    cdn = config.get("cdn")
    outputs = cdn.get("outputs") if isinstance(cdn, Mapping) else None
    return [str(url) for url in outputs] if outputs else None


def cdn_key(url: str) -> str:
    """The key of a CDN address in ``cdnOutputs`` (a URL holds dots and slashes: not a map key path)."""
    return hashlib.sha256(url.encode()).hexdigest()[:24]


def cdn_view(item: Recording) -> list[dict[str, Any]]:
    """``cdn`` of the API view: the current addresses first (in order, status null before a report), then
    the replaced ones with their last report."""
    reports = item.cdn_outputs or {}
    by_url = {r.url: r for r in reports.values()}
    current = list(item.cdn_urls or ())
    out: list[dict[str, Any]] = []
    for url in current:
        report = by_url.get(url)
        out.append(
            {
                "url": url,
                "status": report.status if report else None,
                "updated_at": iso(report.at) if report else None,
                "current": True,
            }
        )
    replaced = sorted((r for u, r in by_url.items() if u not in current), key=lambda r: r.at or 0)
    for output in replaced:
        out.append({"url": output.url, "status": output.status, "updated_at": iso(output.at), "current": False})
    return out
