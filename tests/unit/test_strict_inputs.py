"""What the API refuses before Agora is called (issue 21, items 5, 7 and 8): CDN push addresses on start and on
update, kicking-rule IP addresses, and a per-privilege token lifetime beyond the token's own. Each refusal is a
validation error whose message names the problem (the API answers it as a 422 with that message)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from agorakit.addresses import MAX_RTMP_URL, RTMP_URL_PATTERN, check_ban_ip, check_rtmp_url
from pydantic import ValidationError
from service.channels.logic import AppBanRequest
from service.recordings.models import RecordingRequest, UpdateRequest
from service.tokens.logic import TokenRequest

BAD_CDN: list[tuple[str, str]] = [
    ("rtmp://:::/live/key", "IPv6 host must be written in brackets"),
    ("rtmp://.../live/key", "empty label"),
    ("rtmp://-/live/key", "invalid label '-'"),
    ("rtmp://live.example.com:99999/live/key", "port 99999 is outside 1..65535"),
    ("rtmp://live.example.com:0/live/key", "port 0 is outside 1..65535"),
    ("rtmp://live.example.com/live/k\x00ey", "control characters"),
    ("rtmp://live.example.com/live/k\x7fey", "control characters"),
    ("rtmp://live.example.com/live/k\tey", "control characters"),
    ("rtmp://-live.example.com/live/key", "invalid label '-live'"),
    ("rtmp://live.example.com:-1/live/key", "not a number in 1..65535"),
    ("rtmp://999.1.1.1/live/key", "not a valid IPv4 address"),
    ("rtmp://[2001:db8::zz]/live/key", "not a valid IPv6 address"),
    ("rtmp://[fe80::1%25eth0]/live/key", "zone"),
    ("rtmp://user@live.example.com/live/key", "user information"),
    ("rtmp://live.example.com/", "app/stream path"),
    ("http://live.example.com/live/key", "is not rtmp or rtmps"),
    ("rtmp://" + "a" * 64 + ".example.com/live/key", "1..63 long"),
    ("rtmp://live.example.com/" + "k" * MAX_RTMP_URL, f"at most {MAX_RTMP_URL} characters"),
]
GOOD_CDN = [
    "rtmp://live.example.com/app/stream-key",
    "rtmps://live.example.com:443/app/stream?key=1",
    "rtmp://203.0.113.7:1935/app/key",
    "rtmp://[2001:db8::7]:1935/app/key",
    "rtmp://a-b.c9.example/app/key",
]


def _web(cdn: str) -> dict[str, Any]:
    return {"channel": "board", "mode": "web", "web": {"url": "https://example.com/board"}, "cdn": {"outputs": [cdn]}}


@pytest.mark.parametrize(("url", "reason"), BAD_CDN)
def test_a_bad_cdn_address_is_refused_on_start_and_on_update_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        RecordingRequest.model_validate(_web(url))
    with pytest.raises(ValidationError, match=re.escape(reason)):
        UpdateRequest.model_validate({"rtmpPublishConfig": {"outputs": [{"rtmpUrl": url}]}})


@pytest.mark.parametrize("url", GOOD_CDN)
def test_a_good_cdn_address_passes_unchanged(url: str) -> None:
    assert RecordingRequest.model_validate(_web(url)).cdn.outputs == [url]  # type: ignore[union-attr]
    assert UpdateRequest.model_validate({"rtmpPublishConfig": {"outputs": [{"rtmpUrl": url}]}}).rtmpPublishConfig


@pytest.mark.parametrize("url", [url for url, _ in BAD_CDN])
def test_the_documented_pattern_allows_no_address_the_check_refuses(url: str) -> None:
    """The document states the pattern and maxLength: together they allow none of the refused addresses."""
    assert re.fullmatch(RTMP_URL_PATTERN, url) is None or len(url) > MAX_RTMP_URL


def test_the_documented_pattern_matches_the_ordinary_addresses() -> None:
    for url in GOOD_CDN:
        if "[" not in url:  # bracketed IPv6 hosts pass the check; the pattern leaves them out (a subset)
            assert re.fullmatch(RTMP_URL_PATTERN, url), url
            assert check_rtmp_url(url) == url


BAD_IPS = [
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("255.255.255.255", "broadcast"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("fe80::1%eth0", "zone (%eth0)"),
    ("fe80::1", "link-local"),
    ("169.254.1.1", "link-local"),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("240.0.0.1", "reserved"),
    ("10.0.0.0/8", "not a network"),
    ("999.1.1.1", "IPv4 or IPv6 address"),
]


@pytest.mark.parametrize(("ip", "reason"), BAD_IPS)
def test_a_ban_ip_must_be_one_unicast_host_address_and_the_refusal_says_which(ip: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        AppBanRequest.model_validate({"ip": ip, "duration_seconds": 60})


@pytest.mark.parametrize("ip", ["198.51.100.4", "192.0.2.1", "2001:db8::1", "8.8.8.8", "10.1.2.3"])
def test_unicast_host_addresses_pass(ip: str) -> None:
    assert AppBanRequest.model_validate({"ip": ip, "duration_seconds": 60}).ip == check_ban_ip(ip)


def test_a_privilege_cannot_outlive_its_token() -> None:
    with pytest.raises(ValidationError, match=r"privilege_ttl.join \(86400 s\) outlasts the token itself \(ttl 60 s\)"):
        TokenRequest.model_validate({"channel": "demo", "ttl": 60, "privilege_ttl": {"join": 86400}})
    ok = TokenRequest.model_validate({"channel": "demo", "ttl": 600, "privilege_ttl": {"join": 600}})
    assert ok.privilege_ttl is not None and ok.privilege_ttl.join == 600


def test_the_documented_channel_pattern_is_agoras_character_set() -> None:
    from agorakit.ids import AGORA_CHARACTERS, CHANNEL_PATTERN, MAX_CHANNEL_BYTES

    for code in range(128):
        assert bool(re.fullmatch(CHANNEL_PATTERN, chr(code))) == (chr(code) in AGORA_CHARACTERS), repr(chr(code))
    assert re.fullmatch(CHANNEL_PATTERN, "a" * MAX_CHANNEL_BYTES)
    assert not re.fullmatch(CHANNEL_PATTERN, "a" * (MAX_CHANNEL_BYTES + 1))
    assert not re.fullmatch(CHANNEL_PATTERN, "")


def test_the_documented_uid_pattern_is_1_to_2_32_minus_1() -> None:
    from agorakit.ids import MAX_UID, UID_PATTERN

    for value in (1, 9, 10, 999_999_999, 1_000_000_000, 3_999_999_999, 4_000_000_000, 4_294_967_295):
        assert re.fullmatch(UID_PATTERN, str(value)), value
    for text in ("0", "01", "4294967296", "4294967300", "5000000000", "99999999999", "-1", ""):
        assert not re.fullmatch(UID_PATTERN, text), text
    for value in range(4_294_967_000, 4_294_967_400):
        assert bool(re.fullmatch(UID_PATTERN, str(value))) == (value <= MAX_UID), value


def test_the_https_url_pattern_reads_the_same_in_the_document_and_the_server() -> None:
    """The server (pydantic's Rust regex) and the document's readers (ECMAScript, Python's re) agree on every
    character: ``\\s`` would not (Rust's has U+0085, ECMAScript's U+FEFF, Python's U+001C..U+001F)."""
    from service.recordings.models import BackgroundImage, RecordingRequest

    pattern = RecordingRequest.model_json_schema()["$defs"]["BackgroundImage"]["properties"]["image_url"]["pattern"]
    assert "\\s" not in pattern
    for code in [*range(0x3100), 0xFEFF, 0xFFFD]:
        url = f"https://a{chr(code)}b"
        documented = re.fullmatch(pattern, url) is not None
        try:
            BackgroundImage.model_validate({"uid": "5", "image_url": url})
            served = True
        except ValidationError:
            served = False
        assert documented == served, hex(code)
