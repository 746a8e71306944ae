"""Conversational AI's rows of ``agorakit.agora.errors.classify``: no body ``code``, the status decides."""

from __future__ import annotations

import pytest
from agorakit.agora.errors import (
    AgoraAuthError,
    AgoraConflictError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraRateLimitedError,
    AgoraServerError,
    classify,
)


@pytest.mark.parametrize(
    ("op", "status", "kind", "error"),
    [("agent.join", 200, "ok", None), ("agent.join", 409, "raise", AgoraConflictError),
     ("agent.join", 422, "raise", AgoraServerError), ("agent.join", 429, "retry", AgoraRateLimitedError),
     ("agent.join", 503, "retry", AgoraServerError), ("agent.join", 504, "retry", AgoraServerError),
     ("agent.join", 400, "raise", AgoraParameterError), ("agent.join", 401, "raise", AgoraAuthError),
     ("agent.leave", 404, "gone", None), ("agent.history", 404, "raise", AgoraNotFoundError),
     ("agent.speak", 404, "raise", AgoraNotFoundError)],
)  # fmt: skip
def test_agent_statuses(op: str, status: int, kind: str, error: type | None) -> None:
    verdict = classify(op, status, {"detail": "x", "reason": "TaskConflict", "code": 7})
    assert verdict.kind == kind and verdict.error is error


def test_a_body_code_does_not_leak_into_agent_rows() -> None:
    # code 7 means "already started" for Cloud Recording; for an agent a 200 with any body is a success
    assert classify("agent.join", 200, {"code": 7}).kind == "ok"
    assert classify("agent.join", 422, {}).retryable
