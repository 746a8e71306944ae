"""The events Lambda's pollers build, and the filter criteria they apply (Lambda event filtering).

Record shapes as Lambda delivers them (DynamoDB stream and SQS records), the subset of EventBridge
patterns that ``FilterCriteria`` accept, and the partial-failure report a handler may return.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from collections.abc import Callable
from typing import Any


def matches(pattern: Any, event: Any) -> bool:
    """True if ``event`` satisfies the EventBridge-style ``pattern`` (as Lambda event filtering applies it)."""
    if not isinstance(pattern, dict):
        return False
    if not isinstance(event, dict):
        event = {}
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(p, event) for p in expected):
                return False
            continue
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not _match_values(expected, value, present):
                return False
        else:
            return False
    return True


def _match_values(rules: list[Any], value: Any, present: bool) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, dict):
            if "exists" in rule:
                if bool(rule["exists"]) == present:
                    return True
                continue
            if present and any(_match_rule(rule, v) for v in values):
                return True
        elif present and any(_equal(rule, v) for v in values):
            return True
    return False


def _equal(rule: Any, value: Any) -> bool:
    if isinstance(rule, bool) or isinstance(value, bool):
        return rule is value
    if isinstance(rule, int | float) and isinstance(value, int | float):
        return float(rule) == float(value)
    return rule == value


def _match_rule(rule: dict[str, Any], value: Any) -> bool:  # noqa: PLR0911 - one return per operator
    if "prefix" in rule:
        return isinstance(value, str) and value.startswith(str(rule["prefix"]))
    if "suffix" in rule:
        return isinstance(value, str) and value.endswith(str(rule["suffix"]))
    if "equals-ignore-case" in rule:
        return isinstance(value, str) and value.lower() == str(rule["equals-ignore-case"]).lower()
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        if isinstance(excluded, dict):
            return not _match_rule(excluded, value)
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return not any(_equal(e, value) for e in excluded)
    if "numeric" in rule:
        if not isinstance(value, int | float) or isinstance(value, bool):
            try:
                value = float(value)
            except (TypeError, ValueError):
                return False
        ops = rule["numeric"]
        checks: dict[str, Callable[[float, float], bool]] = {
            "=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }  # fmt: skip
        pairs = [(ops[i], ops[i + 1]) for i in range(0, len(ops) - 1, 2)]
        return bool(pairs) and all(checks[op](float(value), float(n)) for op, n in pairs)
    return False


def _plain(value: Any) -> Any:
    """boto3's parsed values back to the JSON Lambda puts in events (bytes -> base64, datetime -> epoch)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def stream_record(record: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    out = _plain(record)
    out["eventVersion"] = "1.1"
    out["eventSource"] = "aws:dynamodb"
    out["awsRegion"] = region
    out["eventSourceARN"] = stream_arn
    return out


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
    message_attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {"dataType": attr.get("DataType"), "stringListValues": [], "binaryListValues": []}
        if "StringValue" in attr:
            entry["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            entry["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
        message_attributes[name] = entry
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What a filter pattern sees: SQS bodies are matched as JSON when they are JSON, as on AWS."""
    if record.get("eventSource") == "aws:sqs":
        view = dict(record)
        with contextlib.suppress(ValueError):
            view["body"] = json.loads(record.get("body", ""))
        return view
    return record


def failed_ids(result: Any) -> list[str] | None:
    """The ``itemIdentifier``s a handler reported; None when the response is not a partial-failure report."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return None
    failures = result.get("batchItemFailures") or []
    return [str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)]
