"""The projects function's Console client: credentials from the secret, its own bucket in the shared table."""

from __future__ import annotations

import pytest
from agorakit.agora.errors import AgoraAuthError
from agorakit.agora.ratelimit import LocalTokenBucket
from service.adapters.agora import AgoraAccessSettings, DynamoDBTokenBucket
from service.adapters.console import CONSOLE_BUCKET_KEY, build_console_client, console_rate_limiter
from service.adapters.secrets import StaticSecretStore

APP_ID = "0123456789abcdef0123456789abcdef"


def test_console_calls_have_their_own_bucket_in_the_shared_table():
    settings = AgoraAccessSettings(agora_app_id=APP_ID, agora_rest_secret_name="s", agora_rate_limit_table="t")
    limiter = console_rate_limiter(settings, max_wait=5)
    assert isinstance(limiter, DynamoDBTokenBucket)
    assert limiter.table_name == "t" and limiter.key == CONSOLE_BUCKET_KEY != "agora-account"
    assert limiter.rate < 10 and limiter.burst == 1
    local = console_rate_limiter(AgoraAccessSettings(agora_app_id=APP_ID, agora_rest_secret_name="s"), max_wait=5)
    assert isinstance(local, LocalTokenBucket)


def test_build_console_client_reads_the_rest_secret_and_keeps_it_out_of_reprs():
    settings = AgoraAccessSettings(
        agora_app_id=APP_ID, agora_rest_secret_name="rest", agora_rest_base_urls="http://127.0.0.1:9"
    )
    store = StaticSecretStore({"rest": {"customer_id": "cid", "customer_secret": "very-secret-value"}})
    client = build_console_client(settings, store)
    try:
        assert client.base_urls == ("http://127.0.0.1:9",)
        assert "very-secret-value" not in repr(client)
    finally:
        client.close()
    with pytest.raises(AgoraAuthError):
        build_console_client(settings, StaticSecretStore({"rest": {"customer_id": "cid"}}))
