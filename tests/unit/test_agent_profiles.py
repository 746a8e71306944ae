"""Agent profiles (service.agents.profiles) and the record's API view (service.agents.record): vendor settings only
from configuration, secrets only from the profile's secret, neither ever in a view or a repr."""

from __future__ import annotations

import json

import pytest
from service.agents.profiles import ProfileError, parse_profiles
from service.agents.record import AgentError, AgentRecord
from service.channeltasks import lifecycle

TUTOR = {
    "llm": {"url": "https://llm.example/v1", "api_key": "{{secret:llm_key}}", "params": {"model": "m"}},
    "tts": {"vendor": "elevenlabs", "params": {"key": "{{secret:tts_key}}", "voices": ["{{secret:voice}}"]}},
    "secret": "agents/tutor",
}


def test_placeholders_are_filled_from_the_secret_only() -> None:
    profile = parse_profiles(json.dumps({"tutor": TUTOR}))["tutor"]
    assert profile.placeholders() == {"llm_key", "tts_key", "voice"}
    filled = profile.resolved({"llm_key": "sk-1", "tts_key": "t-2", "voice": "v-3"})
    assert filled["llm"]["api_key"] == "sk-1" and filled["tts"]["params"]["voices"] == ["v-3"]
    assert filled["llm"]["params"] == {"model": "m"}
    assert "sk-1" not in repr(profile)
    with pytest.raises(ProfileError, match="no field 'voice'"):
        profile.resolved({"llm_key": "sk-1", "tts_key": "t-2"})


@pytest.mark.parametrize(
    ("doc", "message"),
    [("nope", "not JSON"), ("[]", "JSON object"), ('{"Bad Name": {}}', "a name of"),
     ('{"p": {"llm": {}}}', "llm and tts"), ('{"p": {"pipeline_id": "x", "colour": 1}}', "unknown keys"),
     ('{"p": {"pipeline_id": "x", "idle_timeout": -1}}', "idle_timeout"),
     ('{"p": {"pipeline_id": "x", "llm": {"api_key": "{{secret:k}}"}}}', "need a 'secret'")],
)  # fmt: skip
def test_wrong_profiles_are_named(doc: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profiles(doc)


def test_a_pipeline_profile_needs_no_vendor_settings() -> None:
    profile = parse_profiles('{"studio": {"pipeline_id": "pl-1"}}')["studio"]
    assert profile.pipeline_id == "pl-1" and profile.resolved(None) == {}
    assert parse_profiles(None) == {} and parse_profiles("") == {}


def _record(**kw: object) -> AgentRecord:
    base = AgentRecord(agent_id="a1", channel="room", profile="tutor", name="agent-a1", bot_uid=4_100_000_001,
                       remote_uids=(1001,), idle_timeout=30, max_at_ms=9_000_000, created_ms=1_000,
                       requested_by="admin")  # fmt: skip
    return base.with_(**kw)


def test_view_shows_uptime_state_and_last_error_and_round_trips() -> None:
    running = _record(state=lifecycle.RUNNING, started_ms=2_000, agora_agent_id="AG",
                      last_error=AgentError("agora", "llm 500", 3_000, code=1005))  # fmt: skip
    view = running.view(now_ms=62_000)
    assert view["uptimeSeconds"] == 60 and view["state"] == "RUNNING"
    assert view["lastError"] == {"step": "agora", "reason": "llm 500", "atMs": 3_000, "httpStatus": None, "code": 1005}
    ended = running.with_(ended_ms=12_000, state=lifecycle.STOPPED)
    assert ended.view(now_ms=10**9)["uptimeSeconds"] == 10
    assert AgentRecord.from_item(running.to_item()) == running
    assert _record().view(5_000)["uptimeSeconds"] == 0
