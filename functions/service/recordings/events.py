"""Cloud Recording NCS events (productId 3) applied to recordings.

The webhook processor calls ``apply_recording_event(notice, repo=..., workflow=...)`` (through
``recording_event_applier(settings)``) for every productId 3 notice, possibly
late, twice, or out of order. Rules:
- 4 (M3U8 name), 31/32 (uploaded / backed-up file lists): file names are ADDed to a set (order-free,
  idempotent); 31/32 also set ``uploadingStatus`` unless a newer sequence already did.
- 11 (session exit; ``exitStatus``, ``leaveStatus`` in older payloads): completes the waiting workflow
  (``{"reason": "recorder_exited"}``); a finished token means it was already done.
- 1 / 2 (errors / warnings): kept in a map keyed by sequence (a resend overwrites itself), at most
  ``logic.MAX_EVENT_ENTRIES`` each.
- 12 (failover): ``botUid`` becomes ``newUid`` unless a newer failover was already applied.
- 41 (recorder left): the leaveCode bitmask decoded into names.
- 33 (upload progress): ``uploadProgress`` (0-10000) and ``lastUploadAt``, one conditional write per
  event newer than the last one applied (``progressSeq``), nothing for a stale one.
- an event for a sid no recording has yet may name the task of a start whose reply was lost: it is
  offered as ``candidateSid`` to the channel's STARTING recording with the same recorder uid.
- 45 (screenshot file): its name ADDed to ``snapshotFiles`` (at most ``logic.MAX_SNAPSHOT_FILES``).
- 80 / 81 / 1001 (postponed transcoding / audio mixing): ``service.recordings.postponed_events`` (files ADDed,
  status guarded by ``postponedSeq``).
- 100 (CDN push state of a web recording): ``cdnOutputs.<url key>`` = url, status, sendts and the sequence,
  written only when newer than the report that set it (per address), at most ``logic.MAX_CDN_ENTRIES``.
- anything else is ignored (the intake stores every notice anyway).
Each field that an event can overwrite carries the sequence that set it (``uploadSeq``, ``botUidSeq``,
``exitSeq``, ``leaveSeq``, ``progressSeq``), and the write is conditional on being newer, so an old event never
moves a recording backwards. ``lastSequence`` keeps the highest sequence seen (event 33 aside: one write
each). An unknown sid is offered as a candidate (below) or logged and ignored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from service.recordings import logic
from service.recordings.control import request_stop
from service.recordings.ports import RecordingStore, WorkflowControl
from service.recordings.postponed_events import HANDLERS as POSTPONED_HANDLERS
from service.recordings.record import CdnOutput, EventEntry, Scalar

if TYPE_CHECKING:
    from agorakit.ncs.events import RecordingEvent

    from service.recordings.settings import RecordingEventSettings

logger = logging.getLogger(__name__)

PRODUCT_CLOUD_RECORDING = 3
PROGRESS = 33
CDN_STATUS = 100
FILE_EVENTS = frozenset({4, 31, 32})
UPLOAD_STATUS = {31: "uploaded", 32: "backuped"}
#: events that name a task without our handling them otherwise (recorder/uploader/web recorder started,
#: status update after a repeated start): each can carry the sid a lost start reply did not
CANDIDATE_EVENTS = frozenset({3, 30, 40, 70})


def recording_event_applier(settings: RecordingEventSettings) -> Callable[[Mapping[str, Any]], None]:
    """``apply_recording_event`` on the deployed adapters (the recordings table ``grant_events()`` names, Step
    Functions), built on the first notice: the webhook processor's cold start imports none of them."""
    built: list[tuple[RecordingStore, WorkflowControl]] = []
    lock = threading.Lock()

    def apply(notice: Mapping[str, Any]) -> None:
        with lock:
            if not built:
                from service.adapters.stepfunctions import StepFunctionsControl
                from service.recordings.repository import RecordingsRepository

                built.append((RecordingsRepository(settings.recordings_table), StepFunctionsControl()))
        repo, workflow = built[0]
        apply_recording_event(notice, repo=repo, workflow=workflow)

    return apply


def apply_recording_event(notice: Mapping[str, Any], *, repo: RecordingStore, workflow: WorkflowControl) -> None:
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
    if handler is None and event.event_type not in CANDIDATE_EVENTS:
        return
    if not event.sid:
        logger.info("recording event %s without sid: nothing to do", event.event_type)
        return
    item = repo.by_sid(event.sid)
    if item is None:
        _offer_candidate(repo, event)
        return
    if handler is None:
        return
    recording_id = item.recording_id
    handler(repo, workflow, recording_id, event)
    if event.sequence is not None and event.event_type != PROGRESS:  # 33 keeps its own progressSeq
        repo.set_if_newer(recording_id, "lastSequence", event.sequence, {})


