"""The TranscriptionsTable: transcription records, per-channel locks and agent pointers, in one table.

Items (partition key ``pk``):
- ``TX#<id>``: the transcription (``record.to_item``), with ``kind`` and ``createdAt`` for the ``byKind`` index
  and ``channel`` for the ``byChannel`` index (both sorted by ``createdAt``).
- ``TXLOCK#<channel>``: ``transcriptionId`` of the channel's one active transcription.
- ``TXAGENT#<agent id>``: ``transcriptionId`` (NCS product 20 names the agent as ``sid``).
- ``TXRUNNING``: ``running``, the transcriptions holding one of the stack's running places
  (``transcriptionsMaxRunning``, docs/transcriptions.md "Running cap"). ``create`` takes one in its transaction
  (``running < max``) and marks the record ``counted``; the move into a terminal state gives it back in one
  transaction with the move, which also removes ``counted``: once, whatever path ends the transcription.

Every write is conditional: a status moves only from the state the caller read (``move``), ``sequenceId`` is
increased by one conditional ``UpdateItem`` (two concurrent updates get two numbers), a configuration is stored
only if its ``sequenceId`` is newer than the stored one.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import cancellation_reasons, from_item, from_items, is_condition_failed, to_attr, to_item
from service.channeltasks import running
from service.transcriptions import logic
from service.transcriptions.ports import AtCapacity, ChannelBusy, ConditionFailed
from service.transcriptions.record import Transcription
from service.transcriptions.record import from_item as record_from_item
from service.transcriptions.record import to_item as record_to_item

BY_KIND = "byKind"
#: the counter of running places (one item)
RUNNING_KEY: Final = {"pk": {"S": "TXRUNNING"}}
#: attempts of a create whose transaction met another on the counter item (TransactionConflict)
CREATE_CONFLICT_RETRIES: Final = 8
BY_CHANNEL = "byChannel"


def tx_key(transcription_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TX#{transcription_id}"}}


def lock_key(channel: str) -> dict[str, Any]:
    return {"pk": {"S": f"TXLOCK#{channel}"}}


def agent_key(agent_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"TXAGENT#{agent_id}"}}


def _encode_cursor(key: Mapping[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode() if key else None


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise ValueError("cursor is not one this API gave") from None
    if not isinstance(key, dict):
        raise ValueError("cursor is not one this API gave")
    return key


class TranscriptionsRepository:
    def __init__(self, table_name: str, *, client: Any = None, clock: Callable[[], float] = time.time):
        if not table_name:
            raise ValueError("table_name is required")
        self.table_name = table_name
        self._client = client
        self._clock = clock

    client = LazyClient("dynamodb")

    # -- reads ------------------------------------------------------------------------------------
    def get(self, transcription_id: str) -> Transcription | None:
        raw = self.client.get_item(TableName=self.table_name, Key=tx_key(transcription_id), ConsistentRead=True)
        item = from_item(raw.get("Item"))
        return record_from_item(item) if item else None

    def by_agent(self, agent_id: str) -> Transcription | None:
        raw = self.client.get_item(TableName=self.table_name, Key=agent_key(agent_id), ConsistentRead=True)
        pointer = from_item(raw.get("Item"))
        return self.get(str(pointer["transcriptionId"])) if pointer else None

    def list(
        self, *, channel: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Transcription], str | None]:
        if channel is not None:
            index, condition, values = BY_CHANNEL, "channel = :v", {":v": {"S": channel}}
        else:
            index, condition, values = BY_KIND, "kind = :v", {":v": {"S": "transcription"}}
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = _decode_cursor(cursor)
        if start is not None:
            params["ExclusiveStartKey"] = start
        answer = self.client.query(**params)
        items = [record_from_item(i) for i in from_items(answer.get("Items", []))]
        return items, _encode_cursor(answer.get("LastEvaluatedKey"))

    def active(self) -> tuple[Transcription, ...]:
        """Every transcription not ended (the reconciler's side of the comparison): byKind, every page, filtered
        on the status (the ended ones are read and dropped by DynamoDB, as the agents' reconciler does)."""
        live = sorted(logic.ACTIVE)
        names = {f":s{n}": {"S": state} for n, state in enumerate(live)}
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_KIND,
            "KeyConditionExpression": "kind = :kind",
            "FilterExpression": f"#s IN ({', '.join(names)})",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":kind": {"S": "transcription"}, **names},
        }
        found: list[Transcription] = []
        while True:
            page = self.client.query(**params)
            found += [record_from_item(i) for i in from_items(page.get("Items", []))]
            if not page.get("LastEvaluatedKey"):
                return tuple(sorted(found, key=lambda t: (t.created_at_ms, t.id)))
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- writes -----------------------------------------------------------------------------------
    def running(self) -> int:
        raw = self.client.get_item(TableName=self.table_name, Key=RUNNING_KEY, ConsistentRead=True)
        item = from_item(raw.get("Item"))
        return int(item.get("running") or 0) if item else 0

    def _counter(self, delta: int, max_running: int | None = None) -> dict[str, Any]:
        return running.counter_update(self.table_name, RUNNING_KEY, delta, max_running)

    def create(self, transcription: Transcription, *, max_running: int | None = None) -> None:
        item = {**record_to_item(transcription), "counted": True}
        items = [
            {"Put": {"TableName": self.table_name, "Item": to_item(item),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self.table_name,
                     "Item": {**lock_key(transcription.channel), "transcriptionId": {"S": transcription.id}},
                     "ConditionExpression": "attribute_not_exists(pk) OR transcriptionId = :id",
                     "ExpressionAttributeValues": {":id": {"S": transcription.id}},
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            self._counter(+1, max_running),
        ]  # fmt: skip
        for attempt in range(CREATE_CONFLICT_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except Exception as exc:
                reasons = cancellation_reasons(exc)
                if reasons is None:
                    raise
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise ChannelBusy(self._lock_holder(transcription.channel)) from None
                if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                    raise AtCapacity(max_running or 0) from None
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise ConditionFailed(self.get(transcription.id)) from None
                if "TransactionConflict" not in reasons:
                    raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise RuntimeError("the transcriptions' running counter stayed contended; try again")

    def _lock_holder(self, channel: str) -> str | None:
        raw = self.client.get_item(TableName=self.table_name, Key=lock_key(channel), ConsistentRead=True)
        lock = from_item(raw.get("Item"))
        return str(lock["transcriptionId"]) if lock else None

    def _update(self, transcription_id: str, **params: Any) -> Transcription:
        try:
            answer = self.client.update_item(
                TableName=self.table_name, Key=tx_key(transcription_id), ReturnValues="ALL_NEW", **params
            )
        except Exception as exc:
            if is_condition_failed(exc):
                raise ConditionFailed(self.get(transcription_id)) from None
            raise
        item = from_item(answer.get("Attributes"))
        assert item is not None
        return record_from_item(item)

    def attach_agent(
        self, transcription_id: str, agent_id: str, generation: int, at_ms: int, token_expires_ms: int | None = None
    ) -> Transcription:
        self.client.put_item(
            TableName=self.table_name,
            Item={**agent_key(agent_id), "transcriptionId": {"S": transcription_id}},
        )
        current = self.get(transcription_id)
        if current is None or current.status in logic.TERMINAL or current.generation > generation:
            raise ConditionFailed(current)
        if agent_id in current.agents:  # attached already (a notice that beat the join's answer): its token only
            return self._token_expiry(current, agent_id, token_expires_ms)
        status = logic.STARTING if current.status == logic.REQUESTED else current.status
        started = current.started_at_ms if generation == current.generation and current.started_at_ms else at_ms
        token = "tokenExpiresAt = :token" if token_expires_ms is not None else None
        values: dict[str, Any] = {
            ":agent": {"S": agent_id},
            ":gen": {"N": str(generation)},
            ":status": {"S": status},
            ":current": {"S": current.status},
            ":statusAt": {"N": str(at_ms if status != current.status else current.status_at_ms)},
            ":started": {"N": str(started)},
            ":empty": {"L": []},
            ":agents": {"L": [{"S": agent_id}]},
        }
        if token_expires_ms is not None:
            values[":token"] = {"N": str(token_expires_ms)}
        return self._update(
            transcription_id,
            UpdateExpression=(
                "SET agentId = :agent, generation = :gen, #s = :status, statusAt = :statusAt, "
                "startedAt = :started, agents = list_append(if_not_exists(agents, :empty), :agents)"
                + (f", {token}" if token else " REMOVE tokenExpiresAt")
            ),
            ConditionExpression="#s = :current AND generation <= :gen AND NOT contains(agents, :agent)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
        )

    def _token_expiry(self, current: Transcription, agent_id: str, token_expires_ms: int | None) -> Transcription:
        """The current agent's bot token expiry, stored when the join's answer comes after a notice attached it."""
        if token_expires_ms is None or current.agent_id != agent_id or current.token_expires_ms == token_expires_ms:
            return current
        try:
            return self._update(
                current.id,
                UpdateExpression="SET tokenExpiresAt = :token",
                ConditionExpression="agentId = :agent",
                ExpressionAttributeValues={":token": {"N": str(token_expires_ms)}, ":agent": {"S": agent_id}},
            )
        except ConditionFailed as exc:  # a later generation took over meanwhile: its own expiry stands
            return exc.item or current

    def move(
        self,
        transcription_id: str,
        source: str,
        target: str,
        at_ms: int,
        *,
        reason: str | None = None,
        error: str | None = None,
    ) -> Transcription:
        sets = ["#s = :target", "statusAt = :at"]
        values: dict[str, Any] = {":target": {"S": target}, ":source": {"S": source}, ":at": {"N": str(at_ms)}}
        if target in logic.TERMINAL:
            sets.append("endedAt = :at")
        if reason is not None:
            sets.append("stopReason = :reason")
            values[":reason"] = {"S": reason}
        if error is not None:
            sets.append("lastError = :error")
            values[":error"] = {"S": error}
        if target in logic.TERMINAL and self._end_counted(transcription_id, sets, values):
            moved = self.get(transcription_id)
            assert moved is not None
        else:
            moved = self._update(
                transcription_id,
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#s = :source",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
        if target in logic.TERMINAL:
            try:
                self.client.delete_item(
                    TableName=self.table_name,
                    Key=lock_key(moved.channel),
                    ConditionExpression="transcriptionId = :id",
                    ExpressionAttributeValues={":id": {"S": transcription_id}},
                )
            except Exception as exc:
                if not is_condition_failed(exc):  # someone else's lock (or none): nothing of ours to release
                    raise
        return moved

    def _end_counted(self, transcription_id: str, sets: Sequence[str], values: dict[str, Any]) -> bool:
        """The move into a terminal state of a record holding a running place, and the place given back, in one
        transaction (conditional on the status and on ``counted``, which it removes). False when the record holds
        no place (created before the cap, or by a store without it): the caller moves it alone."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Update": {"TableName": self.table_name, "Key": tx_key(transcription_id),
                                "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE counted",
                                "ConditionExpression": "#s = :source AND counted = :yes",
                                "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": {**values, ":yes": {"BOOL": True}}}},
                    self._counter(-1),
                ]
            )  # fmt: skip
        except Exception as exc:
            reasons = cancellation_reasons(exc)
            if not reasons or reasons[0] != "ConditionalCheckFailed":
                raise
            current = self.get(transcription_id)
            if current is None or current.status != values[":source"]["S"]:
                raise ConditionFailed(current) from None
            return False  # the status is as read: it holds no place (or a racing end took it); a plain move
        return True

    def next_sequence(self, transcription_id: str) -> int:
        updatable = sorted(logic.UPDATABLE)
        names = {f":u{i}": {"S": s} for i, s in enumerate(updatable)}
        moved = self._update(
            transcription_id,
            UpdateExpression="SET sequenceId = sequenceId + :one",
            ConditionExpression=f"#s IN ({', '.join(names)})",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":one": {"N": "1"}, **names},
        )
        return moved.sequence_id

    def save_config(
        self,
        transcription_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> bool:
        sets = ["appliedSequence = :seq"]
        names: dict[str, str] = {}
        values: dict[str, Any] = {":seq": {"N": str(sequence_id)}}
        if languages is not None:
            sets.append("#languages = :languages")
            names["#languages"] = "languages"
            values[":languages"] = to_attr(list(languages))
        if subscribe_uids is not None:
            sets.append("#subscribe = :subscribe")
            names["#subscribe"] = "subscribeUids"
            values[":subscribe"] = to_attr(list(subscribe_uids))
        if translate is not None:
            sets.append("#translate = :translate")
            names["#translate"] = "translate"
            values[":translate"] = to_attr({k: list(v) for k, v in translate.items()})
        try:
            self._update(
                transcription_id,
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND appliedSequence < :seq",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except ConditionFailed as exc:
            if exc.item is None:
                raise
            return False
        return True

    def add_files(self, transcription_id: str, keys: Iterable[str]) -> None:
        unique = set(keys)
        if not unique:
            return
        self._update(
            transcription_id,
            UpdateExpression="ADD files :keys",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":keys": {"SS": sorted(unique)}},
        )


def create_table(client: Any, name: str) -> None:
    """The table as ``infra/constructs/transcriptions.py`` declares it (tests and the local stack)."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "channel", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": BY_KIND, "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"},
                                                 {"AttributeName": "createdAt", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": BY_CHANNEL, "KeySchema": [{"AttributeName": "channel", "KeyType": "HASH"},
                                                    {"AttributeName": "createdAt", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
        ],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
