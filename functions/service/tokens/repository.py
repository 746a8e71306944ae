"""Subject -> uid mapping in DynamoDB, allocated race-free.

Two items per user: ``SUB#<subject>`` holds the uid and ``UID#<uid>`` holds the subject. Both are
written in one transaction with ``attribute_not_exists`` conditions, so two concurrent first requests
of one subject end with the same uid (the loser re-reads the winner's item), and no uid is ever given
to two subjects. The first candidate uid is derived from the subject (stable across retries); on a
collision the next candidates are random. A transaction conflict (another transaction on the same items,
which DynamoDB reports instead of waiting) retries the same candidate after a short back-off, so the
subject keeps its derived uid. Recorder bots use a reserved range that is never allocated.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from agorakit.ids import USER_UID_MAX, USER_UID_MIN

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import ITEM_CONDITION_FAILED, cancellation_reasons

MAX_ALLOCATION_ATTEMPTS = 8


class UidAllocationError(RuntimeError):
    """No free uid was found in MAX_ALLOCATION_ATTEMPTS tries (practically impossible below ~1e9 users)."""


class UidRepository(Protocol):
    def uid_for(self, subject: str) -> int: ...


class CachedUidRepository:
    """Remembers subject -> uid in the container, so a returning user's warm request reads nothing.

    Sound without any expiry: a mapping never changes once allocated (both items are written once, under
    ``attribute_not_exists``, and nothing updates or deletes them), so a cached uid can never be stale.
    The cache is bounded (least recently used first out) only to bound memory in a long-lived container.
    """

    def __init__(self, inner: UidRepository, *, max_entries: int = 10_000):
        self._inner = inner
        self._max_entries = max_entries
        self._uids: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def uid_for(self, subject: str) -> int:
        with self._lock:
            uid = self._uids.get(subject)
            if uid is not None:
                self._uids.move_to_end(subject)
                return uid
        uid = self._inner.uid_for(subject)
        if self._max_entries > 0:
            with self._lock:
                self._uids[subject] = uid
                while len(self._uids) > self._max_entries:
                    self._uids.popitem(last=False)
        return uid


def candidate_uids(subject: str, rng: random.Random | None = None):
    """The deterministic first candidate for ``subject``, then random ones."""
    span = USER_UID_MAX - USER_UID_MIN + 1
    digest = int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big")
    yield USER_UID_MIN + digest % span
    rng = rng or random.SystemRandom()
    while True:
        yield rng.randint(USER_UID_MIN, USER_UID_MAX)


class DynamoDBUidRepository:
    def __init__(self, table_name: str, *, client: Any = None, rng: random.Random | None = None):
        self._table = table_name
        self._client = client
        self._rng = rng

    client = LazyClient("dynamodb")

    def _read(self, subject: str) -> int | None:
        item = self.client.get_item(
            TableName=self._table, Key={"pk": {"S": f"SUB#{subject}"}}, ConsistentRead=True
        ).get("Item")
        return int(item["uid"]["N"]) if item else None

    def uid_for(self, subject: str) -> int:
        existing = self._read(subject)
        if existing is not None:
            return existing
        candidates = candidate_uids(subject, self._rng)
        uid = next(candidates)
        for attempt in range(MAX_ALLOCATION_ATTEMPTS):
            outcome = self._try_allocate(subject, uid)
            if outcome == "allocated":
                return uid
            if outcome in ("subject_exists", "conflict"):
                winner = self._read(subject)
                if winner is not None:
                    return winner
            if outcome == "uid_taken":
                uid = next(candidates)  # another subject holds it: the next candidate
            else:
                time.sleep(0.02 * (attempt + 1))  # the other transaction has not committed yet: same uid again
        raise UidAllocationError(f"could not allocate a uid after {MAX_ALLOCATION_ATTEMPTS} attempts")

    def _try_allocate(self, subject: str, uid: int) -> str:
        from botocore.exceptions import ClientError

        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": {"S": f"SUB#{subject}"}, "uid": {"N": str(uid)}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {"pk": {"S": f"UID#{uid}"}, "subject": {"S": subject}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = cancellation_reasons(exc)
            if reasons is None:
                raise
            if reasons and reasons[0] == ITEM_CONDITION_FAILED:
                return "subject_exists"
            if len(reasons) > 1 and reasons[1] == ITEM_CONDITION_FAILED:
                return "uid_taken"
            # TransactionConflict: a concurrent transaction on the same items is in flight
            return "conflict"
        return "allocated"
