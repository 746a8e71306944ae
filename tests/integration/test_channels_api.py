"""The channels API end to end: the real handler, Agora = our emulator over loopback, AWS = moto.

Covers the cached online list (emulator request counts), users from Agora and from webhook presence
(the emulator's own NCS events run through the real processor), user status, kicking rules
(create/list/merge/update/delete, and their effect in the emulator), 401/403, and 4xx on bad input.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from moto import mock_aws

from emulator import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, ApiError, Emulator

RULES = "test-kicking-rules"
PRESENCE = "test-presence"
REST_SECRET = "test/agora-rest"
BOT_UID = 4_000_000_007
BIG_UID = 2_845_863_044

CONTEXT = SimpleNamespace(
    function_name="channels",
    function_version="$LATEST",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:channels",
    aws_request_id="req",
)


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator(seed=7, qps=1000).start()
    yield emu
    emu.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(emulator, monkeypatch):
    emulator.reset()
    with mock_aws():
        for key, value in {
            "AGORA_APP_ID": DEFAULT_APP_ID,
            "AGORA_REST_SECRET_NAME": REST_SECRET,
            "AGORA_REST_BASE_URLS": emulator.url,
            "KICKING_RULES_TABLE": RULES,
            "PRESENCE_TABLE": PRESENCE,
            "ADMIN_GROUP": "admins",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AGORA_RATE_LIMIT_TABLE", raising=False)
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=RULES,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.create_table(
            TableName=PRESENCE,
            KeySchema=[{"AttributeName": "channel", "KeyType": "HASH"}, {"AttributeName": "uid", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "channel", "AttributeType": "S"},
                {"AttributeName": "uid", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("secretsmanager").create_secret(
            Name=REST_SECRET,
            SecretString=json.dumps({"customer_id": DEFAULT_CUSTOMER_ID, "customer_secret": DEFAULT_CUSTOMER_SECRET}),
        )
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        from service.channels import handler

        handler.reset()  # a new environment: the first call builds the app from this test's variables
        yield SimpleNamespace(handler=handler, ddb=ddb, emulator=emulator)
        deps = handler.default_app().deps
        if deps._agora is not None:
            deps._agora.close()
        handler.reset()
        aws_adapter.reset_clients()


def call(
    api: Any,
    method: str,
    path: str,
    *,
    query: dict | None = None,
    body: Any = None,
    groups: str | None = "[admins]",
    sub: str | None = "admin-1",
    raw_body: str | None = None,
) -> tuple[int, Any]:
    claims: dict[str, Any] = {}
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
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }
    response = api.handler.handler(event, CONTEXT)
    text = response.get("body")
    return response["statusCode"], json.loads(text) if text else None


def ops(emulator: Emulator, op: str) -> int:
    return emulator.stats()["by_op"].get(op, 0)


def test_online_channels_are_cached_briefly(api):
    emu = api.emulator
    emu.join("lobby", 1001)
    emu.join("stage", 1002)
    emu.join("stage", 1003, role="audience")
    clock = FakeClock()
    api.handler.default_app().deps.cache = type(api.handler.default_app().deps.cache)(clock=clock)

    status, first = call(api, "GET", "/channels")
    assert status == 200
    assert {c["channel_name"]: c["user_count"] for c in first["channels"]} == {"lobby": 1, "stage": 2}
    assert first["cached"] is False
    list_op = next(op for op in emu.stats()["by_op"] if "list" in op and "channel" in op)
    assert ops(emu, list_op) == 1

    for _ in range(5):  # a polling dashboard
        clock.now += 0.9
        status, again = call(api, "GET", "/channels")
        assert status == 200
        assert again["cached"] is True
        assert again["channels"] == first["channels"]
    assert ops(emu, list_op) == 1  # one Agora call for six requests within 5 s

    clock.now += 1.0  # past the 5 s
    emu.join("late", 1004)
    status, fresh = call(api, "GET", "/channels")
    assert fresh["cached"] is False
    assert "late" in {c["channel_name"] for c in fresh["channels"]}
    assert ops(emu, list_op) == 2

    status, paged = call(api, "GET", "/channels", query={"page_no": 0, "page_size": 2})  # another key: another call
    assert status == 200
    assert paged["page_size"] == 2
    assert ops(emu, list_op) == 3


def test_users_from_agora_exclude_the_recorder_bot(api):
    emu = api.emulator
    emu.join("show", BIG_UID, role="host")
    emu.join("show", 2001, role="audience")
    emu.join("show", 2002, role="audience")
    with emu.world.lock:
        emu.world.join("show", BOT_UID, role="host", platform=6, client_type=10, bot=True)
    status, body = call(api, "GET", "/channels/show/users")
    assert status == 200
    assert body["source"] == "agora"
    assert body["mode"] == "live"
    assert body["hosts"] == [BIG_UID]  # a uid above 2^31 survives as a number
    assert sorted(body["audience"]) == [2001, 2002]
    assert body["bots"] == [BOT_UID]
    assert body["total"] == 3

    status, nobody = call(api, "GET", "/channels/empty-room/users")
    assert status == 200
    assert nobody["channel_exist"] is False
    assert nobody["total"] == 0


def _process_emulator_events(api: Any) -> None:
    """Feed the emulator's NCS events through the real webhook processor into the presence table."""
    from service.presence.repository import DynamoDBPresence
    from service.webhooks.logic import dispatch_notice
    from service.webhooks.settings import ProcessorSettings

    presence = DynamoDBPresence(PRESENCE)
    settings = ProcessorSettings(presence_table=PRESENCE)
    for notice in api.emulator.events():
        if notice["productId"] == 1:
            dispatch_notice(notice, presence=presence, recordings=None, settings=settings, now=2_000_000_000)


