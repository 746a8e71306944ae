"""Issue 20, "A reconciler that covers every recording at any count": the template fans the reconciler out, one
invocation per shard every 5 minutes, each with its input, its own budget and one reserved concurrency; and the
Agora limiter's lanes and split reach every function that calls Agora.

The default template (``template_json``, 16 shards) and one with the settings turned (``tuned``: 7 shards)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agorakit.agora.ratelimit import Lane, Lanes
from service.recordings.reconcile import Shard
from service.recordings.reconciler_handler import shard_of

from infra.settings import SettingsError, StackSettings
from tests.infra.test_production import of_type, one

TUNED = {"aws:cdk:bundling-stacks": [], "reconcilerShards": "7", "agoraLaneShares": "start=0.2,reconcile=0.1",
         "agoraLimiterShards": "3"}  # fmt: skip


@pytest.fixture(scope="module")
def tuned() -> dict[str, Any]:
    from aws_cdk.assertions import Template

    from app import build_app

    app, stack = build_app(context=dict(TUNED))
    app.synth()
    return Template.from_stack(stack).to_json()


def reconciler_schedules(template: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    logical, _ = next(
        (k, f) for k, f in of_type(template, "AWS::Lambda::Function").items() if k.startswith("RecordingReconciler")
    )
    rules = [
        r["Properties"]
        for r in of_type(template, "AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [logical, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]
    return logical, rules


@pytest.mark.parametrize(("which", "shards"), [("default", 16), ("tuned", 7)])
def test_every_shard_has_its_own_invocation_every_five_minutes(
    which: str, shards: int, template_json: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    template = template_json if which == "default" else request.getfixturevalue("tuned")
    _, rules = reconciler_schedules(template)
    assert len(rules) == -(-shards // 5)  # EventBridge: at most 5 targets per rule
    assert {r["ScheduleExpression"] for r in rules} == {"rate(5 minutes)"}
    assert {r["State"] for r in rules} == {"ENABLED"}
    targets = [t for r in rules for t in r["Targets"]]
    assert all(t["RetryPolicy"]["MaximumRetryAttempts"] == 0 for t in targets)
    # the handler reads each target's input as its shard: together they are every row, once
    handed = [shard_of(json.loads(t["Input"])) for t in targets]
    assert sorted(handed, key=lambda s: s.index) == [Shard(i, shards) for i in range(shards)]
    ids = [f"rec-{n}" for n in range(500)]
    assert sorted(i for s in handed for i in ids if s.owns(i)) == sorted(ids)
    reconciler = one(template, "AWS::Lambda::Function", "RecordingReconcilerFunction")["Properties"]
    assert reconciler["ReservedConcurrentExecutions"] == shards  # side by side, never overlapping themselves
    assert reconciler["Timeout"] == 240  # each shard's own budget, under the 5-minute period


def test_the_limiter_lanes_and_split_reach_every_agora_caller(template_json: dict[str, Any], tuned: dict[str, Any]):
    def agora_envs(template: dict[str, Any]) -> list[dict[str, str]]:
        return [
            f["Properties"]["Environment"]["Variables"]
            for f in of_type(template, "AWS::Lambda::Function").values()
            if "AGORA_QPS" in f["Properties"].get("Environment", {}).get("Variables", {})
        ]

    assert all(
        "AGORA_LANE_SHARES" not in env and "AGORA_LIMITER_SHARDS" not in env for env in agora_envs(template_json)
    )
    tuned_envs = agora_envs(tuned)
    assert len(tuned_envs) >= 4
    for env in tuned_envs:
        assert env["AGORA_LIMITER_SHARDS"] == "3"
        lanes = Lanes.parse(env["AGORA_LANE_SHARES"])
        assert (lanes.shares[Lane.START], lanes.shares[Lane.RECONCILE], lanes.shares[Lane.INTERACTIVE]) == (
            0.2, 0.1, 1.0
        )  # fmt: skip


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"reconcilerShards": "0"}, "reconcilerShards='0' is not allowed: expected an integer from 1 to 64"),
        ({"agoraLimiterShards": "65"}, "agoraLimiterShards='65' is not allowed: expected an integer from 1 to 64"),
        ({"agoraLaneShares": "start=0.9"}, "agoraLaneShares='start=0.9' is not allowed: expected comma-separated"),
        ({"agoraLaneShares": "bulk=0.5"}, "agoraLaneShares='bulk=0.5' is not allowed: expected comma-separated"),
    ],
)
def test_a_bad_fanout_or_lane_setting_is_one_line_naming_the_key(values: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        StackSettings.load(values.get, environ={}, context_keys=list(values))
    assert str(raised.value).startswith(says), str(raised.value)


def test_the_intake_and_the_reconciler_shards_together_fit_what_an_account_can_reserve() -> None:
    with pytest.raises(SettingsError) as raised:
        StackSettings.load({"intakeConcurrency": "890", "reconcilerShards": "16"}.get, environ={},
                           context_keys=["intakeConcurrency", "reconcilerShards"])  # fmt: skip
    assert "reserve more than the 900" in str(raised.value)
    ok = StackSettings.load({"intakeConcurrency": "884", "reconcilerShards": "16"}.get, environ={},
                            context_keys=["intakeConcurrency", "reconcilerShards"])  # fmt: skip
    assert (ok.intake_concurrency, ok.reconciler_shards) == (884, 16)
