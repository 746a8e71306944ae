"""NCS signatures: Agora's published sample, raw-bytes discipline, header handling, the keyring."""

from __future__ import annotations

import base64
import json

import pytest
from agorakit.ncs.signature import (
    HEADER_V1,
    HEADER_V2,
    Keyring,
    NcsSecretError,
    sign_v1,
    sign_v2,
    signature_headers,
    verify,
)

# Agora's sample (doc 4.2): key "secret" and this exact body reproduce the published signatures.
SAMPLE_BODY = (
    b'{"eventMs":1560408533119,"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e-53f411c2761f",'
    b'"notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
)
SAMPLE_SHA1 = "033c62f40f687675f17f0f41f91a40c71c0f134c"
SAMPLE_SHA256 = "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99"
# The *current* docs print this body (no eventMs, a noticeId with one dash less) beside the same two
# signatures; it does not produce them. These are the values it really gives.
CURRENT_DOC_BODY = (
    b'{"eventType":10,"noticeId":"4eb720f0-8da7-11e9-a43e53f411c2761f","notifyMs":1560408533119,'
    b'"payload":{"a":"1","b":2},"productId":1}'
)
CURRENT_DOC_SHA1 = "92ea60c5249b641f80de046d11e1cb2d15f1d1b2"
CURRENT_DOC_SHA256 = "6ba85d7c1122f6c51143cce7765f06c601c0fbd691987f4510e45b943b2639e8"


def test_published_sample_reproduces_both_signatures():
    assert sign_v1("secret", SAMPLE_BODY) == SAMPLE_SHA1
    assert sign_v2("secret", SAMPLE_BODY) == SAMPLE_SHA256
    assert sign_v2(b"secret", SAMPLE_BODY) == SAMPLE_SHA256
    assert signature_headers("secret", SAMPLE_BODY) == {HEADER_V1: SAMPLE_SHA1, HEADER_V2: SAMPLE_SHA256}
    assert verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA256}, ["secret"]) == "v2"
    assert verify(SAMPLE_BODY, {HEADER_V1: SAMPLE_SHA1}, ["secret"]) == "v1"


def test_current_docs_body_does_not_match_the_printed_signatures():
    """Documented discrepancy: the printed signatures belong to the eventMs body, not this one."""
    assert sign_v1("secret", CURRENT_DOC_BODY) == CURRENT_DOC_SHA1
    assert sign_v2("secret", CURRENT_DOC_BODY) == CURRENT_DOC_SHA256
    assert verify(CURRENT_DOC_BODY, {HEADER_V2: SAMPLE_SHA256}, ["secret"]) is None
    assert verify(CURRENT_DOC_BODY, {HEADER_V1: SAMPLE_SHA1}, ["secret"]) is None


@pytest.mark.parametrize(
    "tampered",
    [
        SAMPLE_BODY.replace(b'"b":2', b'"b":3'),
        SAMPLE_BODY + b"\n",
        b" " + SAMPLE_BODY,
        SAMPLE_BODY[:-1],
        SAMPLE_BODY.replace(b"productId", b"productid"),
    ],
)
def test_tampered_bodies_fail(tampered):
    assert verify(tampered, {HEADER_V2: SAMPLE_SHA256}, ["secret"]) is None
    assert verify(tampered, {HEADER_V1: SAMPLE_SHA1}, ["secret"]) is None


def test_reserialized_body_fails():
    """json.dumps of the parsed body adds spaces: it is not the bytes that were signed."""
    reserialized = json.dumps(json.loads(SAMPLE_BODY)).encode()
    assert reserialized != SAMPLE_BODY
    assert verify(reserialized, {HEADER_V2: SAMPLE_SHA256}, ["secret"]) is None
    compact_sorted = json.dumps(json.loads(SAMPLE_BODY), separators=(",", ":"), sort_keys=True).encode()
    # Agora's sample happens to be compact and key-sorted, so only this exact form verifies; reordering breaks it.
    assert compact_sorted == SAMPLE_BODY
    reordered = json.dumps(dict(reversed(list(json.loads(SAMPLE_BODY).items()))), separators=(",", ":")).encode()
    assert verify(reordered, {HEADER_V2: SAMPLE_SHA256}, ["secret"]) is None


