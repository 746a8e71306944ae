"""Finding out what Agora did when its answer did not say: the workflow's ``resolve`` step and the fail
handler's "make sure the recorder is gone".

A start that timed out, met a 5xx or 206/65, or answered 201/7 ("already started") without a sid may have
started a recorder. Failing then would release the channel while that recorder keeps recording (and
billing) for as long as a host stays, and a new recording of the channel would put a second recorder in
it. So the recording stays STARTING, the channel stays locked, and ``resolve_start`` runs every few
seconds until one of these is true:

1. *adopted*: NCS named the task (any recording event carries the sid; ``events.py`` offers a sid whose
   channel and recorder uid are this recording's as ``candidateSid``), and a ``query`` with the resource
   ID and that sid confirms it; or the same start, sent again with the same resource ID, answers with a
   sid (the first one had not taken effect);
2. *removed*: within ``recording_resolve_seconds`` nothing named the task, so a kicking rule on the
   recorder uid in that channel takes the recorder out (Agora ends a kicked recorder's task), the
   recorder is seen absent twice, one poll apart, and the rule is lifted. The workflow then acquires a
   new resource with a new uid (the reacquire limit bounds this).

Every outcome is appended to the recording's ``resolutions`` with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from service.recordings import logic
from service.recordings.control import request_stop
from service.recordings.deps import RecordingDependencies
from service.recordings.record import Recording, Resolution, StartResolution
from service.recordings.repository import ConditionFailed
from service.recordings.settings import RecordingSettings

if TYPE_CHECKING:
    from agorakit.agora.models import StartResult

logger = logging.getLogger(__name__)

UNKNOWN = logic.START_OUTCOME_UNKNOWN
ADOPTED = "adopted"
PENDING = "pending"
REMOVED = "removed"
#: a web page recorder is not a user of the channel (no kick reaches it); its maxRecordingHour ends it
WEB_MARGIN_SECONDS = 60


class StartStateError(RuntimeError):
    """The resolve step found the recording in a status it cannot resolve from (another writer ended it)."""


def start_outcome_unknown(exc: Exception) -> bool:
    """Whether a failed start may have started a recorder: 201/7, a 5xx / 206-65 / 2xx without sid, or
    any error after an attempt that got no clear answer (a read timeout, say)."""
    from agorakit.agora.errors import AgoraAlreadyStartedError, AgoraServerError

    if isinstance(exc, AgoraAlreadyStartedError | AgoraServerError):
        return True
    return bool(getattr(exc, "maybe_executed", False))


def _error_info(exc: Exception, now: int) -> StartResolution:
    code, http_status = getattr(exc, "code", None), getattr(exc, "http_status", None)
    return StartResolution(
        type=type(exc).__name__,
        code=code if isinstance(code, int) else None,
        http_status=http_status if isinstance(http_status, int) else None,
        since=now,
    )


def mark_start_unknown(deps: RecordingDependencies, recording_id: str, exc: Exception) -> None:
    deps.repo.mark_start_unknown(recording_id, _error_info(exc, deps.repo.now_ms()))
    deps.metric("RecordingStartUnknown")


def _adopt(
    deps: RecordingDependencies, item: Recording, sid: str, reason: str, *, exited: bool = False
) -> dict[str, Any]:
    recording_id = item.recording_id
    now = deps.repo.now_ms()
    entry = Resolution(outcome=ADOPTED, reason=reason, at=now, sid=sid)
    try:
        deps.repo.adopt(recording_id, sid, [*item.resolutions, entry])
    except ConditionFailed as lost:
        deps.repo.keep_sid(recording_id, sid, now)  # the stop step and the fail handler can stop it
        status = lost.item.status if lost.item is not None else None
        raise StartStateError(f"recording {recording_id} is {status}") from None
    logger.info("recording %s: adopted task %s (%s)", recording_id, sid, reason)
    deps.metric("RecordingStarted")
    deps.metric("RecordingAdopted")
    if exited:  # the task ran and is over: the wait ends at once and the stop step finds it gone
        request_stop(deps.repo, deps.workflow, recording_id, logic.REASON_RECORDER_EXITED)
    return {"resolution": ADOPTED, "sid": sid}


def _pending(settings: RecordingSettings, seconds: float | None = None) -> dict[str, Any]:
    wait = settings.recording_resolve_poll_seconds if seconds is None else seconds
    return {"resolution": PENDING, "waitSeconds": max(1, min(int(wait), 3600))}


def resolve_start(  # noqa: PLR0911, PLR0912 - one return per way a look can end
    settings: RecordingSettings,
    deps: RecordingDependencies,
    item: Recording,
    start_again: Callable[[], StartResult | None],
) -> dict[str, Any]:
    """One look: adopted, removed, or pending (``waitSeconds`` until the next look)."""
    from agorakit.agora.errors import (
        AgoraAlreadyStartedError,
        AgoraConflictError,
        AgoraError,
        AgoraNotFoundError,
        AgoraResourceExpiredError,
    )

    recording_id = item.recording_id
    if item.status == logic.RECORDING and item.sid:
        return {"resolution": ADOPTED, "sid": item.sid}  # a retried step: already done
    if item.status != logic.STARTING:
        raise StartStateError(f"recording {recording_id} is {item.status}, not STARTING")
    if item.resource_id is None or item.recorder_uid is None:
        raise StartStateError(f"recording {recording_id} is STARTING without a resource")
    state = item.start_resolution or StartResolution()
    resource_id, channel, mode, uid = item.resource_id, item.channel, item.mode, item.recorder_uid

    candidate = item.candidate_sid
    if candidate and not state.rule_id:
        try:
            deps.agora.query(resource_id, candidate, mode)
        except AgoraNotFoundError:
            return _adopt(deps, item, candidate, "NCS named the task; it had already exited", exited=True)
        except AgoraError as exc:
            logger.warning("recording %s: could not query candidate %s: %s", recording_id, candidate, exc)
            return _pending(settings)
        return _adopt(deps, item, candidate, "NCS named the task and query confirmed it runs")

    if not state.exists and not state.rule_id:
        # The same start again, same resource ID: Agora answers 201/7 if the first one took effect.
        try:
            result = start_again()
        except (AgoraAlreadyStartedError, AgoraConflictError):
            deps.repo.update_start_resolution(recording_id, replace(state, exists=True))
            return _pending(settings)
        except AgoraResourceExpiredError:
            state = replace(state, give_up=True)  # the resource is gone: cannot ask again; make sure, then start afresh
        except AgoraError as exc:
            logger.warning("recording %s: start probe failed: %s", recording_id, exc)
        else:
            if result is not None:
                return _adopt(deps, item, result.sid, "the first start had not taken effect; the second one did")

    now = deps.repo.now_ms()
    since = state.since or now
    elapsed = (now - since) / 1000
    if elapsed < settings.recording_resolve_seconds and not state.give_up:
        return _pending(settings, min(settings.recording_resolve_poll_seconds,
                                      settings.recording_resolve_seconds - elapsed + 1))  # fmt: skip
    return _remove(settings, deps, item, state, channel, uid, mode, elapsed)


def _remove(  # noqa: PLR0911, PLR0917 - the pieces of the item the removal needs
    settings: RecordingSettings,
    deps: RecordingDependencies,
    item: Recording,
    state: StartResolution,
    channel: str,
    uid: int,
    mode: str,
    elapsed: float,
) -> dict[str, Any]:
    """No sid in time: take recorder ``uid`` out of ``channel`` and confirm it stays out."""
    from agorakit.agora.errors import AgoraError

    recording_id = item.recording_id
    if mode == "web":
        # A web recorder is no channel user: only its maxRecordingHour ends it. The channel stays locked.
        limit = logic.max_recording_hour(settings.max_duration_seconds) * 3600 + WEB_MARGIN_SECONDS
        if elapsed < limit:
            return _pending(settings, limit - elapsed)
        return _removed(deps, item, "no sid found; the web recorder's maxRecordingHour has passed")
    now = deps.repo.now_ms()
    if not state.rule_id:
        try:
            rule_id = deps.agora.create_kicking_rule(
                channel, uid=uid, seconds=settings.recording_kick_seconds, privileges=("join_channel",)
            )
        except AgoraError as exc:
            logger.warning("recording %s: could not create the kicking rule: %s", recording_id, exc)
            return _pending(settings)
        state = replace(state, rule_id=rule_id, kicked_at=now, absent_at=None)
        deps.repo.update_start_resolution(recording_id, state)
        deps.metric("RecorderKicked")
    try:
        present = bool(deps.agora.user_status(channel, uid).get("in_channel"))
    except AgoraError as exc:
        logger.warning("recording %s: could not check recorder %s: %s", recording_id, uid, exc)
        return _pending(settings)
    if present:
        deps.repo.update_start_resolution(recording_id, replace(state, absent_at=None))
        return _pending(settings)
    if not state.absent_at:  # seen absent once: look again one poll later before lifting the rule
        deps.repo.update_start_resolution(recording_id, replace(state, absent_at=now))
        return _pending(settings)
    kicking_rule = state.rule_id or 0  # set above, when the rule was created
    lifted = _lift(deps, kicking_rule)
    return _removed(
        deps, item, f"no sid within {settings.recording_resolve_seconds:g}s; recorder {uid} removed by a kicking rule",
        rule_id=kicking_rule, rule_lifted=lifted,
    )  # fmt: skip


def _lift(deps: RecordingDependencies, rule_id: int) -> bool:
    """Delete the kicking rule; it expires on its own if this fails (``recording_kick_seconds``)."""
    try:
        deps.agora.delete_kicking_rule(rule_id)
    except Exception as exc:
        logger.warning("could not lift kicking rule %s (it expires on its own): %s", rule_id, exc)
        return False
    return True


def _removed(
    deps: RecordingDependencies,
    item: Recording,
    reason: str,
    *,
    rule_id: int | None = None,
    rule_lifted: bool | None = None,
) -> dict[str, Any]:
    recording_id = item.recording_id
    entry = Resolution(
        outcome=REMOVED, reason=reason, at=deps.repo.now_ms(), recorder_uid=item.recorder_uid,
        rule_id=rule_id, rule_lifted=rule_lifted,
    )  # fmt: skip
    deps.repo.finish_start_resolution(recording_id, [*item.resolutions, entry])
    logger.warning("recording %s: %s", recording_id, reason)
    return {"resolution": REMOVED, "reason": reason}


def ensure_gone(  # noqa: PLR0911 - one return per way of knowing
    settings: RecordingSettings, deps: RecordingDependencies, item: Recording
) -> tuple[bool, str]:
    """For the fail handler: stop the recording's recorder, or make sure it is not there. (confirmed, how)."""
    from agorakit.agora.errors import AgoraError, AgoraNotFoundError

    recording_id = item.recording_id
    if item.sid:
        task = item.task()
        try:
            result = deps.agora.stop(*task, async_stop=True)
            return True, f"stop answered {result.outcome}"
        except AgoraError as exc:
            logger.warning("recording %s: stop failed (%s); asking Agora", recording_id, exc)
        try:
            deps.agora.query(task.resource_id, task.sid, task.mode)
        except AgoraNotFoundError:
            return True, "query: the task is gone"
        except AgoraError as exc:
            logger.warning("recording %s: query failed: %s", recording_id, exc)
    elif not item.start_resolution:
        return True, "no recorder was started"
    if item.mode == "web" or not item.recorder_uid or not item.channel:
        return False, "the recorder could not be confirmed gone"
    channel, uid = item.channel, item.recorder_uid
    try:
        rule_id = deps.agora.create_kicking_rule(
            channel, uid=uid, seconds=settings.recording_kick_seconds, privileges=("join_channel",)
        )
        present = bool(deps.agora.user_status(channel, uid).get("in_channel"))
    except AgoraError as exc:
        logger.warning("recording %s: could not remove recorder %s: %s", recording_id, uid, exc)
        return False, "the recorder could not be confirmed gone"
    if present:
        return False, f"recorder {uid} still in the channel after a kicking rule (rule {rule_id} kept)"
    _lift(deps, rule_id)
    return True, f"recorder {uid} removed by a kicking rule"
