"""The metric plumbing: the limiter returns its wait, the service layer publishes it, the sink writes EMF.

The EMF documents are Powertools' own output (``Metrics.flush_metrics``), read back from stdout.
"""

from __future__ import annotations

import pytest
from agorakit.agora.errors import AgoraRateLimitedError
from agorakit.agora.ratelimit import LocalTokenBucket
from aws_lambda_powertools import Metrics
from service.adapters.agora import AgoraAccessSettings, ObservedLimiter, build_rate_limiter
from service.observability import limiter_wait_observer, metric_sink, no_metric
from service.recordings import logic as recording_logic
from service.webhooks import telemetry

from tests.support import emf


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def metrics():
    m = Metrics(namespace="UnitMetrics", service="unit")
    m.clear_metrics()
    yield m
    m.clear_metrics()


def test_the_local_bucket_returns_the_wait_it_slept():
    clock = Clock()
    bucket = LocalTokenBucket(2.0, 1, clock=clock, sleep=clock.sleep)
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    assert bucket.acquire() == pytest.approx(0.5)
    assert clock.slept == pytest.approx([0.5, 0.5])


def test_the_observed_limiter_reports_every_wait_and_nothing_when_no_slot_is_granted():
    clock = Clock()
    seen: list[float] = []
    limiter = ObservedLimiter(LocalTokenBucket(1.0, 1, max_wait=1.5, clock=clock, sleep=clock.sleep), seen.append)
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(1.0)
    clock.now -= 1.0  # two callers at once: the third would wait 2 s, more than max_wait
    with pytest.raises(AgoraRateLimitedError):
        limiter.acquire()
    assert seen == pytest.approx([0.0, 1.0])


def test_build_rate_limiter_wraps_only_when_observed():
    settings = AgoraAccessSettings(agora_app_id="app", agora_rest_secret_name="s", agora_qps=10)
    assert isinstance(build_rate_limiter(settings), LocalTokenBucket)
    observed = build_rate_limiter(settings, on_wait=lambda _: None)
    assert isinstance(observed, ObservedLimiter) and isinstance(observed.inner, LocalTokenBucket)


def test_the_sink_writes_plain_metrics_at_flush_and_dimensioned_ones_as_their_own_document(metrics, capsys):
    sink = metric_sink(metrics)
    capsys.readouterr()
    sink("NoticesAccepted")
    sink("NoticeBytes", 812, unit="Bytes")
    sink("RecordingsEnded", dimensions={"StopReason": "api"})
    dimensioned = emf.documents(capsys.readouterr().out)
    assert len(dimensioned) == 1 and dimensioned[0]["StopReason"] == "api"  # out at once, before the flush
    metrics.flush_metrics()
    docs = dimensioned + emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "NoticesAccepted") == [1.0]
    assert emf.values(docs, "NoticeBytes") == [812.0]
    assert emf.values(docs, "RecordingsEnded", {"StopReason": "api"}) == [1.0]
    assert emf.values(docs, "RecordingsEnded") == []  # never without its StopReason
    assert emf.units(docs) == {"NoticesAccepted": "Count", "NoticeBytes": "Bytes", "RecordingsEnded": "Count"}
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"UnitMetrics"}
    assert {d["service"] for d in docs} == {"unit"}


def test_the_limiter_observer_publishes_one_request_and_its_wait_in_ms(metrics, capsys):
    clock = Clock()
    limiter = ObservedLimiter(
        LocalTokenBucket(4.0, 1, clock=clock, sleep=clock.sleep), limiter_wait_observer(metric_sink(metrics))
    )
    for _ in range(3):
        limiter.acquire()
    capsys.readouterr()
    metrics.flush_metrics()
    docs = emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "AgoraRequests") == [1.0, 1.0, 1.0]
    assert emf.values(docs, "AgoraLimiterWaitMs") == pytest.approx([0.0, 250.0, 250.0])
    assert emf.units(docs)["AgoraLimiterWaitMs"] == "Milliseconds"


@pytest.mark.parametrize(
    ("outcome", "metric"),
    [
        ("presence:applied", "NoticesApplied"),
        ("presence:applied+cleared:3", "NoticesApplied"),
        ("presence:session_filled", "NoticesApplied"),
        ("presence:applied; abnormal leave: kicked", "NoticesApplied"),
        ("recording", "NoticesApplied"),
        ("presence:stale", "NoticesStale"),
        ("presence:unordered", "NoticesStale"),
        ("presence:ignored", "NoticesIgnored"),
        ("ignored: undocumented RTC event", "NoticesIgnored"),
        ("ignored: product not handled", "NoticesIgnored"),
        ("skipped: no recording workflow deployed", "NoticesIgnored"),
        ("invalid: body", "NoticesInvalid"),
        ("invalid: payload is not an object", "NoticesInvalid"),
    ],
)
def test_every_processor_outcome_has_its_counter(outcome, metric):
    assert telemetry.outcome_metric(outcome) == metric


def test_processing_lag_is_now_minus_notify_ms_and_a_kick_is_counted():
    published: list[tuple[str, float, str]] = []

    def sink(name, value=1, *, unit="Count", dimensions=None):
        published.append((name, value, unit))

    telemetry.processed(sink, "presence:applied; abnormal leave: kicked", notify_ms=1_000_000, now=1_002.5)
    assert published == [
        ("NoticesApplied", 1, "Count"),
        ("AbnormalLeaveKicks", 1, "Count"),
        ("NoticeProcessingLagMs", 2_500.0, "Milliseconds"),
    ]
    published.clear()
    telemetry.processed(sink, "invalid: body", notify_ms=1_000_000, now=1_002.5)  # no trustworthy notifyMs
    telemetry.processed(sink, "presence:stale", notify_ms=None, now=1_002.5)
    assert published == [("NoticesInvalid", 1, "Count"), ("NoticesStale", 1, "Count")]


def test_rejection_reasons_are_a_bounded_dimension():
    published: list[dict[str, str] | None] = []
    for code in ("unauthorized", "bad_request", "x" * 40):
        telemetry.intake_rejected(lambda name, value=1, **kw: published.append(kw.get("dimensions")), code)
    assert published == [{"Reason": "unauthorized"}, {"Reason": "bad_request"}, {"Reason": "other"}]


def test_stop_reasons_are_a_bounded_dimension():
    for reason in recording_logic.STOP_REASONS:
        assert recording_logic.ended_reason(reason) == reason
    assert recording_logic.ended_reason("failed") == "failed"
    assert recording_logic.ended_reason("unknown") == "other"
    assert recording_logic.ended_reason(None) == "other"
    assert {recording_logic.ended_reason(r) for r in ("api", "x", None, "failed")} <= recording_logic.ENDED_REASONS


def test_no_metric_accepts_the_sink_signature():
    no_metric("X", 2, unit="Milliseconds", dimensions={"A": "b"})
