"""``AgoraClient.ncs_ips()`` (``GET /v2/ncs/ip``) against the emulator, and the parsing of Agora's answer."""

from __future__ import annotations

import pytest
from agorakit.agora.client import _Answer, _ncs_addresses
from agorakit.agora.errors import AgoraServerError, Verdict

from tests.integration._emulator_fixtures import make_client, make_emulator


def test_the_client_reads_the_addresses_and_retries_a_failing_gateway() -> None:
    with make_emulator(qps=1000) as emulator:
        client = make_client([emulator.url])
        assert client.ncs_ips() == ["127.0.0.1"]
        emulator.set_faults(script=["502@ncs.ip"])  # one gateway error: retried, then the answer
        assert client.ncs_ips() == ["127.0.0.1"]
        assert [r["status"] for r in emulator.request_log() if r["op"] == "ncs.ip"][-2:] == [502, 200]
        client.close()


def test_addresses_are_checked_sorted_and_deduplicated() -> None:
    hosts = [{"primaryIP": "203.0.113.9"}, {"primaryIP": "198.51.100.2"}, {"primaryIP": "203.0.113.9"},
             {"primaryIP": "not an address"}, {"other": 1}, "x", {"primaryIP": "2001:db8::1"}]  # fmt: skip
    answer = _Answer(200, {"data": {"service": {"hosts": hosts}}}, None, Verdict("ok"))
    assert _ncs_addresses(answer) == ["198.51.100.2", "203.0.113.9", "2001:db8::1"]
    for body in ({}, {"data": []}, {"data": {"service": {"hosts": "1.2.3.4"}}}):
        with pytest.raises(AgoraServerError):
            _ncs_addresses(_Answer(200, body, None, Verdict("ok")))
