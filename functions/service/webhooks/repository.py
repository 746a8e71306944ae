"""Storage of the webhook capability: the NCS inbox and the RTC presence table.

Inbox (InboxTable, pk ``noticeId``): one conditional PutItem per accepted event, nothing else on the
request path. Its stream (NEW_IMAGE, INSERT) feeds the processor.

Presence (PresenceTable, pk ``channel``, sk ``uid``): one item per (channel, uid) with the uid as a
decimal string (uids reach 2^32-1, so never an int32), plus one channel item with sk ``#channel``.
Ordering is enforced by the writes themselves (conditional on ``clientSeq`` / ``ts``), so duplicates,
reordering and retried batches converge on the in-order result whatever the processing order.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

CHANNEL_SK = "#channel"
CONDITIONAL_FAILED = "ConditionalCheckFailedException"


# ---------------------------------------------------------------------------------------------- values


def to_attr(value: Any) -> dict[str, Any]:
    """A DynamoDB AttributeValue for the few types we store (no boto3 needed)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {"L": [{"S": v} for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_attr(attr: Mapping[str, Any]) -> Any:
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        text = attr["N"]
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if "BOOL" in attr:
        return attr["BOOL"]
    if "NULL" in attr:
        return None
    if "L" in attr:
        return [from_attr(v) for v in attr["L"]]
    if "M" in attr:
        return {k: from_attr(v) for k, v in attr["M"].items()}
    if "SS" in attr:
        return set(attr["SS"])
    if "NS" in attr:
        return {int(v) for v in attr["NS"]}
    raise TypeError(f"unsupported attribute {sorted(attr)}")


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in item.items()}


def is_conditional_failure(exc: BaseException) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == CONDITIONAL_FAILED


def _dynamodb() -> Any:
    from service.adapters.aws import client

    return client("dynamodb")


# ---------------------------------------------------------------------------------------------- inbox


@dataclass(frozen=True, slots=True)
class InboxRecord:
    notice_id: str
    product_id: int
    event_type: int
    body: str  # the exact request body (UTF-8 text), so it can be re-verified and replayed
    received_ms: int
    expires_at: int  # epoch seconds, the table's TTL attribute
    signature: str  # "v2" or "v1"
    notify_ms: int | None = None
    sid: str | None = None
    cname: str | None = None

    def to_item(self) -> dict[str, Any]:
        item = {
            "noticeId": {"S": self.notice_id},
            "productId": {"N": str(self.product_id)},
            "eventType": {"N": str(self.event_type)},
            "body": {"S": self.body},
            "receivedAt": {"N": str(self.received_ms)},
            "expiresAt": {"N": str(self.expires_at)},
            "signature": {"S": self.signature},
        }
        if self.notify_ms is not None:
            item["notifyMs"] = {"N": str(self.notify_ms)}
        if self.sid:
            item["sid"] = {"S": self.sid}
        if self.cname:
            item["cname"] = {"S": self.cname}
        return item


class InboxRepository(Protocol):
    def put_new(self, record: InboxRecord) -> bool:
        """Store ``record`` unless its noticeId is already there. True if stored, False for a duplicate."""
        ...


class DynamoDBInbox:
    """The production inbox: exactly one conditional PutItem per call."""

    def __init__(self, table_name: str, *, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _dynamodb()
        return self._client

    def put_new(self, record: InboxRecord) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(noticeId)",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True


class MemoryInbox:
    """The same contract in memory: for the benchmark (our code path minus AWS) and for unit tests."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put_new(self, record: InboxRecord) -> bool:
        item = record.to_item()
        with self._lock:
            if record.notice_id in self.items:
                return False
            self.items[record.notice_id] = item
        return True


# ---------------------------------------------------------------------------------------------- presence


class PresenceStore(Protocol):
    def put_user(
        self, channel: str, uid: int, *, seq: int, values: Mapping[str, Any], session: Mapping[str, Any] | None
    ) -> bool: ...

    def fill_session(self, channel: str, uid: int, *, seq: int, session: Mapping[str, Any]) -> bool: ...

    def put_channel(self, channel: str, *, ts: int, values: Mapping[str, Any]) -> bool: ...

    def mark_left_by_destroy(self, channel: str, uid: int, *, ts: int, values: Mapping[str, Any]) -> bool: ...

    def channel_items(self, channel: str) -> list[dict[str, Any]]: ...


class _Expression:
    """Builds ``SET``/``REMOVE`` update expressions: a None value means REMOVE the attribute."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._set: list[str] = []
        self._remove: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_attr(value)
        return placeholder

    def set_placeholders(self, name: str, value: str) -> None:
        self._set.append(f"{name} = {value}")

    def assign(self, attributes: Mapping[str, Any]) -> _Expression:
        for attribute, value in attributes.items():
            if value is None:
                self._remove.append(self.name(attribute))
            else:
                self._set.append(f"{self.name(attribute)} = {self.value(value)}")
        return self

    def update(self) -> str:
        parts = []
        if self._set:
            parts.append("SET " + ", ".join(self._set))
        if self._remove:
            parts.append("REMOVE " + ", ".join(self._remove))
        return " ".join(parts)

    def kwargs(self, condition: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "UpdateExpression": self.update(),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": self.names,
        }
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


class DynamoDBPresence:
    """Presence in DynamoDB; every write is one UpdateItem whose condition enforces the event order."""

    def __init__(self, table_name: str, *, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _dynamodb()
        return self._client

    def _key(self, channel: str, sk: str) -> dict[str, Any]:
        return {"channel": {"S": channel}, "uid": {"S": sk}}

    def _conditional_update(self, key: dict[str, Any], kwargs: dict[str, Any]) -> bool:
        try:
            self.client.update_item(TableName=self.table_name, Key=key, **kwargs)
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def put_user(
        self, channel: str, uid: int, *, seq: int, values: Mapping[str, Any], session: Mapping[str, Any] | None
    ) -> bool:
        """Apply the state of an event with ``clientSeq`` = seq, only if newer than the stored one."""
        expr = _Expression()
        seq_name = expr.name("clientSeq")
        seq_value = expr.value(seq)
        expr.set_placeholders(seq_name, seq_value)
        attributes = {k: v for k, v in values.items() if k != "clientSeq"}
        if session is not None:
            attributes.update(session)
            attributes["sessionSeq"] = seq
        expr.assign(attributes)
        condition = f"attribute_not_exists({seq_name}) OR {seq_name} < {seq_value}"
        return self._conditional_update(self._key(channel, str(uid)), expr.kwargs(condition))

    def fill_session(self, channel: str, uid: int, *, seq: int, session: Mapping[str, Any]) -> bool:
        """A stale join/leave still describes the session if no newer session-carrying event did."""
        expr = _Expression()
        seq_name = expr.name("sessionSeq")
        seq_value = expr.value(seq)
        expr.set_placeholders(seq_name, seq_value)
        expr.assign({k: v for k, v in session.items() if k != "sessionSeq"})
        condition = f"attribute_exists(#pk) AND (attribute_not_exists({seq_name}) OR {seq_name} < {seq_value})"
        expr.names["#pk"] = "channel"
        return self._conditional_update(self._key(channel, str(uid)), expr.kwargs(condition))

    def put_channel(self, channel: str, *, ts: int, values: Mapping[str, Any]) -> bool:
        """Channel create/destroy, ordered by ``ts`` (seconds); on a tie the first one processed stays."""
        expr = _Expression()
        ts_name = expr.name("ts")
        ts_value = expr.value(ts)
        expr.set_placeholders(ts_name, ts_value)
        expr.assign({k: v for k, v in values.items() if k != "ts"})
        condition = f"attribute_not_exists({ts_name}) OR {ts_name} < {ts_value}"
        return self._conditional_update(self._key(channel, CHANNEL_SK), expr.kwargs(condition))

    def mark_left_by_destroy(self, channel: str, uid: int, *, ts: int, values: Mapping[str, Any]) -> bool:
        """After a channel destroy at ``ts``: a user still "in" from an earlier event (eventTs < ts) has left.

        ``clientSeq`` is kept, so the user's own leave (or a later join) still applies afterwards.
        """
        expr = _Expression()
        state = expr.name("state")
        event_ts = expr.name("eventTs")
        in_value = expr.value("in")
        ts_value = expr.value(ts)
        expr.assign(values)
        condition = f"{state} = {in_value} AND {event_ts} < {ts_value}"
        return self._conditional_update(self._key(channel, str(uid)), expr.kwargs(condition))

    def channel_items(self, channel: str) -> list[dict[str, Any]]:
        """Every item of the channel (users and the channel item), strongly consistent, all pages."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": "channel"},
            "ExpressionAttributeValues": {":c": {"S": channel}},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            items.extend(from_item(item) for item in page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last
