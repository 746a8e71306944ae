"""Admission control: a recording starts only while the App ID has a free concurrent-task slot at Agora;
past that it is accepted as QUEUED and started in order as slots free, and only a full queue is refused.

- ``create_recording`` (``operations``) creates with ``limits(settings)``: a slot if one is free and nobody is
  queued ahead (REQUESTED, workflow started at once), else QUEUED (202 with ``position`` and an estimate),
  else ``full`` (429 with ``Retry-After``).
- a recording that ends gives its slot back (``release``: finalize, fail, an abandoned creation) and the queue
  moves (``pump``); the reconciler pumps on every run too, the safety net for a pump that died.
- ``stop`` of a QUEUED recording ends it at once (STOPPED, outcome ``not_started``): no workflow ever ran.

Every counter change is one transaction with the change of the recording it counts (``ports.AdmissionStore``),
so the rules hold under concurrency: see ``pump`` for the race it is built around.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from service.recordings import logic
from service.recordings.repository import Admission, ConditionFailed

if TYPE_CHECKING:
    from service.recordings.deps import RecordingDependencies
    from service.recordings.ports import AdmissionStore
    from service.recordings.record import Recording
    from service.recordings.settings import RecordingSettings

logger = logging.getLogger(__name__)

#: the queue is read this many recordings at a time (a pump admits at most ``max_tasks`` anyway)
QUEUE_PAGE = 25


def limits(settings: RecordingSettings) -> Admission:
    return Admission(max_tasks=settings.agora_max_tasks, queue_cap=settings.admission_queue_cap)


def waiting(store: AdmissionStore, item: Recording, settings: RecordingSettings) -> dict[str, int]:
    """``position`` (1: next to start) and ``estimated_wait_seconds`` of a QUEUED recording."""
    position = store.queue_position(item)
    estimate = logic.admission_estimate_seconds(
        position, settings.agora_max_tasks, settings.admission_typical_recording_seconds
    )
    return {"position": position, "estimated_wait_seconds": estimate}


def pump(deps: RecordingDependencies, settings: RecordingSettings, *, most: int | None = None) -> list[str]:
    """Admit QUEUED recordings oldest first while slots are free, and start each one's workflow.

    The race: two pumps at once (the finalize of one recording, the fail of another, the reconciler's run)
    read the same head of the queue. Each admission is one transaction conditional on the recording still
    being QUEUED *and* fewer than ``max_tasks`` slots held, so a recording is admitted once and the count never
    passes the limit; the pump that loses a recording tries the next one, and stops when no slot is left.
    A pump that dies between an admission and the workflow's start leaves a REQUESTED recording without an
    execution: the reconciler's stale rule finds it (its execution is MISSING) and ends it, giving the slot back."""
    store = deps.admission
    if store is None:
        return []
    started: list[str] = []
    budget = settings.agora_max_tasks if most is None else most
    while len(started) < budget:
        line = store.queue(QUEUE_PAGE)
        if not line:
            break
        progressed = False
        for item in line:
            try:
                admitted = store.admit(item.recording_id, settings.agora_max_tasks)
            except ConditionFailed:
                continue  # admitted by another pump, or stopped while queued: the next one
            if admitted is None:
                return started  # no slot free
            _start(deps, admitted)
            started.append(admitted.recording_id)
            progressed = True
            if len(started) >= budget:
                break
        if not progressed:
            break
    if started:
        deps.metric("RecordingsAdmitted", value=len(started))
    return started


def _start(deps: RecordingDependencies, item: Recording) -> None:
    """Start the admitted recording's workflow (its execution ARN was fixed when it was queued)."""
    if not item.execution_arn:
        logger.error("admitted recording %s has no execution ARN", item.recording_id)
        return
    try:
        deps.workflow.start(
            logic.state_machine_of(item.execution_arn), item.recording_id, {"recordingId": item.recording_id}
        )
    except Exception:  # ExecutionAlreadyExists (a pump that died after the start), or Step Functions down
        logger.exception("the workflow of admitted recording %s did not start here", item.recording_id)


def release(deps: RecordingDependencies, settings: RecordingSettings, recording_id: str) -> None:
    """The recording ended: give its slot back (once, whatever retries the caller makes) and move the queue."""
    store = deps.admission
    if store is None:
        return
    if store.release_slot(recording_id):
        pump(deps, settings)


def cancel(deps: RecordingDependencies, recording_id: str, reason: str) -> Recording | None:
    """Stop a QUEUED recording before it starts: STOPPED with outcome ``not_started``, its channel free. None when
    it is not QUEUED any more (a pump admitted it meanwhile: it is stopped like any other recording)."""
    store = deps.admission
    if store is None:
        return None
    ended = store.cancel_queued(recording_id, reason)
    if ended is not None:
        deps.repo.release_lock(ended.channel, recording_id)
        deps.metric("RecordingsEnded", dimensions={"StopReason": logic.ended_reason(reason)})
    return ended
