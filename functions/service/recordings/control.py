"""Ending the wait: the one way anyone (API, NCS event, reconciler, the wait step itself) asks a running
recording to stop.

Two facts must meet: "a stop was requested" (``stopRequested`` on the item) and "the workflow is waiting"
(``taskToken`` on the item). Each side writes its fact atomically and reads the other's in the same write
(ReturnValues ALL_NEW); whoever sees both sends SendTaskSuccess. Sending twice is harmless: Step Functions
answers the late one with TaskTimedOut/InvalidToken, which means "already done".
"""

from __future__ import annotations

import json
import logging
from typing import Any

from service.recordings import logic
from service.recordings.repository import ConditionFailed, RecordingsRepository

logger = logging.getLogger(__name__)

#: Step Functions errors that mean the token's task is already over (completed, timed out or gone)
FINISHED_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def send_success(sfn: Any, token: str, reason: str) -> bool:
    """Complete the wait with ``{"reason": reason}``; False when the task had already ended."""
    from botocore.exceptions import ClientError

    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"reason": reason}))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in FINISHED_TOKEN_ERRORS:
            logger.info("the wait was already over (%s)", code)
            return False
        raise
    return True


def request_stop(repo: RecordingsRepository, sfn: Any, recording_id: str, reason: str) -> dict[str, Any] | None:
    """Ask an active recording to stop. Returns the item (None if unknown); first reason wins; idempotent."""
    now = repo.now_ms()
    placeholders = {f":a{i}": s for i, s in enumerate(logic.ACTIVE_STATUSES)}
    item: dict[str, Any] | None
    try:
        item = repo.update(
            recording_id,
            set_={"stopRequested": reason, "stopRequestedAt": now},
            condition=f"attribute_not_exists(stopRequested) AND #status IN ({', '.join(placeholders)})",
            names={"#status": "status"},
            values=placeholders,
        )
    except ConditionFailed as lost:
        item = lost.item
        if item is None or not logic.is_active(item.get("status")):
            return item  # unknown, or already over: nothing to stop
        # already requested: (re)send in case the first requester died between its write and its send
    assert item is not None
    token = item.get("taskToken")
    if token:
        send_success(sfn, str(token), str(item.get("stopRequested") or reason))
    return item
