"""NCS webhook signatures: HMAC over the raw request body, hex encoded.

``Agora-Signature-V2`` is HMAC-SHA256 and ``Agora-Signature`` is HMAC-SHA1, both keyed with the
secret configured for the product in Agora's console. Verification is over the exact bytes that
arrived (a re-serialised body does not verify) and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


#: Keyring label that any product may use (NCS secrets JSON: ``{"3": "...", "1": "...", "default": "..."}``).
DEFAULT_LABEL = "default"


class NcsSecretError(ValueError):
    """The NCS secrets JSON has the wrong shape (the message never contains a secret)."""


@dataclass(frozen=True)
class Verification:
    """Which header verified (``"v2"``/``"v1"``) and the labels of every configured secret that produced it."""

    header: str
    labels: frozenset[str]

    def allows(self, product_id: int) -> bool:
        """True when a secret configured for ``product_id`` (or the default secret) signed the body."""
        return str(product_id) in self.labels or DEFAULT_LABEL in self.labels


class Keyring:
    """The NCS secrets of one deployment, labelled by product id, with rotation (several secrets per label).

    Verification is done *before* the body is parsed (an unauthenticated body never reaches the JSON
    parser), so every distinct secret is tried; the caller then checks with ``Verification.allows`` that
    a secret that verified is one configured for the envelope's ``productId``.
    """

    def __init__(self, entries: Mapping[str, str | bytes | Iterable[str | bytes]]):
        by_key: dict[bytes, set[str]] = {}
        for label, value in entries.items():
            values = [value] if isinstance(value, str | bytes) else list(value)
            for secret in values:
                if not isinstance(secret, str | bytes) or not secret:
                    raise NcsSecretError(f"secret entry {label!r} must be a non-empty string or a list of them")
                by_key.setdefault(_key(secret), set()).add(str(label))
        if not by_key:
            raise NcsSecretError("no NCS secret configured")
        self._keys: tuple[tuple[bytes, frozenset[str]], ...] = tuple((k, frozenset(v)) for k, v in by_key.items())

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> Keyring:
        """Build from the secret's JSON. Labels are product ids (``"3"``) or ``"default"``.

        A plain-string secret (``{"value": "..."}`` once loaded) counts as the default secret.
        """
        if not isinstance(document, Mapping):
            raise NcsSecretError("the NCS secret must be a JSON object")
        entries: dict[str, str | bytes | Iterable[str | bytes]] = {}
        for label, value in document.items():
            name = DEFAULT_LABEL if label == "value" else str(label).strip()
            if name != DEFAULT_LABEL and not name.isdigit():
                raise NcsSecretError(f"label {label!r} is neither a product id nor 'default'")
            if isinstance(value, (str | bytes, list)):
                entries[name] = value
            else:
                raise NcsSecretError(f"secret entry {label!r} must be a string or a list of strings")
        return cls(entries)

    @property
    def labels(self) -> frozenset[str]:
        return frozenset().union(*(labels for _, labels in self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:  # never show a secret
        return f"Keyring(labels={sorted(self.labels)}, keys={len(self._keys)})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Verification | None:
        """Like ``verify`` but tells which labelled secrets signed ``body`` (every key is tried, constant time each)."""
        header, presented = _presented(headers)
        if presented is None:
            return None
        digest = hashlib.sha256 if header == "v2" else hashlib.sha1
        matched: set[str] = set()
        for key, labels in self._keys:
            if hmac.compare_digest(hmac.new(key, body, digest).hexdigest().encode(), presented):
                matched |= labels
        return Verification(header, frozenset(matched)) if matched else None


def _presented(headers: Mapping[str, str]) -> tuple[str, bytes | None]:
    """The signature to check: V2 when the V2 header is present (even if V1 is too), else V1."""
    v2 = v1 = None
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == _V2_LOWER:
            v2 = value
        elif lowered == _V1_LOWER:
            v1 = value
    if v2:
        return "v2", v2.strip().lower().encode()
    if v1:
        return "v1", v1.strip().lower().encode()
    return "", None


_V2_LOWER = HEADER_V2.lower()
_V1_LOWER = HEADER_V1.lower()
