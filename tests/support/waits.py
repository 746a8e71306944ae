"""Waiting for the event a test needs: poll a predicate until it holds or a deadline passes (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Whether ``predicate`` held within ``timeout`` seconds, polled every ``interval`` (a test asserts it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
