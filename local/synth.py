"""The stack's CloudFormation template, synthesized in-process by ``app.py`` (no cdk CLI, no bundling)."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTEXT: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def synth_template(context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stack's CloudFormation template as a dict (bundling skipped), synthesized once per context."""
    merged = {**DEFAULT_CONTEXT, **(context or {})}
    merged["aws:cdk:bundling-stacks"] = []
    return json.loads(_synth_cached(json.dumps(merged, sort_keys=True)))


@functools.cache
def _synth_cached(context_json: str) -> str:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aws_cdk.assertions import Template

    import app

    _, stack = app.build_app(context=json.loads(context_json))
    return json.dumps(Template.from_stack(stack).to_json())
