"""The one way API functions build their Powertools resolver: validation on, errors mapped in one place."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any

from agorakit import jsondoc
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel, ConfigDict, Field

from service.errors import (
    UNSUPPORTED_BODY_MESSAGE,
    BadRequest,
    ServiceError,
    UnsupportedMediaType,
    error_body,
    register_error_handlers,
)

#: the one media type a body may declare; Powertools would also parse form and multipart bodies
_JSON_TYPE = "application/json"


#: Python refuses to convert integer literals longer than this (``sys.get_int_max_str_digits``)
MAX_INT_DIGITS = 4300


def _json_loads(text: str) -> Any:
    """Request bodies through ``agorakit.jsondoc`` (the same answer on every Python): nesting too deep and
    integer literals beyond Python's digit limit are 400s with a reason, never 500s. A whole number written
    with a fraction or exponent (``60.0``) is the integer, as the OpenAPI document's ``"type": "integer"`` says
    (JSON Schema counts ``60.0`` as an integer); strings and booleans are still never numbers."""
    try:
        return jsondoc.loads(text, parse_float=jsondoc.whole_number)
    except json.JSONDecodeError as exc:
        if exc.msg == jsondoc.TOO_MANY_DIGITS:
            raise BadRequest(
                f"the request body is not valid here: an integer literal has more than {MAX_INT_DIGITS} digits"
            ) from None
        if exc.msg.startswith("the JSON is nested"):
            raise BadRequest("the request body is not valid JSON: it is nested too deeply") from None
        raise


# ---------------------------------------------------------------------------------------------- contract


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. bad_request, forbidden, conflict")
    message: str = Field(description="what was wrong, for a human")
    details: dict[str, Any] | None = Field(default=None, description="structured context (field errors, ids)")


class ErrorResponse(BaseModel):
    """The body of every error the service answers (``service.errors.error_body``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {"code": "forbidden", "message": "..."}}]})

    error: ErrorDetail


class GatewayError(BaseModel):
    """API Gateway's own error body (its JWT authorizer's 401, an unknown route's 404, a body over 10 MB)."""

    message: str


#: what each error status means on this API (the operation's own description wins where it is more precise)
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: (
        "malformed request: a body that is not JSON, an unknown or malformed query parameter or path value, "
        "or a value Agora refused (Agora's reason in the message)"
    ),
    401: "missing, invalid or expired token (API Gateway's authorizer answers with its own body)",
    403: "the caller's groups do not allow this operation",
    404: "no such resource",
    409: "the resource's state does not allow this now",
    413: "the body is too large",
    415: "the body is not application/json",
    422: "the request is well-formed but invalid (field errors in error.details.errors)",
    429: "too many requests; retry later",
    502: "Agora failed in a way the caller cannot fix (our credentials refused, an answer that cannot be read)",
    503: "Agora or AWS is unavailable; retry later (Retry-After when known)",
}


#: ``Retry-After`` as the service sends it: on a 503 when the wait is known, on a 409 that is about to clear
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before sending the same request again (only when known)",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def contract(
    ok: Mapping[int, tuple[Any, str]],
    *errors: int,
    descriptions: Mapping[int, str] | None = None,
    body: bool = False,
) -> dict[int, Any]:
    """A route's ``responses=``: its success bodies, and every error status it can answer with the
    error schema. Always included: 400, 401 and 503 (any route); 415 and 422 with a body."""
    out: dict[int, Any] = {}
    for status, (model, description) in ok.items():
        out[status] = {"description": description}
        if model is not None:
            out[status]["content"] = {"application/json": {"model": model}}
    statuses = {400, 401, 503, *errors, *((415, 422) if body else ())}
    for status in sorted(statuses):
        text = (descriptions or {}).get(status) or ERROR_DESCRIPTIONS[status]
        model = ErrorResponse | GatewayError if status in (401, 413) else ErrorResponse
        out[status] = {"description": text, "content": {"application/json": {"model": model}}}
        if status in (409, 503):
            out[status]["headers"] = RETRY_AFTER
    return out


def _reject_unknown_query(app: Any, next_middleware: Any) -> Any:
    """Unknown query parameters are a 400 naming them, never silently ignored (``?status=`` would look
    like a filter that works)."""
    route = app.context.get("_route")
    query = app.current_event.query_string_parameters or {}
    if route is not None and query:
        known = {param.alias for param in route.dependant.query_params}
        unknown = sorted(set(query) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)} (this route takes: {allowed})")
    return next_middleware(app)


def body_problem(event: Mapping[str, Any]) -> ServiceError | None:
    """Why a request body can never be a JSON document: a non-JSON media type (415), or bytes that are
    not base64/UTF-8 (400). Powertools would raise on these before our error mapping could name them."""
    body = event.get("body")
    if not body:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type != _JSON_TYPE:
        return UnsupportedMediaType(UNSUPPORTED_BODY_MESSAGE)
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else None
        if raw is not None:
            raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return BadRequest("the request body is not valid JSON (not UTF-8 text)")
    return None


#: who may call a function's routes, decided from the event alone (the verified JWT claims); raises a
#: ``ServiceError`` (401, 403) to refuse
Authorize = Callable[[Mapping[str, Any]], object]


def _error_response(problem: ServiceError) -> dict[str, Any]:
    return {
        "statusCode": problem.status,
        "headers": {"Content-Type": "application/json"},
        "body": error_body(problem.status, problem.code, problem.message, problem.details),
        "isBase64Encoded": False,
    }


class JsonApiResolver(APIGatewayHttpResolver):
    """An HTTP API resolver for a JSON-only API. In this order, before routing and before Powertools validates
    anything: the caller is authorized (``authorize``: a non-admin gets 403 whatever the body, never a 422 that
    tells how to shape a request it may not make), then bodies that cannot be JSON are refused."""

    def __init__(self, *, authorize: Authorize | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._authorize = authorize

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if isinstance(event, Mapping):
            if self._authorize is not None:
                try:
                    self._authorize(event)
                except ServiceError as refused:
                    return _error_response(refused)
            problem = body_problem(event)
            if problem is not None:
                return _error_response(problem)
        return super().resolve(event, context)


def build_resolver(*, authorize: Authorize | None = None) -> APIGatewayHttpResolver:
    """An HTTP API (payload v2) resolver with request/response validation and the service's error mapping.

    Validation gives typed bodies and an OpenAPI document generated from the routes; malformed input
    becomes a 400, 415 or 422 with a message (see ``service.errors``), never a 5xx. ``authorize`` is the
    function's one access rule (every route of a function shares it): it runs first, so authorization comes
    before body, path and query validation on every route. Powertools runs its request validation before any
    middleware, so a middleware or a check in the route would come too late.
    """
    app = JsonApiResolver(authorize=authorize, enable_validation=True, json_body_deserializer=_json_loads)
    register_error_handlers(app)
    app.use([_reject_unknown_query])
    return app
