"""Rotation with no window (issue 21): once ``POST /projects/{id}/certificate/reset`` has answered, every signer
signs with the new certificate: the user RTC token, the RTC+RTM and RTM tokens, their renewal, and the recorder
token a new recording sends to Agora's start. Each token is checked with ``agorakit.tokens.verify`` against the
certificate Agora (the Console emulator) now holds.

Real handlers (projects, tokens) and the recording functions' own wiring (``service.recordings.deps.build``)
on moto and the Console emulator; the token function's caches are warm before the reset, as in a busy stack.
The wait the rotation makes for signers that trust a confirmed version for a while is driven by a fake clock
handed to the objects (their ``clock``/``sleep`` parameters), never by sleeping in the test.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from emulator.console import DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, ConsoleEmulator
from tests.support.apigw import FakeContext, http_api_event
from tests.support.console import ConsoleServer

APP_ID = "0123456789abcdef0123456789abcdef"
REST_SECRET = "test/agora-rest"
CERT_SECRET = "test/app-certificate"
USERS = "users-table"
USAGE = "usage-table"
OWNER = {"sub": "owner-1", "cognito:groups": ["owners"]}
USER = {"sub": "user-1"}


@pytest.fixture(scope="module")
def console():
    server = ConsoleServer(ConsoleEmulator(qps=50, seed=5)).start()
    yield server
    server.stop()


@pytest.fixture
def stack(console, monkeypatch):
    console.emulator.reset()
    prod = console.emulator.add_project("prod", project_id="Prod7xRH", vendor_key=APP_ID, created_ms=1_600_000_000_000)
    env = {
        "AGORA_APP_ID": APP_ID, "AGORA_REST_SECRET_NAME": REST_SECRET, "AGORA_REST_BASE_URLS": console.url,
        "APP_CERTIFICATE_SECRET_NAME": CERT_SECRET, "USERS_TABLE": USERS, "USAGE_TABLE": USAGE, "XRAY_SDK": "false",
        # the deployed values (infra/constructs/tokens.py, recording.py, projects.py) except the token
        # function's interval, 0 here: the handlers run on the real clock, and this test never sleeps
        "CERTIFICATE_CHECK_SECONDS": "0", "SIGNER_CERTIFICATE_CHECK_SECONDS": "0",
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AGORA_RATE_LIMIT_TABLE", raising=False)
    with mock_aws():
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        ddb = boto3.client("dynamodb")
        for table, keys in ((USERS, ["pk"]), (USAGE, ["pk", "sk"])):
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        sm = boto3.client("secretsmanager")
        sm.create_secret(
            Name=REST_SECRET,
            SecretString=json.dumps({"customer_id": DEFAULT_CUSTOMER_ID, "customer_secret": DEFAULT_CUSTOMER_SECRET}),
        )
        sm.create_secret(Name=CERT_SECRET, SecretString=json.dumps({"app_certificate": prod["sign_key"]}))
        import service.projects.handler as projects
        import service.tokens.handler as tokens

        projects.reset()  # new environments: built from these variables on the first call
        tokens.reset()
        yield SimpleNamespace(projects=projects, tokens=tokens, emulator=console.emulator, old=prod["sign_key"], sm=sm)
        deps = projects.default_app().deps
        if deps._console is not None:
            deps._console.close()
        projects.reset()
        tokens.reset()
        aws_adapter.reset_clients()


def call(module: Any, method: str, path: str, body: Any, claims: dict[str, Any]) -> tuple[int, Any]:
    response = module.handler(http_api_event(method, path, body=body, claims=claims), FakeContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


class Recorder:
    """The recording workflow's start step as it signs: one warm function (``service.recordings.deps.build``, whose
    secret cache survives between starts as in Lambda) building the token it sends to Agora's start."""

    def __init__(self) -> None:
        from service.recordings.deps import build
        from service.recordings.settings import RecordingSettings

        self.settings = RecordingSettings.from_env({**os.environ, "RECORDINGS_TABLE": "recordings"})
        self.deps = build(self.settings)

    def token(self, channel: str) -> str:
        from service.recordings.workflow import _recorder_token

        token = _recorder_token(self.settings, self.deps, channel, 7)
        assert token is not None
        return token


def reset(stack: Any) -> tuple[str, dict[str, Any]]:
    status, answer = call(stack.projects, "POST", "/projects/Prod7xRH/certificate/reset", {"confirm": APP_ID}, OWNER)
    assert status == 200, answer
    new = stack.emulator.project("Prod7xRH")["sign_key"]
    assert new != stack.old
    return new, answer


