"""The projects API end to end: the real handler, Agora's Console = our Console emulator on loopback, AWS = moto.

Covers list/read by project id and App ID (certificate masked), owners-only access, enable/disable with
the confirmation for the deployment's own project, daily usage through the DynamoDB cache (emulator call
counts), certificate rotation into the token secret (and what the token function then reads), a failed
secret write and its recovery, an ambiguous Agora failure during the reset, and logs free of certificates.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from emulator.console import DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, ConsoleEmulator
from tests.support.console import ConsoleServer

APP_ID = "0123456789abcdef0123456789abcdef"
OTHER_APP_ID = "fedcba9876543210fedcba9876543210"
USAGE = "test-usage"
REST_SECRET = "test/agora-rest"
CERT_SECRET = "test/app-certificate"

CONTEXT = SimpleNamespace(
    function_name="projects",
    function_version="$LATEST",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:projects",
    aws_request_id="req",
)


@pytest.fixture(scope="module")
def server():
    srv = ConsoleServer(ConsoleEmulator(qps=10, seed=11)).start()
    yield srv
    srv.stop()


@pytest.fixture
def api(server, monkeypatch):
    emu = server.emulator
    emu.reset()
    prod = emu.add_project("prod", project_id="Prod7xRH", vendor_key=APP_ID, created_ms=1_600_000_000_000)
    other = emu.add_project("other", project_id="Oth3r", vendor_key=OTHER_APP_ID, created_ms=1_600_000_000_000)
    with mock_aws():
        for key, value in {
            "AGORA_APP_ID": APP_ID,
            "AGORA_REST_SECRET_NAME": REST_SECRET,
            "AGORA_REST_BASE_URLS": server.url,
            "USAGE_TABLE": USAGE,
            "APP_CERTIFICATE_SECRET_NAME": CERT_SECRET,
            "SIGNER_CERTIFICATE_CHECK_SECONDS": "0",  # signers confirm at every signature: no wait (real clock)
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AGORA_RATE_LIMIT_TABLE", raising=False)
        monkeypatch.delenv("OWNERS_GROUP", raising=False)
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=USAGE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        sm = boto3.client("secretsmanager")
        sm.create_secret(
            Name=REST_SECRET,
            SecretString=json.dumps({"customer_id": DEFAULT_CUSTOMER_ID, "customer_secret": DEFAULT_CUSTOMER_SECRET}),
        )
        sm.create_secret(Name=CERT_SECRET, SecretString=json.dumps({"app_certificate": prod["sign_key"]}))
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        from service.projects import handler

        handler.reset()  # a new environment: the first call builds the app from this test's variables
        yield SimpleNamespace(handler=handler, ddb=ddb, sm=sm, emulator=emu, prod=prod, other=other)
        deps = handler.default_app().deps
        if deps._console is not None:
            deps._console.close()
        handler.reset()
        aws_adapter.reset_clients()


def call(
    api: Any,
    method: str,
    path: str,
    *,
    query: dict | None = None,
    body: Any = None,
    groups: str | None = "[owners]",
    sub: str | None = "owner-1",
) -> tuple[int, Any]:
    # the stack's Cognito user pool as issuer: its flattened "[a b]" group claim reads exactly (service.auth)
    claims: dict[str, Any] = {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test"}
    if sub:
        claims["sub"] = sub
    if groups is not None:
        claims["cognito:groups"] = groups
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "queryStringParameters": {k: str(v) for k, v in (query or {}).items()} or None,
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "198.51.100.7"},
            "stage": "$default",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    response = api.handler.handler(event, CONTEXT)
    text = response.get("body")
    return response["statusCode"], json.loads(text) if text else None


def secret_certificate(api: Any) -> str:
    return json.loads(api.sm.get_secret_value(SecretId=CERT_SECRET)["SecretString"])["app_certificate"]


def test_list_and_read_by_project_id_or_app_id_with_the_certificate_masked(api):
    status, body = call(api, "GET", "/projects")
    assert status == 200
    assert {p["project_id"]: p["serves_this_deployment"] for p in body["projects"]} == {
        "Prod7xRH": True,
        "Oth3r": False,
    }
    for key in ("Prod7xRH", APP_ID, APP_ID.upper()):
        status, project = call(api, "GET", f"/projects/{key}")
        assert status == 200 and project["project_id"] == "Prod7xRH" and project["app_id"] == APP_ID
        assert project["certificate"]["sign_key"] == "********" and project["certificate"]["enabled"] is True
        assert project["created"].startswith("2020-09-13T12:26:40")  # milliseconds read as such
    assert api.prod["sign_key"] not in json.dumps(body)
    status, error = call(api, "GET", f"/projects/{'a' * 32}")
    assert status == 404 and "App ID" in error["error"]["message"]
    status, error = call(api, "GET", "/projects/unknown")
    assert status == 404 and "project id" in error["error"]["message"]
    status, _ = call(api, "GET", f"/projects/{'x' * 65}")
    assert status == 400


def test_only_owners(api):
    status, error = call(api, "GET", "/projects", groups="[admins hosts]")
    assert status == 403 and "owners" in error["error"]["message"]
    status, _ = call(api, "GET", "/projects", sub=None)
    assert status == 401
    calls = api.emulator.calls["list_projects"]
    call(api, "PUT", "/projects/Oth3r/status", body={"enabled": False}, groups="[admins]")
    assert api.emulator.calls["list_projects"] == calls and api.emulator.project("Oth3r")["status"] == 1


def test_enable_and_disable_with_a_confirmation_for_our_own_project(api):
    emu = api.emulator
    status, project = call(api, "PUT", "/projects/Oth3r/status", body={"enabled": False})
    assert status == 200 and project["enabled"] is False and emu.project("Oth3r")["status"] == 0
    status, project = call(api, "PUT", f"/projects/{OTHER_APP_ID}/status", body={"enabled": True})
    assert status == 200 and emu.project("Oth3r")["status"] == 1
    status, error = call(api, "PUT", "/projects/Prod7xRH/status", body={"enabled": False})
    assert status == 400 and APP_ID in error["error"]["message"] and emu.project("Prod7xRH")["status"] == 1
    status, project = call(api, "PUT", "/projects/Prod7xRH/status", body={"enabled": False, "confirm": APP_ID})
    assert status == 200 and emu.project("Prod7xRH")["status"] == 0
    status, _ = call(api, "PUT", "/projects/Prod7xRH/status", body={"enabled": True, "extra": 1})
    assert status == 422
    status, _ = call(api, "PUT", "/projects/Prod7xRH/status", body={"enabled": "maybe"})
    assert status == 422


OIDC_ISSUER = "https://login.example.com/realms/main"


@pytest.mark.parametrize("groups", [["not owners"], ["owners "], [" owners"], ["x owners", "y"], "not owners"])
@pytest.mark.parametrize("bearer", [True, False])
def test_a_group_named_with_a_space_is_not_the_owners_group(api, groups, bearer):
    """Issue 21: API Gateway hands ``["not owners"]`` over as ``"[not owners]"``. Through the handler, with the
    verified token in the Authorization header (as API Gateway sends it) and without: never an owner."""
    from tests.support.apigw import FakeContext, http_api_event

    claims = {"sub": "oidc-user", "iss": OIDC_ISSUER, "cognito:groups": groups}
    body = {"enabled": False, "confirm": APP_ID}
    event = http_api_event("PUT", "/projects/Prod7xRH/status", body=body, claims=claims, bearer=bearer)
    response = api.handler.handler(event, CONTEXT)
    assert response["statusCode"] == 403, response
    message = json.loads(response["body"])["error"]["message"]
    assert ("owners" in message) if bearer or isinstance(groups, str) else ("ambiguous" in message)
    assert api.emulator.project("Prod7xRH")["status"] == 1  # Agora's project untouched
    if bearer:  # the same caller really in the group, next to a group with a space: an owner
        claims["cognito:groups"] = ["a b", "owners"]
        event = http_api_event("PUT", "/projects/Prod7xRH/status", body=body, claims=claims)
        assert api.handler.handler(event, FakeContext())["statusCode"] == 200
        assert api.emulator.project("Prod7xRH")["status"] == 0


def test_usage_is_served_from_the_cache_once_settled(api):
    emu = api.emulator
    today = datetime.now(UTC).date()
    start, end = today - timedelta(days=20), today - timedelta(days=5)
    query = {"from_date": start.isoformat(), "to_date": end.isoformat()}
    status, first = call(api, "GET", f"/projects/{APP_ID}/usage", query=query)  # the App ID is resolved
    assert status == 200, first
    assert first["project_id"] == "Prod7xRH" and first["unit"] == "second"
    assert [d["date"] for d in first["days"]] == [(start + timedelta(days=i)).isoformat() for i in range(16)]
    assert all(d["final"] for d in first["days"]) and "durationAudioAll" in first["meta"]
    assert first["cache"] == {"cached_days": 0, "fetched_days": 16}
    assert emu.calls["usage"] == 1
    status, second = call(api, "GET", "/projects/Prod7xRH/usage", query=query)
    assert emu.calls["usage"] == 1  # no Agora call: every day was settled and cached
    assert second["days"] == first["days"] and second["totals"] == first["totals"] and second["meta"] == first["meta"]
    assert second["cache"] == {"cached_days": 16, "fetched_days": 0}
    assert first["totals"]["durationAudioAll"] == sum(d["usage"]["durationAudioAll"] for d in first["days"])

    # a range reaching today: the unsettled days come from Agora every time, and are never cached
    query = {"from_date": (today - timedelta(days=6)).isoformat(), "to_date": (today + timedelta(days=3)).isoformat()}
    status, recent = call(api, "GET", "/projects/Prod7xRH/usage", query=query)
    assert status == 200 and recent["to_date"] == today.isoformat()
    assert [d["final"] for d in recent["days"]] == [True, True, True, True, True, False, False]
    assert recent["cache"]["cached_days"] == 2 and emu.calls["usage"] == 2
    status, again = call(api, "GET", "/projects/Prod7xRH/usage", query=query)
    assert again["cache"]["cached_days"] == 5 and emu.calls["usage"] == 3

    # another business is another cache entry
    status, rec = call(api, "GET", "/projects/Prod7xRH/usage", query={**query, "business": "cloudRecording"})
    assert status == 200 and rec["business"] == "cloudRecording" and emu.calls["usage"] == 4


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"from_date": "2026-02-01", "to_date": "2026-01-01"}, 400),
        ({"from_date": "2020-01-01", "to_date": "2026-01-01"}, 400),
        ({"from_date": "2026-01-01", "to_date": "2026-01-02", "business": "video"}, 400),
        ({"from_date": "2026-13-01", "to_date": "2026-01-02"}, 400),  # a malformed query parameter: 400
        ({"to_date": "2026-01-02"}, 400),
        ({"from_date": "2999-01-01", "to_date": "2999-01-02"}, 400),
    ],
)
def test_usage_bad_input_is_a_precise_4xx_without_an_agora_call(api, query, status):
    got, error = call(api, "GET", "/projects/Prod7xRH/usage", query=query)
    assert got == status and error["error"]["message"]
    assert api.emulator.calls["usage"] == 0


def test_certificate_rotation_updates_the_token_secret(api, capsys, caplog):
    # our loggers and the HTTP client at DEBUG, everything else at INFO (botocore's DEBUG prints AWS wire
    # bodies, the secret's included: an SDK switch outside the code's control, never on in the functions)
    caplog.set_level(logging.INFO)
    for name in ("agorakit", "service", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    emu = api.emulator
    old = api.prod["sign_key"]
    status, error = call(api, "POST", "/projects/Prod7xRH/certificate/reset", body={"confirm": "Prod7xRH"})
    assert status == 400 and "App ID" in error["error"]["message"] and emu.calls["reset_signkey"] == 0
    status, answer = call(api, "POST", "/projects/Prod7xRH/certificate/reset", body={"confirm": APP_ID})
    assert status == 200, answer
    new = emu.project("Prod7xRH")["sign_key"]
    assert new != old and secret_certificate(api) == new
    assert answer["tokens"]["previous_tokens_valid"] is False and "no longer verify" in answer["tokens"]["message"]
    assert answer["tokens"]["token_function_picks_up_within_seconds"] == 0  # every signer: from the answer on
    assert answer["tokens"]["waited_seconds"] == 0  # SIGNER_CERTIFICATE_CHECK_SECONDS=0 here
    assert answer["certificate"]["secret_name"] == CERT_SECRET and answer["certificate"]["secret_version_id"]
    assert answer["certificate"]["fingerprint"] != answer["certificate"]["previous_fingerprint"]
    assert answer["project"]["certificate"]["sign_key"] == "********"

    # what the token function reads next (its cache expired): the new certificate
    from service.adapters.secrets import SecretsManagerStore
    from service.tokens.logic import app_certificate
    from service.tokens.settings import TokenSettings

    token_settings = TokenSettings(agora_app_id=APP_ID, app_certificate_secret_name=CERT_SECRET, users_table="u")
    assert app_certificate(SecretsManagerStore(max_age=0), token_settings) == new
    # Secrets Manager keeps the replaced value as AWSPREVIOUS
    previous = api.sm.get_secret_value(SecretId=CERT_SECRET, VersionStage="AWSPREVIOUS")["SecretString"]
    assert json.loads(previous)["app_certificate"] == old

    # another project's certificate has nowhere to go
    status, _ = call(api, "POST", "/projects/Oth3r/certificate/reset", body={"confirm": OTHER_APP_ID})
    assert status == 409 and emu.project("Oth3r")["sign_key"] == api.other["sign_key"]

    everything = capsys.readouterr().out + capsys.readouterr().err + caplog.text + json.dumps(answer)
    assert "app certificate rotated" in everything  # the logs were captured...
    for secret in (old, new, api.other["sign_key"]):
        assert secret not in everything  # ...and no certificate is in them or in the answer


def test_an_ambiguous_reset_is_not_repeated_and_the_secret_gets_the_real_value(api):
    emu = api.emulator
    emu.inject("500_after")
    status, answer = call(api, "POST", f"/projects/{APP_ID}/certificate/reset", body={"confirm": APP_ID})
    assert status == 200, answer
    assert emu.calls["reset_signkey"] == 1
    assert secret_certificate(api) == emu.project("Prod7xRH")["sign_key"] != api.prod["sign_key"]


def test_a_failed_secret_write_says_so_and_sync_recovers(api):
    emu = api.emulator
    api.sm.delete_secret(SecretId=CERT_SECRET, ForceDeleteWithoutRecovery=True)
    status, error = call(api, "POST", "/projects/Prod7xRH/certificate/reset", body={"confirm": APP_ID})
    assert status == 502 and error["error"]["code"] == "certificate_secret_not_written"
    assert "WAS reset" in error["error"]["message"] and "/certificate/sync" in error["error"]["message"]
    new = emu.project("Prod7xRH")["sign_key"]
    assert new != api.prod["sign_key"] and new not in json.dumps(error)
    api.sm.create_secret(Name=CERT_SECRET, SecretString=json.dumps({"app_certificate": api.prod["sign_key"]}))
    status, answer = call(api, "POST", "/projects/Prod7xRH/certificate/sync")
    assert status == 200 and secret_certificate(api) == new
    assert answer["tokens"]["previous_tokens_valid"] is None
    assert emu.calls["reset_signkey"] == 1  # sync never resets


def test_agora_errors_map_to_precise_statuses(api):
    emu = api.emulator
    emu.inject("429", "429", "429")
    status, error = call(api, "GET", "/projects")
    assert status == 503 and error["error"]["code"] == "upstream_unavailable"
    emu.accounts[DEFAULT_CUSTOMER_ID] = "rotated-elsewhere"
    try:
        api.handler.default_app().deps.forget_projects()
        status, error = call(api, "GET", "/projects")
        assert status == 502 and error["error"]["details"]["agora_http_status"] == 401
    finally:
        emu.accounts[DEFAULT_CUSTOMER_ID] = DEFAULT_CUSTOMER_SECRET


def test_a_rotation_publishes_certificate_rotated_without_the_certificate(api, monkeypatch):
    """After the secret holds the new certificate, the projects function sends ``Certificate Rotated`` to the
    stack's bus (moto routes it through a rule to the app's queue); the event names the secret version."""
    from tests.support.event_contracts import assert_valid

    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="Test-events")
    queue = sqs.create_queue(QueueName="app")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="app", EventBusName="Test-events", EventPattern=json.dumps({"source": [{"prefix": "agora-"}]}))
    events.put_targets(Rule="app", EventBusName="Test-events", Targets=[{"Id": "q", "Arn": arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", "Test-events")
    api.handler.reset()  # a function deployed with the bus: a new environment
    try:
        status, answer = call(api, "POST", "/projects/Prod7xRH/certificate/reset", body={"confirm": APP_ID})
    finally:
        if api.handler.default_app().deps._console is not None:
            api.handler.default_app().deps._console.close()
    assert status == 200, answer
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    (envelope,) = [json.loads(m["Body"]) for m in messages]
    detail = assert_valid(envelope)
    assert envelope["detail-type"] == "Certificate Rotated" and envelope["source"] == "agora-serverless.projects"
    assert detail["project_id"] == "Prod7xRH" and detail["app_id"] == APP_ID
    assert detail["secret_version"] == answer["certificate"]["secret_version_id"]
    assert secret_certificate(api) not in json.dumps(envelope) and api.prod["sign_key"] not in json.dumps(envelope)
