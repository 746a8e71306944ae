"""The emulator's documented defaults (credentials the REST calls use, the CLI's port) and option parsing."""

from __future__ import annotations

import json
from typing import Any

DEFAULT_APP_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_CUSTOMER_ID = "emulator-customer"
DEFAULT_CUSTOMER_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented default, not a real secret
DEFAULT_PORT = 8090


def parse_option(text: str) -> tuple[str, Any]:
    """``name=value`` for ``Emulator(name=value)`` from a command line: the value is read as JSON
    (numbers, ``true``, ``null``, ``[11]``) and otherwise kept as a string."""
    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw
