"""EventBridge schedule expressions: ``rate(...)``, ``cron(...)`` (UTC) and the event a schedule sends."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import uuid
from typing import Any

from local.resources import LocalStack, ScheduleSpec

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


def rate_seconds(expression: str) -> int | None:
    m = _RATE.match(expression.strip())
    if not m:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
    return int(m.group(1)) * unit


def _cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    out: set[int] = set()
    for item in text.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _cron_value(a, names), _cron_value(b, names)
        else:
            start = _cron_value(part, names)
            end = high if "/" in text else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field {text!r} out of range {low}-{high}")
        out.update(range(start, end + 1, step))
    return out


def _cron_value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"unsupported cron value {text!r} (L, W and # are not supported locally)")
    return int(text)


class Cron:
    """EventBridge ``cron(min hour day-of-month month day-of-week year)`` in UTC."""

    def __init__(self, expression: str):
        body = expression.strip()
        if not (body.startswith("cron(") and body.endswith(")")):
            raise ValueError(f"not a cron expression: {expression!r}")
        fields = body[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields, got {len(fields)}: {expression!r}")
        self.minutes = _cron_field(fields[0], 0, 59)
        self.hours = _cron_field(fields[1], 0, 23)
        self.dom_any = fields[2] in ("*", "?")
        self.days = _cron_field(fields[2], 1, 31)
        self.months = _cron_field(fields[3], 1, 12, _MONTHS)
        self.dow_any = fields[4] in ("*", "?")
        self.weekdays = _cron_field(fields[4], 1, 7, _DAYS)
        self.years = _cron_field(fields[5], 1970, 2199)

    def matches(self, when: dt.datetime) -> bool:
        weekday = (when.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
        day_ok = (self.dom_any or when.day in self.days) and (self.dow_any or weekday in self.weekdays)
        return (
            when.minute in self.minutes and when.hour in self.hours and when.month in self.months
            and when.year in self.years and day_ok
        )  # fmt: skip

    def next_after(self, when: dt.datetime) -> dt.datetime | None:
        t = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(t):
                return t
            t += dt.timedelta(minutes=1)
        return None


def scheduled_event(spec: ScheduleSpec, stack: LocalStack) -> dict[str, Any]:
    arn = str(stack.resolver.get_att(spec.logical_id, "Arn")) if spec.logical_id in stack.resources else spec.name
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": stack.account, "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region, "resources": [arn], "detail": {},
    }  # fmt: skip
