"""The reconciler's use case, run on a schedule by ``reconciler_handler``.

NCS may never deliver the event that says a recorder exited, and an operator may abort an execution;
both would leave a recording active forever. For active recordings this asks Agora whether its
recorder still runs and completes the wait of those that are gone, and fails the recordings whose
workflow execution is no longer running. The same answer fills in a CDN address that no NCS event 100
ever reported (the events are advisory and can all be lost).

A run covers what its time allows, oldest-checked first (a round robin on each row's ``reconciledAt``), so
at any count every row is checked within a bounded number of runs; clean-up and metrics always run, and
``ReconcilerOldestCheckAgeSeconds`` says how far behind the round robin is (``docs/scale.md``).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from service.recordings import admission, logic
from service.recordings.control import request_stop
from service.recordings.deps import RecordingDependencies
from service.recordings.record import CdnOutput, Recording
from service.recordings.repository import CLEANUP
from service.recordings.resolve import ensure_gone
from service.recordings.settings import RecordingSettings
from service.recordings.workflow import fail

logger = logging.getLogger(__name__)

#: milliseconds left in this invocation (a Lambda context's ``get_remaining_time_in_millis``)
RemainingMs = Callable[[], float]


@dataclass(frozen=True)
class Shard:
    """This run's part of the rows: those whose id hashes to ``index`` mod ``count`` (``docs/scale.md``, fan-out).
    One shard (the default) is every row. Each shard has its own invocation, so its own time budget."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: need 0 <= shard < shards")

    def owns(self, recording_id: str) -> bool:
        return self.count == 1 or zlib.crc32(recording_id.encode()) % self.count == self.index


ALL_ROWS = Shard()


def last_checked(item: Recording) -> int:
    """When the reconciler last checked ``item``; a row never checked counts from its creation."""
    return item.reconciled_at if item.reconciled_at is not None else item.created_at


def reconcile(
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
    remaining_ms: RemainingMs | None = None,
    shard: Shard = ALL_ROWS,
) -> dict[str, int]:
    """Check active recordings, oldest-checked first, while ``remaining_ms()`` stays above the margin
    (``recording_reconciler_margin_seconds``; None: no limit): complete the wait of those whose recorder exited
    without telling us (a 404 that outlasted the HA migration window), fail those whose workflow execution
    ended without finishing them. The rest wait for the next run, which starts with them. Clean-up and the
    metrics run whatever happened before them. ``shard``: only the rows (and clean-ups) of that shard."""
    counts = {"checked": 0, "running": 0, "completed": 0, "in_grace": 0, "errors": 0, "repaired": 0,
              "cdn_filled": 0, "deferred": 0}  # fmt: skip
    mine = (r for r in deps.repo.list_active() if shard.owns(r.recording_id))
    rows = sorted(mine, key=lambda r: (last_checked(r), r.recording_id))
    margin_ms = settings.recording_reconciler_margin_seconds * 1000
    examined = 0
    try:
        for item in rows:
            if remaining_ms is not None and remaining_ms() < margin_ms:
                break
            examined += 1
            _check(settings, deps, item, counts)
    finally:
        counts["deferred"] = len(rows) - examined
        try:
            counts["cleaned"] = _clean_up(settings, deps, shard)
            # the admission queue's safety net: a release whose pump died leaves free slots (race-safe: ``pump``)
            counts["admitted"] = len(admission.pump(deps, settings))
        finally:
            counts["active"] = len(rows)
            _publish(deps, counts, rows[examined:])
    return counts


def _publish(deps: RecordingDependencies, counts: dict[str, int], unchecked: list[Recording]) -> None:
    """Every run's gauges: the active recordings found, and the oldest check among them (the rows this run
    did not reach keep their previous check; the ones it reached were checked now)."""
    now = deps.repo.now_ms()
    oldest = max(((now - last_checked(r)) / 1000 for r in unchecked), default=0.0)
    counts["oldest_check_age_s"] = int(oldest)
    if counts["completed"]:
        deps.metric("RecordingsReconciled", counts["completed"])
    # a gauge: the active recordings this run found (REQUESTED to STOPPING), every 5 minutes
    deps.metric("RecordingsActive", counts["active"])
    deps.metric("ReconcilerOldestCheckAgeSeconds", max(oldest, 0.0), unit="Seconds")


