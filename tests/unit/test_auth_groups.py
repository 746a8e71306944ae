"""Groups are read exactly (issue 21): from the verified token in the Authorization header, else from API
Gateway's flattened claim only when that reading is exact; an ambiguous flattened claim is a 403.

The flattened strings below are the ones HTTP API (payload v2) hands a function: an array claim's elements
joined by one space inside brackets, unquoted (``tests.support.apigw.flattened``, also used by every handler
test through ``http_api_event``).
"""

from __future__ import annotations

import pytest
from service.auth import caller_from_event
from service.errors import Forbidden

from tests.support.apigw import flattened, http_api_event

COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
OIDC = "https://login.example.com/realms/main"

# the group lists a token can carry, with the groups they must give: whitespace, commas, brackets and quotes
# are part of a name, never a separator
CLAIMS: list[tuple[object, set[str]]] = [
    (["admins", "hosts"], {"admins", "hosts"}),
    (["admins"], {"admins"}),
    ([], set()),
    (["not admins"], {"not admins"}),
    (["admins "], {"admins "}),
    ([" admins"], {" admins"}),
    (["ops,admins"], {"ops,admins"}),
    (["[admins]"], {"[admins]"}),
    (["a]", "[b"], {"a]", "[b"}),
    (['"admins"'], {'"admins"'}),
    (['["admins"]'], {'["admins"]'}),
    (["x admins", "y"], {"x admins", "y"}),
    ("admins", {"admins"}),  # a string claim: one group
    ("not admins", {"not admins"}),
    ("ops,admins", {"ops,admins"}),
    ("[admins]", {"[admins]"}),  # a string that looks like an array is still one string
    (7, set()),
]


def _event(claim_name: str, value: object, issuer: str, *, bearer: bool) -> dict:
    claims = {"sub": "u-1", "iss": issuer, claim_name: value}
    return http_api_event("GET", "/x", claims=claims, bearer=bearer)


@pytest.mark.parametrize(("claim_name", "issuer"), [("cognito:groups", COGNITO), ("groups", OIDC)])
@pytest.mark.parametrize(("value", "groups"), CLAIMS)
def test_token_in_the_header_gives_the_exact_groups(claim_name: str, issuer: str, value: object, groups: set) -> None:
    event = _event(claim_name, value, issuer, bearer=True)
    assert event["requestContext"]["authorizer"]["jwt"]["claims"][claim_name] == flattened(value)
    assert caller_from_event(event, groups_claim=claim_name).groups == frozenset(groups)


@pytest.mark.parametrize(
    "value", [["not admins"], ["admins "], ["a", "admins x"], ["x", "y"], ["[admins]"], ["a]"], ["a b", "c"]]
)
def test_ambiguous_flattened_claim_without_a_token_is_403(value: list[str]) -> None:
    event = _event("groups", value, OIDC, bearer=False)
    with pytest.raises(Forbidden, match="ambiguous"):
        caller_from_event(event, groups_claim="groups")


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        (["admins"], {"admins"}),
        ([], set()),
        (["ops,admins"], {"ops,admins"}),
        (['"admins"'], {'"admins"'}),  # never JSON-parsed: '["admins"]' is the group "admins" with its quotes
        ("admins", {"admins"}),
        ("not admins", {"not admins"}),  # a string claim: API Gateway passes it unchanged
    ],
)
def test_exact_flattened_claim_without_a_token(value: object, groups: set[str]) -> None:
    event = _event("groups", value, OIDC, bearer=False)
    assert caller_from_event(event, groups_claim="groups").groups == frozenset(groups)


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        (["admins", "hosts"], {"admins", "hosts"}),
        (["a]", "[b"], {"a]", "[b"}),  # Cognito names hold punctuation but never whitespace
        (['"admins"'], {'"admins"'}),
        ([], set()),
    ],
)
def test_cognito_flattened_claim_splits_on_whitespace(value: list[str], groups: set[str]) -> None:
    event = _event("cognito:groups", value, COGNITO, bearer=False)
    assert caller_from_event(event).groups == frozenset(groups)


def test_a_cognito_claim_name_from_another_issuer_is_not_trusted_to_be_cognito() -> None:
    """An OIDC provider that emits ``cognito:groups: ["not owners"]`` is not a Cognito pool: refused."""
    with pytest.raises(Forbidden):
        caller_from_event(_event("cognito:groups", ["not owners"], OIDC, bearer=False))
    look_alike = "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/pool"
    with pytest.raises(Forbidden):
        caller_from_event(_event("cognito:groups", ["not owners"], look_alike, bearer=False))


def test_a_token_that_is_not_the_verified_one_is_refused() -> None:
    event = _event("groups", ["viewers"], OIDC, bearer=True)
    other = http_api_event("GET", "/x", claims={"sub": "u-2", "iss": OIDC, "groups": ["owners"]})
    event["headers"]["authorization"] = other["headers"]["authorization"]
    with pytest.raises(Forbidden, match="not the one the authorizer verified"):
        caller_from_event(event, groups_claim="groups")


@pytest.mark.parametrize("header", ["Bearer", "Bearer a.b", "Bearer a.!!!.c", "Basic dTpw", "Bearer a.WzFd.c"])
def test_an_undecodable_header_falls_back_to_the_flattened_claim(header: str) -> None:
    event = _event("groups", ["owners"], OIDC, bearer=False)
    event["headers"]["authorization"] = header
    assert caller_from_event(event, groups_claim="groups").groups == {"owners"}


def test_token_without_bearer_prefix_is_read() -> None:
    event = _event("groups", ["not owners"], OIDC, bearer=True)
    event["headers"]["authorization"] = event["headers"]["authorization"].removeprefix("Bearer ")
    assert caller_from_event(event, groups_claim="groups").groups == {"not owners"}


def test_direct_invocation_list_claim_is_verbatim() -> None:
    from service.auth import groups_from_flattened

    assert groups_from_flattened(["not admins"]) == {"not admins"}
    assert groups_from_flattened(None) == frozenset()
