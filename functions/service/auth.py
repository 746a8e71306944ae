"""Who is calling: the JWT claims that API Gateway's JWT authorizer already verified.

HTTP API (payload v2) puts the claims under ``requestContext.authorizer.jwt.claims`` and turns
array claims such as ``cognito:groups`` into a string like ``"[hosts admins]"``; both forms and a
JSON array are accepted here.
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
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(str(v) for v in value if str(v))
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            return frozenset(str(v) for v in loaded if str(v))
        text = text[1:-1]
    parts = text.replace(",", " ").split()
    return frozenset(p for p in parts if p)


def caller_from_event(event: dict[str, Any], *, groups_claim: str = "cognito:groups") -> Caller:
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise Unauthorized("no authenticated subject in the request")
    return Caller(subject=str(subject), groups=parse_groups(claims.get(groups_claim)), claims=dict(claims))
