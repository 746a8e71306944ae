"""The RecordingsTable: recording items, per-channel locks and Idempotency-Key records, in one table.

Items (partition key ``pk``):
- ``REC#<recording id>``: the recording (attributes in camelCase; see ``logic.view`` for the API shape).
- ``CHANNEL#<channel>``: the channel lock, ``recordingId`` of the one active recording of the channel.
- ``IDEMP#<scope>``: an Idempotency-Key record (request fingerprint and the first response), with a TTL.

GSIs: ``bySid`` (pk ``sid``) for NCS events, ``byChannel`` (pk ``channel``, sk ``createdAt``) for listing,
``byStatus`` (pk ``activeStatus``, sk ``createdAt``) - sparse: only active recordings carry ``activeStatus`` -
for the reconciler. Every status change is a conditional write from the statuses ``logic.TRANSITIONS``
allows, so a late writer never moves a recording backwards.

Over 400 lines on purpose: this is the one place where a recording's DynamoDB conditions live; the use
cases call intent-named methods (``request_stop``, ``park_wait``, ``set_if_newer``, ``take_op_lock``, ...)
and never write an expression themselves.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import (
    ITEM_CONDITION_FAILED,
    cancellation_reasons,
    error_code,
    from_item,
    from_items,
    is_condition_failed,
    old_item,
    to_attr,
    to_item,
)
from service.recordings import logic

BY_SID = "bySid"
BY_CHANNEL = "byChannel"
BY_STATUS = "byStatus"
TTL_ATTRIBUTE = "expiresAt"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
TRANSACTION_RETRIES = 5
#: ``activeStatus`` of a FAILED recording whose recorder is not yet confirmed gone (see ``mark_cleanup``)
CLEANUP = "CLEANUP"


class ConditionFailed(Exception):
    """A conditional write lost; ``item`` is the item as it was (None if absent or not returned)."""

    def __init__(self, item: dict[str, Any] | None):
        super().__init__("conditional write failed")
        self.item = item


@dataclass(frozen=True)
class CreateOutcome:
    kind: Literal["created", "replay", "mismatch", "busy"]
    #: replay: the stored response; busy: the active recording's id
    response: dict[str, Any] | None = None
    active_recording_id: str | None = None


def rec_key(recording_id: str) -> str:
    return f"REC#{recording_id}"


def lock_key(channel: str) -> str:
    return f"CHANNEL#{channel}"


def idempotency_key(scope: str) -> str:
    return f"IDEMP#{scope}"


class RecordingsRepository:
    def __init__(self, table_name: str, *, client: Any = None, clock: Any = time.time):
        if not table_name:
            raise ValueError("table_name is required")
        self.table_name = table_name
        self._client = client
        self._clock = clock

    client = LazyClient("dynamodb")

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- reads --------------------------------------------------------------------------------
    def get(self, recording_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": rec_key(recording_id)}}, ConsistentRead=consistent
        ).get("Item")
        return from_item(raw)

    def get_lock(self, channel: str) -> dict[str, Any] | None:
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": lock_key(channel)}}, ConsistentRead=True
        ).get("Item")
        return from_item(raw)

    def get_idempotency(self, scope: str) -> dict[str, Any] | None:
        raw = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": idempotency_key(scope)}}, ConsistentRead=True
        ).get("Item")
        item = from_item(raw)
        if item is not None and int(item.get(TTL_ATTRIBUTE, 0)) < self._clock():
            return None  # expired; DynamoDB's TTL deletes lazily
        return item

    def by_sid(self, sid: str) -> dict[str, Any] | None:
        response = self.client.query(
            TableName=self.table_name,
            IndexName=BY_SID,
            KeyConditionExpression="sid = :sid",
            ExpressionAttributeValues={":sid": {"S": sid}},
            Limit=2,
        )
        items = from_items(response.get("Items", []))
        if not items:
            return None
        # a sid is unique; re-read from the table for a consistent view
        recording_id = items[0].get("recordingId")
        return self.get(str(recording_id)) if recording_id else None

    def list_by_channel(
        self, channel: str, *, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
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
        items = from_items(response.get("Items", []))
        return items, response.get("LastEvaluatedKey")

    def list_active(self, statuses: Iterable[str] = logic.ACTIVE_STATUSES) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for status in statuses:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": BY_STATUS,
                "KeyConditionExpression": "activeStatus = :s",
                "ExpressionAttributeValues": {":s": {"S": status}},
            }
            while True:
                response = self.client.query(**kwargs)
                out.extend(from_items(response.get("Items", [])))
                if not response.get("LastEvaluatedKey"):
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return out

    # -- creation: recording + channel lock + Idempotency-Key in one transaction --------------
    def create(
        self,
        recording: Mapping[str, Any],
        *,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        response: Mapping[str, Any] | None = None,
    ) -> CreateOutcome:
        """Create a recording if its channel is free, race-free (one transaction with three conditions).

        A lock left behind by a recording that already ended is removed and the creation retried.
        """
        from botocore.exceptions import ClientError

        channel = str(recording["channel"])
        recording_id = str(recording["recordingId"])
        now = self.now_ms()
        items: list[dict[str, Any]] = []
        if idempotency_scope:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(
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
                    "Item": to_item({"pk": lock_key(channel), "recordingId": recording_id, "createdAt": now}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        items.append(
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item({"pk": rec_key(recording_id), **recording}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        for attempt in range(TRANSACTION_RETRIES):
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
                lock = self.get_lock(channel)
                holder = str(lock.get("recordingId")) if lock else None
                if holder is None:
                    continue  # released meanwhile
                held = self.get(holder)
                if held is None or (logic.is_terminal(held.get("status")) and not held.get("recorderUnconfirmed")):
                    self.release_lock(channel, holder)  # a stale lock: its recording is over
                    continue
                return CreateOutcome("busy", active_recording_id=holder)
            # TransactionConflict (concurrent transactions on the same items): back off and retry
            time.sleep(0.02 * (attempt + 1))
        lock = self.get_lock(channel)
        return CreateOutcome("busy", active_recording_id=str(lock.get("recordingId")) if lock else None)

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
    ) -> dict[str, Any]:
        """One UpdateItem. Attribute paths may be dotted (``agoraErrors.17``); ``condition`` uses the
        caller's own ``#name``/``:value`` placeholders. Returns the new item; raises ConditionFailed."""
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

        sets = {"updatedAt": self.now_ms(), **(set_ or {})}
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
                raise ConditionFailed(old_item(exc)) from exc
            raise
        return from_item(response.get("Attributes")) or {}

    def transition(
        self,
        recording_id: str,
        target: str,
        *,
        set_: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, Any] | None = None,
        sources: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Move to ``target`` only from a status that may precede it; keeps the sparse status index in step."""
        allowed = tuple(sources) if sources is not None else logic.sources_of(target)
        if not allowed:
            raise ValueError(f"nothing may move to {target}")
        placeholders = {f":src{i}": s for i, s in enumerate(allowed)}
        fields: dict[str, Any] = {"status": target, **(set_ or {})}
        removals = list(remove)
        if logic.is_active(target):
            fields["activeStatus"] = target
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

    def request_stop(self, recording_id: str, reason: str) -> tuple[dict[str, Any] | None, bool]:
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

    def park_wait(self, recording_id: str, task_token: str) -> dict[str, Any]:
        """Store the workflow's task token while the recording is active; raises ConditionFailed otherwise."""
        active, values = self._active_condition()
        return self._update(
            recording_id,
            set_={"taskToken": task_token, "waitingSince": self.now_ms()},
            condition=active,
            names={"#status": "status"},
            values=values,
        )

    def record_error(self, recording_id: str, error: Mapping[str, Any]) -> None:
        """The last Agora error of a step (the fail handler reports it)."""
        self._update(recording_id, set_={"lastError": dict(error)})

    def keep_sid(self, recording_id: str, sid: str, started_at: int) -> None:
        """Remember a started recorder's sid whatever the status, so it can still be stopped."""
        self._update(recording_id, set_={"sid": sid, "startedAt": started_at})

    # -- a start whose outcome is unknown (``service.recordings.resolve``) ----------------------
    def mark_start_unknown(self, recording_id: str, state: Mapping[str, Any]) -> None:
        """``startResolution`` = ``state`` unless one is already under way (a retried start step)."""
        with contextlib.suppress(ConditionFailed):
            self._update(
                recording_id, set_={"startResolution": dict(state)},
                condition="#status = :starting AND attribute_not_exists(startResolution)",
                names={"#status": "status"}, values={":starting": logic.STARTING},
            )  # fmt: skip

    def update_start_resolution(self, recording_id: str, state: Mapping[str, Any]) -> None:
        self._update(recording_id, set_={"startResolution": dict(state)})

    def finish_start_resolution(self, recording_id: str, resolutions: list[dict[str, Any]]) -> None:
        """The recorder is gone: the start may be tried afresh (a new acquire, a new uid)."""
        self._update(recording_id, set_={"resolutions": resolutions}, remove=["startResolution", "candidateSid"])

    def offer_candidate_sid(self, channel: str, uid: int, sid: str) -> bool:
        """An NCS event named ``sid`` for recorder ``uid`` of ``channel``: if the channel's recording is
        still STARTING with that recorder uid and no sid, remember the sid for the resolve step."""
        lock = self.get_lock(channel)
        if not lock or not lock.get("recordingId"):
            return False
        try:
            self._update(
                str(lock["recordingId"]), set_={"candidateSid": sid},
                condition="#status = :starting AND recorderUid = :uid AND attribute_not_exists(sid)",
                names={"#status": "status"}, values={":starting": logic.STARTING, ":uid": uid},
            )  # fmt: skip
        except ConditionFailed:
            return False
        return True

    def mark_cleanup(self, recording_id: str, reason: str) -> None:
        """A FAILED recording whose recorder could not be confirmed gone: it keeps its channel lock and sits
        in the status index as CLEANUP, so the reconciler tries again."""
        self._update(recording_id, set_={"recorderUnconfirmed": reason, "activeStatus": CLEANUP})

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
        self, recording_id: str, kind: str, key: str, entry: Mapping[str, Any], *, max_entries: int
    ) -> bool:
        """``kind.key = entry`` (a resend overwrites itself) unless the map already holds ``max_entries``."""
        try:
            self._update(
                recording_id,
                set_={f"{kind}.{key}": dict(entry)},
                condition=f"attribute_exists({kind}.#k) OR size({kind}) < :max",
                names={"#k": key},
                values={":max": max_entries},
            )
        except ConditionFailed:
            return False
        return True

    def take_op_lock(self, recording_id: str, owner: str, seconds: int) -> dict[str, Any]:
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

    def mark_seen(self, recording_id: str) -> bool:
        """Agora says the recorder still runs: ``lastSeenAt`` = now, while the recording is RECORDING."""
        try:
            self._update(
                recording_id, set_={"lastSeenAt": self.now_ms()},
                condition="#status = :rec", names={"#status": "status"}, values={":rec": logic.RECORDING},
            )  # fmt: skip
        except ConditionFailed:
            return False
        return True

    # -- CDN push (web mode) ----------------------------------------------------------------------
    def set_cdn_urls(self, recording_id: str, urls: list[str]) -> None:
        """The web recording's current CDN addresses, after Agora accepted an update of them."""
        self._update(recording_id, set_={"cdnUrls": list(urls)}, condition="attribute_exists(cdnUrls)")

    def set_cdn_status(
        self, recording_id: str, key: str, entry: Mapping[str, Any], sequence: int | None, *, max_entries: int
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
                set_={f"cdnOutputs.{key}": dict(entry) if sequence is None else {**entry, "seq": sequence}},
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
