"""POST /tokens end to end through the real handler, with DynamoDB and Secrets Manager in moto."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto import mock_aws

from tests.support.apigw import FakeContext, http_api_event

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
SECRET_NAME = "agora-serverless/app-certificate"
TABLE = "users-table"
HOST = {"sub": "host-subject-1", "cognito:groups": ["hosts"]}
VIEWER = {"sub": "viewer-subject-1"}


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AGORA_APP_ID", APP_ID)
    monkeypatch.setenv("APP_CERTIFICATE_SECRET_NAME", SECRET_NAME)
    monkeypatch.setenv("USERS_TABLE", TABLE)
    monkeypatch.setenv("XRAY_SDK", "false")
    with mock_aws():
        from service.adapters.aws import reset_clients

        reset_clients()
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"app_certificate": CERT})
        )
        yield ddb
        reset_clients()


@pytest.fixture
def handler_module(aws):
    import service.tokens.handler as module

    module.reset()  # a new environment: the first call builds the app from this test's variables
    yield module
    module.reset()


def call(module, body, claims=VIEWER, **kw):
    event = http_api_event("POST", "/tokens", body=body, claims=claims, **kw)
    response = module.handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def test_subscriber_token_for_the_callers_stable_uid(handler_module):
    from agorakit.tokens import parse_token, verify

    status, body = call(handler_module, {"channel": "room-1"})
    assert status == 200, body
    assert body["app_id"] == APP_ID and body["channel"] == "room-1" and body["role"] == "subscriber"
    assert 1_000 <= body["uid"] <= 3_999_999_999
    assert body["expires_at"] - body["issued_at"] == 3600
    parsed = parse_token(body["rtc_token"]).to_dict()
    rtc = next(s for s in parsed["services"] if s["name"] == "rtc")
    assert rtc["channel_name"] == "room-1" and rtc["uid"] == str(body["uid"])
    assert set(rtc["privileges"]) == {"1"}  # join only
    assert verify(body["rtc_token"], CERT)
    status2, again = call(handler_module, {"channel": "room-2"})
    assert status2 == 200 and again["uid"] == body["uid"]
    _, other = call(handler_module, {"channel": "room-1"}, claims={"sub": "someone-else"})
    assert other["uid"] != body["uid"]


def test_publisher_needs_the_publisher_group(handler_module):
    from agorakit.tokens import parse_token

    status, body = call(handler_module, {"channel": "live", "role": "publisher"}, claims=HOST)
    assert status == 200 and body["role"] == "publisher"
    rtc = next(s for s in parse_token(body["rtc_token"]).to_dict()["services"] if s["name"] == "rtc")
    assert set(rtc["privileges"]) == {"1", "2", "3", "4"}
    status, body = call(handler_module, {"channel": "live", "role": "publisher"}, claims=VIEWER)
    assert status == 403
    assert "hosts" in body["error"]["message"]


def test_downgrade_policy_gives_subscriber_instead_of_403(handler_module, monkeypatch):
    from service.auth import Caller
    from service.tokens.logic import effective_role

    settings = handler_module.default_app().settings.model_copy(update={"publisher_denied": "downgrade"})
    assert effective_role(Caller("s"), "publisher", settings) == "subscriber"
    assert effective_role(Caller("s", frozenset({"hosts"})), "publisher", settings) == "publisher"


def test_rtm_token_for_the_same_user(handler_module):
    from agorakit.tokens import parse_token, verify

    status, body = call(handler_module, {"channel": "room-1", "rtm": True, "ttl": 600})
    assert status == 200, body
    assert body["rtm_user_id"] == str(body["uid"])
    assert body["expires_at"] - body["issued_at"] == 600
    names = {s["name"] for s in parse_token(body["rtm_token"]).to_dict()["services"]}
    assert names == {"rtc", "rtm"}
    assert verify(body["rtm_token"], CERT)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"channel": ""}, 422),
        ({"channel": "x" * 64}, 422),
        ({"channel": "bad\nname"}, 422),
        ({"channel": "room", "ttl": 0}, 422),
        ({"channel": "room", "ttl": 86401}, 422),
        ({"channel": "room", "role": "admin"}, 422),
        ({"channel": "room", "uid": 5}, 422),  # the uid is never taken from the body
        ({}, 422),
        ({"channel": "room", "rtm": 0}, 422),  # strict: no coercion of 0 to false (issue 12)
        ({"channel": "room", "rtm": "true"}, 422),
        ({"channel": "room", "ttl": "3600"}, 422),
        ({"channel": "room", "ttl": 3600.5}, 422),
        ({"channel": "room", "ttl": True}, 422),
    ],
)
def test_bad_bodies_are_precise_4xx(handler_module, body, status):
    got, payload = call(handler_module, body)
    assert got == status, payload
    assert payload["error"]["message"]


def test_a_whole_number_written_with_a_fraction_is_the_integer_the_document_allows(handler_module):
    """The document says ``"type": "integer"``, which JSON Schema matches with 3600.0: the server agrees."""
    status, payload = call(handler_module, {"channel": "room", "ttl": 3600.0})
    assert status == 200, payload
    assert payload["expires_at"] - payload["issued_at"] == 3600


def test_malformed_json_is_400(handler_module):
    status, payload = call(handler_module, "{not json")
    assert status == 400
    assert "JSON" in payload["error"]["message"]


@pytest.mark.parametrize(
    ("raw", "headers", "base64_body", "status"),
    [
        (b"\x00\x01\xff", None, True, 400),  # not UTF-8 (API Gateway base64-encodes such bodies)
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, None, False, 400),  # nested beyond the parser's depth
        (b'{"channel":"room","ttl":' + b"9" * 5000 + b"}", None, False, 400),  # beyond int's 4300 digits
        (b'{"channel":"room"}', {"content-type": "text/plain"}, False, 415),
        (b'{"channel":"room"}', {"content-type": "multipart/form-data"}, False, 415),  # no boundary
        (b"channel=room", {"content-type": "application/x-www-form-urlencoded"}, False, 415),
    ],
)
def test_bodies_that_cannot_be_json_are_4xx_not_500(handler_module, raw, headers, base64_body, status):
    """Regression (robustness sweep): these raised inside Powertools' body parsing and became a 500."""
    got, payload = call(handler_module, None, raw_body=raw, headers=headers, base64_body=base64_body)
    assert got == status, payload
    assert payload["error"]["message"]


