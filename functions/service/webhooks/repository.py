"""The NCS inbox (InboxTable, pk ``noticeId``): one conditional PutItem per accepted event, nothing else on
the request path.

The key is the notice *per product*: ``noticeId`` holds ``"<productId>:<noticeId>"`` (``inbox_key``) and
``ncsNoticeId`` the id as Agora sent it. Agora's notice ids are unique within a product only, so a cloud
recording notice that reuses an RTC notice's id is a new event, not a duplicate (docs/decisions.md). The
attribute keeps its name: renaming a table's key replaces the table.

Its stream (NEW_IMAGE, INSERT) feeds the processor. Presence, which the processor
writes, has its own module: ``service.presence``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import is_condition_failed

# ---------------------------------------------------------------------------------------------- inbox


#: DynamoDB's item size limit (names + values); an item above it can never be written
MAX_ITEM_BYTES = 400 * 1024


def inbox_key(product_id: int, notice_id: str) -> str:
    """The inbox's partition key: the notice id is unique per product, not across products."""
    return f"{product_id}:{notice_id}"


def item_size(item: dict[str, Any]) -> int:
    """The size DynamoDB counts for a flat item of S and N attributes (name bytes + value bytes)."""
    total = 0
    for name, value in item.items():
        total += len(name.encode("utf-8"))
        if "S" in value:
            total += len(value["S"].encode("utf-8"))
        else:  # numbers: about one byte per two significant digits, plus one; the digits bound it
            total += len(str(value["N"])) + 1
    return total


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

    @property
    def key(self) -> str:
        return inbox_key(self.product_id, self.notice_id)

    def to_item(self) -> dict[str, Any]:
        item = {
            "noticeId": {"S": self.key},
            "ncsNoticeId": {"S": self.notice_id},
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
        """Store ``record`` unless its key (product + noticeId) is already there. True if stored, False for a
        duplicate."""
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
            if record.key in self.items:
                return False
            self.items[record.key] = item
        return True
