"""Domain errors of the service, and their mapping to HTTP responses (the only place that maps them).

Logic raises these; handlers never build error responses by hand. Errors from the domain core
(``agorakit``) and from Agora are mapped here too, so a malformed request never becomes a 5xx.
"""

from __future__ import annotations

import json
from typing import Any


class ServiceError(Exception):
    """An error with a precise HTTP status and a stable machine-readable code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(ServiceError):
    status, code = 422, "unprocessable"


class TooManyRequests(ServiceError):
    status, code = 429, "too_many_requests"


class UpstreamError(ServiceError):
    """Agora (or another dependency) failed in a way the caller cannot fix."""

    status, code = 502, "upstream_error"


class UpstreamUnavailable(ServiceError):
    status, code = 503, "upstream_unavailable"


UNSUPPORTED_BODY_MESSAGE = "request bodies must be JSON (Content-Type: application/json)"


def error_body(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json.dumps({"error": error}, separators=(",", ":"), default=str)


def map_exception(exc: BaseException) -> ServiceError | None:
    """Translate domain-core and Agora errors into ServiceErrors; None for unknown (a real 500)."""
    if isinstance(exc, ServiceError):
        return exc
    # Imported lazily: only handlers that can meet these errors pay for the import.
    from agorakit.errors import AgorakitError

    if isinstance(exc, _agora_error_class()):
        return _map_agora_error(exc)
    if isinstance(exc, AgorakitError):
        return BadRequest(str(exc))
    return _map_aws_error(exc)


#: AWS error codes that mean "the service is busy or failing right now": the same call can succeed later
AWS_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "TransactionInProgressException",
    }
)


def _map_aws_error(exc: BaseException) -> ServiceError | None:
    """An AWS dependency throttling, failing with a 5xx or unreachable is a 503 the client may retry (the
    contract's "Agora or AWS is unavailable"); any other AWS error is a fault of ours and stays a 500."""
    if not type(exc).__module__.startswith("botocore"):
        return None  # botocore is only imported when the error came from it
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        code = str(error.get("Code") or "")
        if code in AWS_TRANSIENT_CODES or status >= 500:
            operation = getattr(exc, "operation_name", "") or "an AWS call"
            return UpstreamUnavailable(
                f"AWS is unavailable or throttling ({operation}: {code or status}); retry later",
                details={"aws_error": code or str(status)},
                headers={"Retry-After": "1"},
            )
        return None
    if isinstance(exc, ConnectionError | HTTPClientError):
        return UpstreamUnavailable(
            f"AWS could not be reached ({type(exc).__name__}); retry later", headers={"Retry-After": "1"}
        )
    return None


def _agora_error_class() -> type[Exception]:
    from agorakit.agora.errors import AgoraError  # here, not at the top: the token function never loads it

    return AgoraError


#: Agora's client errors (the request's content or the resource's state): our 4xx, with Agora's reason.
#: A parameter error is a 400 on every route (the one 4xx every route documents); a route that knows better
#: maps it there first (GET /channels/{name}/hosts: 409 "not a live channel"; recording update: 422).
_AGORA_CLIENT_ERRORS: dict[str, type[ServiceError]] = {
    "AgoraNotFoundError": NotFound,
    "AgoraParameterError": BadRequest,
    "AgoraConflictError": Conflict,
    "AgoraAlreadyStartedError": Conflict,
    "AgoraResourceExpiredError": Conflict,
}
_AGORA_CLIENT_WORDS = {
    NotFound: "Agora",
    BadRequest: "Agora refused the request",
    Conflict: "Agora refused the request",
}


def agora_reason(exc: Exception) -> str:
    """Agora's own words for a refusal (its body's reason or message), else the error's text."""
    return str(getattr(exc, "reason", None) or getattr(exc, "message", None) or exc)


def _map_agora_error(exc: Exception) -> ServiceError:
    """Agora's refusals of the request stay 4xx with Agora's reason; 503 for what may pass later (rate limits,
    Agora's 5xx, timeouts); 502 only for Agora's own failures the caller cannot fix (our credentials refused,
    an answer we cannot read)."""
    code = getattr(exc, "code", None)
    http_status = getattr(exc, "http_status", None)
    details = {"agora_code": code, "agora_http_status": http_status, "request_id": getattr(exc, "request_id", None)}
    details = {k: v for k, v in details.items() if v is not None}
    client_error = _AGORA_CLIENT_ERRORS.get(type(exc).__name__)
    if client_error is not None and not getattr(exc, "retryable", False):
        words = _AGORA_CLIENT_WORDS[client_error]
        reason = agora_reason(exc) if client_error is not NotFound else str(exc)
        return client_error(f"{words}: {reason}", details={**details, "agora_reason": agora_reason(exc)})
    if getattr(exc, "retryable", False):
        return UpstreamUnavailable(
            f"Agora is unavailable or rate limited: {exc}", details=details, headers={"Retry-After": "2"}
        )
    return UpstreamError(f"Agora failed: {exc}", details=details)


def register_error_handlers(app: Any) -> None:
    """Install the mapping on a Powertools resolver."""
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestUnsupportedContentType,
        RequestValidationError,
    )

    def to_response(err: ServiceError) -> Response:
        headers = {"Content-Type": "application/json", **err.headers}
        return Response(
            status_code=err.status, body=error_body(err.status, err.code, err.message, err.details), headers=headers
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(exc: RequestUnsupportedContentType) -> Response:
        return to_response(UnsupportedMediaType(UNSUPPORTED_BODY_MESSAGE))

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return to_response(BadRequest("the request body is not valid JSON"))
        problems = []
        for e in errors:
            loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body",))
            problems.append({"field": loc or "body", "message": e.get("msg", "invalid"), "type": e.get("type")})
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        # a malformed query parameter, header or path value is a malformed request (400); a body that parses
        # but breaks the schema is a 422
        if all(str((e.get("loc") or ("body",))[0]) in ("query", "header", "path") for e in errors):
            return to_response(BadRequest(f"invalid request: {summary}", details={"errors": problems}))
        return to_response(Unprocessable(f"invalid request: {summary}", details={"errors": problems}))

    @app.exception_handler(Exception)
    def _any(exc: Exception) -> Response:
        mapped = map_exception(exc)
        if mapped is None:
            raise exc
        return to_response(mapped)
