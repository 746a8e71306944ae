"""The webhook functions' business metrics, in one place: which outcome counts as what.

The handlers hand each outcome to these functions (one call per delivery or stream record); the names are
the ones the dashboard and the alarms read (``infra/constructs/monitoring.py``; a test checks that they agree).

Intake, per delivery: ``NoticesAccepted`` (stored), ``NoticesDuplicate`` (already in the inbox: a retry of
NCS), ``NoticesRejected`` with a ``Reason`` dimension (the error code answered: ``unauthorized``,
``bad_request``, ``payload_too_large``, ``notice_too_large``, ``unavailable``), ``IntakeErrors`` (an
unexpected 500) and ``NoticeBytes`` (the body size of every delivery read).

Processor, per stream record: ``NoticesApplied``, ``NoticesStale`` (an older or unordered presence event:
a newer state is already stored), ``NoticesIgnored`` (a product or event we do not handle),
``NoticesInvalid``, ``NoticesFailed`` (raised: the stream delivers it again), ``AbnormalLeaveKicks``, and
``NoticeProcessingLagMs`` = processing time - Agora's ``notifyMs`` (Agora's delivery, our intake and the
stream together; the inbox stream's ``IteratorAge`` is our part alone).
"""

from __future__ import annotations

from service.observability import MetricSink

#: the error codes a rejection can carry (``service.errors`` and ``service.webhooks.logic``); others: "other"
REJECTION_REASONS = frozenset(
    {"unauthorized", "bad_request", "payload_too_large", "notice_too_large", "unavailable", "internal_error"}
)


def intake_read(sink: MetricSink, size: int) -> None:
    """A delivery's body was read (within the size limit)."""
    sink("NoticeBytes", size, unit="Bytes")


def intake_stored(sink: MetricSink, *, stored: bool) -> None:
    sink("NoticesAccepted" if stored else "NoticesDuplicate")


def intake_rejected(sink: MetricSink, code: str) -> None:
    """A 4xx or 503 answer with this error code."""
    reason = code if code in REJECTION_REASONS else "other"
    sink("NoticesRejected", dimensions={"Reason": reason})


def intake_failed(sink: MetricSink) -> None:
    """An unexpected exception: a 500, NCS delivers again."""
    sink("IntakeErrors")


def outcome_metric(outcome: str) -> str:
    """The counter of a processor outcome (``process_record``'s return value)."""
    if outcome.startswith("invalid"):
        return "NoticesInvalid"
    if outcome.startswith(("ignored", "skipped", "presence:ignored")):
        return "NoticesIgnored"
    if outcome.startswith(("presence:stale", "presence:unordered")):
        return "NoticesStale"
    return "NoticesApplied"  # presence applied / session filled, or handed to the recording workflow


def processed(sink: MetricSink, outcome: str, *, notify_ms: int | None, now: float) -> None:
    """One stream record processed (not raised)."""
    sink(outcome_metric(outcome))
    if outcome.endswith("abnormal leave: kicked"):
        sink("AbnormalLeaveKicks")
    if notify_ms is not None and notify_ms > 0 and not outcome.startswith("invalid"):
        sink("NoticeProcessingLagMs", max(0.0, now * 1000 - notify_ms), unit="Milliseconds")


def processing_failed(sink: MetricSink) -> None:
    sink("NoticesFailed")
