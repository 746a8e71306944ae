# ruff: noqa: E501 - fixtures read best on one line
"""The local API server's translation: HTTP request -> API Gateway payload v2 event -> HTTP response,
with the JWT authorizer's checks. Transport-free (``LocalApi.handle``), so no sockets.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from service.auth import caller_from_event

from local.api_server import LocalApi, compile_route
from local.identity import LocalIdentity, claims_for_event
from local.patches import _powertools_thread_local_events
from local.provision import AuthorizerSpec, Dispatcher, FunctionSpec, LocalStack, RouteSpec

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LOCAL1234"
AUDIENCE = "localclientid"
EVENTS: list[dict[str, Any]] = []

app = APIGatewayHttpResolver(enable_validation=True)


@app.get("/items/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    caller = caller_from_event(app.current_event.raw_event)
    return {
        "id": item_id,
        "sub": caller.subject,
        "groups": sorted(caller.groups),
        "q": app.current_event.query_string_parameters,
    }


@app.post("/webhooks")
def webhook():  # type: ignore[no-untyped-def]  # a Response annotation would be validated by Powertools
    return Response(status_code=202, content_type="text/plain", body="accepted", cookies=[])


def resolver_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append(event)
    return app.resolve(event, context)


def raw_handler(event: dict[str, Any], context: Any) -> Any:
    EVENTS.append(event)
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "plain":
        return {"hello": "world"}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "image/png"}, "body": base64.b64encode(b"\x89PNG").decode(),
                "isBase64Encoded": True, "cookies": ["a=1; Path=/", "b=2"]}  # fmt: skip
    return {"statusCode": 201, "headers": {"x-test": "yes"}, "body": json.dumps({"ok": True})}


@pytest.fixture(scope="module")
def identity() -> LocalIdentity:
    return LocalIdentity(issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def api(identity: LocalIdentity, tmp_path: Path) -> LocalApi:
    EVENTS.clear()
    auth = AuthorizerSpec("Auth", ISSUER, [AUDIENCE], ["$request.header.Authorization"])
    fns = {
        "Resolver": FunctionSpec(
            "resolver-fn", f"{__name__}.resolver_handler", {}, "Resolver", "arn:fn:resolver", 10, 256
        ),
        "Raw": FunctionSpec("raw-fn", f"{__name__}.raw_handler", {}, "Raw", "arn:fn:raw", 10, 256),
    }
    routes = [
        RouteSpec("GET /items/{item_id}", "GET", "/items/{item_id}", "resolver-fn", "2.0", auth, []),
        RouteSpec("GET /items/special", "GET", "/items/special", "raw-fn", "2.0", None, []),
        RouteSpec("POST /webhooks", "POST", "/webhooks", "resolver-fn", "2.0", None, []),
        RouteSpec("ANY /raw/{proxy+}", "ANY", "/raw/{proxy+}", "raw-fn", "2.0", None, []),
        RouteSpec("GET /admin/report", "GET", "/admin/report", "raw-fn", "2.0", auth, ["reports/read"]),
    ]
    stack = LocalStack(
        stack_name="T", region="us-east-1", account="123456789012", template={}, functions=fns, routes=routes
    )
    return LocalApi(stack, Dispatcher(stack), identity, port=8080, openapi_path=tmp_path / "openapi.json")


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def body_of(resp: tuple[int, list[tuple[str, str]], bytes]) -> Any:
    return json.loads(resp[2])


def test_route_precedence_literal_over_parameter_over_greedy() -> None:
    specs = [RouteSpec(k, k.split()[0], k.split()[1], "f", "2.0", None, []) for k in
             ("GET /a/{x}", "GET /a/b", "ANY /a/{p+}", "POST /a/{x}")]  # fmt: skip
    compiled = sorted((compile_route(s) for s in specs), key=lambda c: c.rank, reverse=True)
    first = next(c for c in compiled if c.match("GET", "/a/b") is not None)
    assert first.spec.route_key == "GET /a/b"
    first = next(c for c in compiled if c.match("GET", "/a/c") is not None)
    assert first.spec.route_key == "GET /a/{x}" and first.match("GET", "/a/c") == {"x": "c"}
    first = next(c for c in compiled if c.match("DELETE", "/a/c/d") is not None)
    assert first.spec.route_key == "ANY /a/{p+}" and first.match("DELETE", "/a/c/d") == {"p": "c/d"}


def test_authorized_request_reaches_a_powertools_resolver_with_api_gateway_claims(
    api: LocalApi, identity: LocalIdentity
) -> None:
    token = identity.issue_token("host-1")
    headers = [*bearer(token), ("X-Multi", "a"), ("X-Multi", "b"), ("Cookie", "s=1; t=2"), ("Host", "localhost:8080")]
    resp = api.handle("GET", "/items/it%20em?x=1&x=2&y=", headers, b"")
    assert resp[0] == 200, resp
    out = body_of(resp)
    assert (
        out["id"] == "it%20em" and out["sub"]
    )  # Powertools matches on rawPath, as on AWS == identity.user("host-1").sub and out["groups"] == ["hosts"]
    event = EVENTS[-1]
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{item_id}"
    assert event["rawPath"] == "/items/it%20em" and event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""} and event["pathParameters"] == {"item_id": "it em"}
    assert (
        event["headers"]["x-multi"] == "a,b" and "cookie" not in event["headers"] and event["cookies"] == ["s=1", "t=2"]
    )
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "GET" and ctx["http"]["sourceIp"] == "127.0.0.1" and ctx["stage"] == "$default"
    claims = ctx["authorizer"]["jwt"]["claims"]
    assert claims["cognito:groups"] == "[hosts]" and claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["email_verified"] == "true" and claims["exp"].isdigit()
    assert event["isBase64Encoded"] is False and "body" not in event


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda ident: [], None),
        (lambda ident: bearer("not-a-jwt"), "not a JWT"),
        (lambda ident: bearer(ident.issue_token("host-1", ttl=1, now=1_000)), "expired"),
        (lambda ident: bearer(ident.issue_token("host-1", audience="other-client")), "audience"),
        (lambda ident: bearer(ident.issue_token("host-1", issuer="https://evil.example")), "issuer"),
        (lambda ident: bearer(LocalIdentity(issuer=ISSUER, audience=AUDIENCE).issue_token("host-1")), "kid"),
    ],
)
def test_jwt_authorizer_rejections_look_like_api_gateway(
    api: LocalApi, identity: LocalIdentity, make_headers: Any, reason: str | None
) -> None:
    resp = api.handle("GET", "/items/1", make_headers(identity), b"")
    assert resp[0] == 401 and body_of(resp) == {"message": "Unauthorized"}
    challenge = {k.lower(): v for k, v in resp[1]}.get("www-authenticate")
    assert challenge is None if reason is None else (challenge is not None and reason in challenge)
    assert EVENTS == []


def test_scopes_and_public_routes(api: LocalApi, identity: LocalIdentity) -> None:
    assert api.handle("GET", "/admin/report", bearer(identity.issue_token("admin")), b"")[0] == 403
    ok = api.handle("GET", "/admin/report", bearer(identity.issue_token("admin", scopes=["reports/read"])), b"")
    assert ok[0] == 201 and EVENTS[-1]["requestContext"]["authorizer"]["jwt"]["scopes"] == ["reports/read"]
    resp = api.handle("POST", "/webhooks", [("Content-Type", "application/json")], b'{"noticeId":"n"}')
    assert resp[0] == 202 and resp[2] == b"accepted"
    assert EVENTS[-1]["body"] == '{"noticeId":"n"}' and "authorizer" not in EVENTS[-1]["requestContext"]
    assert api.handle("GET", "/items/special", [], b"")[0] == 201  # literal route without authorizer wins
    assert body_of(api.handle("GET", "/nope", [], b"")) == {"message": "Not Found"}
    assert api.handle("DELETE", "/items/1", [], b"")[0] == 404


def test_response_mapping_binary_cookies_inference_and_errors(api: LocalApi) -> None:
    status, headers, body = api.handle(
        "PUT", "/raw/x/y?mode=binary", [("Content-Type", "application/octet-stream")], b"\x00\xff"
    )
    assert EVENTS[-1]["isBase64Encoded"] is True and base64.b64decode(EVENTS[-1]["body"]) == b"\x00\xff"
    assert EVENTS[-1]["pathParameters"] == {"proxy": "x/y"}
    assert (
        status == 200
        and body == b"\x89PNG"
        and ("Set-Cookie", "a=1; Path=/") in headers
        and ("Set-Cookie", "b=2") in headers
    )
    status, headers, body = api.handle("GET", "/raw/a?mode=plain", [], b"")
    assert status == 200 and json.loads(body) == {"hello": "world"} and ("Content-Type", "application/json") in headers
    status, _, body = api.handle("GET", "/raw/a?mode=raise", [], b"")
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}
    status, headers, _ = api.handle("GET", "/raw/a", [], b"")
    assert status == 201 and ("x-test", "yes") in headers


def test_local_token_endpoint_issues_tokens_the_authorizer_accepts(api: LocalApi, identity: LocalIdentity) -> None:
    resp = api.handle("POST", "/local/token", [], b'{"username": "admin"}')
    assert resp[0] == 200
    out = body_of(resp)
    assert out["groups"] == ["admins"] and out["token_type"] == "Bearer"
    claims = identity.verify(out["id_token"])
    assert claims["cognito:username"] == "admin" and claims["token_use"] == "id"
    assert api.handle("GET", "/items/1", bearer(out["id_token"]), b"")[0] == 200
    missing = api.handle("POST", "/local/token", [], b'{"username": "mallory"}')
    assert missing[0] == 404 and "host-1" in body_of(missing)["users"]
    assert api.handle("POST", "/local/token", [], b"not json")[0] == 400
    users = body_of(api.handle("GET", "/local/users", [], b""))["users"]
    assert {u["username"] for u in users} >= {"host-1", "viewer-1", "admin"}
    assert body_of(api.handle("GET", "/local/jwks.json", [], b""))["keys"][0]["kid"] == identity.key_id


def test_docs_and_openapi(api: LocalApi, tmp_path: Path) -> None:
    html = api.handle("GET", "/docs", [], b"")
    assert html[0] == 200 and b"SwaggerUIBundle" in html[2]
    asset = api.handle("GET", "/docs/swagger-ui-bundle.min.js", [], b"")
    assert asset[0] == 200 and len(asset[2]) > 100_000
    missing = api.handle("GET", "/openapi.json", [], b"")
    assert missing[0] == 404 and "make openapi" in body_of(missing)["message"]
    (tmp_path / "openapi.json").write_text('{"openapi":"3.1.0"}')
    assert body_of(api.handle("GET", "/openapi.json", [], b"")) == {"openapi": "3.1.0"}
    routes = body_of(api.handle("GET", "/local/routes", [], b""))["routes"]
    assert {"route": "POST /webhooks", "function": "resolver-fn", "auth": "NONE", "scopes": []} in routes


def test_claims_are_stringified_like_api_gateway() -> None:
    assert claims_for_event({"g": ["a", "b"], "n": 5, "t": True, "d": {"k": 1}}) == {
        "g": "[a b]",
        "n": "5",
        "t": "true",
        "d": '{"k":1}',
    }


def test_concurrent_requests_keep_their_own_event(api: LocalApi, identity: LocalIdentity) -> None:
    import threading

    tokens = {name: identity.issue_token(name) for name in ("host-1", "viewer-1", "admin")}
    results: dict[str, Any] = {}

    def call(name: str) -> None:
        for _ in range(10):
            out = body_of(api.handle("GET", f"/items/{name}", bearer(tokens[name]), b""))
            if out["sub"] != identity.user(name).sub:
                results[name] = out
                return
        results.setdefault(name, "ok")

    with _powertools_thread_local_events():
        threads = [threading.Thread(target=call, args=(n,)) for n in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == dict.fromkeys(tokens, "ok")