def test_no_identity_is_401(handler_module):
    event = http_api_event("POST", "/tokens", body={"channel": "room"})
    response = handler_module.handler(event, FakeContext())
    assert response["statusCode"] == 401


def test_missing_secret_is_503_and_leaks_nothing(handler_module, aws, capsys):
    boto3.client("secretsmanager").delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)
    status, body = call(handler_module, {"channel": "room"})
    assert status == 503
    assert "Secrets Manager" in body["error"]["message"]


def test_certificate_never_logged_and_read_once(handler_module, capsys):
    calls = []
    client = boto3.client("secretsmanager")
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", lambda **kw: calls.append(1))
    from service.adapters.secrets import SecretsManagerStore

    deps = handler_module.default_app().deps
    deps.secrets = SecretsManagerStore(client_factory=lambda: client)
    for _ in range(5):
        status, _body = call(handler_module, {"channel": "room", "role": "publisher"}, claims=HOST)
        assert status == 200
    assert len(calls) == 1  # cached across warm invocations
    captured = capsys.readouterr()
    assert "TokensMinted" in captured.out  # the metric was emitted
    assert CERT not in captured.out and CERT not in captured.err
    assert CERT.lower() not in captured.out.lower()


def test_concurrent_first_requests_get_one_uid(handler_module, aws):
    from service.tokens.repository import DynamoDBUidRepository

    from local.patches import serialized_dynamodb

    repo = DynamoDBUidRepository(TABLE, client=aws)
    results: list[int] = []
    barrier = threading.Barrier(12)

    def first_request():
        barrier.wait()
        results.append(repo.uid_for("racing-subject"))

    threads = [threading.Thread(target=first_request) for _ in range(12)]
    # moto takes no lock (a failed transaction restores a copy of the whole table, losing other threads'
    # writes); DynamoDB's transactions are serializable. The local stack's lock gives moto that isolation.
    with serialized_dynamodb():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(set(results)) == 1 and len(results) == 12
    items = aws.scan(TableName=TABLE)["Items"]
    assert sorted(i["pk"]["S"] for i in items) == sorted(["SUB#racing-subject", f"UID#{results[0]}"])


