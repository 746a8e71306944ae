"""A rate limiter that grants at once and remembers the lane of each acquisition: a test passes it to the client it
builds (the composition root), then reads which lane each Agora call of an entry point was made in."""

from __future__ import annotations

import threading

from agorakit.agora.ratelimit import Lane, current_lane


class LaneRecorder:
    """``RateLimiter``: every ``acquire`` is granted (0 s waited) and its lane (``current_lane``) recorded."""

    def __init__(self, default_lane: Lane | None = None) -> None:
        self.default_lane = default_lane
        self.lanes: list[Lane | None] = []
        self._lock = threading.Lock()

    def acquire(self, permits: int = 1) -> float:
        with self._lock:
            self.lanes.append(current_lane(self.default_lane))
        return 0.0

    def take(self) -> list[Lane | None]:
        """The lanes recorded since the last ``take``, in order."""
        with self._lock:
            taken, self.lanes = self.lanes, []
        return taken