def test_users_from_webhooks_match_agora(api):
    emu = api.emulator
    emu.join("panel", 3001, role="host")
    emu.join("panel", 3002, role="audience")
    emu.join("panel", 3003, role="audience")
    emu.join("panel", 3002, role="host")  # role change: 111
    emu.leave("panel", 3003, reason=2)
    with emu.world.lock:
        emu.world.join("panel", BOT_UID, role="host", platform=6, client_type=10, bot=True)
    _process_emulator_events(api)

    _, agora = call(api, "GET", "/channels/panel/users")
    status, hooks = call(api, "GET", "/channels/panel/users", query={"source": "webhooks"})
    assert status == 200
    assert hooks["source"] == "webhooks"

    def norm(value: Any) -> Any:
        return sorted(value) if isinstance(value, list) else value

    for key in ("hosts", "audience", "users", "bots", "total", "channel_exist"):
        assert norm(hooks[key]) == norm(agora[key]), key
    assert hooks["hosts"] == [3001, 3002]
    assert hooks["channel_state"] == "live"
    left = next(m for m in hooks["members"] if m["uid"] == 3003)
    assert (left["state"], left["leave_reason"], left["leave_reason_name"]) == ("left", 2, "timeout")
    bot = next(m for m in hooks["members"] if m["uid"] == BOT_UID)
    assert bot["bot"] is True


def test_user_status(api):
    api.emulator.join("desk", BIG_UID, role="audience", platform=7)
    status, body = call(api, "GET", f"/channels/desk/users/{BIG_UID}")
    assert status == 200
    assert body["in_channel"] is True
    assert body["role"] == "audience"
    assert body["platform"] == 7
    status, absent = call(api, "GET", "/channels/desk/users/5")
    assert status == 200
    assert absent["in_channel"] is False


def test_channel_names_are_percent_decoded(api):
    name = "team [A] #1"
    api.emulator.join(name, 4242)
    status, body = call(api, "GET", f"/channels/{quote(name, safe='')}/users")
    assert status == 200
    assert body["channel"] == name
    assert body["users"] == [4242]