class Interleaved:
    """A DynamoDB client that runs ``before_write`` just before its first TransactWriteItems: another
    first request of the same subject committing between our read and our write (the race, without
    threads). ``conflicts`` transactions are refused first with TransactionConflict, as DynamoDB refuses
    one that meets another in flight (moto never does)."""

    def __init__(self, client, *, before_write=None, conflicts: int = 0):
        self._client = client
        self._before_write = before_write
        self.conflicts = conflicts
        self.transactions: list[int] = []

    def get_item(self, **kwargs):
        return self._client.get_item(**kwargs)

    def transact_write_items(self, **kwargs):
        from botocore.exceptions import ClientError

        self.transactions.append(int(kwargs["TransactItems"][0]["Put"]["Item"]["uid"]["N"]))
        if self._before_write is not None:
            before, self._before_write = self._before_write, None
            before()
        if self.conflicts:
            self.conflicts -= 1
            reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
            raise ClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                 "CancellationReasons": reasons},
                "TransactWriteItems",
            )  # fmt: skip
        return self._client.transact_write_items(**kwargs)


def test_a_first_request_that_loses_the_race_returns_the_winners_uid(aws):
    from service.tokens.repository import DynamoDBUidRepository

    winner: list[int] = []
    rival = DynamoDBUidRepository(TABLE, client=aws)
    client = Interleaved(aws, before_write=lambda: winner.append(rival.uid_for("raced")))
    loser = DynamoDBUidRepository(TABLE, client=client).uid_for("raced")
    assert loser == winner[0]
    assert client.transactions == [winner[0]]  # one failed transaction, then the winner's item is read
    assert len(aws.scan(TableName=TABLE)["Items"]) == 2


def test_a_transaction_conflict_retries_the_same_uid(aws):
    from service.tokens.repository import DynamoDBUidRepository, candidate_uids

    client = Interleaved(aws, conflicts=2)
    uid = DynamoDBUidRepository(TABLE, client=client).uid_for("conflicted")
    derived = next(candidate_uids("conflicted"))
    assert uid == derived and client.transactions == [derived] * 3  # never a random uid for a conflict


def test_a_transaction_conflict_with_a_committed_winner_returns_it(aws):
    from service.tokens.repository import DynamoDBUidRepository

    winner: list[int] = []
    rival = DynamoDBUidRepository(TABLE, client=aws)
    client = Interleaved(aws, before_write=lambda: winner.append(rival.uid_for("late")), conflicts=1)
    assert DynamoDBUidRepository(TABLE, client=client).uid_for("late") == winner[0]
    assert len(client.transactions) == 1


def test_uid_collision_moves_to_another_uid(aws):
    from service.tokens.repository import USER_UID_MAX, USER_UID_MIN, DynamoDBUidRepository, candidate_uids

    first = next(candidate_uids("victim"))
    aws.put_item(TableName=TABLE, Item={"pk": {"S": f"UID#{first}"}, "subject": {"S": "squatter"}})
    uid = DynamoDBUidRepository(TABLE, client=aws).uid_for("victim")
    assert uid != first and USER_UID_MIN <= uid <= USER_UID_MAX


