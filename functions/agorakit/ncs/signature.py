"""NCS webhook signatures: HMAC over the raw request body, hex encoded.

``Agora-Signature-V2`` is HMAC-SHA256 and ``Agora-Signature`` is HMAC-SHA1, both keyed with the
secret configured for the product in Agora's console. Verification is over the exact bytes that
arrived (a re-serialised body does not verify) and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

HEADER_V2 = "Agora-Signature-V2"
HEADER_V1 = "Agora-Signature"


def sign_v2(secret: str | bytes, body: bytes) -> str:
    return hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def sign_v1(secret: str | bytes, body: bytes) -> str:
    return hmac.new(_key(secret), body, hashlib.sha1).hexdigest()


def signature_headers(secret: str | bytes, body: bytes) -> dict[str, str]:
    """Both headers, as Agora sends them."""
    return {HEADER_V1: sign_v1(secret, body), HEADER_V2: sign_v2(secret, body)}


def verify(body: bytes, headers: Mapping[str, str], secrets: Iterable[str | bytes]) -> str | None:
    """Return which header verified (``"v2"`` or ``"v1"``), or None.

    Header names are matched case-insensitively (API Gateway lower-cases them). V2 is preferred;
    V1 is the fallback only when no V2 header is present. Every candidate secret is tried so that
    a secret can be rotated without dropping events.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    v2 = lowered.get(HEADER_V2.lower())
    v1 = lowered.get(HEADER_V1.lower())
    keys = [_key(s) for s in secrets if s]
    if v2:
        presented = v2.strip().lower().encode()
        for key in keys:
            if hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest().encode(), presented):
                return "v2"
        return None
    if v1:
        presented = v1.strip().lower().encode()
        for key in keys:
            if hmac.compare_digest(hmac.new(key, body, hashlib.sha1).hexdigest().encode(), presented):
                return "v1"
    return None


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret
