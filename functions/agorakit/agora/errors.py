"""Agora REST errors: one hierarchy, classified from the body's ``code`` as well as the HTTP status.

Agora answers some failures with a 2xx status (HTTP 201 code 7 "already started", HTTP 206 code 65
"request not completed", HTTP 206 code 435 "nothing recorded"), so classifying by status alone is
wrong. :func:`classify` is the single, pure decision table the client applies to every answer; it is
tested without a network. Step Functions matches on the exception CLASS NAMES, so they are part of
the public contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agorakit.errors import AgorakitError

__all__ = [
    "AgoraAlreadyStartedError",
    "AgoraAuthError",
    "AgoraCapacityError",
    "AgoraConflictError",
    "AgoraError",
    "AgoraNotFoundError",
    "AgoraParameterError",
    "AgoraRateLimitedError",
    "AgoraResourceExpiredError",
    "AgoraServerError",
    "AgoraUnavailableError",
    "Verdict",
    "body_code",
    "body_reason",
    "classify",
]


class AgoraError(AgorakitError):
    """An Agora call failed. ``retryable`` says whether repeating the same request later can succeed."""

    retryable: bool = False
    #: set by the client: an attempt of this call got no clear answer (a timeout, 5xx, 206/65), so the
    #: operation may have taken effect at Agora even though the call failed
    maybe_executed: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
        reason: str | None = None,
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.reason = reason
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        parts = [self.message]
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.reason and self.reason not in self.message:
            parts.append(f"reason={self.reason!r}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:  # keep attributes across pickling (multiprocessing, Step Functions tests)
        return (
            _rebuild,
            (
                type(self),
                self.message,
                self.code,
                self.http_status,
                self.request_id,
                self.reason,
                self.retryable,
            ),
        )


def _rebuild(cls: type[AgoraError], *args: Any) -> AgoraError:
    message, code, http_status, request_id, reason, retryable = args
    return cls(message, code=code, http_status=http_status, request_id=request_id, reason=reason, retryable=retryable)


class AgoraParameterError(AgoraError, ValueError):
    """The request is wrong (bad parameter, route, channel name, token...). Never retried: fix the request."""


class AgoraAuthError(AgoraError):
    """Credentials rejected (401/403) or the service is not enabled for the App ID."""


class AgoraNotFoundError(AgoraError):
    """404 (or code 49 "exiting") on query/update/updateLayout: the task is gone, or in an HA window."""


class AgoraResourceExpiredError(AgoraError):
    """Code 433 or 1001: the resource ID expired or cannot be parsed. The caller must acquire again."""


class AgoraAlreadyStartedError(AgoraError):
    """HTTP 201 with code 7: ``start`` was repeated with the same resource ID. Not a success."""


class AgoraConflictError(AgoraError):
    """Code 53: a task with the same cname and uid already exists."""


class AgoraRateLimitedError(AgoraError):
    """HTTP 429 after the client's own retries (the account-wide QPS was exceeded), or our own limiter had no slot
    within the caller's patience (then ``retry_after`` says when its lane may try again)."""

    retryable = True
    retry_after: float | None = None
    #: set by a caller whose request stops being useful after this many seconds (a start's resource ID ages):
    #: whoever schedules the retry keeps the wait within it when the slot comes before
    wait_within: float | None = None


class AgoraCapacityError(AgoraError):
    """Code 406 ``vendor_over_load``: the App ID's concurrent-task limit (PCW) is reached. No recorder was
    started; the same request may succeed once a task ends, so the workflow waits and retries with a long
    backoff (its own Retry, bounded by ``recordingCapacityRetryAttempts``) before it fails with this reason."""

    retryable = True


class AgoraServerError(AgoraError):
    """5xx, or 206 code 65 ("request not completed"), after the client's own retries."""

    retryable = True


class AgoraUnavailableError(AgoraError):
    """Network error or timeout on every attempt and host."""

    retryable = True


Kind = Literal["ok", "retry", "raise", "empty", "gone"]


