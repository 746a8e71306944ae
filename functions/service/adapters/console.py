"""The one way a function builds a ConsoleClient: credentials from Secrets Manager, the shared limiter.

Agora limits each Console API to 10 QPS per account, separately from Cloud Recording and channel
management, so Console calls draw from their own bucket (key ``agora-console``) in the same
account-wide rate-limit table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.agora.errors import AgoraAuthError
from agorakit.agora.ratelimit import LocalTokenBucket, RateLimiter, bucket_for_qps

from service.adapters.agora import INTERACTIVE, AgoraAccessSettings, CallBudget, DynamoDBTokenBucket
from service.adapters.secrets import SecretStore

if TYPE_CHECKING:
    from agorakit.agora.console import ConsoleClient

#: Agora's documented Console limit, per API and account
CONSOLE_QPS = 10
CONSOLE_BUCKET_KEY = "agora-console"


def console_rate_limiter(settings: AgoraAccessSettings, *, max_wait: float) -> RateLimiter:
    rate, burst = bucket_for_qps(min(CONSOLE_QPS, settings.agora_qps))
    if settings.agora_rate_limit_table:
        return DynamoDBTokenBucket(
            settings.agora_rate_limit_table, CONSOLE_BUCKET_KEY, rate=rate, burst=burst, max_wait=max_wait
        )
    return LocalTokenBucket(rate, burst, max_wait=max_wait)


def build_console_client(
    settings: AgoraAccessSettings, secrets: SecretStore, *, budget: CallBudget = INTERACTIVE
) -> ConsoleClient:
    """A ConsoleClient for the account whose REST credentials the stack stores. Build once per cold start."""
    from agorakit.agora.console import ConsoleClient

    secret = secrets.get_json(settings.agora_rest_secret_name)
    customer_id, customer_secret = secret.get("customer_id"), secret.get("customer_secret")
    if (
        not isinstance(customer_id, str)
        or not customer_id
        or not isinstance(customer_secret, str)
        or not customer_secret
    ):
        raise AgoraAuthError(
            f"secret {settings.agora_rest_secret_name!r} must be JSON with non-empty customer_id and customer_secret"
        )
    return ConsoleClient(
        customer_id=customer_id,
        customer_secret=customer_secret,
        base_urls=settings.base_urls(),
        rate_limiter=console_rate_limiter(settings, max_wait=budget.limiter_max_wait),
        timeout=budget.timeout,
        max_attempts=budget.max_attempts,
        backoff_cap=budget.backoff_cap,
    )
