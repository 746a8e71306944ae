"""Who is calling: the JWT claims that API Gateway's JWT authorizer already verified.

HTTP API (payload v2) puts the claims under ``requestContext.authorizer.jwt.claims`` and turns
array claims such as ``cognito:groups`` into a string like ``"[hosts admins]"``; that form, a JSON array
and a single group name are accepted here (``parse_groups`` says exactly how).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from service.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Caller:
    subject: str
    groups: frozenset[str] = field(default_factory=frozenset)
    claims: dict[str, Any] = field(default_factory=dict)

    def in_group(self, group: str) -> bool:
        return group in self.groups

    def require_group(self, group: str, action: str) -> None:
        if group not in self.groups:
            raise Forbidden(f"{action} requires membership of the '{group}' group")


def parse_groups(value: Any) -> frozenset[str]:
    """The caller's groups, read in the form the issuer documents and nothing looser.

    - a JSON array (the claim as the issuer signed it): each element is one group, verbatim;
    - a string ``"[a b]"``: API Gateway's rendering of an array claim (HTTP API, payload v2). Cognito group
      names cannot contain whitespace, so splitting on whitespace is exact; commas are part of a name;
    - a string ``'["a","b"]'``: an array claim serialized as JSON;
    - any other string: one group name, verbatim (``"ops,admins"`` is the group ``ops,admins``).

    Never split on commas: a user in ``["ops,admins"]`` or ``["not admins"]`` is not an admin.
    """
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(v for v in value if isinstance(v, str) and v)
    if not isinstance(value, str):
        return frozenset()
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            return frozenset(v for v in loaded if isinstance(v, str) and v)
        return frozenset(text[1:-1].split())
    return frozenset([text]) if text else frozenset()


def caller_from_event(event: dict[str, Any], *, groups_claim: str = "cognito:groups") -> Caller:
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise Unauthorized("no authenticated subject in the request")
    return Caller(subject=str(subject), groups=parse_groups(claims.get(groups_claim)), claims=dict(claims))
