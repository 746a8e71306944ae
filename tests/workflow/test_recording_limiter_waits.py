"""Waiting for our Agora limiter is the state machine's job: with the shared limiter at 1 QPS (0.8 slots/s),
three recordings started at once need their nine Agora calls spread over ~11 s. A step whose slot is more than
a second away returns ``waitSeconds``; the execution goes through ``<Step>LimiterWait`` (a Wait state) and
runs the step again. No step fails on the limiter, no Lambda sleeps past a second, every recording completes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflow.recording_env import RecordingStack, recording_stack

pytestmark = pytest.mark.slow

LIMITER_WAITS = {"AcquireLimiterWait", "StartLimiterWait", "StopLimiterWait"}


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(context={"agoraQps": 1}) as stack:
        yield stack


def test_a_burst_through_a_slow_limiter_waits_in_wait_states_and_completes(rs: RecordingStack) -> None:
    ids = []
    for i in range(3):
        channel = f"slow{i}"
        rs.emulator.join(channel, 1001, role="host")
        status, body = rs.api("POST", "/recordings", body={"channel": channel})
        assert status == 202 and body["status"] == "REQUESTED", body
        ids.append(body["recording_id"])
    ended = {i: rs.wait_execution(i, timeout=120) for i in ids}
    assert {e["status"] for e in ended.values()} == {"SUCCEEDED"}
    assert all(rs.item(i)["status"] == "STOPPED" for i in ids)
    entered = {i: rs.states_entered(i) for i in ids}
    waits = [name for states in entered.values() for name in states if name in LIMITER_WAITS]
    assert waits, entered  # at least one step found its slot more than a second away
    for i in ids:  # each wait went back to its own step, which then ran
        states = entered[i]
        for n, name in enumerate(states):
            if name in LIMITER_WAITS:
                assert states[n + 1] == name.removesuffix("LimiterWait")
    failures = [
        e["lambdaFunctionFailedEventDetails"].get("error")
        for i in ids
        for e in rs.history(i)
        if e["type"] == "LambdaFunctionFailed"
    ]
    assert "AgoraRateLimitedError" not in failures, failures  # the limiter never failed a step
