"""The one way API functions build their Powertools resolver: validation on, errors mapped in one place."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from agorakit import jsondoc
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

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


def _json_loads(text: str) -> Any:
    """Request bodies through ``agorakit.jsondoc``: too deep or too long a number is a JSON error (-> 400)."""
    return jsondoc.loads(text)


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


class JsonApiResolver(APIGatewayHttpResolver):
    """An HTTP API resolver for a JSON-only API: bodies that cannot be JSON are refused before routing."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        problem = body_problem(event) if isinstance(event, Mapping) else None
        if problem is not None:
            return {
                "statusCode": problem.status,
                "headers": {"Content-Type": "application/json"},
                "body": error_body(problem.status, problem.code, problem.message),
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


def build_resolver() -> APIGatewayHttpResolver:
    """An HTTP API (payload v2) resolver with request/response validation and the service's error mapping.

    Validation gives typed bodies and an OpenAPI document generated from the routes; malformed input
    becomes a 400, 415 or 422 with a message (see ``service.errors``), never a 5xx.
    """
    app = JsonApiResolver(enable_validation=True, json_body_deserializer=_json_loads)
    register_error_handlers(app)
    return app
