"""CORS on the HTTP API: none unless origins are configured, then exactly those origins, our headers, a max-age."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.constructs.api import Api
from infra.settings import StackSettings


def _api_template(**settings: object) -> dict:
    app = cdk.App()
    stack = cdk.Stack(app, "CorsTest", env=cdk.Environment(region="us-east-1"))
    Api(stack, "Api", settings=StackSettings.model_validate(settings))
    return Template.from_stack(stack).to_json()


def _http_api(template: dict) -> dict:
    (api,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    return api["Properties"]


def test_no_cors_by_default():
    assert "CorsConfiguration" not in _http_api(_api_template())


def test_configured_origins_headers_and_max_age():
    cors = _http_api(_api_template(cors_origins="https://app.example.com,http://127.0.0.1:8081"))["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["https://app.example.com", "http://127.0.0.1:8081"]
    assert sorted(h.lower() for h in cors["AllowHeaders"]) == ["authorization", "content-type", "idempotency-key"]
    assert set(cors["AllowMethods"]) == {"GET", "POST", "PUT", "DELETE"}
    assert cors["MaxAge"] == 3600
    assert "*" not in cors["AllowOrigins"] and not cors.get("AllowCredentials")


def _recordings_bucket(template: dict) -> dict:
    (bucket,) = [
        r["Properties"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and "RecordingsBucket" in lid
    ]
    return bucket


def test_recordings_bucket_has_no_cors_by_default(template_json):
    assert "CorsConfiguration" not in _recordings_bucket(template_json)


def test_recordings_bucket_lets_the_allowed_origins_fetch_presigned_segments():
    """A page on an allowed origin plays GET /recordings/{id}/playlist with hls.js, which fetches the presigned
    segment URLs from the bucket: GET and HEAD from exactly those origins, nothing else."""
    from app import build_app

    from .conftest import NO_BUNDLING

    _app, stack = build_app(context={**NO_BUNDLING, "corsOrigins": "https://app.example.com"})
    bucket = _recordings_bucket(Template.from_stack(stack).to_json())
    (rule,) = bucket["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == ["https://app.example.com"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD"]
    assert rule["AllowedHeaders"] == ["range"] and rule["MaxAge"] == 3600
