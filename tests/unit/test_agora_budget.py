"""Call budgets: functions behind API Gateway give up on Agora well before API Gateway's 30 s limit."""

from __future__ import annotations

from service.adapters.agora import BACKGROUND, INTERACTIVE, AgoraAccessSettings, build_agora_client
from service.adapters.secrets import StaticSecretStore

SETTINGS = AgoraAccessSettings(agora_app_id="a" * 32, agora_rest_secret_name="rest")
SECRETS = StaticSecretStore({"rest": {"customer_id": "id", "customer_secret": "secret"}})


def worst_case_seconds(budget) -> float:
    backoffs = sum(min(budget.backoff_cap, 2**n) for n in range(budget.max_attempts - 1))
    return budget.limiter_max_wait + budget.max_attempts * budget.timeout + backoffs


def test_interactive_budget_fits_inside_api_gateway():
    assert worst_case_seconds(INTERACTIVE) < 29
    assert worst_case_seconds(BACKGROUND) > worst_case_seconds(INTERACTIVE)


def test_the_client_gets_the_budget():
    client = build_agora_client(SETTINGS, SECRETS, budget=INTERACTIVE)
    try:
        assert client.max_attempts == INTERACTIVE.max_attempts
        assert client.backoff_cap == INTERACTIVE.backoff_cap
        assert client.timeout == INTERACTIVE.timeout
        assert client.rate_limiter.max_wait == INTERACTIVE.limiter_max_wait
    finally:
        client.close()