@pytest.fixture
def aws_calls(aws):
    """Every AWS API call the service's clients make, by operation name (a botocore hook on the shared
    session, registered before the first client exists so every client inherits it)."""
    from service.adapters import aws as aws_adapter

    calls: list[str] = []
    aws_adapter.session().register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def test_returning_user_warm_request_makes_no_aws_call(handler_module, aws_calls):
    status, first = call(handler_module, {"channel": "room-1"})
    assert status == 200, first
    # the first request of a container: the uid allocation (read, then the transaction) and the certificate,
    # its current version confirmed (DescribeSecret) and read by VersionId
    assert aws_calls == ["GetItem", "TransactWriteItems", "DescribeSecret", "GetSecretValue"]
    for channel in ("room-1", "room-2", "room-3"):
        aws_calls.clear()
        status, body = call(handler_module, {"channel": channel, "rtm": True})
        assert status == 200 and body["uid"] == first["uid"]
        # warm, returning user: no uid read, no certificate read; at most the version re-confirmed (at most one
        # DescribeSecret per CERTIFICATE_CHECK_SECONDS: 0 within it, test_certificate_rotation.py counts it)
        assert aws_calls in ([], ["DescribeSecret"])
    aws_calls.clear()
    _, other = call(handler_module, {"channel": "room-1"}, claims={"sub": "a-new-user"})
    assert other["uid"] != first["uid"]
    assert aws_calls == ["GetItem", "TransactWriteItems"]  # a new user costs the allocation only


def test_returning_user_in_a_fresh_container_reads_once(handler_module, aws_calls):
    call(handler_module, {"channel": "room"})
    handler_module.reset()  # a new container: nothing cached, the uid is in the table
    aws_calls.clear()
    for _ in range(3):
        status, _body = call(handler_module, {"channel": "room"})
        assert status == 200
    assert aws_calls[:3] == ["GetItem", "DescribeSecret", "GetSecretValue"]
    assert set(aws_calls[3:]) <= {"DescribeSecret"}


def test_rotated_certificate_is_picked_up_after_the_check_interval(handler_module, aws, aws_calls):
    from agorakit.tokens import verify
    from service.adapters.secrets import SecretsManagerStore

    now = [1000.0]
    deps = handler_module.default_app().deps
    settings = handler_module.default_app().settings
    # the handler's own store, on a clock this test moves (the version is trusted for 1 s once confirmed)
    deps.secrets = SecretsManagerStore(
        max_age=settings.secret_cache_seconds, versioned={SECRET_NAME: 1.0}, clock=lambda: now[0]
    )
    _, before = call(handler_module, {"channel": "room"})
    assert verify(before["rtc_token"], CERT)
    rotated = "0123456789abcdef0123456789abcdef"
    boto3.client("secretsmanager").put_secret_value(
        SecretId=SECRET_NAME, SecretString=json.dumps({"app_certificate": rotated})
    )
    now[0] += 0.9
    aws_calls.clear()
    _, cached = call(handler_module, {"channel": "room"})
    # within the interval: the confirmed version (the rotation's answer waits this interval out)
    assert aws_calls == [] and verify(cached["rtc_token"], CERT)
    now[0] += 0.2
    _, fresh = call(handler_module, {"channel": "room"})
    assert aws_calls == ["DescribeSecret", "GetSecretValue"] and verify(fresh["rtc_token"], rotated)


def test_uid_cache_is_bounded(aws, aws_calls):
    from service.tokens.repository import CachedUidRepository, DynamoDBUidRepository

    uids = CachedUidRepository(DynamoDBUidRepository(TABLE), max_entries=2)
    for subject in ("a", "b"):
        uids.uid_for(subject)
    aws_calls.clear()
    for subject in ("a", "c", "a", "b"):
        uids.uid_for(subject)
    # "a" is cached; "c" evicts "b" (the least recently used), so "b" is read again; "a" stays cached
    assert aws_calls == ["GetItem", "TransactWriteItems", "GetItem"]


