"""The RecordingsTable: recording items, per-channel locks and Idempotency-Key records, in one table.

Items (partition key ``pk``):
- ``REC#<recording id>``: the recording (attributes in camelCase; see ``logic.view`` for the API shape).
- ``CHANNEL#<channel>``: the channel lock, ``recordingId`` of the one active recording of the channel.
- ``IDEMP#<scope>``: an Idempotency-Key record (request fingerprint and the first response), with a TTL.

GSIs: ``bySid`` (pk ``sid``) for NCS events, ``byChannel`` (pk ``channel``, sk ``createdAt``) for listing,
``byStatus`` (pk ``activeStatus``, sk ``createdAt``) - sparse: only active recordings carry ``activeStatus`` -
for the reconciler. ``activeStatus`` is write-sharded, ``<status>#<k>`` with ``k`` from a hash of the recording id
(``status_key``), so 10,000 RECORDING rows spread over ``STATUS_SHARDS`` index partitions instead of one; every
query of the index reads all of them (and the unsharded ``<status>`` of rows written before, docs/scale.md).
Every status change is a conditional write from the statuses ``logic.TRANSITIONS`` allows,
so a late writer never moves a recording backwards.

Over 400 lines on purpose: this is the one place where a recording's DynamoDB conditions live; the use
cases call intent-named methods (``request_stop``, ``park_wait``, ``set_if_newer``, ``take_op_lock``, ...)
and never write an expression themselves.
"""

from __future__ import annotations

import contextlib
import json
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import (
    ITEM_CONDITION_FAILED,
    cancellation_reasons,
    error_code,
    is_condition_failed,
    old_item,
    to_attr,
)
from service.adapters.dynamodb import from_item as plain_item
from service.adapters.dynamodb import from_items as plain_items
from service.adapters.dynamodb import to_item as ddb_item
from service.recordings import logic
from service.recordings.record import (
    AgoraErrorRecord,
    CdnOutput,
    EventEntry,
    Failure,
    PostponedResult,
    PostponedUid,
    Recording,
    Resolution,
    Scalar,
    StartResolution,
    UploadProgress,
)

BY_SID = "bySid"
BY_CHANNEL = "byChannel"
BY_STATUS = "byStatus"
TTL_ATTRIBUTE = "expiresAt"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
TRANSACTION_RETRIES = 5
#: ``activeStatus`` of a FAILED recording whose recorder is not yet confirmed gone (see ``mark_cleanup``)
CLEANUP = "CLEANUP"
#: index partitions per status in ``byStatus``. A constant: rows are found by re-computing their key, so changing
#: it needs the backfill docs/scale.md describes. 16 keeps 10,000 RECORDING rows at ~625 per partition.
STATUS_SHARDS = 16


#: BatchGetItem takes at most 100 keys a call; unprocessed keys (throttling) are asked again this many times
BATCH_GET_KEYS = 100
BATCH_GET_ATTEMPTS = 8


def _recording_id(index_item: Mapping[str, Any]) -> str:
    """The recording id of a KEYS_ONLY index item (its table key ``REC#<id>``)."""
    return str(index_item["pk"]["S"]).removeprefix("REC#")


def status_shard(recording_id: str) -> int:
    return zlib.crc32(recording_id.encode()) % STATUS_SHARDS


#: statuses kept in one ``byStatus`` partition, unsharded: the admission queue is read oldest first across all of
#: it (``queue``, ``queue_position``), which one partition ordered by ``createdAt`` answers in one query. Its size
#: is bounded by ``admissionQueueCap`` and each queued row is written there twice (queued, admitted).
UNSHARDED_STATUSES = frozenset({logic.QUEUED})


def status_key(status: str, recording_id: str) -> str:
    """The stored ``activeStatus`` of a recording: its status and its write shard, ``RECORDING#7`` (a status in
    ``UNSHARDED_STATUSES`` is stored bare)."""
    if status in UNSHARDED_STATUSES:
        return status
    return f"{status}#{status_shard(recording_id)}"


def status_of_key(stored: str) -> str:
    """The status part of a stored ``activeStatus`` (rows written before sharding hold the bare status)."""
    return stored.partition("#")[0]


def status_keys(status: str) -> list[str]:
    """Every ``byStatus`` partition key of ``status``: its shards, then the unsharded key of older rows."""
    if status in UNSHARDED_STATUSES:
        return [status]
    return [f"{status}#{k}" for k in range(STATUS_SHARDS)] + [status]


class ConditionFailed(Exception):
    """A conditional write lost; ``item`` is the recording as it was (None if absent or not returned)."""

    def __init__(self, item: Recording | None):
        super().__init__("conditional write failed")
        self.item = item


@dataclass(frozen=True)
class Admission:
    """The admission limits a creation is held to (``service.recordings.admission``): at most ``max_tasks``
    recordings hold a slot (Agora's concurrent-task limit), at most ``queue_cap`` wait for one."""

    max_tasks: int
    queue_cap: int


#: attempts of a transaction on the admission counter (a hot item: concurrent creations conflict on it)
ADMISSION_RETRIES = 10


class AdmissionContended(Exception):
    """Transactions on the admission counter kept conflicting: nothing was written; try again."""


def _jitter(attempt: int) -> float:
    """Full-jitter backoff: up to 20 ms doubling per attempt, at most half a second."""
    import random

    return random.uniform(0, min(0.5, 0.02 * 2**attempt))


#: the one item that counts slots held (``running``) and recordings waiting for one (``queued``)
ADMISSION_KEY = "ADMISSION#agora"


@dataclass(frozen=True)
class CreateOutcome:
    #: created: with a slot (REQUESTED); queued: created QUEUED; full: the queue is at its cap (nothing written)
    kind: Literal["created", "queued", "full", "replay", "mismatch", "busy"]
    #: replay: the stored response; busy: the active recording's id
    response: dict[str, Any] | None = None
    active_recording_id: str | None = None


def admission_form(recording: Recording, *, queued: bool, now: int) -> Recording:
    """The recording as an admission-controlled creation writes it: holding a slot, or QUEUED for one."""
    if queued:
        return replace(recording, status=logic.QUEUED, active_status=logic.QUEUED, slot_held=False)
    return replace(recording, slot_held=True)


def rec_key(recording_id: str) -> str:
    return f"REC#{recording_id}"


def lock_key(channel: str) -> str:
    return f"CHANNEL#{channel}"


def idempotency_key(scope: str) -> str:
    return f"IDEMP#{scope}"


