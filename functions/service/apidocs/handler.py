"""``GET /openapi.json`` and ``GET /docs`` (Swagger UI): the API describing itself, when ``apiDocs`` is on.

A plain handler (no resolver, no AWS client): the document is ``openapi.json`` next to this module, the copy
``make openapi`` writes of docs/openapi.json (the drift test checks both), read once per container (on the
first request: ``create_app(document)`` is the function serving a given text, which has no settings). The
Swagger UI page loads swagger-ui-dist from a CDN, as Powertools' own Swagger UI does; the API itself needs
no sign-in to read its description, and "Authorize" takes a user's ID token for the calls.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from service.apps import DefaultApp

DOCUMENT = Path(__file__).with_name("openapi.json")
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ui}/swagger-ui-bundle.js" crossorigin="anonymous"></script>
<script>SwaggerUIBundle({{url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true}});</script>
</body></html>
"""
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=300",
}


def page() -> str:
    return _PAGE.format(title=html.escape("agora-serverless API"), ui=SWAGGER_UI)


def _response(status: int, body: str, content_type: str) -> dict[str, Any]:
    headers = {"Content-Type": content_type, **_SECURITY_HEADERS}
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


class ApiDocs:
    """The docs function serving ``document`` (the OpenAPI text): call it with an API Gateway event.
    (A plain class: ``dataclasses`` would bring ``inspect`` into this function's small cold start.)"""

    def __init__(self, document: str):
        self.document = document

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        path = str(event.get("rawPath") or "")
        if path.endswith("/openapi.json"):
            return _response(200, self.document, "application/json")
        if path.endswith("/docs"):
            return _response(200, page(), "text/html; charset=utf-8")
        return _response(404, '{"message":"Not Found"}', "application/json")


def create_app(document: str) -> ApiDocs:
    return ApiDocs(document)


_default = DefaultApp(lambda: create_app(DOCUMENT.read_text(encoding="utf-8")))
#: the app of this Lambda environment: the document is read on the first call (a cold start)
default_app = _default.get
#: the next call reads the document again (the local stack: a new environment is a new cold start)
reset = _default.reset


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return default_app()(event, context)