@dataclass(frozen=True)
class Verdict:
    """What to do with one HTTP answer.

    ``ok``: success. ``retry``: transient; repeat the same request (``error`` is raised once attempts run out).
    ``raise``: final failure. ``empty``: stop found nothing recorded (206/435). ``gone``: stop on a task
    that already ended (404/49).
    """

    kind: Kind
    error: type[AgoraError] | None = None
    retryable: bool = False


_OK = Verdict("ok")

#: Parameter-like codes that come back with a non-4xx status in some doc versions.
_PARAMETER_CODES = frozenset({2, 8, 109, 110, 432, 1003, 1013, 1028})


def body_code(body: Mapping[str, Any] | None) -> int | None:
    """The numeric ``code`` of an Agora body, or None (gateway replies carry ``message`` instead)."""
    if not body:
        return None
    raw = body.get("code")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    return None


def body_reason(body: Mapping[str, Any] | None) -> str | None:
    if not body:
        return None
    for key in ("reason", "message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def classify(operation: str, http_status: int, body: Mapping[str, Any] | None) -> Verdict:  # noqa: PLR0911, PLR0912 - it IS the table
    """Agora's code table as a pure function: (operation, HTTP status, JSON body) -> Verdict.

    ``operation`` is one of acquire/start/query/update/updateLayout/stop or a channel-management name.
    """
    code = body_code(body)
    is_stop = operation == "stop"

    if http_status == 429:
        return Verdict("retry", AgoraRateLimitedError, True)
    if operation.startswith("agent."):
        return _agent_verdict(operation, http_status)
    if http_status == 206:
        if code == 435 and is_stop:
            return Verdict("empty")
        if code in (None, 65):
            return Verdict("retry", AgoraServerError, True)
    if http_status == 201 and code == 7:
        return Verdict("raise", AgoraAlreadyStartedError)
    if is_stop and (http_status == 404 or code == 49):
        return Verdict("gone")
    if is_stop and code == 50:  # upload timeout after a synchronous stop: the task did stop
        return _OK
    if code in (433, 1001):
        return Verdict("raise", AgoraResourceExpiredError)
    if code == 53:
        return Verdict("raise", AgoraConflictError)
    if code == 7:
        return Verdict("raise", AgoraAlreadyStartedError)
    if code == 49 or http_status == 404:
        return Verdict("raise", AgoraNotFoundError)
    if http_status in (401, 403):
        return Verdict("raise", AgoraAuthError)
    if code == 62 and operation == "acquire":  # "Cloud Recording not enabled for this App ID"
        return Verdict("raise", AgoraAuthError)
    if code == 406:  # vendor_over_load (concurrent-task limit): later may work, repeating now will not
        return Verdict("raise", AgoraCapacityError, True)
    if http_status >= 500:
        return Verdict("retry", AgoraServerError, True)
    if 400 <= http_status < 500:
        return Verdict("raise", AgoraParameterError)
    if code in _PARAMETER_CODES:
        return Verdict("raise", AgoraParameterError)
    if 200 <= http_status < 300:
        if http_status == 206:  # a 206 with an unknown code: the reply is incomplete, do not trust it
            return Verdict("retry", AgoraServerError, True)
        return _OK
    return Verdict("raise", AgoraError)


def _agent_verdict(operation: str, http_status: int) -> Verdict:  # noqa: PLR0911 - one row per documented status
    """Conversational AI's status codes (no body ``code``; ``detail``/``reason`` strings): 409 a live agent has
    that name, 422 over the quota (later may work), 404 unknown agent (on leave: already gone), 503 a start
    failure and 504 a timeout (both retried; a 504 may have taken effect)."""
    if http_status == 409:
        return Verdict("raise", AgoraConflictError)
    if http_status == 422:
        return Verdict("raise", AgoraServerError, True)
    if http_status == 404:
        return Verdict("gone") if operation == "agent.leave" else Verdict("raise", AgoraNotFoundError)
    if http_status in (401, 403):
        return Verdict("raise", AgoraAuthError)
    if http_status >= 500 or http_status == 206:
        return Verdict("retry", AgoraServerError, True)
    if 400 <= http_status < 500:
        return Verdict("raise", AgoraParameterError)
    if 200 <= http_status < 300:
        return _OK
    return Verdict("raise", AgoraError)
