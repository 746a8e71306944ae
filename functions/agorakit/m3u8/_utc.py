"""Agora's 17-digit UTC stamps (``yyyyMMddHHmmssSSS``) and the ISO form printed for them."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc17(text: str) -> datetime | None:
    """The stamp as an aware UTC datetime, or None if it is not a real date and time."""
    t = text
    if len(t) != 17 or not t.isdigit():
        return None
    try:
        return datetime(
            int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]), int(t[12:14]), int(t[14:17]) * 1000, UTC
        )
    except ValueError:
        return None


def iso_utc(value: datetime | None) -> str | None:
    """``2024-01-31T23:59:50.085Z`` (millisecond precision, Agora's own)."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
