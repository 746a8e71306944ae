"""PutEvents with its partial failures retried: an entry EventBridge refused (``FailedEntryCount`` > 0,
``ErrorCode`` on the entry, typically ``ThrottlingException`` or ``InternalFailure``) is sent again, with
jittered exponential backoff, a bounded number of times; what still fails is returned to the caller,
who reports its stream record as failed (the stream delivers it again: same ``event_id``)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from service.adapters.aws import LazyClient

#: PutEvents takes at most 10 entries
MAX_ENTRIES = 10
ATTEMPTS = 4
BASE_DELAY_S = 0.1


class Bus(Protocol):
    def put(self, entries: Sequence[dict[str, str]]) -> list[int]:
        """Send ``entries`` in order; returns the indexes of those that could not be sent."""
        ...


class EventBridgeBus:
    def __init__(
        self,
        *,
        client: Any = None,
        attempts: int = ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        self._client = client
        self.attempts = attempts
        self._sleep = sleep
        self._rng = rng or random.Random()

    client = LazyClient("events")

    def put(self, entries: Sequence[dict[str, str]]) -> list[int]:
        failed: list[int] = []
        for start in range(0, len(entries), MAX_ENTRIES):
            failed.extend(self._put_chunk(entries, list(range(start, min(start + MAX_ENTRIES, len(entries))))))
        return failed

    def _put_chunk(self, entries: Sequence[dict[str, str]], pending: list[int]) -> list[int]:
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self._rng.uniform(0, BASE_DELAY_S * 2**attempt))
            try:
                answer = self.client.put_events(Entries=[entries[i] for i in pending])
            except Exception as exc:
                if not _retryable(exc) or attempt == self.attempts - 1:
                    return pending
                continue
            if not answer.get("FailedEntryCount"):
                return []
            results = answer.get("Entries") or []
            # an entry the answer does not cover (a short answer) counts as failed
            refused = [i for i, result in zip(pending, results, strict=False) if result.get("ErrorCode")]
            pending = refused + pending[len(results) :]
            if not pending:
                return []
        return pending


def _retryable(exc: Exception) -> bool:
    code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
    return code in {"ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable"} or not code
