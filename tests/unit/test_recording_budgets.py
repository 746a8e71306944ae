"""The recordings' call budgets and the client's "may have taken effect" flag, which the workflow's
resolve step relies on (``service.recordings.resolve.start_outcome_unknown``)."""

from __future__ import annotations

import httpx
import pytest
from agorakit.agora.client import AgoraClient
from agorakit.agora.errors import (
    AgoraAlreadyStartedError,
    AgoraParameterError,
    AgoraRateLimitedError,
    AgoraServerError,
    AgoraUnavailableError,
)
from service.adapters.agora import INTERACTIVE
from service.adapters.secrets import StaticSecretStore
from service.recordings import deps
from service.recordings.resolve import start_outcome_unknown
from service.recordings.settings import RecordingSettings

from tests.unit.test_agora_budget import worst_case_seconds

SETTINGS = RecordingSettings(agora_app_id="a" * 32, agora_rest_secret_name="rest", recordings_table="t")
SECRETS = StaticSecretStore({"rest": {"customer_id": "id", "customer_secret": "secret"}})
TASK_FUNCTION_TIMEOUT = 60  # infra/constructs/recording.py


def test_workflow_tasks_give_up_on_a_rate_limit_slot_before_their_lambda_times_out() -> None:
    budget = deps.WORKFLOW_BUDGET
    assert worst_case_seconds(budget) < TASK_FUNCTION_TIMEOUT
    client = deps.agora_client(SETTINGS, SECRETS)
    try:
        assert client.rate_limiter.max_wait == budget.limiter_max_wait
        assert client.max_attempts == SETTINGS.recording_agora_max_attempts
    finally:
        client.close()


def test_the_api_gets_the_interactive_budget() -> None:
    client = deps.agora_client(SETTINGS, SECRETS, INTERACTIVE)
    try:
        assert client.timeout == INTERACTIVE.timeout and client.max_attempts == INTERACTIVE.max_attempts
        assert client.rate_limiter.max_wait == INTERACTIVE.limiter_max_wait
    finally:
        client.close()


def _client(answers: list[object]) -> AgoraClient:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer  # type: ignore[misc]
        return httpx.Response(status, json=body)

    return AgoraClient(
        app_id="a" * 32, customer_id="id", customer_secret="s", base_urls=["http://agora.test"],
        transport=httpx.MockTransport(handler), max_attempts=len(answers), sleep=lambda _: None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "error", "maybe"),
    [
        ([(504, {"code": 62}), (429, {})], AgoraRateLimitedError, True),  # the first may have started it
        ([(429, {}), (429, {})], AgoraRateLimitedError, False),  # nothing was executed
        ([httpx.ConnectError("refused"), httpx.ConnectError("refused")], AgoraUnavailableError, False),
        ([httpx.ReadTimeout("slow"), (400, {"code": 2})], AgoraParameterError, True),
        ([(206, {"code": 65}), (201, {"code": 7})], AgoraAlreadyStartedError, True),
    ],
)
def test_the_client_says_whether_a_failed_call_may_have_taken_effect(
    answers: list[object], error: type[Exception], maybe: bool
) -> None:
    client = _client(answers)
    with pytest.raises(error) as raised:
        client.query("r" * 10, "s" * 32, "mix")
    assert raised.value.maybe_executed is maybe  # type: ignore[attr-defined]


def test_which_start_failures_leave_the_outcome_unknown() -> None:
    assert start_outcome_unknown(AgoraAlreadyStartedError("201/7"))
    assert start_outcome_unknown(AgoraServerError("65"))
    quiet = AgoraRateLimitedError("429")
    assert not start_outcome_unknown(quiet)
    quiet.maybe_executed = True
    assert start_outcome_unknown(quiet)
    assert not start_outcome_unknown(AgoraUnavailableError("connect refused"))
