"""Read CloudWatch embedded-metric-format documents out of a function's captured stdout.

Powertools writes each metric flush as one JSON line with an ``_aws`` key (its Logger writes JSON lines
too); CloudWatch turns exactly these documents into metrics, so tests assert on them, not on our calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def documents(text: str) -> list[dict[str, Any]]:
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        if isinstance(document, dict) and "CloudWatchMetrics" in document.get("_aws", {}):
            found.append(document)
    return found


def _directives(document: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return document["_aws"]["CloudWatchMetrics"]


def values(docs: Iterable[Mapping[str, Any]], name: str, dimensions: Mapping[str, str] | None = None) -> list[float]:
    """Every value published for ``name`` whose dimensions are exactly ``service`` plus ``dimensions``."""
    wanted = dict(dimensions or {})
    out: list[float] = []
    for document in docs:
        for directive in _directives(document):
            if name not in {m["Name"] for m in directive["Metrics"]}:
                continue
            dimension_sets = [set(keys) for keys in directive["Dimensions"]]
            if {"service", *wanted} not in dimension_sets:
                continue
            if any(document.get(k) != v for k, v in wanted.items()):
                continue
            value = document[name]
            out.extend(float(v) for v in (value if isinstance(value, list) else [value]))
    return out


def units(docs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Metric name -> unit, over every document."""
    return {
        metric["Name"]: metric.get("Unit", "None")
        for document in docs
        for directive in _directives(document)
        for metric in directive["Metrics"]
    }


def names(docs: Iterable[Mapping[str, Any]]) -> set[str]:
    return set(units(docs))