# -- the recording item <-> Recording: the one place either is built from the other ------------------------
def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def _scalar(value: object) -> Scalar:
    """An NCS value as it came (a Decimal from the table back to int or float)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: object) -> frozenset[str]:
    return frozenset(str(v) for v in value) if isinstance(value, set | frozenset | list | tuple) else frozenset()


def _agora_error(value: object) -> AgoraErrorRecord | None:
    if not isinstance(value, Mapping):
        return None
    return AgoraErrorRecord(
        step=_str(value.get("step")), type=_str(value.get("type")), code=_int(value.get("code")),
        http_status=_int(value.get("httpStatus")), reason=_str(value.get("reason")), at=_int(value.get("at")),
    )  # fmt: skip


def agora_error_attr(error: AgoraErrorRecord) -> dict[str, Any]:
    return {"step": error.step, "type": error.type, "code": error.code, "httpStatus": error.http_status,
            "reason": error.reason, "at": error.at}  # fmt: skip


def _start_resolution(value: object) -> StartResolution | None:
    if not isinstance(value, Mapping):
        return None
    return StartResolution(
        type=_str(value.get("type")), code=_int(value.get("code")), http_status=_int(value.get("httpStatus")),
        since=_int(value.get("since")), exists=bool(value.get("exists")), give_up=bool(value.get("giveUp")),
        rule_id=_int(value.get("ruleId")), kicked_at=_int(value.get("kickedAt")), absent_at=_int(value.get("absentAt")),
    )  # fmt: skip


def start_resolution_attr(state: StartResolution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": state.type, "code": state.code, "httpStatus": state.http_status, "since": state.since,
        "exists": state.exists or None, "giveUp": state.give_up or None, "ruleId": state.rule_id,
        "kickedAt": state.kicked_at, "absentAt": state.absent_at,
    }  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def _resolution(value: Mapping[str, Any]) -> Resolution:
    lifted = value.get("ruleLifted")
    return Resolution(
        outcome=str(value.get("outcome")), reason=str(value.get("reason")), at=_int(value.get("at")) or 0,
        sid=_str(value.get("sid")), recorder_uid=_int(value.get("recorderUid")), rule_id=_int(value.get("ruleId")),
        rule_lifted=None if lifted is None else bool(lifted),
    )  # fmt: skip


def resolution_attr(entry: Resolution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "outcome": entry.outcome, "reason": entry.reason, "at": entry.at, "sid": entry.sid,
        "recorderUid": entry.recorder_uid, "ruleId": entry.rule_id, "ruleLifted": entry.rule_lifted,
    }  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def _entries(value: object) -> dict[str, EventEntry] | None:
    if not isinstance(value, Mapping):
        return None
    out: dict[str, EventEntry] = {}
    for key, raw in value.items():
        if isinstance(raw, Mapping):
            out[str(key)] = EventEntry(
                module=_scalar(raw.get("module")), level=_int(raw.get("level")), code=_scalar(raw.get("code")),
                message=_scalar(raw.get("message")), sequence=_int(raw.get("sequence")), at=_int(raw.get("at")),
            )  # fmt: skip
    return out


def event_entry_attr(entry: EventEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"module": entry.module, "level": entry.level, "code": entry.code,
                           "message": entry.message, "sequence": entry.sequence, "at": entry.at}  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def _cdn_outputs(value: object) -> dict[str, CdnOutput] | None:
    if not isinstance(value, Mapping):
        return None
    return {
        str(key): CdnOutput(
            url=str(raw["url"]),
            status=_str(raw.get("status")),
            at=_int(raw.get("at")),
            seq=_int(raw.get("seq")),
            source=_str(raw.get("source")),
        )
        for key, raw in value.items()
        if isinstance(raw, Mapping) and raw.get("url")
    }


def cdn_output_attr(output: CdnOutput) -> dict[str, Any]:
    out: dict[str, Any] = {"url": output.url, "status": output.status, "at": output.at, "seq": output.seq,
                           "source": output.source}  # fmt: skip
    return {k: v for k, v in out.items() if v is not None}


def _postponed_uids(value: object) -> tuple[PostponedUid, ...]:
    """``postponedUids`` is stored as JSON text (event 81's per-uid results)."""
    try:
        listed = json.loads(str(value or "[]"))
    except ValueError:
        return ()
    out = []
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, Mapping) and entry.get("uid") is not None:
            result = entry.get("result")
            files = entry.get("files")
            out.append(
                PostponedUid(
                    uid=str(entry["uid"]),
                    result=None if result is None else str(result),
                    files=tuple(str(f) for f in files) if isinstance(files, list) else (),
                )
            )
    return tuple(out)


def postponed_uids_attr(uids: Iterable[PostponedUid]) -> str:
    return json.dumps([{"uid": u.uid, "result": u.result, "files": list(u.files)} for u in uids])


