"""Deployment settings: context first, then the environment, then defaults; bad values fail with the key's name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import PLACEHOLDER_APP_ID, StackSettings

APP_ID = "970CA35de60c44645bbae8a215061b33"


def load(context: dict, environ: dict | None = None) -> StackSettings:
    return StackSettings.load(context.get, environ or {})


def test_defaults_are_offline_safe():
    settings = load({})
    assert settings.agora_app_id == PLACEHOLDER_APP_ID and settings.uses_placeholder_app_id
    assert settings.uses_cognito
    assert settings.app_certificate_secret_name == "agora-serverless/app-certificate"


def test_context_wins_over_environment():
    settings = load({"agoraAppId": APP_ID}, {"AGORA_APP_ID": "f" * 32, "AUTH_PUBLISHER_GROUP": "stage"})
    assert settings.agora_app_id == APP_ID
    assert settings.publisher_group == "stage"


def test_comma_separated_rest_hosts():
    settings = load({"restBaseUrls": "https://a.example, https://b.example"})
    assert settings.rest_base_urls == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"agoraAppId": "not-hex"}, "agoraAppId must be 32 hexadecimal"),
        ({"authIssuer": "https://issuer.example"}, "authIssuer and authAudience go together"),
        ({"recordingMaxHours": 25}, "less than or equal to 24"),
        ({"tokenDefaultTtl": 0}, "greater than or equal to 1"),
        ({"publisherDenied": "maybe"}, "forbid"),
    ],
)
def test_bad_values_fail_clearly(context, message):
    with pytest.raises(ValidationError, match=message):
        load(context)


def test_external_issuer_replaces_cognito():
    settings = load({"authIssuer": "https://issuer.example", "authAudience": "my-app"})
    assert not settings.uses_cognito


def test_cors_origins_none_by_default_and_comma_separated():
    assert load({}).cors_origins == []
    settings = load({}, {"CORS_ORIGINS": "https://app.example.com, http://127.0.0.1:8081"})
    assert settings.cors_origins == ["https://app.example.com", "http://127.0.0.1:8081"]
    assert load({"corsOrigins": "https://a.example"}, {"CORS_ORIGINS": "https://b.example"}).cors_origins == [
        "https://a.example"
    ]


@pytest.mark.parametrize("value", ["*", "https://a.example,*"])
def test_cors_wildcard_is_refused_with_a_reason(value):
    with pytest.raises(ValidationError, match=r"corsOrigins '\*' is refused: name each web app origin"):
        load({"corsOrigins": value})


@pytest.mark.parametrize("value", ["https://a.example/", "a.example", "https://a.example/app", "ftp://a.example"])
def test_cors_origin_must_be_an_origin(value):
    with pytest.raises(ValidationError, match="is not an origin"):
        load({"corsOrigins": value})
