"""The NCS inbox (InboxTable, pk ``noticeId``): one conditional PutItem per accepted event, nothing else on
the request path. Its stream (NEW_IMAGE, INSERT) feeds the processor. Presence, which the processor
writes, has its own module: ``service.presence``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import is_condition_failed

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

    client = LazyClient("dynamodb")

    def put_new(self, record: InboxRecord) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(noticeId)",
            )
        except Exception as exc:
            if is_condition_failed(exc):
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
