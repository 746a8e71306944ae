"""The AgentsTable: agent records, the (channel, profile) slots, and the Agora-id index, in one table.

Items (partition key ``pk``):
- ``AGENT#<agent id>``: the record (``AgentRecord.to_item``); every save is conditional on ``version``.
- ``AGSLOT#<channel>#<profile>``: ``agentId`` of the one active exclusive agent of that profile in the channel.
- ``AGORA#<agora agent id>``: ``agentId``, so NCS notifications (which carry Agora's id) find the record.
- ``AGRUNNING``: ``running``, the count of agents holding one of the stack's running places (``agentsMaxRunning``,
  docs/agents.md "Running cap").

``create`` is one transaction (the record, its slot, and one running place: ``running < max`` as the counter's
condition, so concurrent starts never pass the cap); a save that ends the agent releases the slot and gives the
place back in the same transaction, so a slot never outlives its agent except by a crash between them, which
``create`` repairs (a slot whose holder has ended is taken over, conditionally). The place is given back once: the
record's ``counted`` is cleared by that same write, and every save is conditional on the record's version.

Listing queries a GSI, never scans: ``byChannel`` (``channel``, ``createdMs``) for one channel, ``byKind``
(``kind`` = ``agent``, ``createdMs``) for all agents (the reconciler). Only records carry ``channel``/``kind``:
slots and pointers stay out of both indexes. (The indexes are read eventually consistent: a record saved a
moment ago may be missing from a list, never from ``get``.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import cancellation_reasons, from_item, from_items, is_condition_failed, to_item
from service.agents.ports import AtCapacity, SlotTaken, StaleRecord
from service.agents.record import AgentRecord
from service.channeltasks import lifecycle, running

AGENT_PREFIX = "AGENT#"
#: the counter of running places (one item: a start and an end each write it once)
RUNNING_KEY: Final = "AGRUNNING"
#: attempts of a create whose transaction met another on the counter item (TransactionConflict)
CREATE_CONFLICT_RETRIES: Final = 8
BY_CHANNEL = "byChannel"
BY_KIND = "byKind"
KIND = "agent"
#: the table's key schema and indexes, as infra/constructs/agents.py declares them (tests build the table from it)
TABLE_KEYS: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "channel", "AttributeType": "S"},
        {"AttributeName": "kind", "AttributeType": "S"},
        {"AttributeName": "createdMs", "AttributeType": "N"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": index,
            "KeySchema": [
                {"AttributeName": hash_key, "KeyType": "HASH"},
                {"AttributeName": "createdMs", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for index, hash_key in ((BY_CHANNEL, "channel"), (BY_KIND, "kind"))
    ],
}


def agent_key(agent_id: str) -> str:
    return AGENT_PREFIX + agent_id


def slot_key(channel: str, profile: str) -> str:
    return f"AGSLOT#{channel}#{profile}"


def agora_key(agora_agent_id: str) -> str:
    return "AGORA#" + agora_agent_id


class AgentsRepository:
    def __init__(self, table_name: str, *, client: Any = None, clock: Callable[[], float] = time.time):
        if not table_name:
            raise ValueError("table_name is required")
        self.table_name = table_name
        self._client = client
        self._clock = clock

    client = LazyClient("dynamodb")

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _get_plain(self, pk: str) -> dict[str, Any] | None:
        raw = self.client.get_item(TableName=self.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
        return from_item(raw)

    def get(self, agent_id: str) -> AgentRecord | None:
        item = self._get_plain(agent_key(agent_id))
        return AgentRecord.from_item(item) if item else None

    def by_agora_id(self, agora_agent_id: str) -> AgentRecord | None:
        pointer = self._get_plain(agora_key(agora_agent_id))
        return self.get(str(pointer["agentId"])) if pointer else None

    def running(self) -> int:
        item = self._get_plain(RUNNING_KEY)
        return int(item.get("running") or 0) if item else 0

    def _counter(self, delta: int, max_running: int | None = None) -> dict[str, Any]:
        return running.counter_update(self.table_name, {"pk": {"S": RUNNING_KEY}}, delta, max_running)

    def create(self, record: AgentRecord, *, max_running: int | None = None) -> None:
        for _ in range(3):
            try:
                self._create_once(record, max_running)
                return
            except SlotTaken as taken:
                holder = self.get(taken.holder) if taken.holder else None
                if holder is not None and not lifecycle.is_terminal(holder.state):
                    raise
                self._drop_slot(record, taken.holder)  # a slot left by an ended agent (a crash): take it over
        raise SlotTaken(None)

    def _create_once(self, record: AgentRecord, max_running: int | None) -> None:
        from botocore.exceptions import ClientError

        stored = record.with_(version=0, counted=True)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item({"pk": agent_key(record.agent_id), "kind": KIND, **stored.to_item()}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if record.exclusive:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item({"pk": slot_key(record.channel, record.profile), "agentId": record.agent_id}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        counter = len(items)
        items.append(self._counter(+1, max_running))
        for attempt in range(CREATE_CONFLICT_RETRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                reasons = cancellation_reasons(exc) or []
                if record.exclusive and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    slot = self._get_plain(slot_key(record.channel, record.profile))
                    raise SlotTaken(str(slot["agentId"]) if slot else None) from None
                if len(reasons) > counter and reasons[counter] == "ConditionalCheckFailed":
                    raise AtCapacity(max_running or 0) from None
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise StaleRecord(self.get(record.agent_id)) from None
                if "TransactionConflict" not in reasons:
                    raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise RuntimeError("the agents' running counter stayed contended; try again")

    def _drop_slot(self, record: AgentRecord, holder: str | None) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": slot_key(record.channel, record.profile)}},
                ConditionExpression="agentId = :holder",
                ExpressionAttributeValues={":holder": {"S": holder or ""}},
            )
        except ClientError as exc:
            if not is_condition_failed(exc):
                raise

    def save(self, record: AgentRecord) -> AgentRecord:
        from botocore.exceptions import ClientError

        ending = lifecycle.is_terminal(record.state)
        saved = record.with_(version=record.version + 1, counted=record.counted and not ending)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item({"pk": agent_key(record.agent_id), "kind": KIND, **saved.to_item()}),
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(record.version)}},
                }
            }
        ]
        if ending and record.counted:  # the running place, given back with the write that clears ``counted``
            items.append(self._counter(-1))
        slot = len(items)
        if ending and record.exclusive:
            items.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": slot_key(record.channel, record.profile)}},
                        "ConditionExpression": "attribute_not_exists(pk) OR agentId = :me",
                        "ExpressionAttributeValues": {":me": {"S": record.agent_id}},
                    }
                }
            )
        try:
            self._write(items)
        except ClientError as exc:
            reasons = cancellation_reasons(exc) or []
            if is_condition_failed(exc) or (reasons and reasons[0] == "ConditionalCheckFailed"):
                raise StaleRecord(self.get(record.agent_id)) from None
            if len(reasons) > slot and reasons[slot] == "ConditionalCheckFailed":  # the slot is another's: keep it
                try:
                    self._write(items[:slot])
                except ClientError as again:
                    if (
                        is_condition_failed(again)
                        or (cancellation_reasons(again) or [""])[0] == "ConditionalCheckFailed"
                    ):
                        raise StaleRecord(self.get(record.agent_id)) from None
                    raise
            else:
                raise
        if record.agora_agent_id:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item({"pk": agora_key(record.agora_agent_id), "agentId": record.agent_id}),
            )
        return saved

    def _write(self, items: list[dict[str, Any]]) -> None:
        if len(items) == 1:
            self.client.put_item(**items[0]["Put"])
        else:
            self.client.transact_write_items(TransactItems=items)

    def list(self, *, channel: str | None = None, active_only: bool = False) -> list[AgentRecord]:
        if channel is not None:
            index, key, value = BY_CHANNEL, "channel", channel
        else:
            index, key, value = BY_KIND, "kind", KIND
        kwargs: dict[str, Any] = {"TableName": self.table_name, "IndexName": index,
                                  "KeyConditionExpression": "#k = :v", "ExpressionAttributeNames": {"#k": key},
                                  "ExpressionAttributeValues": {":v": {"S": value}}}  # fmt: skip
        records: list[AgentRecord] = []
        while True:
            page = self.client.query(**kwargs)
            records += [AgentRecord.from_item(item) for item in from_items(page.get("Items") or [])]
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if active_only:
            records = [r for r in records if lifecycle.is_active(r.state)]
        return sorted(records, key=lambda r: (r.created_ms, r.agent_id))
