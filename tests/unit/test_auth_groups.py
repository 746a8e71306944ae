"""Group claims are read in the issuer's documented format, never split on commas (issue 12)."""

from __future__ import annotations

import pytest
from service.auth import caller_from_event, parse_groups


def _event(groups: object) -> dict:
    return {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "u-1", "cognito:groups": groups}}}}}


@pytest.mark.parametrize(
    "claim",
    [
        ["ops,admins"],  # a list claim: each element is one group, verbatim
        ["not admins"],
        "ops,admins",  # a plain string: one group name
        "not admins",
        "[ops,admins]",  # API Gateway's rendering of ["ops,admins"]: commas belong to the name
        '["not admins"]',  # a JSON array string
        '["ops,admins"]',
        {"admins": True},  # not a claim shape any issuer documents
        7,
    ],
)
def test_lookalike_groups_are_not_admins(claim: object) -> None:
    assert not caller_from_event(_event(claim)).in_group("admins")


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        (["admins", "hosts"], {"admins", "hosts"}),
        ("[admins hosts]", {"admins", "hosts"}),  # HTTP API's rendering of Cognito's array claim
        ("[admins]", {"admins"}),
        ('["admins","a b"]', {"admins", "a b"}),
        ("admins", {"admins"}),
        ("[]", set()),
        (None, set()),
        ("", set()),
    ],
)
def test_documented_forms(claim: object, groups: set[str]) -> None:
    assert parse_groups(claim) == frozenset(groups)
