"""A stopped local stack leaves no AWS client of its own behind in the process.

While it runs, every client the process caches (``service.adapters.aws``) points at the stack's moto server. A
client still cached after ``stop`` kept pointing there: the next caller in the same process got a refused
connection. That caller was a later test module on the same xdist worker (``test_agora_client`` after
``test_local_real_agora``, in a four-worker run); it could as well be a developer's script that stops a stack.
"""

from __future__ import annotations

import pytest
from service.adapters import aws

from local.run import LocalRuntime


def test_stop_forgets_the_clients_cached_while_the_stack_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = LocalRuntime(api_port=1, moto_port=2, emulator_port=3, web_port=None, reload=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")  # what the running stack sets
    stale = aws.client("sqs")
    assert aws.client("sqs") is stale  # cached
    runtime.stop()
    assert aws.client("sqs") is not stale
