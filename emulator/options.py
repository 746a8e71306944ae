"""The emulator's documented defaults (credentials the REST calls use, the CLI's port) and option parsing."""

from __future__ import annotations

import json
import math
from typing import Any

DEFAULT_APP_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_CUSTOMER_ID = "emulator-customer"
DEFAULT_CUSTOMER_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented default, not a real secret
DEFAULT_PORT = 8090


def parse_option(text: str) -> tuple[str, Any]:
    """``name=value`` for ``Emulator(name=value)`` from a command line: the value is read as JSON
    (numbers, ``true``, ``null``, ``[11]``) and otherwise kept as a string."""
    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


# ---------------------------------------------------------------------------------------------- checks
# One rule per ``Emulator(...)`` keyword option: the emulator's command line (``python -m agorakit emulator``)
# and the local stack's ``--emulator-option NAME=VALUE`` both check values here, so a bad value is a one-line
# error before anything starts, never a traceback from deep inside the emulator.

#: the longest wait an option may ask for, in milliseconds (a day)
MAX_MS = 86_400_000
#: the largest count an option may ask for
MAX_COUNT = 1_000_000


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    return value


def rate(name: str, value: Any) -> float:
    number = _number(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} is a rate in [0, 1], got {value!r}")
    return number


def positive(name: str, value: Any) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def not_negative(name: str, value: Any) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def milliseconds(name: str, value: Any) -> int:
    return _integer(name, value, 0, MAX_MS)


def count(name: str, value: Any) -> int:
    return _integer(name, value, 0, MAX_COUNT)


def port(name: str, value: Any) -> int:
    return _integer(name, value, 0, 65535)


def seed(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {value!r}")
    return value


def optional_text(name: str, value: Any) -> str | None:
    return None if value is None else text(name, value)


def event_types(name: str, value: Any) -> list[int]:
    if not isinstance(value, list | tuple) or not all(type(v) is int and 0 <= v < 1000 for v in value):
        raise ValueError(f"{name} is a list of NCS event types, e.g. [11, 31], got {value!r}")
    return list(value)


def _optional(check: Any) -> Any:
    def optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)

    return optional


#: every keyword option of ``emulator.Emulator`` and its rule (tests/unit keeps this table and the signature equal)
OPTION_RULES: dict[str, Any] = {
    "app_id": text, "customer_id": text, "customer_secret": text, "resource_ttl": positive, "qps": not_negative,
    "max_tasks": count, "s3_endpoint": optional_text, "s3_bucket": optional_text, "webhook_url": optional_text,
    "ncs_secret": optional_text, "webhook_duplicates": rate, "webhook_reorder": rate, "webhook_loss": rate,
    "webhook_delay": rate, "webhook_delay_ms": milliseconds, "webhook_lose_types": event_types, "fault_429": rate,
    "fault_5xx": rate, "fault_206_65": rate, "fault_502": rate, "fault_504": rate, "fault_allocate": rate,
    "fault_timeout": rate, "fault_after_effect": rate, "timeout_ms": milliseconds,
    "retry_after": _optional(not_negative), "slow_ms": milliseconds, "fault_slow": _optional(rate),
    "time_scale": positive, "segment_seconds": positive, "exit_seconds": not_negative,
    "postpone_seconds": not_negative, "channel_close_seconds": not_negative, "tick_seconds": positive,
    "seed": seed, "app_certificate": optional_text, "project_name": text, "console_qps": not_negative,
    # Real-Time STT: the share of agents that fail, and Agora's 72-hour limit (seconds of emulated time)
    "stt_fail_rate": rate, "stt_max_lifetime": positive,
    "stt_upload_seconds": not_negative,  # a running STT agent's files rewritten this often (0: at its end only)
}  # fmt: skip


def check_option(name: str, value: Any) -> Any:
    """``value`` for ``Emulator(name=value)``, checked; ``ValueError`` naming the option and the problem."""
    check = OPTION_RULES.get(name)
    if check is None:
        known = ", ".join(sorted(OPTION_RULES))
        raise ValueError(f"unknown emulator option {name!r} (known: {known})")
    return check(name, value)


def command_line_option(raw: str) -> tuple[str, Any]:
    """``--emulator-option NAME=VALUE`` for argparse: parsed (``parse_option``) and checked (``check_option``);
    a bad one is argparse's one-line usage error (exit 2)."""
    import argparse

    try:
        name, value = parse_option(raw)
        return name, check_option(name, value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def argument(check: Any, parse: Any = float) -> Any:
    """An argparse ``type=`` for one of the rules above (the value parsed from text first)."""
    import argparse

    def convert(raw: str) -> Any:
        try:
            value = parse(raw)
        except ValueError:
            kind = "number" if parse is float else "whole number"
            raise argparse.ArgumentTypeError(f"{raw!r} is not a {kind}") from None
        try:
            return check("the value", value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("the value ", "")) from None

    convert.__name__ = check.__name__
    return convert
