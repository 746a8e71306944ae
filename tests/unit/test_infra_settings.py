"""Deployment settings: context first, then the environment, then defaults; bad values fail with the key's name."""

from __future__ import annotations

import re

import pytest

from infra.settings import PLACEHOLDER_APP_ID, SettingsError, StackSettings

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
        ({"agoraAppId": "not-hex"}, "agoraAppId='not-hex' is not allowed: expected 32 hexadecimal characters"),
        ({"authIssuer": "https://issuer.example"}, "authIssuer and authAudience go together"),
        ({"recordingMaxHours": 25}, "recordingMaxHours=25 is not allowed: expected an integer from 1 to 24"),
        ({"tokenDefaultTtl": 0}, "tokenDefaultTtl=0 is not allowed: expected an integer from 1 to 86400"),
        ({"publisherDenied": "maybe"}, "publisherDenied='maybe' is not allowed: expected one of forbid, downgrade"),
        ({"agoraQps": "abc"}, "agoraQps='abc' is not allowed: expected an integer from 1 to 100"),
        ({"logRetentionDays": 31}, "logRetentionDays=31 is not allowed: expected one of 1, 3, 5, 7, 14, 30"),
        ({"dev": "maybe"}, "dev='maybe' is not allowed: expected true or false"),
        ({"callbackUrls": "http://evil.example/cb"}, "callbackUrls='http://evil.example/cb' is not allowed"),
        ({"tags": "team"}, "tags='team' is not allowed: expected key=value pairs"),
        ({"tags": "aws:x=1"}, "tags='aws:x=1' is not allowed"),
        ({"hostedUiDomainPrefix": "my-cognito-app"}, "hostedUiDomainPrefix='my-cognito-app' is not allowed"),
        ({"region": "Mars"}, "region='Mars' is not allowed: expected an AWS region name"),
        ({"stackName": "1stack"}, "stackName='1stack' is not allowed"),
    ],
)
def test_bad_values_fail_in_one_line_naming_key_and_allowed_values(context, message):
    with pytest.raises(SettingsError, match=re.escape(message)) as caught:
        load(context)
    assert "\n" not in str(caught.value)


def test_an_environment_variable_mistake_names_the_variable():
    with pytest.raises(SettingsError, match=r"^AGORA_QPS='0' is not allowed: expected an integer from 1 to 100$"):
        load({}, {"AGORA_QPS": "0"})


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("agoraQPS", "agoraQps"), ("logRetention", "logRetentionDays"), ("recordingMaxHour", "recordingMaxHours")],
)
def test_unknown_keys_are_errors_with_a_suggestion(key, suggestion):
    with pytest.raises(
        SettingsError, match=rf"^unknown context key '{key}' \(did you mean {suggestion}\?\); known keys: "
    ):
        StackSettings.load({key: "1"}.get, {}, context_keys=[key])


def test_cdk_keys_and_tuning_keys_are_not_unknown():
    keys = [
        "@aws-cdk/core:newStyleStackSynthesis",
        "aws:cdk:bundling-stacks",
        "recordingStaleSeconds",
        "availability-zones:account=1:region=x",
    ]
    assert StackSettings.load({}.get, {}, context_keys=keys, extra_keys=["recordingStaleSeconds"])
    with pytest.raises(SettingsError, match="unknown context key 'somethingElse'; known keys"):
        StackSettings.load({}.get, {}, context_keys=["somethingElse"])


def test_configured_lists_tags_and_dev():
    settings = load(
        {"callbackUrls": "https://a.example/cb, http://localhost:5173/cb", "tags": '{"team": "media"}', "dev": "true"}
    )
    assert settings.callback_urls == ["https://a.example/cb", "http://localhost:5173/cb"]
    assert settings.tags == {"team": "media"} and settings.dev is True
    assert load({"tags": "a=1,b=two"}).tags == {"a": "1", "b": "two"}
    assert load({}).uses_default_callback_urls and not load({}).dev


# slow: `import app` boots jsii, a Node.js child process
@pytest.mark.slow
def test_app_prints_one_line_and_exits_2(capsys, monkeypatch):
    import app

    def broken(context=None):
        raise SettingsError("agoraQps='abc' is not allowed: expected an integer from 1 to 100")

    monkeypatch.setattr(app, "build_app", broken)
    assert app.main() == 2
    err = capsys.readouterr().err
    assert err == "configuration error: agoraQps='abc' is not allowed: expected an integer from 1 to 100\n"


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
    with pytest.raises(SettingsError, match=r"^corsOrigins='.*' is not allowed: expected .*\('\*' is refused\)$"):
        load({"corsOrigins": value})


@pytest.mark.parametrize("value", ["https://a.example/", "a.example", "https://a.example/app", "ftp://a.example"])
def test_cors_origin_must_be_an_origin(value):
    with pytest.raises(
        SettingsError, match=r"^corsOrigins='.*' is not allowed: expected comma-separated browser origins"
    ):
        load({"corsOrigins": value})


def test_event_targets_and_archive_days():
    targets = '[{"type": "sqs", "arn": "arn:aws:sqs:us-east-1:123456789012:q"}, {"type": "https", "name": "Hook", "url": "https://app.example/h", "apiKeySecretName": "k"}]'  # noqa: E501
    settings = load({"eventTargets": targets, "eventArchiveDays": "0"})
    assert [t.type for t in settings.event_targets] == ["sqs", "https"] and settings.event_archive_days == 0
    assert settings.event_targets[1].api_key_header == "x-api-key"
    assert load({}).event_targets == [] and load({}).event_archive_days == 30


@pytest.mark.parametrize(
    "targets",
    [
        "not json",
        '[{"type": "smtp", "arn": "arn:aws:sqs:us-east-1:123456789012:q"}]',
        '[{"type": "https", "url": "https://app.example/h"}]',  # no API key secret
        '[{"type": "https", "url": "http://app.example/h", "apiKeySecretName": "k"}]',  # not https
        '[{"type": "lambda", "arn": "arn:aws:sqs:us-east-1:123456789012:q"}]',  # not a function
        '[{"type": "sqs", "arn": "arn:aws:sqs:us-east-1:123456789012:q", "name": "A"},'
        ' {"type": "sqs", "arn": "arn:aws:sqs:us-east-1:123456789012:r", "name": "A"}]',
        '[{"type": "sqs", "arn": "arn:aws:sqs:us-east-1:123456789012:q", "extra": 1}]',
    ],
)
def test_bad_event_targets_fail_in_one_line(targets):
    with pytest.raises(SettingsError, match=r"^eventTargets='.*' is not allowed: expected a JSON list") as caught:
        load({"eventTargets": targets})
    assert "\n" not in str(caught.value)


def test_event_archive_days_out_of_range():
    with pytest.raises(SettingsError, match=r"^eventArchiveDays=4000 is not allowed: expected an integer from 0"):
        load({"eventArchiveDays": 4000})