def _check(settings: RecordingSettings, deps: RecordingDependencies, item: Recording, counts: dict[str, int]) -> None:
    """One row: at most one DescribeExecution, one Agora query, and one write of the check (``mark_checked``,
    which also carries ``lastSeenAt``: a running recorder costs no more writes than before)."""
    from agorakit.agora.errors import AgoraError, AgoraNotFoundError

    recording_id = item.recording_id
    now = deps.repo.now_ms()
    execution = _execution_status(settings, deps, item, now)
    if execution is not None and execution != "RUNNING":
        _repair(settings, deps, item, execution)
        counts["repaired"] += 1
        return
    running = execution == "RUNNING"
    if item.status != logic.RECORDING or not item.sid or not item.resource_id:
        deps.repo.mark_checked(recording_id, execution_running=running)
        return
    counts["checked"] += 1
    try:
        answer = deps.agora.query(item.resource_id, item.sid, item.mode)
    except AgoraNotFoundError:
        last_seen = item.last_seen_at or item.started_at or 0
        if (now - last_seen) / 1000 < settings.recording_ha_grace_seconds:
            counts["in_grace"] += 1
        else:
            logger.info("recording %s: the recorder is gone at Agora; completing the workflow", recording_id)
            request_stop(deps.repo, deps.workflow, recording_id, logic.REASON_RECONCILER)
            counts["completed"] += 1
        deps.repo.mark_checked(recording_id, execution_running=running)
        return
    except AgoraError as exc:
        logger.warning("reconciler could not query %s: %s", recording_id, exc)
        counts["errors"] += 1
        deps.repo.mark_checked(recording_id, execution_running=running)  # to the back: others are not starved
        return
    counts["running"] += 1
    deps.repo.mark_checked(recording_id, seen=True, execution_running=running)
    counts["cdn_filled"] += _fill_cdn(deps, item, answer.rtmp_outputs, now)


def _fill_cdn(deps: RecordingDependencies, item: Recording, outputs: list[tuple[str, str]], now: int) -> int:
    """A current CDN address with no report at all takes the state query gives (``source: query``).

    Only unreported addresses: an NCS event 100 carries a sequence, so it is ordered against the other events
    of its address and always replaces a query-filled state; a query answer is not ordered against events.
    """
    current = set(item.cdn_urls or ())
    reported = item.cdn_outputs or {}
    filled = 0
    for url, status in outputs:
        key = logic.cdn_key(url)
        if url not in current or key in reported or status not in logic.CDN_STATUSES:
            continue
        entry = CdnOutput(url=url, status=status, at=now, source="query")
        if deps.repo.set_cdn_status(item.recording_id, key, entry, None, max_entries=logic.MAX_CDN_ENTRIES):
            filled += 1
    return filled


def _clean_up(settings: RecordingSettings, deps: RecordingDependencies, shard: Shard = ALL_ROWS) -> int:
    """FAILED recordings whose recorder was not confirmed gone keep their channel: try again, and free the
    channel once Agora confirms it (``resolve.ensure_gone``)."""
    cleaned = 0
    for item in deps.repo.list_active((CLEANUP,)):
        if not shard.owns(item.recording_id):
            continue
        gone, how = ensure_gone(settings, deps, item)
        if not gone:
            logger.warning("recording %s: recorder still not confirmed gone: %s", item.recording_id, how)
            continue
        deps.repo.end_cleanup(item.recording_id, how)
        deps.repo.release_lock(item.channel, item.recording_id)
        if deps.admission is not None:
            deps.admission.release_slot(item.recording_id)  # its recorder is gone now; the pump below moves the queue
        cleaned += 1
    return cleaned


def _execution_status(
    settings: RecordingSettings, deps: RecordingDependencies, item: Recording, now: int
) -> str | None:
    """The execution's status when the row has been quiet for the stale period (no update, and no
    DescribeExecution that saw it RUNNING): at most one DescribeExecution per row per stale period. None: not
    asked, or Step Functions did not answer (the next run asks again)."""
    arn = item.execution_arn
    quiet_since = max(item.updated_at or 0, item.execution_seen_at or 0)
    if not arn or (now - quiet_since) / 1000 < settings.recording_stale_seconds:
        return None
    try:
        return deps.workflow.execution_status(arn)
    except Exception as exc:  # Step Functions unavailable: try again on the next run
        logger.warning("could not describe execution %s: %s", arn, exc)
        return None


def _repair(settings: RecordingSettings, deps: RecordingDependencies, item: Recording, status: str) -> None:
    """An active recording whose execution is no longer RUNNING will never finish by itself: fail it."""
    fail(
        {"state": {"recordingId": item.recording_id,
                   "error": {"Error": "ExecutionEnded", "Cause": f"the workflow execution is {status}"}}},
        settings=settings,
        deps=deps,
    )  # fmt: skip
