"""Paths to the fixtures the tests read: everything lives in the repository (tests/fixtures/README.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@cache
def ncs_examples() -> dict[str, Any]:
    """Agora's example NCS body for each event type, keyed by the event type as a string."""
    return json.loads((FIXTURES / "agora" / "ncs-events.json").read_text())


def examples(count: int) -> int:
    """A property test's example count: its own, or the active Hypothesis profile's if that asks for more
    (the "wide" profile of tests/conftest.py)."""
    from hypothesis import settings

    return max(count, settings.default.max_examples)
