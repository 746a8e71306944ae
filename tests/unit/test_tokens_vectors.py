"""Every token vector from Agora's official test suites, reproduced byte for byte or parsed and verified.

The vectors (tests/fixtures/agora/official-token-vectors.json and token-examples.json: inputs with pinned
issue_ts/salt, the exact expected string, intermediate HMAC values; tests/fixtures/README.md says where they came
from) are read as they are, so every vector in the files is checked.
"""

from __future__ import annotations

import hmac
import json
import struct
import zlib
from binascii import b2a_base64
from pathlib import Path
from typing import Any

import pytest
from agorakit.tokens import (
    AccessToken2,
    ParsedAccessToken2,
    ParsedLegacyToken,
    TokenParseError,
    build_from_spec,
    build_legacy_token,
    build_rtc_rtm_token,
    build_rtc_token,
    build_rtm_token,
    parse_token,
    signing_key,
    verify,
)
from agorakit.tokens.parser import decode_base64, inflate
from agorakit.tokens.services import service_from_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agora"


def _load(name: str, key: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text())[key]


OFFICIAL_VECTORS = _load("official-token-vectors.json", "vectors")
EXAMPLES = _load("token-examples.json", "examples")


def _all() -> list[dict[str, Any]]:
    return OFFICIAL_VECTORS + EXAMPLES


def _select(fmt: str, kind: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in _all() if v["format"] == fmt and v["kind"] == kind]


def _spec(inputs: dict[str, Any]) -> dict[str, Any]:
    """Vector inputs -> a build spec. ``uid_or_account`` is the packed string: "" is uid 0, anything else an
    account (a decimal account packs exactly like the numeric uid)."""
    services = []
    for service in inputs["services"]:
        entry: dict[str, Any] = {"type": service["type"], "privileges": service["privileges"]}
        for key, value in service.items():
            if key == "uid_or_account":
                entry["uid" if service["type"] == 1 else "account"] = 0 if value == "" else value
            elif key not in ("type", "name", "privileges"):
                entry[key] = value
        services.append(entry)
    return {k: inputs[k] for k in ("app_id", "app_certificate", "expire", "issue_ts", "salt")} | {"services": services}


def _as_vector_services(parsed: ParsedAccessToken2) -> list[dict[str, Any]]:
    """Parsed services in the vectors' input notation, to compare field by field."""
    out = []
    for service in parsed.services:
        d = service.to_dict()
        if "uid" in d:
            d["uid_or_account"] = d.pop("uid")
        if d["name"] in ("streaming", "fcdn"):
            d["uid_or_account"] = d.pop("account")
        out.append(d)
    return out


# ------------------------------------------------------------------------------------------------------- 007


@pytest.mark.parametrize("vector", _select("007", "build"))
def test_007_build_vectors_are_byte_identical(vector: dict[str, Any]) -> None:
    assert build_from_spec(_spec(vector["inputs"])) == vector["expected"]


@pytest.mark.parametrize("vector", _select("007", "build"))
def test_007_build_vectors_with_the_general_class(vector: dict[str, Any]) -> None:
    spec = _spec(vector["inputs"])
    token = AccessToken2(
        spec["app_id"], spec["app_certificate"], expire=spec["expire"], issue_ts=spec["issue_ts"], salt=spec["salt"]
    )
    entries = spec["services"]
    # build() sorts services by type, stably: with distinct types the insertion order must not matter; repeated
    # types (007-01) keep their insertion order, as python3 HEAD does.
    distinct = len({e["type"] for e in entries}) == len(entries)
    for index, entry in enumerate(reversed(entries) if distinct else entries):
        token.add_service(service_from_spec(entry, index))
    assert token.build() == vector["expected"]


def _pinned(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "app_id": inputs["app_id"],
        "app_certificate": inputs["app_certificate"],
        "expire": inputs["expire"],
        "issue_ts": inputs["issue_ts"],
        "salt": inputs["salt"],
    }