def from_item(item: Mapping[str, Any]) -> Recording:
    """The recording an item of the table holds (plain values, as ``service.adapters.dynamodb`` reads them)."""
    g = item.get
    failure = None
    if any(g(k) is not None for k in ("errorType", "errorCode", "errorReason", "errorStep", "failedAt")):
        failure = Failure(type=_str(g("errorType")), code=_int(g("errorCode")), reason=_str(g("errorReason")),
                          step=_str(g("errorStep")), at=_int(g("failedAt")))  # fmt: skip
    cdn_urls = g("cdnUrls")
    return Recording(
        recording_id=str(g("recordingId")),
        channel=str(g("channel") or ""),
        mode=str(g("mode") or ""),
        status=str(g("status") or ""),
        created_at=_int(g("createdAt")) or 0,
        updated_at=_int(g("updatedAt")),
        config_json=str(g("configJson") or "{}"),
        requested_by=_str(g("requestedBy")),
        execution_arn=_str(g("executionArn")),
        idempotency_key=_str(g("idempotencyKey")),
        resource_id=_str(g("resourceId")),
        acquired_at=_int(g("acquiredAt")),
        recorder_uid=_int(g("recorderUid")),
        reacquires=_int(g("reacquires")) or 0,
        sid=_str(g("sid")),
        started_at=_int(g("startedAt")),
        last_seen_at=_int(g("lastSeenAt")),
        reconciled_at=_int(g("reconciledAt")),
        execution_seen_at=_int(g("executionSeenAt")),
        last_error=_agora_error(g("lastError")),
        stop_requested=_str(g("stopRequested")),
        stop_requested_at=_int(g("stopRequestedAt")),
        task_token=_str(g("taskToken")),
        waiting_since=_int(g("waitingSince")),
        stop_reason=_str(g("stopReason")),
        stopping_at=_int(g("stoppingAt")),
        outcome=_str(g("outcome")),
        stopped_at=_int(g("stoppedAt")),
        failure=failure,
        recorder_gone=_str(g("recorderGone")),
        recorder_unconfirmed=_str(g("recorderUnconfirmed")),
        active_status=None if g("activeStatus") is None else status_of_key(str(g("activeStatus"))),
        op_lock=_str(g("opLock")),
        op_lock_until=_int(g("opLockUntil")),
        start_resolution=_start_resolution(g("startResolution")),
        resolutions=tuple(_resolution(r) for r in g("resolutions") or () if isinstance(r, Mapping)),
        candidate_sid=_str(g("candidateSid")),
        file_names=_strings(g("fileNames")),
        upload=UploadProgress(
            status=_str(g("uploadingStatus")),
            status_from=_str(g("uploadingStatusFrom")),
            status_seq=_int(g("uploadSeq")),
            progress=_int(g("uploadProgress")),
            progress_seq=_int(g("progressSeq")),
            last_upload_at=_int(g("lastUploadAt")),
        ),
        exit_status=_int(g("exitStatus")),
        exit_seq=_int(g("exitSeq")),
        bot_uid=_int(g("botUid")),
        bot_uid_seq=_int(g("botUidSeq")),
        leave_code=_int(g("leaveCode")),
        leave_reasons=tuple(str(r) for r in g("leaveReasons") or ()),
        leave_seq=_int(g("leaveSeq")),
        last_sequence=_int(g("lastSequence")),
        agora_errors=_entries(g("agoraErrors")),
        agora_warnings=_entries(g("agoraWarnings")),
        snapshot_files=_strings(g("snapshotFiles")),
        snapshots_truncated=bool(g("snapshotsTruncated")),
        cdn_urls=tuple(str(u) for u in cdn_urls) if isinstance(cdn_urls, list) else None,
        cdn_outputs=_cdn_outputs(g("cdnOutputs")),
        postponed=PostponedResult(
            status=_str(g("postponedStatus")),
            seq=_int(g("postponedSeq")),
            result=_str(g("postponedResult")),
            files=_strings(g("postponedFiles")),
            uids=_postponed_uids(g("postponedUids")),
            uids_seq=_int(g("postponedUidsSeq")),
            started_at=_int(g("postponedStartedAt")),
            start_seq=_int(g("postponedStartSeq")),
            finished_at=_int(g("postponedFinishedAt")),
        ),
        slot_held=bool(g("slotHeld")),
        admitted_at=_int(g("admittedAt")),
        transcription_id=_str(g("transcriptionId")),
        transcription_error=_str(g("transcriptionError")),
    )


def to_item(rec: Recording) -> dict[str, Any]:
    """The item of ``rec`` (plain values; absent facts are left out, empty sets too: DynamoDB has none)."""
    failure = rec.failure or Failure()
    item: dict[str, Any] = {
        "recordingId": rec.recording_id, "channel": rec.channel, "mode": rec.mode, "status": rec.status,
        "createdAt": rec.created_at, "updatedAt": rec.updated_at, "configJson": rec.config_json,
        "requestedBy": rec.requested_by, "executionArn": rec.execution_arn, "idempotencyKey": rec.idempotency_key,
        "resourceId": rec.resource_id, "acquiredAt": rec.acquired_at, "recorderUid": rec.recorder_uid,
        "reacquires": rec.reacquires, "sid": rec.sid, "startedAt": rec.started_at, "lastSeenAt": rec.last_seen_at,
        "reconciledAt": rec.reconciled_at, "executionSeenAt": rec.execution_seen_at,
        "lastError": agora_error_attr(rec.last_error) if rec.last_error else None,
        "stopRequested": rec.stop_requested, "stopRequestedAt": rec.stop_requested_at, "taskToken": rec.task_token,
        "waitingSince": rec.waiting_since, "stopReason": rec.stop_reason, "stoppingAt": rec.stopping_at,
        "outcome": rec.outcome, "stoppedAt": rec.stopped_at, "errorType": failure.type, "errorCode": failure.code,
        "errorReason": failure.reason, "errorStep": failure.step, "failedAt": failure.at,
        "recorderGone": rec.recorder_gone, "recorderUnconfirmed": rec.recorder_unconfirmed,
        "activeStatus": rec.active_status and status_key(rec.active_status, rec.recording_id),
        "opLock": rec.op_lock, "opLockUntil": rec.op_lock_until,
        "startResolution": start_resolution_attr(rec.start_resolution) if rec.start_resolution else None,
        "resolutions": [resolution_attr(r) for r in rec.resolutions] or None, "candidateSid": rec.candidate_sid,
        "fileNames": set(rec.file_names) or None, "uploadingStatus": rec.upload.status,
        "uploadingStatusFrom": rec.upload.status_from,
        "uploadSeq": rec.upload.status_seq, "uploadProgress": rec.upload.progress,
        "progressSeq": rec.upload.progress_seq, "lastUploadAt": rec.upload.last_upload_at,
        "exitStatus": rec.exit_status, "exitSeq": rec.exit_seq, "botUid": rec.bot_uid, "botUidSeq": rec.bot_uid_seq,
        "leaveCode": rec.leave_code, "leaveReasons": list(rec.leave_reasons) or None, "leaveSeq": rec.leave_seq,
        "lastSequence": rec.last_sequence,
        "agoraErrors": None if rec.agora_errors is None
        else {k: event_entry_attr(e) for k, e in rec.agora_errors.items()},
        "agoraWarnings": None if rec.agora_warnings is None
        else {k: event_entry_attr(e) for k, e in rec.agora_warnings.items()},
        "snapshotFiles": set(rec.snapshot_files) or None, "snapshotsTruncated": rec.snapshots_truncated or None,
        "cdnUrls": None if rec.cdn_urls is None else list(rec.cdn_urls),
        "cdnOutputs": None if rec.cdn_outputs is None
        else {k: cdn_output_attr(o) for k, o in rec.cdn_outputs.items()},
        "postponedStatus": rec.postponed.status, "postponedSeq": rec.postponed.seq,
        "postponedResult": rec.postponed.result, "postponedFiles": set(rec.postponed.files) or None,
        "postponedUids": postponed_uids_attr(rec.postponed.uids) if rec.postponed.uids else None,
        "postponedUidsSeq": rec.postponed.uids_seq, "postponedStartedAt": rec.postponed.started_at,
        "postponedStartSeq": rec.postponed.start_seq, "postponedFinishedAt": rec.postponed.finished_at,
        "slotHeld": rec.slot_held or None, "admittedAt": rec.admitted_at,
        "transcriptionId": rec.transcription_id, "transcriptionError": rec.transcription_error,
    }  # fmt: skip
    return {k: v for k, v in item.items() if v is not None}