def test_kick_list_update_delete(api):
    emu = api.emulator
    emu.join("arena", 5001)
    emu.join("arena", 5002)
    status, rule = call(api, "POST", "/channels/arena/kick", body={"uid": 5001, "duration_seconds": 600})
    assert status == 201
    assert (rule["channel"], rule["uid"], rule["privileges"], rule["duration_seconds"]) == (
        "arena", 5001, ["join_channel"], 600
    )  # fmt: skip
    assert rule["created_by"] == "admin-1"
    rule_id = rule["id"]
    # effect at "Agora": the user is out and cannot come back
    _, users = call(api, "GET", "/channels/arena/users")
    assert users["users"] == [5002]
    with pytest.raises(ApiError):
        emu.join("arena", 5001)
    # our copy
    stored = api.ddb.get_item(TableName=RULES, Key={"id": {"N": str(rule_id)}})["Item"]
    assert stored["uid"]["N"] == "5001"
    assert int(stored["purgeAt"]["N"]) > int(stored["expiresAt"]["N"])

    # a rule made elsewhere (the console, another tool) is only in Agora's list
    foreign = api.handler.default_app().deps.agora.create_kicking_rule(None, ip="192.0.2.1", seconds=300)
    status, ours = call(api, "GET", "/kicking-rules")
    assert status == 200
    assert [r["id"] for r in ours["rules"]] == [rule_id]
    status, merged = call(api, "GET", "/kicking-rules", query={"include_agora": "true"})
    by_id = {r["id"]: r for r in merged["rules"]}
    assert by_id[rule_id]["sources"] == ["ours", "agora"]
    assert by_id[foreign]["sources"] == ["agora"]
    assert by_id[foreign]["ip"] == "192.0.2.1"

    status, updated = call(api, "PUT", f"/kicking-rules/{rule_id}", body={"duration_seconds": 1200})
    assert status == 200
    assert updated["duration_seconds"] == 1200
    assert updated["expires_at"] - updated["created_at"] >= 1200
    status, _ = call(api, "PUT", "/kicking-rules/999999", body={"duration_seconds": 1200})
    assert status == 404

    status, _ = call(api, "DELETE", f"/kicking-rules/{rule_id}")
    assert status == 204
    assert "Item" not in api.ddb.get_item(TableName=RULES, Key={"id": {"N": str(rule_id)}})
    emu.join("arena", 5001)  # the ban is lifted
    status, _ = call(api, "DELETE", f"/kicking-rules/{rule_id}")
    assert status == 404


def test_an_ip_ban_is_app_wide_with_privileges(api):
    status, rule = call(
        api, "POST", "/kicking-rules",
        body={"ip": "2001:db8::1", "duration_seconds": 60, "privileges": ["publish_audio", "publish_video"]},
    )  # fmt: skip
    assert status == 201, rule
    assert (rule["ip"], rule["uid"], rule["channel"], rule["kind"]) == ("2001:db8::1", None, None, "ip_ban")
    assert rule["privileges"] == ["publish_audio", "publish_video"]
    status, body = call(api, "POST", "/channels/arena/kick", body={"ip": "192.0.2.1"})
    assert status == 422 and "/kicking-rules" in json.dumps(body)  # cname + ip is not an Agora form


def test_every_documented_form_reaches_agora_and_keeps_our_id(api):
    emu = api.emulator
    emu.join("forms", 6001)
    emu.join("forms", 6002)
    # one-time kick: out now, may rejoin at once; kept with its id, already expired
    status, kick = call(api, "POST", "/channels/forms/kick", body={"uid": 6001, "duration_seconds": 0})
    assert status == 201 and kick["kind"] == "kick" and kick["expired"] is True
    assert 6001 not in {u["uid"] for c in emu.channels() if c["cname"] == "forms" for u in c["users"]}
    emu.join("forms", 6001)
    # app-wide uid ban: that uid cannot join any channel
    status, app_ban = call(api, "POST", "/kicking-rules", body={"uid": 6003, "duration_seconds": 120})
    assert status == 201 and app_ban["kind"] == "app_user_ban" and app_ban["channel"] is None
    with pytest.raises(Exception):  # noqa: B017 - the emulator's ApiError (403) is what a banned join gets
        emu.join("elsewhere", 6003)
    # channel-wide ban (cname only): the channel is closed to everyone
    status, closed = call(api, "POST", "/channels/forms/kick", body={"close_channel": True, "duration_seconds": 60})
    assert status == 201 and closed["kind"] == "channel_ban" and closed["uid"] is None
    with pytest.raises(Exception):  # noqa: B017
        emu.join("forms", 6009)
    # privilege bans for a uid in a channel
    status, mute = call(api, "POST", "/channels/other/kick",
                        body={"uid": 6004, "duration_seconds": 60, "privileges": ["publish_audio"]})  # fmt: skip
    assert status == 201 and mute["kind"] == "channel_user_ban" and mute["privileges"] == ["publish_audio"]
    listed = {r["id"]: r for r in call(api, "GET", "/kicking-rules", query={"include_agora": "true"})[1]["rules"]}
    for rule in (kick, app_ban, closed, mute):
        assert rule["id"] in listed and "ours" in listed[rule["id"]]["sources"]
    for rule in (app_ban, closed, mute):  # extend, then lift
        assert call(api, "PUT", f"/kicking-rules/{rule['id']}", body={"duration_seconds": 600})[0] == 200
        assert call(api, "DELETE", f"/kicking-rules/{rule['id']}")[0] == 204
    emu.join("forms", 6009)  # the channel is open again