def _offer_candidate(repo: RecordingStore, event: RecordingEvent) -> None:
    """An unknown sid may be the task of a start whose reply was lost: if its channel's recording is still
    STARTING with this recorder uid, the resolve step adopts it (``resolve.py``)."""
    uid = _uid(event.uid)
    if event.cname and uid is not None and repo.offer_candidate_sid(str(event.cname), uid, str(event.sid)):
        logger.info("recording event %s named task %s of a starting recording", event.event_type, event.sid)
        return
    logger.info("recording event %s for unknown sid %s: nothing to do", event.event_type, event.sid)


def _uid(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _files(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    names = {n for n in event.file_names if n}
    if names:
        repo.add_file_names(recording_id, names)
    status = UPLOAD_STATUS.get(event.event_type)
    if status:
        repo.set_if_newer(recording_id, "uploadSeq", event.sequence, {"uploadingStatus": status})


def _progress(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    """Upload progress: one conditional write per fresh event (a stale or repeated one writes nothing)."""
    progress = _uid(event.details.get("progress"))
    if progress is None:
        return
    # One write: ``progressSeq`` orders these events, so ``lastSequence`` (which cannot take a maximum in the
    # same conditional write) is left to the events that change anything else.
    fields: dict[str, Any] = {"uploadProgress": max(0, min(progress, 10_000)), "lastUploadAt": event.sendts}
    repo.set_if_newer(recording_id, "progressSeq", event.sequence, {k: v for k, v in fields.items() if v is not None})


def _snapshot(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    name = event.details.get("fileName")
    if isinstance(name, str) and name.strip():
        repo.add_snapshot(recording_id, name.strip(), max_files=logic.MAX_SNAPSHOT_FILES)


def _exit(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    if event.exit_status is not None:
        repo.set_if_newer(recording_id, "exitSeq", event.sequence, {"exitStatus": event.exit_status})
    request_stop(repo, workflow, recording_id, logic.REASON_RECORDER_EXITED)


def _scalar(value: object) -> Scalar:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _entry(errors: bool, event: RecordingEvent) -> tuple[str, EventEntry]:
    details = event.details
    if errors:
        entry = EventEntry(
            module=_scalar(details.get("module")), level=event.error_level, code=event.error_code,
            message=_scalar(details.get("errorMsg")), sequence=event.sequence, at=event.sendts,
        )  # fmt: skip
    else:
        entry = EventEntry(
            module=_scalar(details.get("module")), code=_scalar(details.get("warnCode")),
            sequence=event.sequence, at=event.sendts,
        )  # fmt: skip
    key = str(event.sequence) if event.sequence is not None else f"t{event.sendts or 0}"
    return key, entry


def _error_or_warning(
    repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent
) -> None:
    kind: Literal["agoraErrors", "agoraWarnings"] = "agoraErrors" if event.event_type == 1 else "agoraWarnings"
    key, entry = _entry(event.event_type == 1, event)
    if not repo.put_event_entry(recording_id, kind, key, entry, max_entries=logic.MAX_EVENT_ENTRIES):
        logger.info("recording %s keeps its first %d %s; dropping one", recording_id, logic.MAX_EVENT_ENTRIES, kind)


def _failover(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    if event.new_uid is not None:
        repo.set_if_newer(recording_id, "botUidSeq", event.sequence, {"botUid": event.new_uid})


def _leave(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    if event.leave_code is None:
        return
    fields: dict[str, Any] = {"leaveCode": event.leave_code, "leaveReasons": sorted(event.leave_reasons)}
    repo.set_if_newer(recording_id, "leaveSeq", event.sequence, fields)


_HANDLERS = {
    1: _error_or_warning,
    2: _error_or_warning,
    4: _files,
    11: _exit,
    12: _failover,
    31: _files,
    32: _files,
    33: _progress,
    41: _leave,
    45: _snapshot,
    **POSTPONED_HANDLERS,
}


def _cdn_status(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    """Event 100 (``rtmp_publish_status``): one CDN address's state, ordered per address by sequence (a resend
    or an older report writes nothing); an unknown status or a report for a recording without CDN push is
    logged and dropped."""
    url, status = event.details.get("rtmpUrl"), event.details.get("status")
    if not isinstance(url, str) or not url or status not in logic.CDN_STATUSES:
        logger.info("recording %s: event 100 without a known rtmpUrl/status: %r", recording_id, event.details)
        return
    entry = CdnOutput(url=url, status=str(status), at=event.sendts)
    key = logic.cdn_key(url)
    if not repo.set_cdn_status(recording_id, key, entry, event.sequence, max_entries=logic.MAX_CDN_ENTRIES):
        logger.info("recording %s: event 100 for %s is stale or has no place; dropped", recording_id, key)


_HANDLERS[CDN_STATUS] = _cdn_status
