"""Issue 20, "Concurrency, storage and alarms for 10,000", in the template: concurrency caps where a burst would
take the account's Lambda concurrency, indexes that project what their queries read, and alarms that can fire.

The default template (``template_json``) and one with the three settings turned (``tuned``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.constructs import monitoring
from infra.constructs.recording import BY_SID_ATTRIBUTES
from infra.settings import SettingsError, StackSettings
from tests.infra.test_production import of_type, one

#: Lambda's default account quota, of which 100 can never be reserved
ACCOUNT_DEFAULT = 1_000
UNRESERVABLE = 100
TUNED = {"aws:cdk:bundling-stacks": [], "intakeConcurrency": "120", "mediaMaxConcurrency": "7",
         "accountConcurrencyAlarm": "2400"}  # fmt: skip


@pytest.fixture(scope="module")
def tuned() -> dict[str, Any]:
    from aws_cdk.assertions import Template

    from app import build_app

    app, stack = build_app(context=dict(TUNED))
    app.synth()
    return Template.from_stack(stack).to_json()


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"].split("-", 1)[1]: a["Properties"]
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
    }


def single_metric(props: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]], str]:
    """(namespace, name, dimensions, statistic) of an alarm on one metric (plain, or a labelled MetricStat)."""
    if "MetricName" in props:
        return props["Namespace"], props["MetricName"], props.get("Dimensions", []), props["Statistic"]
    (query,) = props["Metrics"]
    metric = query["MetricStat"]["Metric"]
    return metric["Namespace"], metric["MetricName"], metric.get("Dimensions", []), query["MetricStat"]["Stat"]


def function(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    return one(template, "AWS::Lambda::Function", prefix)["Properties"]


def media_source(template: dict[str, Any]) -> dict[str, Any]:
    (mapping,) = [
        m["Properties"]
        for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()
        if "MediaPlaylistEvents" in str(m["Properties"]["EventSourceArn"])
    ]
    return mapping


# -- concurrency ------------------------------------------------------------------------------------------
def test_the_webhook_intake_has_reserved_concurrency_within_the_account_default(template_json):
    assert function(template_json, "WebhooksIntakeFunction")["ReservedConcurrentExecutions"] == 50
    reserved = {
        k: f["Properties"]["ReservedConcurrentExecutions"]
        for k, f in of_type(template_json, "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in f["Properties"]
    }
    assert len(reserved) == 2, reserved  # the intake and the reconciler (one per shard, 16 by default)
    assert sum(reserved.values()) <= ACCOUNT_DEFAULT - UNRESERVABLE


def test_the_media_queue_event_source_has_a_maximum_concurrency(template_json):
    assert media_source(template_json)["ScalingConfig"] == {"MaximumConcurrency": 20}


def test_the_concurrency_settings_reach_the_template(tuned):
    assert function(tuned, "WebhooksIntakeFunction")["ReservedConcurrentExecutions"] == 120
    assert media_source(tuned)["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert alarms(tuned)["AccountConcurrencyHigh"]["Threshold"] == 2400


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("intakeConcurrency", "0", "an integer from 1 to 899"),
        ("intakeConcurrency", "900", "an integer from 1 to 899"),
        ("mediaMaxConcurrency", "1", "an integer from 2 to 1000"),  # SQS event sources accept 2-1000
        ("mediaMaxConcurrency", "1001", "an integer from 2 to 1000"),
        ("accountConcurrencyAlarm", "0", "an integer from 1 to 100000"),
    ],
)
def test_a_bad_concurrency_setting_is_one_line_naming_the_key(key, value, says):
    with pytest.raises(SettingsError) as raised:
        StackSettings.load({key: value}.get, environ={}, context_keys=[key])
    assert str(raised.value).startswith(f"{key}={value!r} is not allowed: expected {says}")


def test_the_settings_are_read_from_the_environment_too():
    settings = StackSettings.load(
        {}.get,
        environ={"WEBHOOK_INTAKE_CONCURRENCY": "75", "MEDIA_MAX_CONCURRENCY": "30", "ACCOUNT_CONCURRENCY_ALARM": "900"},
    )
    assert (settings.intake_concurrency, settings.media_max_concurrency, settings.account_concurrency_alarm) == (
        75, 30, 900
    )  # fmt: skip


# -- indexes ----------------------------------------------------------------------------------------------
def test_recordings_indexes_project_what_their_queries_read(template_json):
    table = one(template_json, "AWS::DynamoDB::GlobalTable", "RecordingRecordingsTable")["Properties"]
    projections = {g["IndexName"]: g["Projection"] for g in table["GlobalSecondaryIndexes"]}
    # by_sid reads recordingId, then GetItem: status updates no longer write this index
    assert projections["bySid"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(BY_SID_ATTRIBUTES)}
    # the listing and the reconciler read the keys, then BatchGetItem the rows: an update writes neither index
    assert projections["byChannel"] == {"ProjectionType": "KEYS_ONLY"}
    assert projections["byStatus"] == {"ProjectionType": "KEYS_ONLY"}


# -- alarms -----------------------------------------------------------------------------------------------
def test_step_functions_api_throttling_alarms_per_api(template_json):
    found = alarms(template_json)
    for alarm_id, api in (
        ("WorkflowStartThrottled", "StartExecution"),
        ("WorkflowCallbackThrottled", "SendTaskSuccess"),
    ):
        props = found[alarm_id]
        assert single_metric(props) == ("AWS/States", "ThrottledEvents", [{"Name": "APIName", "Value": api}], "Sum")
        assert props["Threshold"] == 1
    # the state-transition alarm stays beside them
    assert found["WorkflowThrottled"]["MetricName"] == "ExecutionThrottled"


@pytest.mark.parametrize("kind", ["Read", "Write"])
def test_dynamodb_throttles_alarm_over_every_table(template_json, kind):
    found = alarms(template_json)
    names = sorted(n for n in found if re.fullmatch(f"DynamoDb{kind}Throttled\\d*", n))
    tables: set[str] = set()
    for name in names:
        props = found[name]
        stats = [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]
        assert len(props["Metrics"]) <= 10  # CloudWatch's limit of metrics in one alarm
        assert {(s["Metric"]["Namespace"], s["Metric"]["MetricName"], s["Stat"]) for s in stats} == {
            ("AWS/DynamoDB", f"{kind}ThrottleEvents", "Sum")
        }
        mine = {str(s["Metric"]["Dimensions"][0]["Value"]) for s in stats}
        assert not mine & tables
        tables |= mine
        (expression,) = [q["Expression"] for q in props["Metrics"] if "Expression" in q]
        assert expression.startswith("SUM([") and expression.count("FILL(") == len(mine)
    assert names[0] == f"DynamoDb{kind}Throttled"
    assert len(tables) == len(of_type(template_json, "AWS::DynamoDB::GlobalTable")) == 10
    assert len(names) == 2  # nine tables an alarm


def test_the_media_queue_alarms_long_before_its_retention(template_json):
    props = alarms(template_json)["PlaylistEventsOldestMessage"]
    namespace, name, dims, stat = single_metric(props)
    assert (namespace, name, stat) == ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum")
    ((queue_id, queue),) = [
        (k, q["Properties"])
        for k, q in of_type(template_json, "AWS::SQS::Queue").items()
        if k.startswith("MediaPlaylistEvents") and not k.startswith("MediaPlaylistEventsDlq")
    ]
    assert dims == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert props["Threshold"] == monitoring.MEDIA_QUEUE_AGE_SECONDS <= queue["MessageRetentionPeriod"] / 48


def test_account_concurrency_alarms_at_80_percent_of_the_default_quota(template_json):
    props = alarms(template_json)["AccountConcurrencyHigh"]
    # no dimensions: the account-level series
    assert single_metric(props) == ("AWS/Lambda", "ConcurrentExecutions", [], "Maximum")
    assert props["Threshold"] == 0.8 * ACCOUNT_DEFAULT


def test_alarms_that_could_not_fire_or_fire_on_retries_are_replaced(template_json):
    found = alarms(template_json)
    assert "TaskFunctionErrors" not in found and "ReconcilerFunctionThrottles" not in found
    # why the throttle alarm could not fire: one reserved run per shard, each shard invoked once per 5 minutes,
    # and a run ends before the next is scheduled
    reconciler = function(template_json, "RecordingReconcilerFunction")
    rules = [r["Properties"] for r in of_type(template_json, "AWS::Events::Rule").values()
             if "RecordingReconcilerFunction" in str(r["Properties"]["Targets"])]  # fmt: skip
    assert reconciler["ReservedConcurrentExecutions"] == sum(len(r["Targets"]) for r in rules)
    assert {r["ScheduleExpression"] for r in rules} == {"rate(5 minutes)"} and reconciler["Timeout"] < 300
    near = found["ReconcilerNearTimeout"]
    assert single_metric(near)[1::2] == ("Duration", "Maximum")
    assert near["Threshold"] == reconciler["Timeout"] * 1000 * monitoring.RECONCILER_DURATION_SHARE
    # retried task steps alarm as failed executions: the workflow's two alarms stay
    assert {"RecordingFailedAlarm", "ExecutionsFailedAlarm", "TaskFunctionThrottles"} <= set(found)


def test_reconciler_coverage_alarms_past_three_runs_on_the_gauge_every_run_publishes(template_json):
    props = alarms(template_json)["ReconcilerCoverageStale"]
    namespace, name, dims, stat = single_metric(props)
    assert (namespace, name, stat) == ("AgoraServerless", "ReconcilerOldestCheckAgeSeconds", "Maximum")
    assert dims == [{"Name": "service", "Value": "recordings"}]
    rules = [r["Properties"] for r in of_type(template_json, "AWS::Events::Rule").values()
             if "RecordingReconcilerFunction" in str(r["Properties"]["Targets"])]  # fmt: skip
    assert {r["ScheduleExpression"] for r in rules} == {"rate(5 minutes)"}  # every shard publishes every 5 minutes
    assert props["Threshold"] == monitoring.RECONCILER_COVERAGE_SECONDS == 3 * 300
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # the stale threshold is the same three runs: a row checked within the alarm's bound describes its execution
    # at most once per check
    reconciler = function(template_json, "RecordingReconcilerFunction")
    assert reconciler["Environment"]["Variables"]["RECORDING_STALE_SECONDS"] == "900"


def test_the_dashboard_shows_the_scale_limits(template_json):
    (dashboard,) = of_type(template_json, "AWS::CloudWatch::Dashboard").values()
    body = "".join(p if isinstance(p, str) else "" for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1])
    for title in (
        "Step Functions throttling: API buckets and state transitions",
        "DynamoDB throttle events per table",
        "Lambda concurrency: account (alarm line) and capped functions",
        "Media queue: oldest message (s) and backlog",
        "Task function errors (retried steps) vs failed executions",
        "Reconciler run duration (ms) vs its timeout",
        "Reconciler coverage: oldest check of an active recording (s)",
    ):
        assert title in body, title
    for api in monitoring.SFN_THROTTLED_APIS:
        assert f'"APIName","{api}"' in body, api
