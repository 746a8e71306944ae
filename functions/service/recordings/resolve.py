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
from collections.abc import Callable, Mapping
from typing import Any

from service.recordings import logic
from service.recordings.control import request_stop
from service.recordings.deps import RecordingDependencies
from service.recordings.repository import ConditionFailed
from service.recordings.settings import RecordingSettings

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
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


def _error_info(exc: Exception, now: int) -> dict[str, Any]:
    info = {
        "type": type(exc).__name__,
        "code": getattr(exc, "code", None),
        "httpStatus": getattr(exc, "http_status", None),
        "since": now,
    }
    return {k: v for k, v in info.items() if v is not None}


def mark_start_unknown(deps: RecordingDependencies, recording_id: str, exc: Exception) -> None:
    deps.repo.mark_start_unknown(recording_id, _error_info(exc, deps.repo.now_ms()))
    deps.metric("RecordingStartUnknown")


def _resolution(deps: RecordingDependencies, outcome: str, reason: str, **extra: Any) -> dict[str, Any]:
    entry = {"outcome": outcome, "reason": reason, "at": deps.repo.now_ms(), **extra}
    return {k: v for k, v in entry.items() if v is not None}


def _adopt(
    deps: RecordingDependencies, item: Mapping[str, Any], sid: str, reason: str, *, exited: bool = False
) -> dict[str, Any]:
    recording_id = str(item["recordingId"])
    now = deps.repo.now_ms()
    entry = _resolution(deps, ADOPTED, reason, sid=sid)
    try:
        deps.repo.transition(
            recording_id,
            logic.RECORDING,
            set_={"sid": sid, "startedAt": now, "lastSeenAt": now,
                  "resolutions": [*list(item.get("resolutions") or []), entry]},
            remove=["startResolution", "candidateSid", "lastError"],
            sources=(logic.STARTING,),
        )  # fmt: skip
    except ConditionFailed as lost:
        deps.repo.keep_sid(recording_id, sid, now)  # the stop step and the fail handler can stop it
        raise StartStateError(f"recording {recording_id} is {(lost.item or {}).get('status')}") from None
    logger.info("recording %s: adopted task %s (%s)", recording_id, sid, reason)
    deps.metric("RecordingStarted")
    deps.metric("RecordingAdopted")
    if exited:  # the task ran and is over: the wait ends at once and the stop step finds it gone
        request_stop(deps.repo, deps.workflow, recording_id, logic.REASON_RECORDER_EXITED)
    return {"resolution": ADOPTED, "sid": sid}


def _pending(settings: RecordingSettings, seconds: float | None = None) -> dict[str, Any]:
    wait = settings.recording_resolve_poll_seconds if seconds is None else seconds
    return {"resolution": PENDING, "waitSeconds": max(1, min(int(wait), 3600))}


def resolve_start(  # noqa: PLR0911 - one return per way a look can end
    settings: RecordingSettings,
    deps: RecordingDependencies,
    item: Mapping[str, Any],
    start_again: Callable[[], Any],
) -> dict[str, Any]:
    """One look: adopted, removed, or pending (``waitSeconds`` until the next look)."""
    from agorakit.agora.errors import (
        AgoraAlreadyStartedError,
        AgoraConflictError,
        AgoraError,
        AgoraNotFoundError,
        AgoraResourceExpiredError,
    )

    recording_id = str(item["recordingId"])
    if item.get("status") == logic.RECORDING and item.get("sid"):
        return {"resolution": ADOPTED, "sid": item["sid"]}  # a retried step: already done
    if item.get("status") != logic.STARTING:
        raise StartStateError(f"recording {recording_id} is {item.get('status')}, not STARTING")
    state = dict(item.get("startResolution") or {})
    resource_id, channel, mode = str(item["resourceId"]), str(item["channel"]), str(item["mode"])
    uid = int(item["recorderUid"])

    candidate = item.get("candidateSid")
    if candidate and not state.get("ruleId"):
        try:
            deps.agora.query(resource_id, str(candidate), mode)
        except AgoraNotFoundError:
            return _adopt(deps, item, str(candidate), "NCS named the task; it had already exited", exited=True)
        except AgoraError as exc:
            logger.warning("recording %s: could not query candidate %s: %s", recording_id, candidate, exc)
            return _pending(settings)
        return _adopt(deps, item, str(candidate), "NCS named the task and query confirmed it runs")

    if not state.get("exists") and not state.get("ruleId"):
        # The same start again, same resource ID: Agora answers 201/7 if the first one took effect.
        try:
            result = start_again()
        except (AgoraAlreadyStartedError, AgoraConflictError):
            deps.repo.update_start_resolution(recording_id, {**state, "exists": True})
            return _pending(settings)
        except AgoraResourceExpiredError:
            state["giveUp"] = True  # the resource is gone: cannot ask again; make sure, then start afresh
        except AgoraError as exc:
            logger.warning("recording %s: start probe failed: %s", recording_id, exc)
        else:
            return _adopt(deps, item, result.sid, "the first start had not taken effect; the second one did")

    now = deps.repo.now_ms()
    since = int(state.get("since") or now)
    elapsed = (now - since) / 1000
    if elapsed < settings.recording_resolve_seconds and not state.get("giveUp"):
        return _pending(settings, min(settings.recording_resolve_poll_seconds,
                                      settings.recording_resolve_seconds - elapsed + 1))  # fmt: skip
    return _remove(settings, deps, item, state, channel, uid, mode, elapsed)


