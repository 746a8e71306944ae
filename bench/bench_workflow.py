"""State transitions per recording: our callback workflow against a naive polling workflow (the peer).

Ours is the SYNTHESIZED recording state machine, run by moto's Step Functions interpreter with the real
task handlers in-process and the Agora emulator (tests/workflow/recording_env.py). A recording's wait is a
task token, so its transition count does not depend on how long it records: measured here for a short and
a longer stop, and for the maximum-duration timeout (real waits of a few seconds; 10 hours cannot differ
from 4 seconds when nothing happens in the workflow while it waits, which the equal counts demonstrate).

The peer is the common design that polls Agora: after start, ``Wait 2 min -> Query -> Choice`` until the
recording ends. It is built with the same CDK chain API and run in the same moto; its Agora calls are Pass
stand-ins that also advance a simulated clock by 120 s per loop (the Wait itself is 0 s), so 1 minute and
10 hours of recording are both measured, not extrapolated. Cost: Step Functions Standard list price,
$0.025 per 1,000 state transitions; the figure counts ``*StateEntered`` history events (retries would add
to both designs alike and are absent in these runs).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRICE_PER_TRANSITION = 0.025 / 1000
POLL_SECONDS = 120
LONG_HOURS = 10


def _environment() -> None:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1", "POWERTOOLS_TRACE_DISABLED": "1",
    }.items():  # fmt: skip
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_PROFILE", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _quiet_handlers() -> None:
    """The functions' own INFO logs and EMF metrics would drown the figures."""
    import logging

    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)


def _entered(history: list[dict[str, Any]]) -> int:
    return sum(1 for e in history if e["type"].endswith("StateEntered"))


def measure_ours(rs: Any, wait_seconds: float | None) -> dict[str, Any]:
    """One recording; stopped by the API after ``wait_seconds``, or by the maximum duration when None."""
    channel = "bench" + uuid.uuid4().hex[:8]
    rs.emulator.join(channel, 1001, role="host")
    status, body = rs.api("POST", "/recordings", body={"channel": channel})
    assert status == 202, body
    recording_id = body["recording_id"]
    rs.wait_status(recording_id, "RECORDING")
    started = time.monotonic()
    if wait_seconds is not None:
        time.sleep(wait_seconds)
        rs.api("POST", f"/recordings/{recording_id}/stop")
    described = rs.wait_execution(recording_id, timeout=60)
    recorded = time.monotonic() - started
    item = rs.item(recording_id)
    assert described["status"] == "SUCCEEDED" and item["status"] == "STOPPED", (described["status"], item)
    history = rs.history(recording_id)
    return {
        "reason": item["stopReason"],
        "recorded_s": recorded,
        "transitions": _entered(history),
        "states": [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")],
    }


def naive_definition() -> str:
    """The polling peer, built with the CDK chain API like ours (Agora calls as Pass stand-ins)."""
    import aws_cdk as cdk
    from aws_cdk import aws_stepfunctions as sfn
    from aws_cdk.assertions import Template

    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "NaivePolling")
    init = sfn.Pass(stack, "Init", parameters={"elapsed": 0, "duration.$": "$.duration", "pollSeconds": 0})
    acquire = sfn.Pass(stack, "Acquire", result_path=sfn.JsonPath.DISCARD)
    start = sfn.Pass(stack, "Start", result_path=sfn.JsonPath.DISCARD)
    wait = sfn.Wait(stack, "WaitTwoMinutes", time=sfn.WaitTime.seconds_path("$.pollSeconds"))
    query = sfn.Pass(
        stack,
        "Query",
        comment=f"stands for a query Task; advances the simulated clock by {POLL_SECONDS} s",
        parameters={"elapsed.$": f"States.MathAdd($.elapsed, {POLL_SECONDS})", "duration.$": "$.duration",
                    "pollSeconds.$": "$.pollSeconds"},
    )  # fmt: skip
    stop = sfn.Pass(stack, "Stop", result_path=sfn.JsonPath.DISCARD)
    finalize = sfn.Pass(stack, "Finalize", result_path=sfn.JsonPath.DISCARD)
    still = (
        sfn.Choice(stack, "StillRecording")
        .when(sfn.Condition.number_less_than_json_path("$.elapsed", "$.duration"), wait)
        .otherwise(stop)
    )
    stop.next(finalize).next(sfn.Succeed(stack, "Done"))
    wait.next(query).next(still)
    sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(init.next(acquire).next(start).next(wait))
    )
    resources = Template.from_stack(stack).to_json()["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    definition = machine["Properties"]["DefinitionString"]
    return definition if isinstance(definition, str) else "".join(definition["Fn::Join"][1])


def measure_naive(sfn: Any, arn: str, duration_seconds: int) -> int:
    name = "naive" + uuid.uuid4().hex[:8]
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"duration": duration_seconds}))
    deadline = time.monotonic() + 300
    while sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise RuntimeError("the naive execution did not finish")
        time.sleep(0.05)
    history: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution["executionArn"], "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        history.extend(page["events"])
        if not page.get("nextToken"):
            return _entered(history)
        kwargs["nextToken"] = page["nextToken"]


