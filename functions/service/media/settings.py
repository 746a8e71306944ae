"""Settings of the media function, read once at cold start."""

from __future__ import annotations

from pydantic import Field

from service.settings import FunctionSettings


class MediaSettings(FunctionSettings):
    media_table: str
    #: only keys under this prefix are recordings (the bucket notification filters on it too)
    recordings_prefix: str = "recordings/"
    #: bytes per S3 read; the parser's memory stays constant whatever the playlist's size
    s3_chunk_size: int = Field(default=256 * 1024, ge=16 * 1024, le=8 * 1024 * 1024)
