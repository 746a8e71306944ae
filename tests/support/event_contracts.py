"""Every event a test produces is checked against its committed contract (docs/events/*.json).

``assert_valid(event)`` takes an EventBridge envelope (``detail-type`` and ``detail``, as the local stack
shows it), a PutEvents entry (``DetailType`` and a ``Detail`` string) or a ``service.events.model.Event``,
and validates the detail against the schema file with fastjsonschema, the engine of Powertools' validation
utility, with its schema compiled once per detail-type (Powertools' ``validate`` compiles it on every call:
11 ms an event, most of the unit tier's events tests).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


@cache
def schemas_by_type() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        found[body["x-detail-type"]] = body
    return found


def detail_of(event: Any) -> tuple[str, dict[str, Any]]:
    if hasattr(event, "detail_type") and hasattr(event, "detail_json"):
        return event.detail_type, json.loads(event.detail_json())
    if "DetailType" in event:
        return event["DetailType"], json.loads(event["Detail"])
    return event["detail-type"], event["detail"]


@cache
def _validator(detail_type: str) -> Any:
    schema = schemas_by_type().get(detail_type)
    assert schema is not None, f"no schema in docs/events for {detail_type!r}"
    return fastjsonschema.compile(schema)


def assert_valid(event: Any) -> dict[str, Any]:
    """Validate one event's detail against its schema; returns the detail."""
    detail_type, detail = detail_of(event)
    try:
        _validator(detail_type)(detail)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise AssertionError(f"{detail_type}: {exc.message} at {exc.path}: {exc.value!r}") from None
    return detail