def test_hosts_only_list(api):
    api.emulator.join("live1", 7001, role="host", profile="live")
    api.emulator.join("live1", 7002, role="audience", profile="live")
    status, body = call(api, "GET", "/channels/live1/hosts")
    assert status == 200, body
    assert body["hosts"] == [7001] and body["source"] == "agora"


def test_hosts_of_a_communication_channel_is_409_not_a_live_channel_with_agoras_reason(api):
    """Agora answers 400 "hosts_only applies to live channels": the channel's state, never a gateway failure."""
    api.emulator.join("chat1", 7101, profile="communication")
    status, body = call(api, "GET", "/channels/chat1/hosts")
    assert status == 409, body
    assert body["error"]["code"] == "conflict"
    assert body["error"]["message"].startswith("not a live channel")
    assert "hosts_only applies to live channels" in body["error"]["message"]
    assert body["error"]["details"]["agora_http_status"] == 400


def test_ncs_addresses_from_agora(api):
    """GET /ncs/ips asks Agora (one call) and answers its addresses with the refresh period."""
    before = api.emulator.stats()["requests"]
    status, body = call(api, "GET", "/ncs/ips")
    assert status == 200, body
    assert body == {"addresses": ["127.0.0.1"], "source": "agora", "refresh_seconds": 86_400}
    assert api.emulator.stats()["requests"] == before + 1
    api.emulator.set_faults(script=["502@ncs.ip"] * 10)  # Agora's gateway keeps failing: a clear 503
    status, error = call(api, "GET", "/ncs/ips")
    api.emulator.set_faults(clear=True)
    assert status == 503 and error["error"]["code"] == "upstream_unavailable", error


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/ncs/ips", None),
        ("GET", "/channels", None),
        ("GET", "/channels/x/users", None),
        ("GET", "/channels/x/users/5", None),
        ("POST", "/channels/x/kick", {"uid": 5}),
        ("GET", "/kicking-rules", None),
        ("PUT", "/kicking-rules/1", {"duration_seconds": 60}),
        ("DELETE", "/kicking-rules/1", None),
    ],
)
def test_admins_only(api, method, path, body):
    before = api.emulator.stats()["requests"]
    status, error = call(api, method, path, body=body, groups="[hosts]")
    assert status == 403
    assert error["error"]["code"] == "forbidden"
    status, _ = call(api, method, path, body=body, groups=None, sub=None)
    assert status == 401
    assert api.emulator.stats()["requests"] == before  # refused before any Agora call


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/channels/" + "a" * 64 + "/users", None, 400),
        ("GET", "/channels/bad'name/users", None, 400),
        ("GET", "/channels/x/users/0", None, 400),
        ("GET", "/channels/x/users/4294967296", None, 400),
        ("GET", "/channels/x/users/12ab", None, 400),
        ("GET", "/channels/x/users/-3", None, 400),
        ("POST", "/channels/x/kick", {}, 422),
        ("POST", "/channels/x/kick", {"uid": 0}, 422),
        ("POST", "/channels/x/kick", {"uid": 4294967296}, 422),
        ("POST", "/channels/x/kick", {"uid": "123"}, 422),
        ("POST", "/channels/x/kick", {"uid": True}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "ip": "192.0.2.1"}, 422),
        ("POST", "/channels/x/kick", {"ip": "999.1.1.1"}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "close_channel": True}, 422),
        ("POST", "/channels/x/kick", {}, 422),
        ("POST", "/kicking-rules", {"uid": 5, "ip": "192.0.2.1"}, 422),
        ("POST", "/kicking-rules", {"ip": "999.1.1.1"}, 422),
        ("POST", "/kicking-rules", {"uid": 5, "duration_seconds": 30}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "duration_seconds": 59}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "duration_seconds": 86401}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "privileges": []}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "privileges": ["fly"]}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "privileges": ["join_channel", "join_channel"]}, 422),
        ("POST", "/channels/x/kick", {"uid": 5, "extra": 1}, 422),
        ("POST", "/channels/bad'name/kick", {"uid": 5}, 400),
        ("PUT", "/kicking-rules/abc", {"duration_seconds": 60}, 400),
        ("PUT", "/kicking-rules/0", {"duration_seconds": 60}, 400),
        ("PUT", "/kicking-rules/5", {"duration_seconds": 10}, 422),
        ("DELETE", "/kicking-rules/x1", None, 400),
    ],
)
def test_bad_input_is_a_precise_4xx(api, method, path, body, status):
    before = api.emulator.stats()["requests"]
    got, answer = call(api, method, path, body=body)
    assert got == status, answer
    if status >= 400:
        assert answer["error"]["message"]
        assert api.emulator.stats()["requests"] == before  # nothing reached Agora


