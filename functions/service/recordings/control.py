"""Ending the wait: the one way anyone (API, NCS event, reconciler, the wait step itself) asks a running
recording to stop.

Two facts must meet: "a stop was requested" (``stopRequested`` on the item) and "the workflow is waiting"
(``taskToken`` on the item). Each side writes its fact atomically and reads the other's in the same write
(ReturnValues ALL_NEW); whoever sees both completes the wait. Completing twice is harmless: the late one
is reported as "already over" by ``WorkflowControl.complete_wait``.
"""

from __future__ import annotations

from service.recordings import logic
from service.recordings.ports import RecordingStore, WorkflowControl
from service.recordings.record import Recording


def request_stop(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, reason: str) -> Recording | None:
    """Ask an active recording to stop. Returns the item (None if unknown); first reason wins; idempotent."""
    item, recorded = repo.request_stop(recording_id, reason)
    if item is None:
        return None
    if not recorded and not logic.is_active(item.status):
        return item  # already over: nothing to stop
    # newly requested, or requested before: (re)send in case the first requester died between its write
    # and its send
    if item.task_token:
        workflow.complete_wait(item.task_token, item.stop_requested or reason)
    return item
