"""A recording as the use cases see it: frozen, typed, built only by ``repository.from_item`` (and turned
back into an item only by ``repository.to_item``).

The table stores a recording as one flat item of camelCase attributes (see ``repository``); here the same
facts are grouped by who writes them: the workflow (resource, sid, stop, failure), the start resolution
(``resolve``), and the NCS events (upload, exit, failover, errors, screenshots, CDN reports, postponed
results). A name mistyped here is a mypy error, not an attribute silently read as missing.

Pure data: no AWS, no Agora. Numbers are ``int`` (the table gives integral numbers back as ``int``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: a JSON scalar as an NCS event reported it (kept for the view as it came)
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class AgoraErrorRecord:
    """``lastError``: the last Agora error of a workflow step (the fail handler reports it)."""

    step: str | None = None
    type: str | None = None
    code: int | None = None
    http_status: int | None = None
    reason: str | None = None
    at: int | None = None


@dataclass(frozen=True)
class StartResolution:
    """``startResolution``: a start whose outcome is unknown, while ``resolve`` finds out."""

    type: str | None = None
    code: int | None = None
    http_status: int | None = None
    #: when the outcome became unknown (ms)
    since: int | None = None
    #: Agora said 201/7 to the same start: a recorder runs, its sid is not known yet
    exists: bool = False
    #: the resource expired: stop asking, make sure the recorder is gone
    give_up: bool = False
    rule_id: int | None = None
    kicked_at: int | None = None
    absent_at: int | None = None


@dataclass(frozen=True)
class Resolution:
    """One entry of ``resolutions``: how an unknown start ended."""

    outcome: str
    reason: str
    at: int
    sid: str | None = None
    recorder_uid: int | None = None
    rule_id: int | None = None
    rule_lifted: bool | None = None


@dataclass(frozen=True)
class EventEntry:
    """An Agora error (event 1) or warning (event 2), keyed by its sequence in ``agoraErrors``/``agoraWarnings``."""

    module: Scalar = None
    level: int | None = None
    code: Scalar = None
    message: Scalar = None
    sequence: int | None = None
    at: int | None = None


@dataclass(frozen=True)
class CdnOutput:
    """``cdnOutputs.<key>``: the last reported state of one CDN address (event 100, or the reconciler's query)."""

    url: str
    status: str | None = None
    at: int | None = None
    seq: int | None = None
    #: "query" when the reconciler filled it from Agora's query (no event reported it)
    source: str | None = None


@dataclass(frozen=True)
class UploadProgress:
    """What NCS said about the upload: 31/32 (status, files), 33 (progress 0-10000), 4 (M3U8 names)."""

    status: str | None = None
    #: who said the status: "bucket" when settled from the recording's folder (service.recordings.uploads)
    status_from: str | None = None
    status_seq: int | None = None
    progress: int | None = None
    progress_seq: int | None = None
    last_upload_at: int | None = None


@dataclass(frozen=True)
class PostponedUid:
    uid: str
    result: str | None
    files: tuple[str, ...]


@dataclass(frozen=True)
class PostponedResult:
    """Postponed transcoding / audio mixing as events 80/81/1001 reported it (``postponed_events``)."""

    status: str | None = None
    seq: int | None = None
    result: str | None = None
    files: frozenset[str] = frozenset()
    uids: tuple[PostponedUid, ...] = ()
    uids_seq: int | None = None
    started_at: int | None = None
    start_seq: int | None = None
    finished_at: int | None = None


@dataclass(frozen=True)
class Failure:
    """Why a recording FAILED (``errorType``, ``errorCode``, ``errorReason``, ``errorStep``, ``failedAt``)."""

    type: str | None = None
    code: int | None = None
    reason: str | None = None
    step: str | None = None
    at: int | None = None


@dataclass(frozen=True)
class Recording:
    recording_id: str
    channel: str
    mode: str
    status: str
    created_at: int
    updated_at: int | None = None
    config_json: str = "{}"
    requested_by: str | None = None
    execution_arn: str | None = None
    idempotency_key: str | None = None
    # -- the workflow -------------------------------------------------------------------------
    resource_id: str | None = None
    acquired_at: int | None = None
    recorder_uid: int | None = None
    reacquires: int = 0
    sid: str | None = None
    started_at: int | None = None
    last_seen_at: int | None = None
    #: the reconciler's last check of this row (its round robin takes the oldest first); not an update
    reconciled_at: int | None = None
    #: when the reconciler last saw the workflow execution RUNNING (DescribeExecution at most once a stale period)
    execution_seen_at: int | None = None
    last_error: AgoraErrorRecord | None = None
    stop_requested: str | None = None
    stop_requested_at: int | None = None
    task_token: str | None = None
    waiting_since: int | None = None
    stop_reason: str | None = None
    stopping_at: int | None = None
    outcome: str | None = None
    stopped_at: int | None = None
    failure: Failure | None = None
    recorder_gone: str | None = None
    recorder_unconfirmed: str | None = None
    #: the status index's key: an active status, ``CLEANUP``, or None
    active_status: str | None = None
    op_lock: str | None = None
    op_lock_until: int | None = None
    # -- a start whose outcome is unknown -----------------------------------------------------
    start_resolution: StartResolution | None = None
    resolutions: tuple[Resolution, ...] = ()
    candidate_sid: str | None = None
    # -- NCS events ---------------------------------------------------------------------------
    file_names: frozenset[str] = frozenset()
    upload: UploadProgress = field(default_factory=UploadProgress)
    exit_status: int | None = None
    exit_seq: int | None = None
    bot_uid: int | None = None
    bot_uid_seq: int | None = None
    leave_code: int | None = None
    leave_reasons: tuple[str, ...] = ()
    leave_seq: int | None = None
    last_sequence: int | None = None
    agora_errors: dict[str, EventEntry] | None = None
    agora_warnings: dict[str, EventEntry] | None = None
    snapshot_files: frozenset[str] = frozenset()
    snapshots_truncated: bool = False
    #: None: the recording does not push to a CDN; else its current addresses and the reports per address key
    cdn_urls: tuple[str, ...] | None = None
    cdn_outputs: dict[str, CdnOutput] | None = None
    postponed: PostponedResult = field(default_factory=PostponedResult)
    #: holds one of the App ID's concurrent-task slots (``admission``): given back once, when the recording ends
    slot_held: bool = False
    #: when it left the admission queue (None: admitted at once, or never queued)
    admitted_at: int | None = None
    # -- the live transcription started with it (``service.recordings.transcription``) -------------
    transcription_id: str | None = None
    #: why that transcription did not start, or did not stop (the recording is never failed for it)
    transcription_error: str | None = None

    def config(self) -> dict[str, Any]:
        """The stored Agora configuration (``configJson``): Agora request documents, as JSON decoded them."""
        try:
            value = json.loads(self.config_json or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def task(self) -> TaskArgs:
        """How Agora names the running task: raises ``ValueError`` before there is one."""
        if self.resource_id is None or self.sid is None or self.recorder_uid is None:
            raise ValueError(f"recording {self.recording_id} has no running task")
        return TaskArgs(self.resource_id, self.sid, self.channel, self.recorder_uid, self.mode)


class TaskArgs(NamedTuple):
    """(resource id, sid, channel, recorder uid, mode): how Agora names a running task. The uid is the one
    acquire used, also after an HA failover gave the bot a new uid in the channel."""

    resource_id: str
    sid: str
    channel: str
    uid: int
    mode: str
