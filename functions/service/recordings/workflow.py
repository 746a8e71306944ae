"""The workflow's task steps (acquire, start, resolve, wait, stop, finalize, fail), run by
``workflow_tasks_handler``.

Each step reads the recording from DynamoDB (the source of truth), calls Agora at most once, and writes
the result with a conditional status change. Agora's errors propagate with their class names, which is
what the state machine's Retry and Catch match on (see ``infra/constructs/recording.py``); before
propagating, a step records the error on the item so that the fail handler can report Agora's code and
reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from agorakit.agora.errors import AgoraResourceExpiredError

from service.recordings import admission, logic, resolve, transcription
from service.recordings.deps import RecordingDependencies
from service.recordings.record import AgoraErrorRecord, Recording
from service.recordings.repository import ConditionFailed
from service.recordings.settings import RecordingSettings

if TYPE_CHECKING:
    from agorakit.agora.models import StartResult, StorageConfig

logger = logging.getLogger(__name__)

#: the role of the recorder's token: Agora's samples mint recorder tokens as publishers
RECORDER_ROLE: Final = "publisher"


T = TypeVar("T")


class RecordingMissing(RuntimeError):
    """The workflow runs for a recording that is not in the table (never retried)."""


class ResourceAgedInLimiter(AgoraResourceExpiredError):
    """The resource ID grew too old to start with while the execution waited in limiter Wait states: the state
    machine acquires again (``RenewResource``) without counting a re-acquire, whose limit is for Agora's trouble;
    the limiter waits stay bounded by ``recording_throttle_max_seconds``."""


class RecordingStateError(RuntimeError):
    """A step found the recording in a status it cannot continue from (another writer ended it)."""


def _status(lost: ConditionFailed) -> str | None:
    """The status a lost conditional write found (None: the recording is gone)."""
    return lost.item.status if lost.item is not None else None


def _recording(deps: RecordingDependencies, recording_id: str) -> Recording:
    item = deps.repo.get(recording_id)
    if item is None:
        raise RecordingMissing(f"recording {recording_id} is not in the table")
    return item


def _record_agora_error(deps: RecordingDependencies, recording_id: str, step: str, exc: Exception) -> None:
    try:
        code, http_status = getattr(exc, "code", None), getattr(exc, "http_status", None)
        deps.repo.record_error(
            recording_id,
            AgoraErrorRecord(
                step=step,
                type=type(exc).__name__,
                code=code if isinstance(code, int) else None,
                http_status=http_status if isinstance(http_status, int) else None,
                reason=str(getattr(exc, "reason", None) or str(exc)[:500]),
                at=deps.repo.now_ms(),
            ),
        )
    except Exception:  # recording the error must never hide it
        logger.exception("could not record the %s error of %s", step, recording_id)


def _agora(deps: RecordingDependencies, recording_id: str, step: str, call: Callable[[], T]) -> T:
    from agorakit.agora.errors import AgoraError

    try:
        return call()
    except AgoraError as exc:
        if getattr(exc, "retry_after", None) is not None:  # our limiter's refusal: a wait, not Agora's failure
            logger.info("agora %s of %s waits for the limiter: %s", step, recording_id, exc)
            raise
        _record_agora_error(deps, recording_id, step, exc)
        logger.warning("agora %s failed for %s: %s", step, recording_id, exc)
        raise


def throttled_seconds(event: Mapping[str, Any]) -> int:
    """The seconds this step chain already waited for the limiter (the state machine carries the total)."""
    raw = event.get("throttledSeconds")
    if raw is None:
        raw = (event.get("state") or {}).get("throttledSeconds")
    return int(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0


def waits_in_the_workflow(step: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``step``, except that when our Agora limiter refuses a slot further away than the step may sleep
    (``deps.STEP_BUDGET``), it returns ``{"waitSeconds": n, "throttledSeconds": total}``: the state machine
    waits n seconds in a Wait state and runs the step again, so a burst of starts costs state transitions and
    no function sleeps. Nothing was sent for the refused attempt (``maybe_executed`` is False), so repeating the
    step is the same as running it late. An attempt that may have reached Agora, Agora's own 429 (no slot named)
    and waits past ``recording_throttle_max_seconds`` raise as before: Retry, then Catch."""
    import functools

    @functools.wraps(step)
    def run(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
        from agorakit.agora.errors import AgoraRateLimitedError

        try:
            return step(event, settings=settings, deps=deps)
        except AgoraRateLimitedError as exc:
            so_far = throttled_seconds(event)
            seconds = logic.throttle_wait(
                exc.retry_after, so_far, settings.recording_throttle_max_seconds, jitter=deps.rng.random(),
                within=exc.wait_within,
            )  # fmt: skip
            if seconds is None or exc.maybe_executed:
                raise
            deps.metric("RecordingStepThrottled")
            return {"waitSeconds": seconds, "throttledSeconds": so_far + seconds}

    return run


# ------------------------------------------------------------------------------------------ steps
def acquire(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """A fresh resource ID for a fresh recorder uid (every re-acquire picks a new uid: 53 means "in use")."""
    recording_id = str(event["recordingId"])
    item = _recording(deps, recording_id)
    if item.stop_requested and not item.sid:
        return {"skipped": True}
    uid = logic.pick_recorder_uid(deps.rng)
    options = acquire_options(item, uid, settings=settings, deps=deps)
    acquired_at = deps.repo.now_ms()  # before the call: the resource may be created any time after this
    resource_id = _agora(
        deps,
        recording_id,
        "acquire",
        lambda: deps.agora.acquire(
            item.channel,
            uid,
            scene=logic.acquire_scene(item.config().get("postponed"), item.mode),
            resource_expired_hour=logic.resource_expired_hour(settings.max_duration_seconds),
            **options,
        ),
    )
    try:
        deps.repo.transition(
            recording_id,
            logic.STARTING,
            set_={
                "resourceId": resource_id,
                "acquiredAt": acquired_at,
                "recorderUid": uid,
                "reacquires": int(event.get("reacquires") or 0),
            },
        )
    except ConditionFailed as lost:
        raise RecordingStateError(f"recording {recording_id} is {_status(lost)}") from None
    return {"resourceId": resource_id, "recorderUid": uid, "acquiredAt": acquired_at}


def _app_extra(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """start's ``appsCollection`` / ``transcodeOptions`` for postponed transcoding (None otherwise)."""
    if not config.get("postponed"):
        return None
    from service.recordings.postponed_rules import app_extra

    return app_extra(config["postponed"])


def acquire_options(
    item: Recording, uid: int, *, settings: RecordingSettings, deps: RecordingDependencies
) -> dict[str, Any]:
    """acquire's optional fields: the requested ``region``; on a re-acquire, ``excludeResourceIds`` (the
    resource that failed: Agora then allocates elsewhere); ``startParameter`` when the request asked for it
    (the start body, so Agora allocates a recorder able to serve it)."""
    config = item.config()
    wanted = config.get("acquire") or {}
    options: dict[str, Any] = {}
    if wanted.get("region"):
        options["region"] = wanted["region"]
    if item.resource_id:  # a previous resource of this recording: do not hand it back
        options["exclude_resource_ids"] = [item.resource_id]
    if wanted.get("start_parameter"):
        from agorakit.agora.client import AgoraClient

        mode, channel = item.mode, item.channel
        body = AgoraClient.start_body(
            channel, uid, mode,
            token=None if mode == "web" else _recorder_token(settings, deps, channel, uid),
            recording_config=config.get("recordingConfig"),
            storage_config=_storage(settings, deps, logic.file_name_prefix(channel, item.recording_id)),
            recording_file_config=config.get("recordingFileConfig"),
            snapshot_config=config.get("snapshotConfig"),
            extension_service_config=_web_services(settings, config),
            app_extra=_app_extra(config),
        )  # fmt: skip
        options["start_parameter"] = body["clientRequest"]
    return options


def _web_services(settings: RecordingSettings, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """A web recording's extension services (with CDN push when it was asked for); None in other modes."""
    web = config.get("web")
    return logic.web_extension_config(web, settings.max_duration_seconds, logic.cdn_urls(config)) if web else None


def _storage(settings: RecordingSettings, deps: RecordingDependencies, prefix: list[str]) -> StorageConfig:
    from agorakit.agora.models import StorageConfig

    if not settings.recordings_bucket or not settings.recording_uploader_secret_name:
        raise RuntimeError("RECORDINGS_BUCKET and RECORDING_UPLOADER_SECRET_NAME must be set")
    keys = deps.secrets.get_json(settings.recording_uploader_secret_name)
    access_key, secret_key = keys.get("access_key"), keys.get("secret_key")
    if not access_key or not secret_key:
        raise RuntimeError("the uploader secret must be JSON with access_key and secret_key")
    return StorageConfig(
        vendor=1,
        region=settings.bucket_region,
        bucket=settings.recordings_bucket,
        access_key=str(access_key),
        secret_key=str(secret_key),
        file_name_prefix=prefix,
    )


def _recorder_token(settings: RecordingSettings, deps: RecordingDependencies, channel: str, uid: int) -> str | None:
    """An RTC token for the recorder, valid for the whole maximum duration (Agora cannot renew it)."""
    if not settings.app_certificate_secret_name:
        return None  # an App ID without certificate: Agora accepts no token
    from agorakit.tokens import build_rtc_token

    secret = deps.secrets.get_json(settings.app_certificate_secret_name)
    certificate = secret.get("app_certificate") or secret.get("value")
    if not certificate:
        raise RuntimeError("the app certificate secret has no 'app_certificate' field")
    return build_rtc_token(
        app_id=settings.agora_app_id,
        app_certificate=str(certificate),
        channel_name=channel,
        uid=uid,
        role=RECORDER_ROLE,
        expire=logic.token_lifetime(settings.max_duration_seconds),
        issue_ts=int(deps.clock()),
    )


def start(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """Start with the resource ID acquired just before; refuse one too old to use (the workflow re-acquires).
    A failure that may have started the recorder is not an error: ``{"outcome": "unknown"}`` sends the
    workflow to ResolveStart, with the channel still locked."""
    from agorakit.agora.errors import AgoraError, AgoraRateLimitedError, AgoraResourceExpiredError

    recording_id = str(event["recordingId"])
    item = _recording(deps, recording_id)
    if item.start_resolution:
        return {"outcome": resolve.UNKNOWN}  # a retried step: the resolve step finds out
    if item.stop_requested:
        return {"started": False, "outcome": "skipped"}
    if item.status != logic.STARTING or not item.resource_id:
        raise RecordingStateError(f"recording {recording_id} is {item.status}, not STARTING")
    now = deps.repo.now_ms()
    acquired_at = item.acquired_at
    if logic.resource_too_old(acquired_at, now, settings.recording_resource_max_age_seconds):
        age = logic.resource_age_seconds(acquired_at or 0, now)
        # aged while the execution waited for our limiter: a fresh resource, not one of Agora's re-acquires
        kind = ResourceAgedInLimiter if throttled_seconds(event) > 0 else AgoraResourceExpiredError
        error = kind(
            f"resource ID is {age:.0f}s old (limit {settings.recording_resource_max_age_seconds:g}s); acquiring again",
            code=433,
            reason="resource too old to start",
        )
        _record_agora_error(deps, recording_id, "start", error)
        raise error
    try:
        result = _agora(deps, recording_id, "start", _start_call(settings, deps, item))
    except AgoraError as exc:
        if isinstance(exc, AgoraRateLimitedError) and not exc.maybe_executed:
            # held back by our limiter: the workflow's wait should end while the resource ID is still young
            age = logic.resource_age_seconds(acquired_at or 0, deps.repo.now_ms())
            exc.wait_within = settings.recording_resource_max_age_seconds - age
        if not resolve.start_outcome_unknown(exc):
            raise
        # The recorder may be running: keep the channel and find out (the state machine's ResolveStart).
        resolve.mark_start_unknown(deps, recording_id, exc)
        return {"outcome": resolve.UNKNOWN}
    started = deps.repo.now_ms()
    try:
        deps.repo.transition(
            recording_id,
            logic.RECORDING,
            set_={"sid": result.sid, "startedAt": started, "lastSeenAt": started},
            remove=["lastError"],
        )
    except ConditionFailed as lost:
        # the recorder runs at Agora: keep its sid so the stop step and the fail handler can stop it
        deps.repo.keep_sid(recording_id, result.sid, started)
        raise RecordingStateError(f"recording {recording_id} is {_status(lost)}") from None
    deps.metric("RecordingStarted")
    return {"sid": result.sid, "outcome": "started", **_transcribe(item)}


def _transcribe(item: Recording) -> dict[str, Any]:
    """``transcribe: true`` when the recording was asked with a transcription: the state machine then runs
    StartTranscription before it waits (``service.recordings.transcription``)."""
    return {"transcribe": True} if transcription.CONFIG_KEY in item.config() else {}


def _start_call(settings: RecordingSettings, deps: RecordingDependencies, item: Recording) -> Callable[[], StartResult]:
    """The start request of ``item`` (the same body every time: a repeat is how Agora says 201/7)."""
    if item.resource_id is None or item.recorder_uid is None:
        raise RecordingStateError(f"recording {item.recording_id} has no resource to start with")
    recording_id, mode, channel, uid, resource_id = (
        item.recording_id,
        item.mode,
        item.channel,
        item.recorder_uid,
        item.resource_id,
    )
    config = item.config()
    storage = _storage(settings, deps, logic.file_name_prefix(channel, recording_id))
    token = None if mode == "web" else _recorder_token(settings, deps, channel, uid)
    return lambda: deps.agora.start(
        resource_id,
        channel,
        uid,
        mode,
        token=token,
        recording_config=config.get("recordingConfig"),
        storage_config=storage,
        recording_file_config=config.get("recordingFileConfig"),
        snapshot_config=config.get("snapshotConfig"),
        extension_service_config=_web_services(settings, config),
        app_extra=_app_extra(config),  # postponed transcoding / audio mixing (scene 2)
    )


def resolve_start(
    event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies
) -> dict[str, Any]:
    """After a start whose outcome is unknown: adopt the running task, or remove the recorder (``resolve``)."""
    recording_id = str(event["recordingId"])
    item = _recording(deps, recording_id)
    probe: Callable[[], StartResult | None] = (
        _start_call(settings, deps, item) if item.status == logic.STARTING else lambda: None
    )
    try:
        result = resolve.resolve_start(settings, deps, item, probe)
    except resolve.StartStateError as exc:
        raise RecordingStateError(str(exc)) from None
    return {**result, **_transcribe(item)} if result.get("resolution") == resolve.ADOPTED else result


def transcribe(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """StartTranscription: the recording records; its transcription starts (a failure is recorded, never raised)."""
    return transcription.start(deps, _recording(deps, str(event["recordingId"])))


def wait(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """Park the workflow: store its task token, or complete at once if a stop was already requested."""
    recording_id = str(event["recordingId"])
    token = str(event["taskToken"])
    try:
        item = deps.repo.park_wait(recording_id, token)
    except ConditionFailed as lost:
        raise RecordingStateError(f"recording {recording_id} is {_status(lost)}") from None
    if item.stop_requested:
        deps.workflow.complete_wait(token, item.stop_requested)
    return {"waiting": True}


def stop(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """Stop the recorder at Agora. A task that is already gone (404/49) or recorded nothing (435) is an
    outcome, not a failure."""
    from agorakit.agora.errors import AgoraResourceExpiredError

    state = event.get("state") or {}
    recording_id = str(state["recordingId"])
    item = _recording(deps, recording_id)
    reason = logic.stop_reason(state)  # what ended the wait (the first requester's reason, or the timeout)
    if reason == "unknown":
        reason = item.stop_requested or reason
    if item.status != logic.STOPPING:
        try:
            item = deps.repo.transition(
                recording_id, logic.STOPPING, set_={"stopReason": reason, "stoppingAt": deps.repo.now_ms()},
                remove=["taskToken"],
            )  # fmt: skip
        except ConditionFailed as lost:
            raise RecordingStateError(f"recording {recording_id} is {_status(lost)}") from None
    transcription.stop(deps, item, reason)  # its own failure is recorded on the item, never raised
    if not item.sid:
        return {"outcome": "not_started", "fileList": [], "uploadingStatus": None, "reason": reason}
    task = item.task()
    try:
        result = _agora(
            deps,
            recording_id,
            "stop",
            lambda: deps.agora.stop(*task, async_stop=settings.recording_async_stop),
        )
    except AgoraResourceExpiredError:
        # past resourceExpiredHour the task cannot exist any more: it is gone
        return {"outcome": "gone", "fileList": [], "uploadingStatus": None, "reason": reason}
    names = [str(f.get("fileName")) for f in result.file_list if f.get("fileName")]
    return {"outcome": result.outcome, "fileList": names, "uploadingStatus": result.uploading_status, "reason": reason}


def _release(deps: RecordingDependencies, item: Recording) -> None:
    if item.channel and item.recording_id:
        deps.repo.release_lock(item.channel, item.recording_id)


def finalize(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """STOPPED with files, uploading status and reason; the channel is free again."""
    state = event.get("state") or {}
    recording_id = str(state["recordingId"])
    result = state.get("stop") or {}
    files = [f for f in result.get("fileList") or [] if isinstance(f, str) and f]
    fields: dict[str, Any] = {
        "outcome": result.get("outcome"),
        "stoppedAt": deps.repo.now_ms(),
        "stopReason": result.get("reason") or logic.stop_reason(state),
    }
    item = _recording(deps, recording_id)
    transcription.stop(deps, item, str(fields["stopReason"]))  # a no-op once the Stop step stopped it
    if result.get("uploadingStatus") and item.upload.status_seq is None:
        fields["uploadingStatus"] = result["uploadingStatus"]  # an NCS 31/32 (sequenced) is more precise
    ended = True
    try:
        item = deps.repo.transition(
            recording_id,
            logic.STOPPED,
            sources=(logic.STOPPING,),
            set_=fields,
            remove=["taskToken", "opLock", "opLockUntil"],
            add={"fileNames": set(files)} if files else None,
        )
    except ConditionFailed as lost:
        current = lost.item
        if current is None or current.status != logic.STOPPED:
            raise RecordingStateError(f"recording {recording_id} is {_status(lost)}") from None
        item, ended = current, False  # a retried finalize: already done (and already counted)
    _release(deps, item)
    admission.release(deps, settings, recording_id)  # once, however often this step runs; the queue moves
    deps.metric("RecordingStopped")
    if ended:
        deps.metric("RecordingsEnded", dimensions={"StopReason": logic.ended_reason(fields["stopReason"])})
    return {"recordingId": recording_id, "status": logic.STOPPED, "outcome": fields["outcome"]}


def fail(event: Mapping[str, Any], *, settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """FAILED with Agora's code and reason, a metric for the alarm, the recorder stopped if it runs, and
    the channel released."""
    state = event.get("state") or {}
    recording_id = str(state["recordingId"])
    name, message = logic.workflow_error(state)
    item = deps.repo.get(recording_id)
    last = item.last_error if item is not None else None
    if last is not None and last.type != name:
        last = None  # an earlier, retried error: not the one that ended the workflow
    fields: dict[str, Any] = {
        "errorType": name,
        "errorCode": last.code if last else None,
        "errorReason": (last.reason if last else None) or message or name,
        "errorStep": last.step if last else None,
        "failedAt": deps.repo.now_ms(),
    }
    gone, how = True, "no recorder was started"
    if item is not None:
        transcription.stop(deps, item, logic.ENDED_FAILED)  # a transcription started with it does not run on
    if item is not None and item.status != logic.STOPPED:
        gone, how = resolve.ensure_gone(settings, deps, item)  # never release a channel with a recorder in it
    fields["recorderGone" if gone else "recorderUnconfirmed"] = how
    try:
        item = deps.repo.transition(
            recording_id,
            logic.FAILED,
            set_={k: v for k, v in fields.items() if v is not None},
            remove=["taskToken", "opLock", "opLockUntil"],
        )
        deps.metric("RecordingsEnded", dimensions={"StopReason": logic.ENDED_FAILED})
    except ConditionFailed as lost:
        item = lost.item or item
    if gone and item is not None:
        _release(deps, item)
        admission.release(deps, settings, recording_id)
    else:  # the channel and the slot stay taken (Agora may still count the recorder); the reconciler's CLEANUP
        deps.repo.mark_cleanup(recording_id, how)
        logger.error("recording %s failed and its recorder is not confirmed gone: %s", recording_id, how)
    deps.metric("RecordingFailed")
    logger.error("recording %s failed: %s %s", recording_id, name, fields["errorReason"])
    return {"recordingId": recording_id, "status": logic.FAILED, "error": name, "cause": fields["errorReason"]}


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "acquire": waits_in_the_workflow(acquire),
    "start": waits_in_the_workflow(start),
    "resolve": resolve_start,
    "transcribe": transcribe,
    "wait": wait,
    "stop": waits_in_the_workflow(stop),
    "finalize": finalize,
    "fail": fail,
}
