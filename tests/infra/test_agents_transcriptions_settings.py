"""The agents' and the transcriptions' context keys are settings (``StackSettings``, infra/settings.py), validated
like every other key: a bad value is refused before synthesis with one line naming the key and what it accepts; a
good one reaches the functions' environment (the running caps, the restart's timing, the profiles, the group)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.settings import SettingsError, StackSettings
from tests.infra.template_helpers import function_by_handler

AGENTS_API = "service.agents.api_handler.handler"
LIFECYCLE = "service.agents.tasks_handler.lifecycle"
TRANSCRIPTIONS_API = "service.transcriptions.handler.handler"
RESTART = "service.transcriptions.workflow_handler.handler"


def _env(template_json: dict[str, Any], handler: str) -> dict[str, Any]:
    _, fn = function_by_handler(template_json, handler)
    return fn["Properties"]["Environment"]["Variables"]


def load(**context: Any) -> StackSettings:
    return StackSettings.load(context.get, environ={}, context_keys=list(context))


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("agentsMaxRunning", "0", "an integer from 1 to 10000 (agents active at once"),
        ("agentsMaxRunning", "many", "an integer from 1 to 10000"),
        ("transcriptionsMaxRunning", "10001", "an integer from 1 to 10000 (transcriptions active at once"),
        ("agentsMinDurationSeconds", "0", "an integer from 1 to 3600"),
        ("transcriptionLifetimeSeconds", "300000", "an integer from 10 to 259200"),
        ("transcriptionRestartMarginSeconds", "-5", "an integer from 1 to 86400"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(key: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(**{key: value})
    assert str(raised.value).startswith(f"{key}={value!r} is not allowed: expected {says}")


@pytest.mark.parametrize(
    ("profiles", "says"),
    [
        ("{not json", "agentsProfiles: the document is not JSON"),
        ('["tutor"]', "agentsProfiles: the document must be a JSON object of profiles"),
        ('{"Tutor!": {"pipeline_id": "p"}}', "agentsProfiles: profile 'Tutor!'"),
        ('{"tutor": {"llm": {"url": "https://llm"}}}', "agentsProfiles: profile tutor: llm and tts are required"),
        ('{"tutor": {"pipeline_id": "p", "colour": 1}}', "agentsProfiles: profile tutor: unknown keys ['colour']"),
        ("{}", "agentsProfiles: at least one profile"),
    ],
)
def test_bad_profiles_are_refused_with_their_reason(profiles: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(agentsProfiles=profiles)
    assert str(raised.value).startswith(says), str(raised.value)


def test_the_restart_margin_must_be_below_the_lifetime() -> None:
    with pytest.raises(SettingsError, match=r"transcriptionRestartMarginSeconds \(600\) must be below "):
        load(transcriptionLifetimeSeconds="600")
    assert (
        load(transcriptionLifetimeSeconds=20, transcriptionRestartMarginSeconds=18).transcription_lifetime_seconds == 20
    )


def test_good_values_are_read_from_context_or_the_environment() -> None:
    settings = load(agentsMaxRunning="7", agentsGroup="teachers", agentsProfiles={"studio": {"pipeline_id": "pl"}},
                    agentsMinDurationSeconds=2)  # fmt: skip
    assert (settings.agents_max_running, settings.agents_group, settings.agents_min_duration_seconds) == (
        7,
        "teachers",
        2,
    )
    assert settings.agents_profiles == {"studio": {"pipeline_id": "pl"}}
    from_env = StackSettings.load({}.get, environ={"AGORA_TRANSCRIPTIONS_MAX_RUNNING": "9"})
    assert from_env.transcriptions_max_running == 9 and from_env.agents_max_running == 20
    assert StackSettings.load(
        {"agentsProfiles": json.dumps({"a": {"pipeline_id": "p"}})}.get, environ={}
    ).agents_profiles


def test_an_unknown_key_close_to_ours_is_named() -> None:
    with pytest.raises(SettingsError, match="did you mean agentsMaxRunning"):
        load(agentMaxRunning="5")


def test_the_defaults_reach_the_functions(template_json: dict[str, Any]) -> None:
    for handler in (AGENTS_API, LIFECYCLE):
        env = _env(template_json, handler)
        assert env["AGENTS_MAX_RUNNING"] == "20" and env["AGENTS_GROUP"] == ""
        assert "AGENTS_MIN_SECONDS" not in env  # the function's own 60
    for handler in (TRANSCRIPTIONS_API, RESTART):
        env = _env(template_json, handler)
        assert env["TRANSCRIPTIONS_MAX_RUNNING"] == "50"
        assert (env["TRANSCRIPTION_LIFETIME_SECONDS"], env["TRANSCRIPTION_RESTART_MARGIN_SECONDS"]) == ("259200", "600")


def test_every_agent_and_transcription_function_draws_from_the_accounts_one_limiter(template_json: dict[str, Any]):
    """The same rate-limit table (one DynamoDB bucket for the App ID) as the recordings' functions: their lanes
    order their calls against every other Agora call of the stack, not in a bucket of their own."""
    shared = _env(template_json, "service.recordings.api_handler.handler")["AGORA_RATE_LIMIT_TABLE"]
    for handler in (AGENTS_API, LIFECYCLE, "service.agents.tasks_handler.reconcile", TRANSCRIPTIONS_API, RESTART):
        assert _env(template_json, handler)["AGORA_RATE_LIMIT_TABLE"] == shared, handler
