"""Conversational AI agents end to end through the local stack (``LocalRuntime``, what ``make run`` serves): HTTP to
the local API (JWT, the real handlers, the lifecycle workflow in moto), Agora's Conversational AI from the emulator
(an ambiguous 504 after the agent was created), NCS product 17 from the emulator to the real webhook intake over HTTP
(duplicated and reordered), the conversation kept in the local bucket after the agent's end. Run in a child process
by ``test_local_stack_e2e.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.run import LocalRuntime
from tests.e2e.hostile_cases import CONTEXT, WAIT, api, emulator, join, local_stack, wait

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    # time scaled 10x: bot tokens are signed on the wall clock and must outlive the test in the emulator's time
    with local_stack(emulator_options={"time_scale": 10.0, "seed": 2026}, context=CONTEXT) as rt:
        yield rt


def emulated(rt: LocalRuntime, channel: str) -> dict[str, Any]:
    state = emulator(rt, "GET", "/emulator/agents")
    return {
        "agents": [a for a in state["agents"] if a["channel"] == channel],
        "created": [h for h in state["history"] if h["channel"] == channel],
        "overlaps": state["overlaps"],
    }


def test_an_ambiguous_start_leaves_one_agent_and_its_history_survives_its_end(runtime: LocalRuntime) -> None:
    channel = "e2e-agent"
    join(runtime, channel)
    emulator(runtime, "POST", "/emulator/webhooks", {"duplicates": 0.5, "reorder": 0.5})
    emulator(runtime, "POST", "/emulator/faults", {"script": ["504_after@agent.join"]})
    body = {"channel": channel, "profile": "assistant", "remoteUids": [1001]}
    status, started = api(runtime, "POST", "/agents", body)
    assert status == 201, started
    aid = started["agentId"]
    assert started["adopted"] is True, started  # the 504 came after the effect: found by its name and adopted
    wait("RUNNING from NCS", lambda: api(runtime, "GET", f"/agents/{aid}")[1]["state"] == "RUNNING")
    seen = emulated(runtime, channel)
    assert len(seen["created"]) == 1 and seen["agents"][0]["agent_id"] == started["agoraAgentId"]  # never two
    status, again = api(runtime, "POST", "/agents", body)
    assert status == 409 and again["error"]["details"]["agentId"] == aid
    wait("a few turns", lambda: emulated(runtime, channel)["agents"][0]["turns"] >= 2)
    assert api(runtime, "POST", f"/agents/{aid}/speak", {"text": "Thanks for joining."})[0] == 202
    status, left = api(runtime, "DELETE", f"/agents/{aid}")
    assert status == 200 and left["state"] in ("STOPPING", "STOPPED"), left
    final = wait("STOPPED from NCS", lambda: (a := api(runtime, "GET", f"/agents/{aid}")[1])["state"] == "STOPPED"
                 and a, timeout=WAIT)  # fmt: skip
    assert final["history"] is not None and final["history"]["turns"] >= 2, final
    import boto3

    bucket = runtime.stack.physical("MediaRecordingsBucket", "AWS::S3::Bucket")  # type: ignore[union-attr]
    doc = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=final["history"]["key"])["Body"].read())
    assert doc["agentId"] == aid and len(doc["turns"]) == final["history"]["turns"]
    assert any("Thanks for joining." in json.dumps(turn) for turn in doc["turns"])
    seen = emulated(runtime, channel)
    assert [a["status"] for a in seen["agents"]] == ["STOPPED"] and len(seen["created"]) == 1
    assert seen["overlaps"] == []
