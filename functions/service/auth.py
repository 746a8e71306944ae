"""Who is calling: the JWT that API Gateway's JWT authorizer already verified.

HTTP API (payload v2) puts the claims under ``requestContext.authorizer.jwt.claims`` with every value
flattened to a string: an array claim ``["a", "b"]`` arrives as ``"[a b]"`` (elements joined by one space,
no quoting), so ``["not owners"]`` and ``["not", "owners"]`` arrive as the same string. The groups are
therefore read from the token itself: the ``Authorization`` header holds the bearer token API Gateway
verified (the authorizer's identity source), and its payload is decoded here, not verified again. The
flattened claim is used only when no token is in the header, and only when its reading is exact
(``groups_from_flattened`` says when); an ambiguous one is refused with 403. See docs/projects.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from service.errors import Forbidden, Unauthorized

#: Cognito user pool issuers; Cognito group names cannot hold whitespace (CreateGroup's GroupName pattern)
_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[A-Za-z0-9_-]+$")


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


def groups_from_token_claim(value: Any) -> frozenset[str]:
    """The groups of a claim as the issuer signed it: an array's string elements verbatim, a string as one group.

    Nothing is split: ``["not owners"]`` is the one group ``not owners``, ``"ops,admins"`` the group ``ops,admins``.
    """
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str) and v)
    if isinstance(value, str) and value:
        return frozenset([value])
    return frozenset()


def groups_from_flattened(value: Any, *, issuer: Any = None, claim: str = "groups") -> frozenset[str]:
    """The groups of a claim as API Gateway flattened it, when that reading is exact; ``Forbidden`` when not.

    - a list (a direct invocation, not API Gateway): its string elements verbatim;
    - ``"[]"``: no groups; a string without the surrounding brackets: one group, verbatim (API Gateway passes a
      string claim through unchanged and always brackets an array);
    - ``"[a b]"`` from a Cognito user pool (``iss`` is ``https://cognito-idp.<region>.amazonaws.com/<pool>``):
      split on whitespace, exact because Cognito group names cannot contain whitespace;
    - ``"[name]"`` from any other issuer: one group, when ``name`` holds no whitespace and no bracket;
    - anything else from any other issuer (``"[not owners]"``: one group or two?) is ambiguous: refused.

    Never parsed as JSON: ``["admins"]`` with its quotes is what API Gateway makes of the group ``"admins"``.
    """
    if not isinstance(value, str):
        return groups_from_token_claim(list(value) if isinstance(value, list | tuple) else None)
    if not (value.startswith("[") and value.endswith("]") and len(value) >= 2):
        return groups_from_token_claim(value)
    inner = value[1:-1]
    if not inner:
        return frozenset()
    if isinstance(issuer, str) and _COGNITO_ISSUER.match(issuer):
        return frozenset(inner.split())
    if any(c.isspace() for c in inner) or "[" in inner or "]" in inner:
        raise Forbidden(
            f"the '{claim}' claim reached the function as {len(inner) + 2} characters that API Gateway's "
            "flattening makes ambiguous (a group name with a space or a bracket, or several groups); send the "
            "token in the Authorization header so its groups can be read exactly"
        )
    return frozenset([inner])


def bearer_payload(event: dict[str, Any]) -> dict[str, Any] | None:
    """The payload of the JWT in the ``Authorization`` header (``Bearer <jwt>`` or ``<jwt>``), or None.

    API Gateway verified this token before invoking the function (signature, issuer, audience, expiry):
    nothing here is a verification, and the caller checks it is the token whose claims API Gateway passed.
    """
    headers = event.get("headers") or {}
    raw = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == "authorization"), None)
    if not isinstance(raw, str):
        return None
    token = raw.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def caller_from_event(event: dict[str, Any], *, groups_claim: str = "cognito:groups") -> Caller:
    claims = (((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise Unauthorized("no authenticated subject in the request")
    payload = bearer_payload(event)
    if payload is not None:
        if str(payload.get("sub")) != str(subject) or str(payload.get("iss")) != str(claims.get("iss")):
            raise Forbidden("the bearer token is not the one the authorizer verified (sub or iss differ)")
        groups = groups_from_token_claim(payload.get(groups_claim))
    else:
        groups = groups_from_flattened(claims.get(groups_claim), issuer=claims.get("iss"), claim=groups_claim)
    return Caller(subject=str(subject), groups=groups, claims=dict(claims))