def _remove(  # noqa: PLR0911, PLR0917 - the pieces of the item the removal needs
    settings: RecordingSettings,
    deps: RecordingDependencies,
    item: Mapping[str, Any],
    state: dict[str, Any],
    channel: str,
    uid: int,
    mode: str,
    elapsed: float,
) -> dict[str, Any]:
    """No sid in time: take recorder ``uid`` out of ``channel`` and confirm it stays out."""
    from agorakit.agora.errors import AgoraError

    recording_id = str(item["recordingId"])
    if mode == "web":
        # A web recorder is no channel user: only its maxRecordingHour ends it. The channel stays locked.
        limit = logic.max_recording_hour(settings.max_duration_seconds) * 3600 + WEB_MARGIN_SECONDS
        if elapsed < limit:
            return _pending(settings, limit - elapsed)
        return _removed(deps, item, "no sid found; the web recorder's maxRecordingHour has passed")
    now = deps.repo.now_ms()
    if not state.get("ruleId"):
        try:
            rule_id = deps.agora.create_kicking_rule(
                channel, uid=uid, seconds=settings.recording_kick_seconds, privileges=("join_channel",)
            )
        except AgoraError as exc:
            logger.warning("recording %s: could not create the kicking rule: %s", recording_id, exc)
            return _pending(settings)
        state.update(ruleId=rule_id, kickedAt=now)
        state.pop("absentAt", None)
        deps.repo.update_start_resolution(recording_id, state)
        deps.metric("RecorderKicked")
    try:
        present = bool(deps.agora.user_status(channel, uid).get("in_channel"))
    except AgoraError as exc:
        logger.warning("recording %s: could not check recorder %s: %s", recording_id, uid, exc)
        return _pending(settings)
    if present:
        state.pop("absentAt", None)
        deps.repo.update_start_resolution(recording_id, state)
        return _pending(settings)
    if not state.get("absentAt"):  # seen absent once: look again one poll later before lifting the rule
        state["absentAt"] = now
        deps.repo.update_start_resolution(recording_id, state)
        return _pending(settings)
    lifted = _lift(deps, int(state["ruleId"]))
    return _removed(
        deps, item, f"no sid within {settings.recording_resolve_seconds:g}s; recorder {uid} removed by a kicking rule",
        ruleId=int(state["ruleId"]), ruleLifted=lifted,
    )  # fmt: skip


def _lift(deps: RecordingDependencies, rule_id: int) -> bool:
    """Delete the kicking rule; it expires on its own if this fails (``recording_kick_seconds``)."""
    try:
        deps.agora.delete_kicking_rule(rule_id)
    except Exception as exc:
        logger.warning("could not lift kicking rule %s (it expires on its own): %s", rule_id, exc)
        return False
    return True


def _removed(deps: RecordingDependencies, item: Mapping[str, Any], reason: str, **extra: Any) -> dict[str, Any]:
    recording_id = str(item["recordingId"])
    entry = _resolution(deps, REMOVED, reason, recorderUid=int(item["recorderUid"]), **extra)
    deps.repo.finish_start_resolution(recording_id, [*list(item.get("resolutions") or []), entry])
    logger.warning("recording %s: %s", recording_id, reason)
    return {"resolution": REMOVED, "reason": reason}


def ensure_gone(  # noqa: PLR0911 - one return per way of knowing
    settings: RecordingSettings, deps: RecordingDependencies, item: Mapping[str, Any]
) -> tuple[bool, str]:
    """For the fail handler: stop the recording's recorder, or make sure it is not there. (confirmed, how)."""
    from agorakit.agora.errors import AgoraError, AgoraNotFoundError

    recording_id = str(item.get("recordingId"))
    if item.get("sid"):
        try:
            result = deps.agora.stop(*logic.task_args(item), async_stop=True)
            return True, f"stop answered {result.outcome}"
        except AgoraError as exc:
            logger.warning("recording %s: stop failed (%s); asking Agora", recording_id, exc)
        try:
            deps.agora.query(str(item["resourceId"]), str(item["sid"]), str(item["mode"]))
        except AgoraNotFoundError:
            return True, "query: the task is gone"
        except AgoraError as exc:
            logger.warning("recording %s: query failed: %s", recording_id, exc)
    elif not item.get("startResolution"):
        return True, "no recorder was started"
    if item.get("mode") == "web" or not item.get("recorderUid") or not item.get("channel"):
        return False, "the recorder could not be confirmed gone"
    channel, uid = str(item["channel"]), int(item["recorderUid"])
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
