"""The PresenceTable (pk ``channel``, sk ``uid``): one item per (channel, uid) with the uid as a decimal
string (uids reach 2^32-1, so never an int32), plus one channel item with sk ``#channel``.

Ordering is enforced by the writes themselves (conditional on ``clientSeq`` / ``ts``), so duplicates,
reordering and retried batches converge on the in-order result whatever the processing order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import from_items, is_condition_failed, to_attr

CHANNEL_SK = "#channel"


@dataclass(frozen=True, slots=True)
class UserWrite:
    """Outcome of an ordered user write; when refused, what the stored item says about its session."""

    applied: bool
    stored_session_seq: int | None = None

    def session_outdated(self, seq: int) -> bool:
        """After a refusal: would this (older) event still improve the session description?"""
        return not self.applied and (self.stored_session_seq is None or self.stored_session_seq < seq)


class PresenceStore(Protocol):
    """Ordered presence writes. Each returns True when applied, False when the order condition refused it."""

    def put_user(
        self,
        channel: str,
        uid: int,
        *,
        seq: int,
        presence: Mapping[str, Any],
        session: Mapping[str, Any] | None,
        stamp: Mapping[str, Any],
    ) -> UserWrite: ...

    def fill_session(self, channel: str, uid: int, *, seq: int, session: Mapping[str, Any]) -> bool: ...

    def put_channel(self, channel: str, *, ts: int, presence: Mapping[str, Any], stamp: Mapping[str, Any]) -> bool: ...

    def mark_left(
        self, channel: str, uid: int, *, seen_seq: int, presence: Mapping[str, Any], stamp: Mapping[str, Any]
    ) -> bool: ...

    def channel_items(self, channel: str, *, state: str | None = None) -> list[dict[str, Any]]: ...


class _Update:
    """A ``SET`` update expression with generated placeholders (maps are written whole, never merged)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._set: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_attr(value)
        return placeholder

    def set(self, attribute: str, value: Any) -> tuple[str, str]:
        name, placeholder = self.name(attribute), self.value(value)
        self._set.append(f"{name} = {placeholder}")
        return name, placeholder

    def kwargs(self, condition: str) -> dict[str, Any]:
        return {
            "UpdateExpression": "SET " + ", ".join(self._set),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": self.values,
        }


class DynamoDBPresence:
    """Presence in DynamoDB; every write is one UpdateItem whose condition enforces the event order.

    A user item: ``clientSeq``, ``presence`` (map: state, role, leave details; replaced whole by each
    applied event), ``session`` (map: platform, clientType, account, bot, joinedTs) with ``sessionSeq``,
    and bookkeeping (``updatedAt``, ``noticeId``, ``expiresAt`` = the TTL). The channel item (sk
    ``#channel``) has ``ts`` and a ``presence`` map (live/destroyed).
    """

    def __init__(self, table_name: str, *, client: Any = None):
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _update(self, channel: str, sk: str, update: _Update, condition: str, **extra: Any) -> tuple[bool, Any]:
        """One conditional UpdateItem: (True, None) if applied, (False, the stored item or None) if refused."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"channel": {"S": channel}, "uid": {"S": sk}},
                **update.kwargs(condition),
                **extra,
            )
        except Exception as exc:
            if is_condition_failed(exc):
                return False, (getattr(exc, "response", None) or {}).get("Item")
            raise
        return True, None

    @staticmethod
    def _stamp(update: _Update, stamp: Mapping[str, Any]) -> None:
        for attribute, value in stamp.items():
            if value is not None:
                update.set(attribute, value)

    def put_user(
        self,
        channel: str,
        uid: int,
        *,
        seq: int,
        presence: Mapping[str, Any],
        session: Mapping[str, Any] | None,
        stamp: Mapping[str, Any],
    ) -> UserWrite:
        """Apply an event with ``clientSeq`` = seq, only if it is newer than the stored one.

        A refusal returns the stored ``sessionSeq`` (ReturnValuesOnConditionCheckFailure), so the caller
        needs no read and makes a second write only in the rare case that it would change something.
        """
        update = _Update()
        seq_name, seq_value = update.set("clientSeq", seq)
        update.set("presence", dict(presence))
        if session is not None:
            update.set("session", dict(session))
            update.set("sessionSeq", seq)
        self._stamp(update, stamp)
        condition = f"attribute_not_exists({seq_name}) OR {seq_name} < {seq_value}"
        applied, stored = self._update(
            channel, str(uid), update, condition, ReturnValuesOnConditionCheckFailure="ALL_OLD"
        )
        if applied:
            return UserWrite(True)
        session_seq = (stored or {}).get("sessionSeq")
        return UserWrite(False, int(session_seq["N"]) if session_seq and "N" in session_seq else None)

    def fill_session(self, channel: str, uid: int, *, seq: int, session: Mapping[str, Any]) -> bool:
        """A stale join/leave still describes the session if no newer join/leave did."""
        update = _Update()
        seq_name, seq_value = update.set("sessionSeq", seq)
        update.set("session", dict(session))
        pk = update.name("channel")
        condition = f"attribute_exists({pk}) AND (attribute_not_exists({seq_name}) OR {seq_name} < {seq_value})"
        return self._update(channel, str(uid), update, condition)[0]

    def put_channel(self, channel: str, *, ts: int, presence: Mapping[str, Any], stamp: Mapping[str, Any]) -> bool:
        """Channel create/destroy, ordered by ``ts`` (seconds); on a tie the first one processed stays."""
        update = _Update()
        ts_name, ts_value = update.set("ts", ts)
        update.set("presence", dict(presence))
        self._stamp(update, stamp)
        return self._update(channel, CHANNEL_SK, update, f"attribute_not_exists({ts_name}) OR {ts_name} < {ts_value}")[
            0
        ]

    def mark_left(
        self, channel: str, uid: int, *, seen_seq: int, presence: Mapping[str, Any], stamp: Mapping[str, Any]
    ) -> bool:
        """Replace the presence of a user still "in" at ``clientSeq`` = seen_seq (optimistic: unchanged since read)."""
        update = _Update()
        presence_name, _ = update.set("presence", dict(presence))
        self._stamp(update, stamp)
        seq_name, state_name = update.name("clientSeq"), update.name("state")
        seen, in_value = update.value(seen_seq), update.value("in")
        condition = f"{seq_name} = {seen} AND {presence_name}.{state_name} = {in_value}"
        return self._update(channel, str(uid), update, condition)[0]

    def channel_items(self, channel: str, *, state: str | None = None) -> list[dict[str, Any]]:
        """Items of the channel (users and the channel item), strongly consistent, all pages;
        with ``state``, only users whose presence state is that (e.g. "in")."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": "channel"},
            "ExpressionAttributeValues": {":c": {"S": channel}},
            "ConsistentRead": True,
        }
        if state is not None:
            kwargs["FilterExpression"] = "#p.#s = :s"
            kwargs["ExpressionAttributeNames"].update({"#p": "presence", "#s": "state"})
            kwargs["ExpressionAttributeValues"][":s"] = {"S": state}
        while True:
            page = self.client.query(**kwargs)
            items.extend(from_items(page.get("Items", [])))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last
