"""A local stand-in for the Cognito user pool: RS256 ID tokens for a few named users, and their checks.

The key pair is generated when the local stack starts (kept in the state directory only with ``--state``,
``local.state``), the issuer and audience are the
ones the synthesized template's JWT authorizer expects, and tokens carry the claims a Cognito ID token
carries (``sub``, ``cognito:username``, ``cognito:groups``, ``token_use``...), so the functions see the
same claims locally as on AWS. ``verify`` applies API Gateway's JWT authorizer rules.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

#: local users and their groups (the groups of the template's user pool: hosts publish, admins manage,
#: owners manage the Agora project itself: /projects)
DEFAULT_USERS: dict[str, tuple[str, ...]] = {
    "host-1": ("hosts",),
    "host-2": ("hosts",),
    "viewer-1": (),
    "viewer-2": (),
    "admin": ("admins",),
    "owner": ("owners",),
}
SUB_NAMESPACE = uuid.UUID("5f0c8f52-6d0a-4a57-9a4e-6c3f8b7e2d11")


class TokenRejected(Exception):
    """Why API Gateway's JWT authorizer would refuse the token (shown in ``www-authenticate``)."""


@dataclass(frozen=True)
class LocalUser:
    username: str
    groups: tuple[str, ...]

    @property
    def sub(self) -> str:
        """Stable across runs, so a user keeps the same Agora uid in a persisted table."""
        return str(uuid.uuid5(SUB_NAMESPACE, self.username))


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LocalIdentity:
    """Issues and verifies tokens for ``issuer``/``audience`` (a Cognito-shaped issuer by default)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        users: dict[str, tuple[str, ...]] | None = None,
        groups_claim: str = "cognito:groups",
        clock_skew: int = 0,
        private_key_pem: bytes | None = None,
        key_id: str | None = None,
    ):
        """``private_key_pem``/``key_id``: a saved signing key (``private_key_pem()``), so tokens outlive a restart."""
        self.issuer, self.audience, self.groups_claim = issuer, audience, groups_claim
        self.users = {name: LocalUser(name, tuple(groups)) for name, groups in (users or DEFAULT_USERS).items()}
        self.clock_skew = clock_skew
        if private_key_pem is not None:
            loaded = serialization.load_pem_private_key(private_key_pem, password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError("the saved identity key is not an RSA key")
            self._key = loaded
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = key_id or uuid.uuid4().hex

    def private_key_pem(self) -> bytes:
        """The signing key (PKCS#8 PEM, unencrypted): what ``--state`` saves."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    # -- issuing ------------------------------------------------------------------------------
    def user(self, username: str) -> LocalUser:
        try:
            return self.users[username]
        except KeyError:
            known = ", ".join(sorted(self.users))
            raise KeyError(f"no local user {username!r}; local users: {known}") from None

    def issue_token(
        self,
        username: str,
        groups: list[str] | tuple[str, ...] | None = None,
        *,
        ttl: int = 3600,
        now: float | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        scopes: list[str] | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A signed Cognito-style ID token. Unknown usernames need explicit ``groups``."""
        if groups is None:
            groups = self.user(username).groups
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "sub": LocalUser(username, tuple(groups)).sub,
            "cognito:username": username,
            "aud": audience or self.audience,
            "iss": issuer or self.issuer,
            "token_use": "id",
            "auth_time": issued,
            "iat": issued,
            "exp": issued + ttl,
            "jti": str(uuid.uuid4()),
            "email": f"{username}@example.com",
            "email_verified": True,
        }
        if groups:
            claims[self.groups_claim] = list(groups)
        if scopes:
            claims["scope"] = " ".join(scopes)
        claims.update(extra_claims or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.key_id,
                          "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}]}  # fmt: skip

    # -- verifying (API Gateway HTTP API JWT authorizer rules) ---------------------------------
    def verify(self, token: str, *, issuer: str | None = None, audiences: list[str] | None = None) -> dict[str, Any]:
        """The token's claims, or TokenRejected: bad signature/kid, wrong iss, no matching aud/client_id, expired."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("the token is not a JWT") from exc
        if header.get("kid") != self.key_id:
            raise TokenRejected("the token's kid is not in the issuer's JWKS")
        if header.get("alg") != "RS256":
            raise TokenRejected("the token's alg is not RS256")
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "iss"]},
                leeway=self.clock_skew,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRejected("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRejected("the token is not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"the token is invalid: {exc}") from exc
        if claims.get("iss") != (issuer or self.issuer):
            raise TokenRejected("the token's issuer is not the authorizer's issuer")
        allowed = audiences if audiences is not None else [self.audience]
        aud = claims.get("aud")
        token_audiences = aud if isinstance(aud, list) else [aud] if aud else []
        if not (set(token_audiences) | {claims.get("client_id")}) & set(allowed):
            raise TokenRejected("the token's audience is not the authorizer's audience")
        return claims


def claims_for_event(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway puts them in ``requestContext.authorizer.jwt.claims``: every value a string,
    arrays as ``"[a b]"``."""
    out: dict[str, str] = {}
    for key, value in claims.items():
        if isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict):
            import json

            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


def scopes_of(claims: dict[str, Any]) -> list[str]:
    scope = claims.get("scope") or claims.get("scp") or ""
    if isinstance(scope, list):
        return [str(s) for s in scope]
    return [s for s in str(scope).split() if s]
