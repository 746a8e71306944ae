"""The running cap of a kind of channel task (agents, transcriptions): one counter item per table, moved in the
same transaction as the record it counts (``+1`` with the creation, under ``running < max``; ``-1`` with the write
that ends it), so a place is taken and given back exactly once whatever ends the task."""

from __future__ import annotations

from typing import Any


def counter_update(table_name: str, key: dict[str, Any], delta: int, max_running: int | None = None) -> dict[str, Any]:
    """The ``TransactWriteItems`` entry that moves the counter item ``key`` by ``delta``; with ``max_running``,
    only while it is below the cap (the transaction then fails: the cap is reached)."""
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": key,
        "UpdateExpression": "ADD running :d",
        "ExpressionAttributeValues": {":d": {"N": str(delta)}},
    }
    if max_running is not None:
        update["ConditionExpression"] = "attribute_not_exists(running) OR running < :max"
        update["ExpressionAttributeValues"][":max"] = {"N": str(max_running)}
    return {"Update": update}