def _kind(vector: dict[str, Any]) -> str:
    """The logical builder: "rtc_token_with_uid", "rtm_token", ... (the examples file has it only in the id)."""
    return str(vector.get("builder") or vector["id"].split("-", 2)[2])


HIGH_LEVEL = ("rtc_token_with_uid", "rtc_token_with_user_account", "rtm_token", "rtc_rtm_token")


@pytest.mark.parametrize("vector", [p for p in _select("007", "build") if _kind(p.values[0]) in HIGH_LEVEL])
def test_007_vectors_with_the_high_level_builders(vector: dict[str, Any]) -> None:
    """The rtc/rtm vectors through build_rtc_token / build_rtm_token / build_rtc_rtm_token."""
    inputs = vector["inputs"]
    services = {s["name"]: s for s in inputs["services"]}
    rtc, rtm = services.get("rtc"), services.get("rtm")
    if rtc is not None:
        uid: int | str = int(rtc["uid_or_account"] or 0)
        privileges = rtc["privileges"]
        role = "publisher" if len(privileges) == 4 else "subscriber"
        assert len(set(privileges.values())) == 1
        kwargs = _pinned(inputs) | {
            "channel_name": rtc["channel_name"],
            "uid": uid,
            "role": role,
            "privilege_expire": privileges["1"],
        }
        if rtm is None:
            token = build_rtc_token(**kwargs)
        else:
            token = build_rtc_rtm_token(**kwargs, rtm_user_id=rtm["user_id"], rtm_expire=rtm["privileges"]["1"])
    else:
        assert rtm is not None
        token = build_rtm_token(**_pinned(inputs), user_id=rtm["user_id"])
    assert token == vector["expected"]


