"""``apiDocs``: off by default; on, the deployed API serves its OpenAPI document and Swagger UI, publicly,
from a function that holds no permission but its logs (cdk-nag passes: synthesis raises otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra.conftest import NO_BUNDLING

ROOT = Path(__file__).resolve().parents[2]


def _docs_routes(template_json: dict) -> list[str]:
    return sorted(
        r["Properties"]["RouteKey"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Route" and r["Properties"]["RouteKey"] in ("GET /openapi.json", "GET /docs")
    )


def test_off_by_default(template_json):
    assert _docs_routes(template_json) == []


@pytest.mark.slow
def test_on_serves_the_document_and_swagger_ui_without_sign_in():
    from aws_cdk.assertions import Template

    from app import build_app

    app, stack = build_app(context={**NO_BUNDLING, "apiDocs": "true"})
    app.synth()
    template = Template.from_stack(stack).to_json()
    assert _docs_routes(template) == ["GET /docs", "GET /openapi.json"]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGatewayV2::Route" and resource["Properties"]["RouteKey"].endswith(
            ("/docs", "/openapi.json")
        ):
            assert resource["Properties"].get("AuthorizationType", "NONE") == "NONE"
    (docs_fn,) = [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == "service.apidocs.handler.handler"
    ]  # fmt: skip
    assert "Environment" not in docs_fn["Properties"] or not any(
        "SECRET" in k or "TABLE" in k for k in docs_fn["Properties"]["Environment"].get("Variables", {})
    )


def test_handler_serves_the_committed_document():
    from service.apidocs import handler

    served = handler.handler({"rawPath": "/openapi.json"}, None)
    assert served["statusCode"] == 200 and served["headers"]["Content-Type"] == "application/json"
    assert json.loads(served["body"]) == json.loads((ROOT / "docs" / "openapi.json").read_text())
    page = handler.handler({"rawPath": "/docs"}, None)
    assert page["statusCode"] == 200 and "swagger-ui" in page["body"] and 'url: "openapi.json"' in page["body"]
    assert handler.handler({"rawPath": "/other"}, None)["statusCode"] == 404
