"""Injected failures and the QPS limit of the emulated gateway: at least as hostile as Agora.

A fault is drawn per API request, from a script first (``kind`` or ``kind@op``, in order) and then
from the rates. Kinds:

- ``429``: the gateway's rate limit; ``Retry-After`` only when ``retry_after`` is set (Agora sends none).
- ``5xx``: the service timed out (504/62 "request timeout"; 500/504 ``allocate_timeout`` on acquire;
  500 on channel management). ``206_65``: "request not completed" (the reply was lost on the way back).
- ``502`` / ``504``: the gateway's own errors (``message`` bodies, no ``code``).
- ``allocate``: 500 with code 502 "Failed to allocate worker" (its rate applies to ``start`` only).
- ``timeout``: no reply at all; the connection is held ``timeout_ms`` and closed.
- ``slow``: the normal answer after ``slow_ms``.
- ``401``: the gateway rejects the credentials (a Customer Secret revoked in the Console); script only.
- ``503``: Conversational AI's "start failure" (nothing started); script only.

``5xx``, ``206_65``, ``502``, ``504`` and ``timeout`` can come *after the effect*: the request took
effect (a task started or stopped, a layout changed) and only the reply is lost, as Agora documents
for 65. Script them as ``206_65_after`` etc.; with rates, ``after_effect`` is the share of them on a
mutating request (acquire, start, stop, update, updateLayout, kicking rules) that come after it.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

AMBIGUOUS = ("5xx", "206_65", "502", "504", "timeout")
FAULT_KINDS = ("429", "401", "503", *AMBIGUOUS, "allocate", "slow", *(f"{kind}_after" for kind in AMBIGUOUS))
#: Conversational AI Engine v2 (emulator/convoai.py)
AGENT_OPS = ("agent.join", "agent.leave", "agent.update", "agent.speak", "agent.interrupt", "agent.query",
             "agent.list", "agent.history")  # fmt: skip
OPS = (
    "acquire",
    "start",
    "query",
    "update",
    "updateLayout",
    "stop",
    "kicking_rule.create",
    "kicking_rule.list",
    "kicking_rule.update",
    "kicking_rule.delete",
    "channel.list",
    "channel.users",
    "channel.hosts",
    "channel.user_status",
    "ncs.ip",
    "stt.join",
    "stt.leave",
    "stt.get",
    "stt.update",
    "stt.list",
    *AGENT_OPS,
)
MUTATING = (
    {"acquire", "start", "stop", "update", "updateLayout", "agent.join", "agent.leave", "agent.update"}
    | {
        "stt.join",
        "stt.leave",
        "stt.update",
    }
    | {op for op in OPS if op.startswith("kicking_rule.") and op != "kicking_rule.list"}
)
RATES = ("rate_429", "rate_5xx", "rate_206_65", "rate_502", "rate_504", "rate_allocate", "rate_timeout", "rate_slow")
NO_REPLY = -1  # the status of a "timeout": nothing is sent back


class Faults:
    """Injected failures: random rates, plus a script of faults for the next requests (deterministic tests)."""

    rate_429: float
    rate_5xx: float
    rate_206_65: float
    rate_502: float
    rate_504: float
    rate_allocate: float
    rate_timeout: float
    rate_slow: float

    def __init__(self, *, retry_after: float | None = None, rng: random.Random | None = None, **settings: Any):
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self._default_retry_after = retry_after
        self.script: deque[str] = deque()
        self._clear()
        self.configure(**settings)

    def _clear(self) -> None:
        for name in RATES:
            setattr(self, name, 0.0)
        self.after_effect = 0.0
        self.slow_ms = 0
        self.timeout_ms = 15_000
        self.retry_after = self._default_retry_after
        self.script.clear()

    def configure(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            if changes.pop("clear", False):
                self._clear()
            for name in (*RATES, "after_effect"):
                value = changes.pop(name, None)
                if value is not None:
                    rate = float(value)
                    if not 0.0 <= rate <= 1.0:
                        raise ValueError(f"{name} must be in [0, 1]")
                    setattr(self, name, rate)
            for name in ("slow_ms", "timeout_ms"):
                value = changes.pop(name, None)
                if value is not None:
                    setattr(self, name, max(0, int(value)))
            if "retry_after" in changes:
                value = changes.pop("retry_after")
                if value is not ...:
                    self.retry_after = None if value is None else float(value)
            script = changes.pop("script", None)
            if script is not None:
                entries = [str(entry) for entry in script]
                bad = [e for e in entries if e.partition("@")[0] not in FAULT_KINDS or not _op_ok(e)]
                if bad:
                    raise ValueError(f"unknown fault kinds {bad}; use {list(FAULT_KINDS)}, optionally @<op> of {OPS}")
                self.script.extend(entries)
            for entry in changes.pop("drop", None) or ():  # what is left of one caller's script, not the others'
                with contextlib.suppress(ValueError):  # already drawn
                    self.script.remove(str(entry))
            if changes:
                raise ValueError(f"unknown fault settings {sorted(changes)}")
            return self._describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return self._describe()

    def _describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in RATES}
        out.update(
            after_effect=self.after_effect,
            slow_ms=self.slow_ms,
            timeout_ms=self.timeout_ms,
            retry_after=self.retry_after,
            script=list(self.script),
        )
        return out

    def draw(self, op: str) -> str | None:
        """The fault for this request (``kind`` or ``kind_after``), or None."""
        with self._lock:
            for index, entry in enumerate(self.script):
                kind, _, target = entry.partition("@")
                if not target or target == op:
                    del self.script[index]
                    return kind
            roll = self._rng.random()
            rates = [("429", self.rate_429), ("5xx", self.rate_5xx), ("206_65", self.rate_206_65)]
            rates += [("502", self.rate_502), ("504", self.rate_504), ("timeout", self.rate_timeout)]
            if op == "start":
                rates.append(("allocate", self.rate_allocate))
            for kind, rate in rates:
                if roll < rate:
                    after = kind in AMBIGUOUS and op in MUTATING and self._rng.random() < self.after_effect
                    return f"{kind}_after" if after else kind
                roll -= rate
            return "slow" if self.slow_ms and self._rng.random() < self.rate_slow else None

    def answer(self, op: str, fault: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The reply an injected fault stands for (``NO_REPLY`` for a timeout)."""
        kind = fault.removesuffix("_after")
        if kind == "429":
            headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
            return 429, {"message": "API rate limit exceeded"}, headers
        if kind == "401":
            return 401, {"message": "Invalid authentication credentials"}, {}
        if kind == "5xx" and op.startswith(("channel", "kicking")):
            return 500, {"message": "internal error"}, {}
        if kind == "5xx" and op.startswith("stt."):  # Real-Time STT: 503 start failure, 504 timeout
            return (503, {"message": "start failure"}, {}) if op == "stt.join" else (504, {"message": "timeout"}, {})
        if kind == "5xx" and op == "acquire":
            return 500, {"code": 504, "reason": "allocate_timeout"}, {}
        status, body = _REPLIES[kind]
        return status, dict(body), {}