@pytest.mark.parametrize("vector", _select("007", "build") + _select("007", "parse_only"))
def test_007_vectors_parse_back_to_their_inputs(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    parsed = parse_token(vector["expected"])
    assert isinstance(parsed, ParsedAccessToken2)
    assert parsed.version == "007"
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (
        inputs["app_id"],
        inputs["issue_ts"],
        inputs["expire"],
        inputs["salt"],
    )
    assert parsed.expires_at == inputs["issue_ts"] + inputs["expire"]
    assert parsed.service_count == len(inputs["services"])
    assert _as_vector_services(parsed) == inputs["services"]
    assert parsed.trailing == b""


@pytest.mark.parametrize("vector", _select("007", "build") + _select("007", "parse_only"))
def test_007_vectors_verify(vector: dict[str, Any]) -> None:
    certificate = vector["inputs"]["app_certificate"]
    wrong = "0" * 32
    assert verify(vector["expected"], wrong) is False
    if certificate is None:  # 007-28: a real-world token whose certificate was never published
        assert parse_token(vector["expected"]).signature.hex() == vector["intermediate"]["signature_hex"]
        return
    assert verify(vector["expected"], certificate) is True
    assert parse_token(vector["expected"]).verify(certificate) is True
    assert verify(vector["expected"], certificate.swapcase()) is False  # the certificate is used as ASCII text


@pytest.mark.parametrize("vector", _select("007", "parse_only"))
def test_007_parse_only_vectors_rebuild_to_the_cpython_bytes(vector: dict[str, Any]) -> None:
    """Another language's deflate (or an unknown certificate): the same signed payload, so building from the
    inputs gives what CPython's zlib makes of the inflated payload."""
    inputs = vector["inputs"]
    body = inflate(decode_base64(vector["expected"][3:], "token"))
    cpython = "007" + b2a_base64(zlib.compress(body), newline=False).decode()
    if "official_python3_output" in vector:
        assert cpython == vector["official_python3_output"]
    if inputs["app_certificate"] is not None:
        assert build_from_spec(_spec(inputs)) == cpython
    else:  # 007-28, a real-world token: no certificate, so only the layout can be rebuilt
        assert cpython == vector["expected"]


@pytest.mark.parametrize(
    "vector", [v for v in _select("007", "build") + _select("007", "parse_only") if v.values[0]["intermediate"]]
)
def test_007_intermediate_values(vector: dict[str, Any]) -> None:
    inputs, inter = vector["inputs"], vector["intermediate"]
    parsed = parse_token(vector["expected"])
    assert isinstance(parsed, ParsedAccessToken2)
    body = inflate(decode_base64(vector["expected"][3:], "token"))
    assert len(body) == inter["decompressed_payload_len"]
    assert parsed.signature.hex() == inter["signature_hex"]
    if "signing_key_hex" in inter:
        key = signing_key(inputs["app_certificate"], inputs["issue_ts"], inputs["salt"])
        assert key.hex() == inter["signing_key_hex"]
        # the chain spelled out with the standard library, independently of our helpers
        k1 = hmac.digest(struct.pack("<I", inputs["issue_ts"]), inputs["app_certificate"].encode(), "sha256")
        assert hmac.digest(struct.pack("<I", inputs["salt"]), k1, "sha256") == key
        assert hmac.digest(key, parsed.signing_info, "sha256").hex() == inter["signature_hex"]


@pytest.mark.parametrize("vector", _select("007", "invalid"))
def test_007_invalid_vector_is_rejected(vector: dict[str, Any]) -> None:
    with pytest.raises(TokenParseError, match="truncated"):
        parse_token(vector["expected"])
    assert verify(vector["expected"], "5CFd2fd1755d40ecb72977518be15d3b") is False


def test_there_is_one_invalid_and_every_kind_is_covered() -> None:
    kinds = [v["kind"] for v in OFFICIAL_VECTORS]
    assert (kinds.count("build"), kinds.count("parse_only"), kinds.count("invalid")) == (21, 17, 1)


# ------------------------------------------------------------------------------------------------------- 006


@pytest.mark.parametrize("vector", _select("006", "build"))
def test_006_build_vectors_are_byte_identical(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    uid = inputs["uid"] if inputs["uid"] != "" else 0  # the RTM builder passes ""; ours takes 0 for "no uid"
    token = build_legacy_token(
        app_id=inputs["app_id"],
        app_certificate=inputs["app_certificate"],
        channel_name=inputs["channel_name"],
        uid=uid,
        privileges=inputs["privileges"],
        ts=inputs["ts"],
        salt=inputs["salt"],
    )
    assert token == vector["expected"]


@pytest.mark.parametrize("vector", _select("006", "build"))
def test_006_vectors_parse_verify_and_match_intermediates(vector: dict[str, Any]) -> None:
    inputs, inter = vector["inputs"], vector["intermediate"]
    parsed = parse_token(vector["expected"])
    assert isinstance(parsed, ParsedLegacyToken)
    assert (parsed.version, parsed.app_id) == ("006", inputs["app_id"])
    assert (parsed.salt, parsed.ts) == (inputs["salt"], inputs["ts"])
    assert {str(k): v for k, v in parsed.privileges.items()} == inputs["privileges"]
    assert parsed.signature.hex() == inter["signature_hex"]
    assert (parsed.crc_channel_name, parsed.crc_uid) == (inter["crc32_channel"], inter["crc32_uid"])
    assert parsed.message.hex() == inter["message_hex"]
    assert zlib.crc32(inputs["uid_packed"].encode()) == inter["crc32_uid"]
    certificate = inputs["app_certificate"]
    channel, uid = inputs["channel_name"], inputs["uid"]
    assert verify(vector["expected"], certificate, channel_name=channel, uid=uid) is True
    assert verify(vector["expected"], certificate, channel_name=channel + "x", uid=uid) is False
    assert verify(vector["expected"], certificate, channel_name=channel, uid="not-the-uid") is False
    assert verify(vector["expected"], "0" * 32, channel_name=channel, uid=uid) is False


def test_006_uid_zero_and_string_zero_differ() -> None:
    """The official trap kept: account "0" is packed as "0", uid 0 as "" (vectors 006-35 and 006-37)."""
    by_id = {v["id"][:6]: v for v in _all()}
    assert by_id["006-35"]["inputs"]["uid"] == "0" and by_id["006-37"]["inputs"]["uid"] == 0
    assert by_id["006-35"]["expected"] != by_id["006-37"]["expected"]