class RecordingsRepository:
    def __init__(self, table_name: str, *, client: Any = None, clock: Callable[[], float] = time.time):
        if not table_name:
            raise ValueError("table_name is required")
        self.table_name = table_name
        self._client = client
        self._clock = clock

    client = LazyClient("dynamodb")

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- reads --------------------------------------------------------------------------------
    def get(self, recording_id: str, *, consistent: bool = True) -> Recording | None:
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": rec_key(recording_id)}}, ConsistentRead=consistent
        ).get("Item")
        item = plain_item(raw)
        return from_item(item) if item is not None else None

    def lock_holder(self, channel: str) -> str | None:
        """The recording id holding ``channel``'s lock, or None when the channel is free."""
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": lock_key(channel)}}, ConsistentRead=True
        ).get("Item")
        lock = plain_item(raw)
        holder = lock.get("recordingId") if lock else None
        return str(holder) if holder else None

    def get_idempotency(self, scope: str) -> dict[str, Any] | None:
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": idempotency_key(scope)}}, ConsistentRead=True
        ).get("Item")
        item = plain_item(raw)
        if item is not None and int(item.get(TTL_ATTRIBUTE, 0)) < self._clock():
            return None  # expired; DynamoDB's TTL deletes lazily
        return item

    def by_sid(self, sid: str) -> Recording | None:
        response = self.client.query(
            TableName=self.table_name,
            IndexName=BY_SID,
            KeyConditionExpression="sid = :sid",
            ExpressionAttributeValues={":sid": {"S": sid}},
            Limit=2,
        )
        items = plain_items(response.get("Items", []))
        if not items:
            return None
        # a sid is unique; re-read from the table for a consistent view
        recording_id = items[0].get("recordingId")
        return self.get(str(recording_id)) if recording_id else None

    def list_by_channel(
        self, channel: str, *, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[Recording], dict[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_CHANNEL,
            "KeyConditionExpression": "channel = :c",
            "ExpressionAttributeValues": {":c": {"S": channel}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self.client.query(**kwargs)
        items = self._rows([_recording_id(i) for i in response.get("Items", [])])
        return items, response.get("LastEvaluatedKey")

    def list_active(
        self, statuses: Iterable[str] = logic.ACTIVE_STATUSES, *, part: tuple[int, int] = (0, 1)
    ) -> list[Recording]:
        """The recordings whose status is one of ``statuses``; with ``part=(i, n)`` only those whose id hashes to
        ``i`` mod ``n`` (a reconciler shard's). When ``n`` divides ``STATUS_SHARDS`` only the index partitions
        that can hold such rows are read; the rows themselves are read from the table (the index holds keys)."""
        index, count = part
        if not 0 <= index < count:
            raise ValueError(f"part {index} of {count}: need 0 <= part < parts")
        statuses = tuple(statuses)
        ids: list[str] = []
        for status in statuses:
            keys = status_keys(status)
            if STATUS_SHARDS % count == 0 and status not in UNSHARDED_STATUSES:  # crc mod 16 mod count == crc mod count
                keys = [k for k in keys[:STATUS_SHARDS] if int(k.rpartition("#")[2]) % count == index] + [status]
            for key in keys:
                kwargs: dict[str, Any] = {
                    "TableName": self.table_name,
                    "IndexName": BY_STATUS,
                    "KeyConditionExpression": "activeStatus = :s",
                    "ExpressionAttributeValues": {":s": {"S": key}},
                }
                while True:
                    response = self.client.query(**kwargs)
                    ids.extend(_recording_id(i) for i in response.get("Items", []))
                    if not response.get("LastEvaluatedKey"):
                        break
                    kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        mine = [i for i in ids if count == 1 or zlib.crc32(i.encode()) % count == index]
        # a row read after it left the statuses asked for (it changed status between the two reads) is left out
        wanted = set(statuses)
        return [r for r in self._rows(mine) if r.active_status in wanted]

    def _rows(self, recording_ids: list[str]) -> list[Recording]:
        """The rows of ``recording_ids`` in that order (BatchGetItem, 100 keys a call), those that still exist.
        The listing indexes hold keys only: an update of a recording writes no index (infra/constructs/recording.py)."""
        found: dict[str, Recording] = {}
        for first in range(0, len(recording_ids), BATCH_GET_KEYS):
            keys = [{"pk": {"S": rec_key(i)}} for i in dict.fromkeys(recording_ids[first : first + BATCH_GET_KEYS])]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            for attempt in range(BATCH_GET_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems=request)
                for item in plain_items(response.get("Responses", {}).get(self.table_name, [])):
                    row = from_item(item)
                    found[row.recording_id] = row
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))  # DynamoDB throttled part of the batch: back off, ask again
            else:
                raise RuntimeError(f"BatchGetItem left keys unprocessed after {BATCH_GET_ATTEMPTS} attempts")
        return [found[i] for i in recording_ids if i in found]

    # -- creation: recording + channel lock + Idempotency-Key in one transaction --------------
    def create(
        self,
        recording: Recording,
        *,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        response: Mapping[str, Any] | None = None,
        admission: Admission | None = None,
    ) -> CreateOutcome:
        """Create a recording if its channel is free, race-free (one transaction with three conditions).

        A lock left behind by a recording that already ended is removed and the creation retried.
        With ``admission``, a fourth condition on the admission counters: the recording takes a slot if one
        is free and nobody queues ahead of it (``created``); otherwise the same transaction creates it QUEUED
        (``queued``) while the queue is below its cap; at the cap nothing is written (``full``).
        """
        queued = False
        while True:
            candidate = recording
            if admission is not None:
                candidate = admission_form(recording, queued=queued, now=self.now_ms())
            body = dict(response or {})
            if queued and body:
                body["status"] = logic.QUEUED
            outcome = self._create(
                candidate, idempotency_scope=idempotency_scope, fingerprint=fingerprint, response=body,
                counter=None if admission is None else self._counter_take(admission, queued=queued),
            )  # fmt: skip
            if admission is not None and outcome.kind == "busy" and outcome.active_recording_id is None:
                raise AdmissionContended("concurrent creations kept conflicting on the admission counter")
            if outcome.kind != "full":
                return CreateOutcome("queued") if queued and outcome.kind == "created" else outcome
            if queued:
                return outcome
            queued = True  # no slot free now (or a queue ahead): wait in line

    def _counter_take(self, admission: Admission, *, queued: bool) -> dict[str, Any]:
        """The admission counter's part of a creation: a slot (below the limit, nobody queued) or a place in line."""
        values = {":zero": {"N": "0"}, ":one": {"N": "1"}}
        if queued:
            update, condition = "SET queued = if_not_exists(queued, :zero) + :one", "NOT (queued >= :cap)"
            values[":cap"] = {"N": str(admission.queue_cap)}
        else:
            update = "SET running = if_not_exists(running, :zero) + :one"
            condition = "NOT (running >= :max) AND NOT (queued > :zero)"
            values[":max"] = {"N": str(admission.max_tasks)}
        return {
            "Update": {
                "TableName": self.table_name, "Key": {"pk": {"S": ADMISSION_KEY}}, "UpdateExpression": update,
                "ConditionExpression": condition, "ExpressionAttributeValues": values,
            }
        }  # fmt: skip

    def _create(  # noqa: PLR0912 - one transaction's outcomes, each condition read in turn
        self,
        recording: Recording,
        *,
        idempotency_scope: str | None,
        fingerprint: str | None,
        response: Mapping[str, Any],
        counter: dict[str, Any] | None,
    ) -> CreateOutcome:
        from botocore.exceptions import ClientError

        channel = recording.channel
        recording_id = recording.recording_id
        now = self.now_ms()
        items: list[dict[str, Any]] = []
        if idempotency_scope:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": ddb_item(
                            {
                                "pk": idempotency_key(idempotency_scope),
                                "fingerprint": fingerprint,
                                "recordingId": recording_id,
                                "response": dict(response or {}),
                                "createdAt": now,
                                TTL_ATTRIBUTE: int(now / 1000) + IDEMPOTENCY_TTL_SECONDS,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk) OR #ttl < :now",
                        "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
                        "ExpressionAttributeValues": {":now": {"N": str(int(now / 1000))}},
                    }
                }
            )
        lock_index = len(items)
        items.append(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": ddb_item({"pk": lock_key(channel), "recordingId": recording_id, "createdAt": now}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        items.append(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": ddb_item({"pk": rec_key(recording_id), **to_item(recording)}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        counter_index = len(items)
        if counter is not None:
            items.append(counter)
        for attempt in range(TRANSACTION_RETRIES if counter is None else ADMISSION_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return CreateOutcome("created")
            except ClientError as exc:
                cancelled = cancellation_reasons(exc)
                if cancelled is None:
                    raise
                reasons = cancelled
            if idempotency_scope:
                # The key decides first: a retry of a request that won is a replay, whatever else failed.
                stored = self.get_idempotency(idempotency_scope)
                if stored is not None:
                    if stored.get("fingerprint") != fingerprint:
                        return CreateOutcome("mismatch")
                    return CreateOutcome("replay", response=dict(stored.get("response") or {}))
                if reasons and reasons[0] == ITEM_CONDITION_FAILED:
                    continue  # it expired or was withdrawn meanwhile: try again
            if len(reasons) > lock_index and reasons[lock_index] == ITEM_CONDITION_FAILED:
                holder = self.lock_holder(channel)
                if holder is None:
                    continue  # released meanwhile
                held = self.get(holder)
                if held is None or (logic.is_terminal(held.status) and not held.recorder_unconfirmed):
                    self.release_lock(channel, holder)  # a stale lock: its recording is over
                    continue
                return CreateOutcome("busy", active_recording_id=holder)
            if counter is not None and len(reasons) > counter_index and reasons[counter_index] == ITEM_CONDITION_FAILED:
                return CreateOutcome("full")
            # TransactionConflict (concurrent transactions on the same items): back off and retry
            time.sleep(0.02 * (attempt + 1) if counter is None else _jitter(attempt))
        return CreateOutcome("busy", active_recording_id=self.lock_holder(channel))

    def release_lock(self, channel: str, recording_id: str) -> bool:
        """Delete the channel lock if ``recording_id`` holds it (never someone else's)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": lock_key(channel)}},
                ConditionExpression="recordingId = :r",
                ExpressionAttributeValues={":r": {"S": recording_id}},
            )
        except Exception as exc:
            if is_condition_failed(exc):
                return False
            raise
        return True

    # -- admission: Agora's concurrent-task slots and the queue for them ---------------------------
    def _counter_add(self, running: int = 0, queued: int = 0, condition: str | None = None) -> dict[str, Any]:
        parts, values = [], {":zero": {"N": "0"}}
        for name, delta in (("running", running), ("queued", queued)):
            if delta:
                parts.append(f"{name} = if_not_exists({name}, :zero) + :{name}")
                values[f":{name}"] = {"N": str(delta)}
        update: dict[str, Any] = {
            "TableName": self.table_name, "Key": {"pk": {"S": ADMISSION_KEY}},
            "UpdateExpression": "SET " + ", ".join(parts), "ExpressionAttributeValues": values,
        }  # fmt: skip
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    def _counter_take_slot(self, max_tasks: int) -> dict[str, Any]:
        item = self._counter_add(running=1, queued=-1, condition="NOT (running >= :max)")
        item["Update"]["ExpressionAttributeValues"][":max"] = {"N": str(max_tasks)}
        return item

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """One transaction: None when it was written, else the cancellation reasons of a failed condition.
        Conflicts with other transactions on the counter item are retried with jittered backoff; if they
        persist, ``AdmissionContended`` is raised (the caller's step fails and is retried: nothing was written)."""
        from botocore.exceptions import ClientError

        reasons: list[str] = []
        for attempt in range(ADMISSION_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return None
            except ClientError as exc:
                cancelled = cancellation_reasons(exc)
                if cancelled is None:
                    raise
                reasons = cancelled
            if ITEM_CONDITION_FAILED in reasons:
                return reasons
            time.sleep(_jitter(attempt))  # TransactionConflict: another writer on the counter
        raise AdmissionContended(f"the admission counter stayed contended ({reasons})")

    def admission_counts(self) -> tuple[int, int]:
        """(slots held, recordings queued), read consistently."""
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": ADMISSION_KEY}}, ConsistentRead=True
        ).get("Item")
        counts = plain_item(raw) or {}
        return int(counts.get("running") or 0), int(counts.get("queued") or 0)

    def queue(self, limit: int) -> list[Recording]:
        """The first ``limit`` QUEUED recordings, oldest first (the ``byStatus`` index)."""
        response = self.client.query(
            TableName=self.table_name, IndexName=BY_STATUS, KeyConditionExpression="activeStatus = :q",
            ExpressionAttributeValues={":q": {"S": logic.QUEUED}}, ScanIndexForward=True, Limit=limit,
        )  # fmt: skip
        # the index holds keys only: the rows are read after (a row admitted meanwhile is no longer QUEUED)
        rows = self._rows([_recording_id(i) for i in response.get("Items", [])])
        # the line is (createdAt, recordingId): the index leaves the order of equal sort keys undefined
        return sorted((r for r in rows if r.status == logic.QUEUED), key=lambda r: (r.created_at, r.recording_id))

    def queue_position(self, recording: Recording) -> int:
        """1 + the QUEUED recordings ahead of ``recording``: created before it, or in the same millisecond with a
        smaller id (two creations in one millisecond would otherwise share a place in line)."""
        created = {"N": str(recording.created_at)}
        earlier = self._count_queued("activeStatus = :q AND createdAt < :c", {":c": created})
        same_ms = self._count_queued(
            "activeStatus = :q AND createdAt = :c", {":c": created, ":me": {"S": rec_key(recording.recording_id)}},
            filter_expression="pk < :me",
        )  # fmt: skip
        return earlier + same_ms + 1

    def _count_queued(self, condition: str, values: dict[str, Any], filter_expression: str | None = None) -> int:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": BY_STATUS, "Select": "COUNT",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":q": {"S": logic.QUEUED}, **values},
        }  # fmt: skip
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        count = 0
        while True:
            response = self.client.query(**kwargs)
            count += int(response.get("Count", 0))
            if not response.get("LastEvaluatedKey"):
                return count
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def admit(self, recording_id: str, max_tasks: int) -> Recording | None:
        """QUEUED -> REQUESTED holding a slot, in one transaction with the counters (a slot below ``max_tasks``
        taken, one queued less). None when no slot is free; raises ConditionFailed when the recording is no
        longer QUEUED (another pump admitted it, or it was stopped)."""
        now = self.now_ms()
        reasons = self._transact([
            self._counter_take_slot(max_tasks),
            {
                "Update": {
                    "TableName": self.table_name, "Key": {"pk": {"S": rec_key(recording_id)}},
                    "UpdateExpression": "SET #s = :req, activeStatus = :active, slotHeld = :yes, admittedAt = :now, "
                    "updatedAt = :now",
                    "ConditionExpression": "#s = :queued", "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":req": {"S": logic.REQUESTED}, ":active": {"S": status_key(logic.REQUESTED, recording_id)},
                        ":yes": {"BOOL": True}, ":now": {"N": str(now)},
                        ":queued": {"S": logic.QUEUED},
                    },
                }
            },
        ])  # fmt: skip
        if reasons is None:
            return self.get(recording_id)
        if len(reasons) > 1 and reasons[1] == ITEM_CONDITION_FAILED:
            raise ConditionFailed(self.get(recording_id))
        return None

    def cancel_queued(self, recording_id: str, reason: str) -> Recording | None:
        """QUEUED -> STOPPED (outcome ``not_started``) and one queued less, in one transaction; None when the
        recording is not QUEUED (it was admitted meanwhile: stop it like any other)."""
        now = self.now_ms()
        reasons = self._transact([
            self._counter_add(queued=-1),
            {
                "Update": {
                    "TableName": self.table_name, "Key": {"pk": {"S": rec_key(recording_id)}},
                    "UpdateExpression": "SET #s = :stopped, stopReason = :why, stopRequested = :why, "
                    "stopRequestedAt = :now, stoppedAt = :now, outcome = :none, updatedAt = :now REMOVE activeStatus",
                    "ConditionExpression": "#s = :queued", "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":stopped": {"S": logic.STOPPED}, ":why": {"S": reason}, ":now": {"N": str(now)},
                        ":none": {"S": logic.OUTCOME_NOT_STARTED}, ":queued": {"S": logic.QUEUED},
                    },
                }
            },
        ])  # fmt: skip
        return self.get(recording_id) if reasons is None else None

    def release_slot(self, recording_id: str) -> bool:
        """Give the recording's slot back, once: ``slotHeld`` is removed in the same transaction that counts
        one slot less, so a retried finalize or fail step never gives back a slot twice."""
        reasons = self._transact([
            self._counter_add(running=-1),
            {
                "Update": {
                    "TableName": self.table_name, "Key": {"pk": {"S": rec_key(recording_id)}},
                    "UpdateExpression": "REMOVE slotHeld", "ConditionExpression": "slotHeld = :yes",
                    "ExpressionAttributeValues": {":yes": {"BOOL": True}},
                }
            },
        ])  # fmt: skip
        return reasons is None

    def delete_idempotency(self, scope: str, recording_id: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": idempotency_key(scope)}},
                ConditionExpression="recordingId = :r",
                ExpressionAttributeValues={":r": {"S": recording_id}},
            )
        except Exception as exc:
            if not is_condition_failed(exc):
                raise

    # -- updates ------------------------------------------------------------------------------
    def _update(
        self,
        recording_id: str,
        *,
        set_: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, Any] | None = None,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        must_exist: bool = True,
        touch: bool = True,
    ) -> Recording:
        """One UpdateItem (``touch``: also ``updatedAt`` = now). Attribute paths may be dotted (``agoraErrors.17``);
        ``condition`` uses the caller's own ``#name``/``:value`` placeholders.
        Returns the new item; raises ConditionFailed."""
        expr_names: dict[str, str] = dict(names or {})
        expr_values: dict[str, Any] = {k: to_attr(v) for k, v in (values or {}).items()}

        def path(attribute: str) -> str:
            parts = []
            for part in attribute.split("."):
                key = f"#n{len(expr_names)}"
                expr_names[key] = part
                parts.append(key)
            return ".".join(parts)

        def value(v: Any) -> str:
            key = f":v{len(expr_values)}"
            expr_values[key] = to_attr(v)
            return key

        sets = {**({"updatedAt": self.now_ms()} if touch else {}), **(set_ or {})}
        clauses = ["SET " + ", ".join(f"{path(k)} = {value(v)}" for k, v in sets.items())]
        removals = [path(r) for r in remove]
        if removals:
            clauses.append("REMOVE " + ", ".join(removals))
        if add:
            clauses.append("ADD " + ", ".join(f"{path(k)} {value(v)}" for k, v in add.items()))
        conditions = []
        if must_exist:
            conditions.append("attribute_exists(pk)")
        if condition:
            conditions.append(f"({condition})")
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"pk": {"S": rec_key(recording_id)}},
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": expr_names,
            "ReturnValues": "ALL_NEW",
        }
        if expr_values:
            kwargs["ExpressionAttributeValues"] = expr_values
        if conditions:
            kwargs["ConditionExpression"] = " AND ".join(conditions)
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            response = self.client.update_item(**kwargs)
        except Exception as exc:
            if is_condition_failed(exc):
                old = old_item(exc)
                raise ConditionFailed(from_item(old) if old is not None else None) from exc
            raise
        return from_item(plain_item(response["Attributes"]) or {})

    def transition(
        self,
        recording_id: str,
        target: str,
        *,
        set_: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, Any] | None = None,
        sources: Iterable[str] | None = None,
    ) -> Recording:
        """Move to ``target`` only from a status that may precede it; keeps the sparse status index in step."""
        allowed = tuple(sources) if sources is not None else logic.sources_of(target)
        if not allowed:
            raise ValueError(f"nothing may move to {target}")
        placeholders = {f":src{i}": s for i, s in enumerate(allowed)}
        fields: dict[str, Any] = {"status": target, **(set_ or {})}
        removals = list(remove)
        if logic.is_active(target):
            fields["activeStatus"] = status_key(target, recording_id)
        else:
            removals.append("activeStatus")
        return self._update(
            recording_id,
            set_=fields,
            remove=removals,
            add=add,
            condition=f"#status IN ({', '.join(placeholders)})",
            names={"#status": "status"},
            values=placeholders,
        )

    # -- intent-named writes: the only conditions the use cases rely on --------------------------
    def _active_condition(self) -> tuple[str, dict[str, Any]]:
        placeholders = {f":a{i}": s for i, s in enumerate(logic.ACTIVE_STATUSES)}
        return f"#status IN ({', '.join(placeholders)})", placeholders

    def request_stop(self, recording_id: str, reason: str) -> tuple[Recording | None, bool]:
        """Record that a stop was requested (the first reason wins) while the recording is active.

        Returns (the item, whether this call recorded it); the item is the current one when the stop was
        already requested or the recording is over, and None when there is no such recording."""
        active, values = self._active_condition()
        try:
            item = self._update(
                recording_id,
                set_={"stopRequested": reason, "stopRequestedAt": self.now_ms()},
                condition=f"attribute_not_exists(stopRequested) AND {active}",
                names={"#status": "status"},
                values=values,
            )
        except ConditionFailed as lost:
            return lost.item, False
        return item, True

    def park_wait(self, recording_id: str, task_token: str) -> Recording:
        """Store the workflow's task token while the recording is active; raises ConditionFailed otherwise."""
        active, values = self._active_condition()
        return self._update(
            recording_id,
            set_={"taskToken": task_token, "waitingSince": self.now_ms()},
            condition=active,
            names={"#status": "status"},
            values=values,
        )

    def record_error(self, recording_id: str, error: AgoraErrorRecord) -> None:
        """The last Agora error of a step (the fail handler reports it)."""
        self._update(recording_id, set_={"lastError": agora_error_attr(error)})

    def link_transcription(self, recording_id: str, transcription_id: str | None, error: str | None) -> None:
        """The transcription started with the recording (its id, when one exists), and why it did not start or
        stop (``error``; None clears an earlier one)."""
        fields = {"transcriptionId": transcription_id, "transcriptionError": error}
        self._update(
            recording_id, set_={k: v for k, v in fields.items() if v is not None},
            remove=[] if error else ["transcriptionError"],
        )  # fmt: skip

    def keep_sid(self, recording_id: str, sid: str, started_at: int) -> None:
        """Remember a started recorder's sid whatever the status, so it can still be stopped."""
        self._update(recording_id, set_={"sid": sid, "startedAt": started_at})

    # -- a start whose outcome is unknown (``service.recordings.resolve``) ----------------------
    def mark_start_unknown(self, recording_id: str, state: StartResolution) -> None:
        """``startResolution`` = ``state`` unless one is already under way (a retried start step)."""
        with contextlib.suppress(ConditionFailed):
            self._update(
                recording_id, set_={"startResolution": start_resolution_attr(state)},
                condition="#status = :starting AND attribute_not_exists(startResolution)",
                names={"#status": "status"}, values={":starting": logic.STARTING},
            )  # fmt: skip

    def update_start_resolution(self, recording_id: str, state: StartResolution) -> None:
        self._update(recording_id, set_={"startResolution": start_resolution_attr(state)})

    def finish_start_resolution(self, recording_id: str, resolutions: Iterable[Resolution]) -> None:
        """The recorder is gone: the start may be tried afresh (a new acquire, a new uid)."""
        self._update(
            recording_id,
            set_={"resolutions": [resolution_attr(r) for r in resolutions]},
            remove=["startResolution", "candidateSid"],
        )

    def adopt(self, recording_id: str, sid: str, resolutions: Iterable[Resolution]) -> Recording:
        """STARTING -> RECORDING with the task ``sid`` an unknown start turned out to have (``resolve``)."""
        now = self.now_ms()
        return self.transition(
            recording_id,
            logic.RECORDING,
            set_={"sid": sid, "startedAt": now, "lastSeenAt": now,
                  "resolutions": [resolution_attr(r) for r in resolutions]},
            remove=["startResolution", "candidateSid", "lastError"],
            sources=(logic.STARTING,),
        )  # fmt: skip

    def offer_candidate_sid(self, channel: str, uid: int, sid: str) -> bool:
        """An NCS event named ``sid`` for recorder ``uid`` of ``channel``: if the channel's recording is
        still STARTING with that recorder uid and no sid, remember the sid for the resolve step."""
        holder = self.lock_holder(channel)
        if holder is None:
            return False
        try:
            self._update(
                holder, set_={"candidateSid": sid},
                condition="#status = :starting AND recorderUid = :uid AND attribute_not_exists(sid)",
                names={"#status": "status"}, values={":starting": logic.STARTING, ":uid": uid},
            )  # fmt: skip
        except ConditionFailed:
            return False
        return True

    def mark_cleanup(self, recording_id: str, reason: str) -> None:
        """A FAILED recording whose recorder could not be confirmed gone: it keeps its channel lock and sits
        in the status index as CLEANUP, so the reconciler tries again."""
        cleanup = status_key(CLEANUP, recording_id)
        self._update(recording_id, set_={"recorderUnconfirmed": reason, "activeStatus": cleanup})

    def end_cleanup(self, recording_id: str, how: str) -> None:
        self._update(recording_id, set_={"recorderGone": how}, remove=["recorderUnconfirmed", "activeStatus"])

    def set_if_newer(self, recording_id: str, seq_attr: str, sequence: int | None, fields: Mapping[str, Any]) -> bool:
        """Write ``fields`` (and ``seq_attr``) only if ``sequence`` is newer than the one that set them last;
        without a sequence, only if nothing set them yet. False when an equal or newer event already did."""
        if sequence is None:
            condition, values = f"attribute_not_exists({seq_attr})", {}
            updates = dict(fields)
        else:
            condition, values = f"attribute_not_exists({seq_attr}) OR {seq_attr} < :seq", {":seq": sequence}
            updates = {**fields, seq_attr: sequence}
        try:
            self._update(recording_id, set_=updates, condition=condition, values=values)
        except ConditionFailed:
            return False
        return True

    def add_file_names(self, recording_id: str, names: Iterable[str]) -> None:
        """Add to the recording's set of file names (order-free and idempotent)."""
        self._update(recording_id, set_={}, add={"fileNames": set(names)})

    def add_postponed_files(self, recording_id: str, names: Iterable[str]) -> None:
        """Add postponed transcoding / audio mixing results (events 81/1001) to ``postponedFiles``."""
        self._update(recording_id, set_={}, add={"postponedFiles": set(names)})

    def add_snapshot(self, recording_id: str, name: str, *, max_files: int) -> bool:
        """Add a screenshot name (event 45) to ``snapshotFiles`` (a set: a resend changes nothing) while the
        set is below ``max_files``; beyond that only ``snapshotsTruncated`` is set (the item stays small)."""
        try:
            self._update(
                recording_id,
                add={"snapshotFiles": {name}},
                condition="attribute_not_exists(#s) OR size(#s) < :max OR contains(#s, :name)",
                names={"#s": "snapshotFiles"},
                values={":max": max_files, ":name": name},
            )
        except ConditionFailed:
            self._update(recording_id, set_={"snapshotsTruncated": True})
            return False
        return True

    def put_event_entry(
        self,
        recording_id: str,
        kind: Literal["agoraErrors", "agoraWarnings"],
        key: str,
        entry: EventEntry,
        *,
        max_entries: int,
    ) -> bool:
        """``kind.key = entry`` (a resend overwrites itself) unless the map already holds ``max_entries``."""
        try:
            self._update(
                recording_id,
                set_={f"{kind}.{key}": event_entry_attr(entry)},
                condition=f"attribute_exists({kind}.#k) OR size({kind}) < :max",
                names={"#k": key},
                values={":max": max_entries},
            )
        except ConditionFailed:
            return False
        return True

    def take_op_lock(self, recording_id: str, owner: str, seconds: int) -> Recording:
        """The operation lock of a RECORDING recording with a sid, unless another holder's is still valid.
        Returns the item as it is under the lock; raises ConditionFailed (with the current item) when the
        lock is not available."""
        now = self.now_ms()
        return self._update(
            recording_id,
            set_={"opLock": owner, "opLockUntil": now + seconds * 1000},
            condition=(
                "#status = :rec AND attribute_exists(sid) AND (attribute_not_exists(opLock) OR opLockUntil < :now)"
            ),
            names={"#status": "status"},
            values={":rec": logic.RECORDING, ":now": now},
        )

    def release_op_lock(self, recording_id: str, owner: str) -> bool:
        """Release the operation lock if ``owner`` still holds it; False if it had expired and was taken."""
        try:
            self._update(
                recording_id, set_={}, remove=["opLock", "opLockUntil"],
                condition="opLock = :mine", values={":mine": owner},
            )  # fmt: skip
        except ConditionFailed:
            return False
        return True

    def mark_checked(self, recording_id: str, *, seen: bool = False, execution_running: bool = False) -> bool:
        """The reconciler checked this active recording: ``reconciledAt`` = now, with ``lastSeenAt`` when Agora
        says the recorder runs and ``executionSeenAt`` when Step Functions says the execution runs, in one write.
        ``updatedAt`` is left alone: a check is not a change, and the stale rule reads it. False when the
        recording is no longer active."""
        now = self.now_ms()
        fields = {"reconciledAt": now}
        if seen:
            fields["lastSeenAt"] = now
        if execution_running:
            fields["executionSeenAt"] = now
        try:
            self._update(recording_id, set_=fields, condition="attribute_exists(activeStatus)", touch=False)
        except ConditionFailed:
            return False
        return True

    # -- CDN push (web mode) ----------------------------------------------------------------------
    def set_cdn_urls(self, recording_id: str, urls: Iterable[str]) -> None:
        """The web recording's current CDN addresses, after Agora accepted an update of them."""
        self._update(recording_id, set_={"cdnUrls": list(urls)}, condition="attribute_exists(cdnUrls)")

    def set_cdn_status(
        self, recording_id: str, key: str, output: CdnOutput, sequence: int | None, *, max_entries: int
    ) -> bool:
        """``cdnOutputs.key = entry`` (one CDN address's state, NCS event 100) when the event is newer than the
        one that set it (without a sequence: only if nothing did), on a recording that pushes to a CDN, while
        the map has room for a new address. False when nothing was written."""
        names = {"#c": "cdnOutputs", "#k": key}
        if sequence is None:
            fresh, values = "attribute_not_exists(#c.#k)", {}
        else:
            fresh, values = "attribute_not_exists(#c.#k.#q) OR #c.#k.#q < :seq", {":seq": sequence}
            names["#q"] = "seq"
        condition = f"attribute_exists(#c) AND (attribute_exists(#c.#k) OR size(#c) < :max) AND ({fresh})"
        try:
            self._update(
                recording_id,
                set_={
                    f"cdnOutputs.{key}": cdn_output_attr(output if sequence is None else replace(output, seq=sequence))
                },
                condition=condition,
                names=names,
                values={**values, ":max": max_entries},
            )
        except ConditionFailed:
            return False
        except Exception as exc:
            # no ``cdnOutputs`` map (a recording without CDN push): DynamoDB may refuse the document path
            # before it evaluates the condition; either way nothing is written
            if error_code(exc) == "ValidationException" and "document path" in str(exc):
                return False
            raise
        return True