def cost_per_1000(transitions: int) -> float:
    return transitions * PRICE_PER_TRANSITION * 1000


def main() -> int:
    _environment()
    from tests.workflow.recording_env import TEST_CONTEXT, recording_stack

    max_duration = TEST_CONTEXT["recordingMaxDurationSeconds"]
    print("building the stack (synth + provision into moto) ...", flush=True)
    with recording_stack() as rs:
        _quiet_handlers()
        short = measure_ours(rs, 0.5)
        longer = measure_ours(rs, 4.0)
        timeout = measure_ours(rs, None)
        naive_arn = rs.sfn.create_state_machine(
            name="NaivePollingPeer", definition=naive_definition(),
            roleArn="arn:aws:iam::123456789012:role/agora-serverless-local-lambda",  # the provisioner's role
        )["stateMachineArn"]  # fmt: skip
        naive_minute = measure_naive(rs.sfn, naive_arn, 60)
        naive_long = measure_naive(rs.sfn, naive_arn, LONG_HOURS * 3600)

    ours = {short["transitions"], longer["transitions"], timeout["transitions"]}
    print()
    print("state transitions per recording (StateEntered events, measured in moto)")
    print(f"  ours, stopped after {short['recorded_s']:.1f}s ({short['reason']}):   {short['transitions']:>5}")
    print(f"  ours, stopped after {longer['recorded_s']:.1f}s ({longer['reason']}):   {longer['transitions']:>5}")
    print(f"  ours, maximum duration {max_duration}s reached ({timeout['reason']}): {timeout['transitions']:>5}")
    print(f"  ours, path: {' -> '.join(short['states'])}")
    print(f"  peer (poll every {POLL_SECONDS}s), 1-minute recording:  {naive_minute:>5}")
    print(f"  peer (poll every {POLL_SECONDS}s), {LONG_HOURS}-hour recording:   {naive_long:>5}")
    if len(ours) != 1:
        print(f"ERROR: our transition count depends on the recording's length: {sorted(ours)}", file=sys.stderr)
        return 1
    (count,) = ours
    print()
    print("Step Functions Standard cost per 1,000 recordings ($0.025 per 1,000 transitions)")
    print(f"  ours, {'any length:':<22}${cost_per_1000(count):8.3f}")
    for label, peer in (("1-minute", naive_minute), (f"{LONG_HOURS}-hour", naive_long)):
        ratio = peer / count
        print(f"  peer, {label + ' recordings:':<22}${cost_per_1000(peer):8.3f}   ratio peer/ours {ratio:6.1f}x")
    print(f"  target: equal counts and under 20 -> {'met' if count < 20 else 'NOT met'} ({count})")
    print(
        f"SUMMARY recording workflow: {count} state transitions per recording, any length; polling peer "
        f"{naive_long} for a {LONG_HOURS}-hour recording ({naive_long / count:.1f}x ours)"
    )
    return 0 if count < 20 else 1


if __name__ == "__main__":
    raise SystemExit(main())
