"""Settings of the media function, read once at cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from service.settings import FunctionSettings

if TYPE_CHECKING:
    from service.media.integrity import RecheckPolicy


class MediaSettings(FunctionSettings):
    media_table: str
    #: only keys under this prefix are recordings (the bucket notification filters on it too)
    recordings_prefix: str = "recordings/"
    #: bytes per S3 read; the parser's memory stays constant whatever the playlist's size
    s3_chunk_size: int = Field(default=256 * 1024, ge=16 * 1024, le=8 * 1024 * 1024)
    #: the media queue itself: re-checks of incomplete recordings are sent to it with a delay (none: no re-checks)
    media_queue_url: str | None = None
    #: the first re-check of a recording found incomplete waits this long; each next one twice the last
    recheck_first_delay_seconds: int = Field(default=60, ge=1, le=900)
    #: the longest wait between re-checks (SQS's DelaySeconds ceiling is 900)
    recheck_max_delay_seconds: int = Field(default=900, ge=1, le=900)
    #: re-checks stop this long after the recording was first found incomplete (it then stays incomplete)
    recheck_window_hours: float = Field(default=24.0, gt=0, le=96)  # the queue keeps a message 4 days

    def recheck_policy(self) -> RecheckPolicy:
        from service.media.integrity import RecheckPolicy

        first = min(self.recheck_first_delay_seconds, self.recheck_max_delay_seconds)
        return RecheckPolicy(first_delay_s=first, max_delay_s=self.recheck_max_delay_seconds,
                             window_s=int(self.recheck_window_hours * 3600))  # fmt: skip