def test_base64_body_verifies_only_after_decoding():
    """API Gateway may deliver the body base64-encoded (isBase64Encoded): hash the decoded bytes."""
    encoded = base64.b64encode(SAMPLE_BODY)
    assert verify(encoded, {HEADER_V2: SAMPLE_SHA256}, ["secret"]) is None
    assert verify(base64.b64decode(encoded), {HEADER_V2: SAMPLE_SHA256}, ["secret"]) == "v2"


@pytest.mark.parametrize(
    "name", ["agora-signature-v2", "AGORA-SIGNATURE-V2", "Agora-Signature-V2", "aGoRa-SiGnAtUrE-v2"]
)
def test_header_names_are_case_insensitive(name):
    assert verify(SAMPLE_BODY, {name: SAMPLE_SHA256}, ["secret"]) == "v2"
    assert Keyring({"1": "secret"}).verify(SAMPLE_BODY, {name: SAMPLE_SHA256}) is not None


def test_signature_value_case_and_whitespace_tolerated():
    assert verify(SAMPLE_BODY, {HEADER_V2: f" {SAMPLE_SHA256.upper()} "}, ["secret"]) == "v2"


def test_v1_is_a_fallback_only_without_v2():
    # a wrong V2 is not rescued by a correct V1: a present V2 header must verify
    headers = {HEADER_V2: "0" * 64, HEADER_V1: SAMPLE_SHA1}
    assert verify(SAMPLE_BODY, headers, ["secret"]) is None
    assert Keyring({"1": "secret"}).verify(SAMPLE_BODY, headers) is None
    # with no V2 at all, V1 is checked
    assert verify(SAMPLE_BODY, {HEADER_V1: SAMPLE_SHA1}, ["secret"]) == "v1"
    # an empty V2 header counts as absent
    assert verify(SAMPLE_BODY, {HEADER_V2: "", HEADER_V1: SAMPLE_SHA1}, ["secret"]) == "v1"
    # the V1 (SHA1) value in the V2 header is not accepted
    assert verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA1}, ["secret"]) is None


def test_missing_headers_or_wrong_secret():
    assert verify(SAMPLE_BODY, {}, ["secret"]) is None
    assert verify(SAMPLE_BODY, {"content-type": "application/json"}, ["secret"]) is None
    assert verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA256}, ["other"]) is None
    assert verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA256}, []) is None
    # rotation: any of several secrets
    assert verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA256}, ["old", "secret"]) == "v2"


def test_keyring_reports_every_label_of_the_verifying_secret():
    ring = Keyring.from_json({"3": "rec", "1": ["old-rtc", "secret"], "default": "secret"})
    result = ring.verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA256})
    assert result is not None
    assert result.header == "v2"
    assert result.labels == {"1", "default"}
    assert result.allows(1)
    assert result.allows(3)  # via "default"

    ring2 = Keyring.from_json({"3": "rec", "1": "secret"})
    result2 = ring2.verify(SAMPLE_BODY, {HEADER_V2: SAMPLE_SHA256})
    assert result2 is not None
    assert result2.labels == {"1"}
    assert result2.allows(1)
    assert not result2.allows(3)  # the RTC secret may not sign recording events


def test_keyring_plain_string_secret_is_default():
    ring = Keyring.from_json({"value": "secret"})
    result = ring.verify(SAMPLE_BODY, {HEADER_V1: SAMPLE_SHA1})
    assert result is not None
    assert result.header == "v1"
    assert result.allows(42)


@pytest.mark.parametrize(
    "document",
    [{}, {"3": ""}, {"3": 5}, {"3": [""]}, {"rtc": "x"}, {"3": {"k": "v"}}, {"1": ["ok", 7]}],
)
def test_keyring_rejects_bad_documents_without_echoing_secrets(document):
    with pytest.raises(NcsSecretError) as info:
        Keyring.from_json(document)
    assert "ok" not in str(info.value)  # the message names labels, never values


def test_keyring_repr_hides_secrets():
    ring = Keyring.from_json({"3": "super-secret-value", "default": "another-one"})
    assert "super-secret-value" not in repr(ring)
    assert "another-one" not in repr(ring)
    assert ring.labels == {"3", "default"}
    assert len(ring) == 2
