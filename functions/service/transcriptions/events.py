"""NCS product 20 (Real-Time STT) for the webhook processor: ``notice_applier()`` applies a stored notice to the
transcriptions table (``TRANSCRIPTIONS_TABLE``, read with the first notice, not at cold start)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def notice_applier() -> Callable[[dict[str, Any]], str]:
    store: list[Any] = []

    def apply(notice: dict[str, Any]) -> str:
        if not store:
            table = os.environ.get("TRANSCRIPTIONS_TABLE", "")
            if not table:
                return "skipped: no transcriptions table"
            from service.transcriptions.repository import TranscriptionsRepository

            store.append(TranscriptionsRepository(table))
        from service.transcriptions.usecases import apply_notice

        return "transcription" if apply_notice(store[0], notice) is not None else "ignored: unknown agent"

    return apply