_REPLIES: dict[str, tuple[int, dict[str, Any]]] = {
    "5xx": (504, {"code": 62, "reason": "request timeout"}),
    "206_65": (206, {"code": 65, "reason": "request not completed"}),
    "502": (502, {"message": "An invalid response was received from the upstream server"}),
    "504": (504, {"message": "The upstream server is timing out"}),
    "allocate": (500, {"code": 502, "reason": "Failed to allocate worker"}),
    "timeout": (NO_REPLY, {}),
    # Conversational AI's "start failure" (script only): nothing was started
    "503": (503, {"detail": "failed to start the agent", "reason": "ServiceUnavailable"}),
}


def _op_ok(entry: str) -> bool:
    _, at, op = entry.partition("@")
    return not at or op in OPS


class SlidingWindow:
    """At most ``qps`` accepted requests in any 1-second window (rejected ones are not counted)."""

    def __init__(self, qps: float, clock: Callable[[], float] = time.monotonic):
        self.qps = qps
        self._clock = clock  # bench/scale runs it on virtual time
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        if not self.qps:
            return True
        now = self._clock()
        with self._lock:
            while self._times and now - self._times[0] >= 1.0:
                self._times.popleft()
            if len(self._times) >= self.qps:
                return False
            self._times.append(now)
            return True
