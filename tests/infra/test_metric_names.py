"""The dashboard and the alarms read only metrics that exist: names the functions' code publishes, under the
service that publishes them, or the log metric filters of the template.

The names come from the code (``tests/infra/code_metrics.py`` reads every sink and Powertools call reached
from each function's handler), the services from each function's ``POWERTOOLS_SERVICE_NAME``; a graph of a
metric nobody publishes (a typo, a renamed counter) fails here instead of staying flat on the dashboard.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from infra.constructs import monitoring
from infra.constructs.function_factory import METRICS_NAMESPACE
from tests.infra.code_metrics import emitted_by
from tests.infra.template_helpers import resources


def _published(template_json: dict[str, Any]) -> dict[str, set[str]]:
    """service -> metric names its functions' code publishes."""
    by_service: dict[str, set[str]] = defaultdict(set)
    for fn in resources(template_json, "AWS::Lambda::Function").values():
        props = fn["Properties"]
        service = (props.get("Environment") or {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        handler = props.get("Handler", "")
        if not service or not handler.startswith("service."):
            continue
        found = emitted_by(handler.rpartition(".")[0])
        assert not found.unresolved, found.unresolved  # a metric name the scan cannot read
        by_service[service] |= found.names
    return by_service


def _filters(template_json: dict[str, Any]) -> set[str]:
    return {
        t["MetricName"]
        for f in resources(template_json, "AWS::Logs::MetricFilter").values()
        for t in f["Properties"]["MetricTransformations"]
        if t["MetricNamespace"] == METRICS_NAMESPACE
    }


def _dashboard_series(template_json: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, name, dimensions, widget title) of every graphed metric."""
    (dashboard,) = resources(template_json, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
    series = []
    for widget in body["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            fields = [f for f in metric if not isinstance(f, dict)]
            assert "." not in fields, metric  # no shorthand: every series names its namespace and metric
            namespace, name, *dims = fields
            series.append(
                (namespace, name, dict(zip(dims[::2], dims[1::2], strict=True)), widget["properties"]["title"])
            )
    return series


def _alarm_metrics(template_json: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    found = []
    for alarm in resources(template_json, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        title = props["AlarmName"]
        if "MetricName" in props:
            dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
            found.append((props["Namespace"], props["MetricName"], dims, title))
        for query in props.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                found.append((metric["Namespace"], metric["MetricName"], dims, title))
    return found


@pytest.fixture(scope="module")
def published(template_json):
    return _published(template_json)


def test_the_code_publishes_the_metrics_the_issue_asks_for(published):
    assert {"NoticesAccepted", "NoticesDuplicate", "NoticesRejected", "NoticeBytes", "IntakeErrors"} <= published[
        "webhooks"
    ]
    assert {"NoticesApplied", "NoticesStale", "NoticesIgnored", "NoticeProcessingLagMs", "NoticesFailed"} <= published[
        "webhooks"
    ]
    assert {"KickingRulesCreated", "AgoraRequests", "AgoraLimiterWaitMs"} <= published["channels"]
    assert {"RecordingsEnded", "RecordingsActive", "AgoraLimiterWaitMs", "RecordingStarted"} <= published["recordings"]


@pytest.mark.parametrize("source", ["dashboard", "alarms"])
def test_every_metric_read_is_one_the_code_or_a_log_filter_publishes(template_json, published, source):
    series = _dashboard_series(template_json) if source == "dashboard" else _alarm_metrics(template_json)
    filters = _filters(template_json)
    ours = [s for s in series if s[0] == METRICS_NAMESPACE]
    assert len(ours) >= (40 if source == "dashboard" else 8)
    for _, name, dims, title in ours:
        service = dims.get("service")
        if service is None:
            assert name in filters, (title, name, "no service dimension and no log metric filter")
            assert dims == {}, (title, name)
        else:
            assert service in published, (title, service)
            assert name in published[service], (title, f"{service} publishes no {name}")
    others = {s[0] for s in series} - {METRICS_NAMESPACE}
    assert others <= {"AWS/ApiGateway", "AWS/Lambda", "AWS/States", "AWS/SQS", "AWS/DynamoDB"}, others


def test_dimension_values_graphed_are_the_ones_the_code_uses(template_json):
    from service.recordings.logic import ENDED_REASONS
    from service.webhooks.telemetry import REJECTION_REASONS

    assert set(monitoring.STOP_REASONS) == ENDED_REASONS
    assert set(monitoring.REJECTION_REASONS) == REJECTION_REASONS | {"other"}
    graphed = defaultdict(set)
    for _, name, dims, _title in _dashboard_series(template_json):
        for key in ("StopReason", "Reason", "Scope"):
            if key in dims:
                graphed[(name, key)].add(dims[key])
    assert graphed[("RecordingsEnded", "StopReason")] == ENDED_REASONS
    assert graphed[("NoticesRejected", "Reason")] == REJECTION_REASONS | {"other"}
    assert graphed[("KickingRulesCreated", "Scope")] == {"channel", "app"}


def test_the_new_failure_signals_alarm_on_the_published_metrics(template_json):
    by_name = {
        a["Properties"]["AlarmName"].removeprefix("AgoraServerless-"): a["Properties"]
        for a in resources(template_json, "AWS::CloudWatch::Alarm").values()
    }
    wait = by_name["AgoraLimiterWaitHigh"]
    stats = {q["Id"]: q["MetricStat"] for q in wait["Metrics"] if "MetricStat" in q}
    assert {s["Metric"]["MetricName"] for s in stats.values()} == {"AgoraLimiterWaitMs"}
    assert {s["Stat"] for s in stats.values()} == {"p90"}
    assert {d["Value"] for s in stats.values() for d in s["Metric"]["Dimensions"]} == set(
        monitoring.AGORA_REST_SERVICES
    )
    (expression,) = [q["Expression"] for q in wait["Metrics"] if "Expression" in q]
    assert expression.startswith("MAX([") and all(k in expression for k in stats)
    assert wait["Threshold"] == monitoring.LIMITER_WAIT_P90_MS and wait["EvaluationPeriods"] == 3
    lag = by_name["WebhookProcessingLag"]
    (stat,) = [q["MetricStat"] for q in lag["Metrics"]]
    assert (stat["Metric"]["MetricName"], stat["Stat"]) == ("NoticeProcessingLagMs", "p90")
    assert lag["Threshold"] == monitoring.PROCESSING_LAG_P90_MS
    failed = by_name["WebhookNoticesFailed"]
    (stat,) = [q["MetricStat"] for q in failed["Metrics"]]
    assert stat["Metric"]["MetricName"] == "NoticesFailed"
    assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "webhooks"}]


def test_every_agora_rest_caller_publishes_its_limiter_waits(published):
    for service in monitoring.AGORA_REST_SERVICES:
        assert {"AgoraRequests", "AgoraLimiterWaitMs"} <= published[service], service