def test_query_validation(api):
    """A malformed or unknown query parameter is a malformed request: 400 naming it (docs/decisions.md)."""
    assert call(api, "GET", "/channels", query={"page_size": 0})[0] == 400
    assert call(api, "GET", "/channels", query={"page_size": 501})[0] == 400
    assert call(api, "GET", "/channels", query={"page_size": "9" * 5000})[0] == 400
    assert call(api, "GET", "/channels", query={"page_no": -1})[0] == 400
    assert call(api, "GET", "/channels/x/users", query={"source": "gossip"})[0] == 400
    status, answer = call(api, "GET", "/kicking-rules", query={"include_agora": "true", "page": "2"})
    assert status == 400 and "page" in answer["error"]["message"]
    assert call(api, "GET", "/kicking-rules", query={"include_agora": "maybe"})[0] == 400
    assert call(api, "POST", "/channels/x/kick", raw_body="{not json")[0] == 400
    assert call(api, "POST", "/channels/x/kick", raw_body='{"a":' * 5000 + "1" + "}" * 5000)[0] == 400


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_channel_names_reach_agora_as_themselves(api, name):
    """Regression: "." and ".." are valid Agora names but were dot-segments in the REST path (-> 502)."""
    api.emulator.join(name, 4243)
    status, body = call(api, "GET", f"/channels/{quote(name, safe='')}/users")
    assert status == 200, body
    assert body["users"] == [4243]
    status, body = call(api, "GET", f"/channels/{quote(name, safe='')}/users/4243")
    assert status == 200 and body["in_channel"] is True


def test_agora_auth_failure_is_a_502_not_a_500(api):
    boto3.client("secretsmanager").put_secret_value(
        SecretId=REST_SECRET, SecretString=json.dumps({"customer_id": "wrong", "customer_secret": "wrong"})
    )
    status, body = call(api, "GET", "/channels/x/users")
    assert status == 502
    assert body["error"]["code"] == "upstream_error"
    assert "wrong" not in json.dumps(body)


def test_kicking_rules_and_agora_requests_are_metrics(api, capsys):
    from tests.support import emf

    api.emulator.join("metered", 6001)
    capsys.readouterr()
    status, rule = call(api, "POST", "/channels/metered/kick", body={"uid": 6001, "duration_seconds": 60})
    assert status == 201
    assert call(api, "POST", "/kicking-rules", body={"ip": "192.0.2.9", "duration_seconds": 60})[0] == 201
    assert call(api, "PUT", f"/kicking-rules/{rule['id']}", body={"duration_seconds": 120})[0] == 200
    assert call(api, "DELETE", f"/kicking-rules/{rule['id']}")[0] == 204
    docs = emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "KickingRulesCreated", {"Scope": "channel"}) == [1.0]
    assert emf.values(docs, "KickingRulesCreated", {"Scope": "app"}) == [1.0]
    assert emf.values(docs, "KickingRulesUpdated") == [1.0]
    assert emf.values(docs, "KickingRulesDeleted") == [1.0]
    requests = emf.values(docs, "AgoraRequests")
    waits = emf.values(docs, "AgoraLimiterWaitMs")
    agora_ops = sum(api.emulator.stats()["by_op"].values())
    assert len(requests) == len(waits) == agora_ops >= 4  # one limiter slot per request Agora received
    assert all(w >= 0 for w in waits)
    assert emf.units(docs)["AgoraLimiterWaitMs"] == "Milliseconds"
