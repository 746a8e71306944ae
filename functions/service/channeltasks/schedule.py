"""When a running channel task next needs us: renew its bot's token, or end it at its hard maximum.

A bot's RTC token lasts at most 24 hours; an agent may be asked to run longer (or a product may have its
own hard limit, such as Real-Time STT's 72 hours). The workflow sleeps until ``next_wake`` and then renews
(``update`` with a fresh token) or ends the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

MAX_TOKEN_SECONDS: Final = 86_400
#: a renewal is due this long before the token expires (room for retries and a throttled limiter)
DEFAULT_RENEW_MARGIN_SECONDS: Final = 600
#: a token covers the time left plus this much (the start happens after the token is made)
TOKEN_SLACK_SECONDS: Final = 900


@dataclass(frozen=True)
class Wake:
    at_ms: int
    action: Literal["renew", "end"]


def token_seconds(now_ms: int, max_at_ms: int) -> int:
    """The validity of a bot token minted at ``now_ms`` for a task that ends by ``max_at_ms``: at most 24 h."""
    left = max(0, max_at_ms - now_ms) // 1000
    return int(min(MAX_TOKEN_SECONDS, left + TOKEN_SLACK_SECONDS))


def next_wake(
    token_expires_ms: int,
    max_at_ms: int,
    *,
    renew_margin_seconds: int = DEFAULT_RENEW_MARGIN_SECONDS,
    renew_margin_ms: int | None = None,
) -> Wake:
    """The next wake-up: the renewal ``renew_margin_seconds`` (or ``renew_margin_ms``) before the token
    expires, unless the hard maximum comes first."""
    margin_ms = renew_margin_seconds * 1000 if renew_margin_ms is None else renew_margin_ms
    renew_at = token_expires_ms - margin_ms
    if max_at_ms <= renew_at:
        return Wake(max_at_ms, "end")
    return Wake(renew_at, "renew")


def restart_due(started_ms: int, now_ms: int, product_limit_seconds: int, *, lead_seconds: int = 300) -> bool:
    """A product with its own lifetime limit (Real-Time STT: 72 h) needs a fresh incarnation before it ends."""
    return now_ms >= started_ms + (product_limit_seconds - lead_seconds) * 1000