def test_after_the_reset_answers_user_tokens_and_renewals_use_the_new_certificate(stack):
    from agorakit.tokens import verify

    # warm: the token function has read the certificate
    status, before = call(stack.tokens, "POST", "/tokens", {"channel": "room", "rtm": True}, USER)
    assert status == 200 and verify(before["rtc_token"], stack.old)

    new, answer = reset(stack)

    status, minted = call(stack.tokens, "POST", "/tokens", {"channel": "room", "rtm": True}, USER)
    assert status == 200
    assert verify(minted["rtc_token"], new) and verify(minted["rtm_token"], new)
    assert not verify(minted["rtc_token"], stack.old)
    status, renewed = call(stack.tokens, "POST", "/tokens", {"channel": "room"}, USER)  # a renewal
    assert status == 200 and renewed["uid"] == minted["uid"] and verify(renewed["rtc_token"], new)
    status, rtm = call(stack.tokens, "POST", "/tokens/rtm", {}, USER)
    assert status == 200 and verify(rtm["rtm_token"], new)
    # what the answer says: from it on the new certificate; tokens issued before no longer verify
    assert answer["tokens"]["token_function_picks_up_within_seconds"] == 0
    assert answer["tokens"]["previous_tokens_valid"] is False
    assert "From this answer on" in answer["tokens"]["message"]
    assert not verify(before["rtc_token"], new)


def test_after_the_reset_answers_a_new_recording_gets_a_recorder_token_of_the_new_certificate(stack):
    from agorakit.tokens import verify

    recorder = Recorder()  # warm: one start has read the certificate
    assert verify(recorder.token("room"), stack.old)

    new, _ = reset(stack)

    started = recorder.token("room")
    assert verify(started, new) and not verify(started, stack.old)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class CountingClient:
    """A moto Secrets Manager client whose calls are counted by operation (botocore's event hook)."""

    def __init__(self) -> None:
        self.client = boto3.client("secretsmanager")
        self.calls: list[str] = []
        self.client.meta.events.register("before-call.secrets-manager.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


def test_a_signer_trusting_a_version_for_a_second_is_waited_out_and_costs_one_describe_per_second(stack):
    """The deployed token function trusts a confirmed version for ``CERTIFICATE_CHECK_SECONDS`` = 1 s: the
    rotation answers only after 1 s + the margin, and from then on the first token re-confirms the version."""
    from agorakit.tokens import verify
    from service.adapters.console import build_console_client
    from service.adapters.secrets import SecretsManagerStore
    from service.auth import Caller
    from service.projects.logic import ProjectsDependencies, RotationRequest, rotate_certificate
    from service.projects.repository import DynamoDBUsageCache, SecretsManagerCertificate
    from service.projects.settings import ProjectsSettings
    from service.tokens.logic import TokenDependencies, TokenRequest, mint_tokens
    from service.tokens.settings import TokenSettings

    clock = FakeClock()
    counting = CountingClient()
    token_settings = TokenSettings.from_env({**os.environ, "CERTIFICATE_CHECK_SECONDS": "1"})
    store = SecretsManagerStore(
        versioned={CERT_SECRET: token_settings.certificate_check_seconds},
        client_factory=lambda: counting.client,
        clock=clock,
    )

    class Uids:
        def uid_for(self, subject: str) -> int:
            return 4242

    token_deps = TokenDependencies(uids=Uids(), secrets=store)

    def mint() -> str:
        request = TokenRequest(channel="room")
        return mint_tokens(Caller(subject="u"), request, settings=token_settings, deps=token_deps).rtc_token

    assert verify(mint(), stack.old)
    assert counting.calls == ["DescribeSecret", "GetSecretValue"]
    counting.calls.clear()
    for _ in range(50):  # warm, within the second: no AWS call at all
        mint()
    assert counting.calls == []

    settings = ProjectsSettings.from_env({**os.environ, "SIGNER_CERTIFICATE_CHECK_SECONDS": "1"})
    rest = SecretsManagerStore()
    during: list[str] = []

    def sleep(seconds: float) -> None:
        during.append(mint())  # before the answer the old version may still be trusted: that is the wait's job
        clock.sleep(seconds)

    deps = ProjectsDependencies(
        console_factory=lambda: build_console_client(settings, rest),
        usage_cache=DynamoDBUsageCache(USAGE),
        certificate=SecretsManagerCertificate(CERT_SECRET),
        sleep=sleep,
    )
    try:
        answer = rotate_certificate("Prod7xRH", RotationRequest(confirm=APP_ID), settings=settings, deps=deps)
    finally:
        if deps._console is not None:
            deps._console.close()
    new = stack.emulator.project("Prod7xRH")["sign_key"]
    assert clock.slept == [2.0] and answer["tokens"]["waited_seconds"] == 2.0
    assert verify(during[0], stack.old)  # the window the wait covers, inside the reset call
    counting.calls.clear()
    token = mint()  # the first token after the answer
    assert verify(token, new) and not verify(token, stack.old)
    assert counting.calls == ["DescribeSecret", "GetSecretValue"]  # new version: read once, by its VersionId
    counting.calls.clear()
    mint()
    clock.now += 1.0
    mint()
    assert counting.calls == ["DescribeSecret"]  # the same version re-confirmed: metadata only