def _rtc(token: str) -> dict:
    from agorakit.tokens import parse_token

    return next(s for s in parse_token(token).to_dict()["services"] if s["name"] == "rtc")


def test_per_privilege_expiry_within_the_role(handler_module):
    from agorakit.tokens import verify

    body = {"channel": "live", "role": "publisher", "ttl": 3600, "rtm": True,
            "privilege_ttl": {"publish_audio": 300, "publish_video": 600}}  # fmt: skip
    status, minted = call(handler_module, body, claims=HOST)
    assert status == 200, minted
    assert _rtc(minted["rtc_token"])["privileges"] == {"1": 3600, "2": 300, "3": 600, "4": 3600}
    assert _rtc(minted["rtm_token"])["privileges"] == {"1": 3600, "2": 300, "3": 600, "4": 3600}
    issued = minted["issued_at"]
    assert minted["privilege_expires_at"] == {"join": issued + 3600, "publish_audio": issued + 300,
                                              "publish_video": issued + 600, "publish_data": issued + 3600}  # fmt: skip
    assert verify(minted["rtc_token"], CERT)
    # a subscriber gets join only: its own join expiry, and no publish privilege even if asked
    status, sub = call(handler_module, {"channel": "live", "privilege_ttl": {"join": 120}})
    assert status == 200 and _rtc(sub["rtc_token"])["privileges"] == {"1": 120}
    assert sub["privilege_expires_at"] == {"join": sub["issued_at"] + 120}
    status, refused = call(handler_module, {"channel": "live", "privilege_ttl": {"publish_audio": 60}})
    assert status == 400 and "publisher" in refused["error"]["message"]
    assert call(handler_module, {"channel": "live", "privilege_ttl": {"join": 86401}})[0] == 422
    assert call(handler_module, {"channel": "live", "privilege_ttl": {"kick": 5}})[0] == 422


def test_renewal_gives_the_same_uid_and_fresh_expiries(handler_module, monkeypatch):
    import time as time_module

    _, first = call(handler_module, {"channel": "live", "ttl": 600})
    now = time_module.time()
    monkeypatch.setattr(time_module, "time", lambda: now + 500)  # 100 s before expiry: the SDK's warning
    handler_module.default_app().deps.clock = lambda: now + 500
    _, renewed = call(handler_module, {"channel": "live", "ttl": 600})
    assert renewed["uid"] == first["uid"] and renewed["rtc_token"] != first["rtc_token"]
    assert renewed["expires_at"] >= first["expires_at"] + 499
    assert renewed["privilege_expires_at"]["join"] == renewed["expires_at"]


def test_standalone_rtm_login_token(handler_module):
    from agorakit.tokens import parse_token, verify

    _, rtc = call(handler_module, {"channel": "room-1"})
    event = http_api_event("POST", "/tokens/rtm", body={"ttl": 900}, claims=VIEWER)
    response = handler_module.handler(event, FakeContext())
    body = json.loads(response["body"])
    assert response["statusCode"] == 200, body
    assert body["uid"] == rtc["uid"] and body["rtm_user_id"] == str(rtc["uid"])
    assert body["expires_at"] - body["issued_at"] == 900
    services = parse_token(body["rtm_token"]).to_dict()["services"]
    assert [s["name"] for s in services] == ["rtm"] and verify(body["rtm_token"], CERT)
    assert services[0]["user_id"] == str(rtc["uid"])
    bad = handler_module.handler(http_api_event("POST", "/tokens/rtm", body={"ttl": 0}, claims=VIEWER), FakeContext())
    assert bad["statusCode"] == 422
    anonymous = handler_module.handler(http_api_event("POST", "/tokens/rtm", body={}), FakeContext())
    assert anonymous["statusCode"] == 401
