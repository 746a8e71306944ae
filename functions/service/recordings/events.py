"""Cloud Recording NCS events (productId 3) applied to recordings (CONTRACTS C).

The webhook processor calls ``apply_recording_event(notice)`` for every productId 3 notice, possibly
late, twice, or out of order. Rules:
- 4 (M3U8 name), 31/32 (uploaded / backed-up file lists): file names are ADDed to a set (order-free,
  idempotent); 31/32 also set ``uploadingStatus`` unless a newer sequence already did.
- 11 (session exit; ``exitStatus``, ``leaveStatus`` in older payloads): completes the waiting workflow
  (SendTaskSuccess {"reason": "recorder_exited"}); a finished token means it was already done.
- 1 / 2 (errors / warnings): kept in a map keyed by sequence (a resend overwrites itself), at most
  ``logic.MAX_EVENT_ENTRIES`` each.
- 12 (failover): ``botUid`` becomes ``newUid`` unless a newer failover was already applied.
- 41 (recorder left): the leaveCode bitmask decoded into names.
- anything else is ignored (the intake stores every notice anyway).
Each field that an event can overwrite carries the sequence that set it (``uploadSeq``, ``botUidSeq``,
``exitSeq``, ``leaveSeq``), and the write is conditional on being newer, so an old event never moves a
recording backwards. ``lastSequence`` keeps the highest sequence seen. An unknown sid is logged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

from service.recordings import logic
from service.recordings.control import request_stop
from service.recordings.repository import ConditionFailed, RecordingsRepository

logger = logging.getLogger(__name__)

PRODUCT_CLOUD_RECORDING = 3
FILE_EVENTS = frozenset({4, 31, 32})
UPLOAD_STATUS = {31: "uploaded", 32: "backuped"}


@cache
def _default_dependencies() -> tuple[RecordingsRepository, Any]:
    import os

    from service.adapters.aws import client

    table = os.environ.get("RECORDINGS_TABLE")
    if not table:
        raise RuntimeError("RECORDINGS_TABLE is not set: the recording construct's grant_events() sets it")
    return RecordingsRepository(table), client("stepfunctions")


def apply_recording_event(
    notice: Mapping[str, Any], *, repo: RecordingsRepository | None = None, sfn: Any = None
) -> None:
    """Apply one NCS recording notice (the whole envelope) to its recording. Never raises for bad input."""
    from agorakit.ncs.events import NcsEventError, parse_envelope, parse_recording_event

    try:
        envelope = parse_envelope(notice)
    except NcsEventError as exc:
        logger.warning("ignoring a malformed recording notice: %s", exc)
        return
    if envelope.product_id != PRODUCT_CLOUD_RECORDING:
        return
    event = parse_recording_event(envelope)
    handler = _HANDLERS.get(event.event_type)
    if handler is None:
        return
    if not event.sid:
        logger.info("recording event %s without sid: nothing to do", event.event_type)
        return
    if repo is None or sfn is None:
        default_repo, default_sfn = _default_dependencies()
        repo, sfn = repo or default_repo, sfn or default_sfn
    item = repo.by_sid(event.sid)
    if item is None:
        logger.info("recording event %s for unknown sid %s: nothing to do", event.event_type, event.sid)
        return
    recording_id = str(item["recordingId"])
    handler(repo, sfn, recording_id, event)
    if event.sequence is not None:
        _guarded(repo, recording_id, "lastSequence", event.sequence, {})


def _guarded(
    repo: RecordingsRepository, recording_id: str, seq_attr: str, sequence: int | None, fields: Mapping[str, Any]
) -> bool:
    """Write ``fields`` (and ``seq_attr``) only if ``sequence`` is newer than the one that set them."""
    if sequence is None:
        condition, values = f"attribute_not_exists({seq_attr})", {}
        updates = dict(fields)
    else:
        condition, values = f"attribute_not_exists({seq_attr}) OR {seq_attr} < :seq", {":seq": sequence}
        updates = {**fields, seq_attr: sequence}
    try:
        repo.update(recording_id, set_=updates, condition=condition, values=values)
    except ConditionFailed:
        return False
    return True


def _files(repo: RecordingsRepository, sfn: Any, recording_id: str, event: Any) -> None:
    names = {n for n in event.file_names if n}
    if names:
        repo.update(recording_id, set_={}, add={"fileNames": names})
    status = UPLOAD_STATUS.get(event.event_type)
    if status:
        _guarded(repo, recording_id, "uploadSeq", event.sequence, {"uploadingStatus": status})


def _exit(repo: RecordingsRepository, sfn: Any, recording_id: str, event: Any) -> None:
    if event.exit_status is not None:
        _guarded(repo, recording_id, "exitSeq", event.sequence, {"exitStatus": event.exit_status})
    request_stop(repo, sfn, recording_id, logic.REASON_RECORDER_EXITED)


def _entry(kind: str, event: Any) -> tuple[str, dict[str, Any]]:
    details = event.details
    if kind == "agoraErrors":
        entry = {
            "module": details.get("module"),
            "level": event.error_level,
            "code": event.error_code,
            "message": details.get("errorMsg"),
        }
    else:
        entry = {"module": details.get("module"), "code": details.get("warnCode")}
    entry = {k: v for k, v in entry.items() if v is not None}
    entry["sequence"] = event.sequence
    entry["at"] = event.sendts
    key = str(event.sequence) if event.sequence is not None else f"t{event.sendts or 0}"
    return key, entry


def _error_or_warning(repo: RecordingsRepository, sfn: Any, recording_id: str, event: Any) -> None:
    kind = "agoraErrors" if event.event_type == 1 else "agoraWarnings"
    key, entry = _entry(kind, event)
    try:
        repo.update(
            recording_id,
            set_={f"{kind}.{key}": entry},
            condition=f"attribute_exists({kind}.#k) OR size({kind}) < :max",
            names={"#k": key},
            values={":max": logic.MAX_EVENT_ENTRIES},
        )
    except ConditionFailed:
        logger.info("recording %s keeps its first %d %s; dropping one", recording_id, logic.MAX_EVENT_ENTRIES, kind)


def _failover(repo: RecordingsRepository, sfn: Any, recording_id: str, event: Any) -> None:
    if event.new_uid is not None:
        _guarded(repo, recording_id, "botUidSeq", event.sequence, {"botUid": event.new_uid})


def _leave(repo: RecordingsRepository, sfn: Any, recording_id: str, event: Any) -> None:
    if event.leave_code is None:
        return
    fields: dict[str, Any] = {"leaveCode": event.leave_code, "leaveReasons": sorted(event.leave_reasons)}
    _guarded(repo, recording_id, "leaveSeq", event.sequence, fields)


_HANDLERS = {
    1: _error_or_warning,
    2: _error_or_warning,
    4: _files,
    11: _exit,
    12: _failover,
    31: _files,
    32: _files,
    41: _leave,
}
