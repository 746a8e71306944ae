"""The reconciler's use case, run on a schedule by ``reconciler_handler``.

NCS may never deliver the event that says a recorder exited, and an operator may abort an execution;
both would leave a recording active forever. For every active recording this asks Agora whether its
recorder still runs and completes the wait of those that are gone, and fails the recordings whose
workflow execution is no longer running. The same answer fills in a CDN address that no NCS event 100
ever reported (the events are advisory and can all be lost).
"""

from __future__ import annotations

import logging

from service.recordings import logic
from service.recordings.control import request_stop
from service.recordings.deps import RecordingDependencies
from service.recordings.record import CdnOutput, Recording
from service.recordings.repository import CLEANUP
from service.recordings.resolve import ensure_gone
from service.recordings.settings import RecordingSettings
from service.recordings.workflow import fail

logger = logging.getLogger(__name__)


def reconcile(*, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, int]:
    """For every active recording: ask Agora whether its recorder still runs, and complete the wait of
    those that exited without telling us (a 404 that outlasted the HA migration window). Also repairs
    recordings whose workflow execution ended without finishing them (e.g. aborted by an operator)."""
    from agorakit.agora.errors import AgoraError, AgoraNotFoundError

    counts = {"checked": 0, "running": 0, "completed": 0, "in_grace": 0, "errors": 0, "repaired": 0, "cdn_filled": 0}
    now = deps.repo.now_ms()
    active = 0
    for item in deps.repo.list_active():
        active += 1
        recording_id = item.recording_id
        if _repair_if_orphaned(settings, deps, item, now):
            counts["repaired"] += 1
            continue
        if item.status != logic.RECORDING or not item.sid or not item.resource_id:
            continue
        counts["checked"] += 1
        try:
            answer = deps.agora.query(item.resource_id, item.sid, item.mode)
        except AgoraNotFoundError:
            last_seen = item.last_seen_at or item.started_at or 0
            if (now - last_seen) / 1000 < settings.recording_ha_grace_seconds:
                counts["in_grace"] += 1
                continue
            logger.info("recording %s: the recorder is gone at Agora; completing the workflow", recording_id)
            request_stop(deps.repo, deps.workflow, recording_id, logic.REASON_RECONCILER)
            counts["completed"] += 1
            continue
        except AgoraError as exc:
            logger.warning("reconciler could not query %s: %s", recording_id, exc)
            counts["errors"] += 1
            continue
        counts["running"] += 1
        deps.repo.mark_seen(recording_id)
        counts["cdn_filled"] += _fill_cdn(deps, item, answer.rtmp_outputs, now)
    counts["cleaned"] = _clean_up(settings, deps)
    counts["active"] = active
    if counts["completed"]:
        deps.metric("RecordingsReconciled", counts["completed"])
    # a gauge: the active recordings this run found (REQUESTED to STOPPING), every 5 minutes
    deps.metric("RecordingsActive", active)
    return counts


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


def _clean_up(settings: RecordingSettings, deps: RecordingDependencies) -> int:
    """FAILED recordings whose recorder was not confirmed gone keep their channel: try again, and free the
    channel once Agora confirms it (``resolve.ensure_gone``)."""
    cleaned = 0
    for item in deps.repo.list_active((CLEANUP,)):
        gone, how = ensure_gone(settings, deps, item)
        if not gone:
            logger.warning("recording %s: recorder still not confirmed gone: %s", item.recording_id, how)
            continue
        deps.repo.end_cleanup(item.recording_id, how)
        deps.repo.release_lock(item.channel, item.recording_id)
        cleaned += 1
    return cleaned


def _repair_if_orphaned(settings: RecordingSettings, deps: RecordingDependencies, item: Recording, now: int) -> bool:
    """An active recording whose execution is no longer RUNNING will never finish by itself: fail it."""
    updated = item.updated_at or 0
    arn = item.execution_arn
    if not arn or (now - updated) / 1000 < settings.recording_stale_seconds:
        return False
    try:
        status = deps.workflow.execution_status(arn)
    except Exception as exc:  # Step Functions unavailable: try again on the next run
        logger.warning("could not describe execution %s: %s", arn, exc)
        return False
    if status == "RUNNING":
        return False
    fail(
        {"state": {"recordingId": item.recording_id,
                   "error": {"Error": "ExecutionEnded", "Cause": f"the workflow execution is {status}"}}},
        settings=settings,
        deps=deps,
    )  # fmt: skip
    return True
