"""Small readers of the synthesized template that several infra test modules share."""

from __future__ import annotations

from typing import Any


def resources(template_json: dict[str, Any], res_type: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == res_type and k.startswith(prefix)}


def one(template_json: dict[str, Any], res_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    found = resources(template_json, res_type, prefix)
    assert len(found) == 1, list(found)
    return next(iter(found.items()))


def function_by_handler(template_json: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    found = {
        k: v
        for k, v in resources(template_json, "AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == handler
    }
    assert len(found) == 1
    return next(iter(found.items()))


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])
