"""API Gateway HTTP API (payload v2) events as the JWT authorizer passes them to the functions."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any


def http_api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: bytes | None = None,
    claims: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    route_key: str | None = None,
    base64_body: bool = False,
    bearer: bool = True,
) -> dict[str, Any]:
    """``claims`` are the verified token's claims as the issuer signed them; they reach the function twice, as
    API Gateway passes them: flattened under ``requestContext.authorizer.jwt.claims`` and, with ``bearer``, as
    the token itself in the ``Authorization`` header (the authorizer's identity source)."""
    if raw_body is None and body is not None:
        raw_body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    hdrs = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    if claims is not None and bearer and "authorization" not in hdrs:
        hdrs["authorization"] = f"Bearer {unsigned_jwt(claims)}"
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key or f"{method} {path}",
        "stage": "$default",
        "time": "23/Nov/2026:20:00:00 +0000",
        "timeEpoch": 1795464000000,
    }
    if claims is not None:
        shown = {k: flattened(v) for k, v in claims.items()}
        request_context["authorizer"] = {"jwt": {"claims": shown, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": hdrs,
        "requestContext": request_context,
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw_body is not None:
        event["body"] = base64.b64encode(raw_body).decode() if base64_body else raw_body.decode()
    return event


def flattened(value: Any) -> Any:
    """A claim as HTTP API hands it to a function: an array becomes its elements joined by one space inside
    brackets, unquoted (``["not owners"]`` -> ``"[not owners]"``, ``['"a"', "b"]`` -> ``'["a" b]'``); numbers
    and booleans become their text; a string passes unchanged."""
    if isinstance(value, list):
        return "[" + " ".join(flattened(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT carrying ``claims`` with a placeholder signature: API Gateway verified it before the function ran,
    and the functions decode, never verify, the token they receive."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'test', 'typ': 'JWT'})}.{part(claims)}.c2ln"


class FakeContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name = "test-function"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
