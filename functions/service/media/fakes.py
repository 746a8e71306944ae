"""In-memory twin of ``RecheckQueue`` (``repository.SqsRecheckQueue``) for media tests and the scale simulation.

``tests/contract/test_recheck_queue_contract.py`` runs the same cases against it and against SQS in moto. Time is
the caller's (milliseconds since the epoch): a test runs a day of re-checks at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from service.media.integrity import Recheck, check_delay


@dataclass
class FakeRecheckQueue:
    """Holds each re-check until ``delay_s`` after it was scheduled (``now_ms`` at that moment)."""

    now_ms: Callable[[], int]
    held: list[tuple[int, str]] = field(default_factory=list)  # (visible at, message body)
    sent: int = 0

    def schedule(self, recheck: Recheck) -> None:
        check_delay(recheck.delay_s)
        self.held.append((self.now_ms() + recheck.delay_s * 1000, recheck.body()))
        self.sent += 1

    def receive(self) -> list[str]:
        """The bodies visible now, removed from the queue (oldest first)."""
        now = self.now_ms()
        ready = sorted(m for m in self.held if m[0] <= now)
        self.held = [m for m in self.held if m[0] > now]
        return [body for _, body in ready]

    def next_visible_at(self) -> int | None:
        return min((at for at, _ in self.held), default=None)
