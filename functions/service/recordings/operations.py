"""The recordings API's use cases: create (with the channel lock and Idempotency-Key), read, list, stop,
update and updateLayout. Handlers call these with the caller and validated bodies; errors are
``service.errors`` types, mapped to HTTP in one place.

Over 400 lines on purpose: every use case of the recordings API shares the lock and Agora-call helpers here.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from service.auth import Caller
from service.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unprocessable, UpstreamUnavailable
from service.recordings import admission, logic
from service.recordings.control import request_stop
from service.recordings.deps import RecordingDependencies
from service.recordings.models import LayoutRequest, RecordingRequest, UpdateRequest
from service.recordings.record import Recording
from service.recordings.repository import AdmissionContended, ConditionFailed
from service.recordings.settings import RecordingSettings

logger = logging.getLogger(__name__)

MAX_PAGE = 100


def _authorize(caller: Caller, settings: RecordingSettings) -> None:
    caller.require_group(settings.admin_group, "managing recordings")


def _parse_id(recording_id: str) -> str:
    try:
        return str(uuid.UUID(recording_id))
    except ValueError:
        raise NotFound(f"no recording {recording_id!r}") from None


def _load(deps: RecordingDependencies, recording_id: str) -> Recording:
    item = deps.repo.get(_parse_id(recording_id))
    if item is None:
        raise NotFound(f"no recording {recording_id!r}")
    return item


def validate_start(request: RecordingRequest, recording_id: str, settings: RecordingSettings) -> dict[str, Any]:
    """The recording's Agora configuration, checked now with the same rules the start step will apply,
    so a bad combination is a 422 here and not a FAILED recording later."""
    from agorakit.agora.client import AgoraClient
    from agorakit.agora.errors import AgoraParameterError
    from agorakit.agora.models import StorageConfig

    from service.recordings.postponed_rules import app_extra

    config: dict[str, Any] = {
        "recordingConfig": request.agora_recording_config(),
        "recordingFileConfig": request.agora_file_config(),
        "web": request.web.model_dump(exclude_none=True) if request.web else None,
        "cdn": request.cdn.model_dump() if request.cdn else None,
        "snapshotConfig": request.agora_snapshot_config(),
        "acquire": request.acquire.model_dump(exclude_none=True) if request.acquire else None,
        "postponed": request.postponed.stored() if request.postponed else None,
        "transcription": _transcription(request),
    }
    try:
        storage = StorageConfig(
            bucket="validation",
            access_key="validation",
            secret_key="validation",  # noqa: S106 - a placeholder: only the request's shape is checked
            file_name_prefix=logic.file_name_prefix(request.channel, recording_id),
        )
        AgoraClient.start_body(
            request.channel,
            logic.RECORDER_UID_MIN,
            request.mode,
            token=None,
            recording_config=config["recordingConfig"],
            storage_config=storage,
            recording_file_config=config["recordingFileConfig"],
            snapshot_config=config["snapshotConfig"],
            extension_service_config=(
                logic.web_extension_config(config["web"], settings.max_duration_seconds, logic.cdn_urls(config))
                if config["web"]
                else None
            ),
            app_extra=app_extra(config["postponed"]),
        )
    except AgoraParameterError as exc:
        raise Unprocessable(f"invalid recording configuration: {exc.message}") from exc
    _check_acquire_region(config["acquire"], settings)
    return {k: v for k, v in config.items() if v is not None}


def _transcription(request: RecordingRequest) -> dict[str, Any] | None:
    """The requested transcription, checked by the rules ``POST /transcriptions`` applies (a 400 naming the field
    now, not a failed transcription once the recording runs); stored with the recording's configuration."""
    options = request.transcription
    if options is None:
        return None
    from service.transcriptions import logic as transcription_rules

    try:
        transcription_rules.check_start(
            request.channel, options.languages, uid_languages=options.per_uid(), translate=options.translate(),
            subscribe_uids=options.subscribe_uids, max_idle_seconds=options.max_idle_seconds,
        )  # fmt: skip
    except ValueError as exc:  # logic.RuleError, or a uid / translation source listed twice
        raise BadRequest(f"transcription: {exc}") from None
    return options.model_dump(mode="json", exclude_none=True)


def _check_acquire_region(acquire: dict[str, Any] | None, settings: RecordingSettings) -> None:
    """A recorder pinned to an area must store there too (Agora's rule for acquire ``region``)."""
    from agorakit.agora.regions import acquire_area

    pinned = (acquire or {}).get("region")
    if not pinned:
        return
    area = acquire_area(settings.bucket_region)
    if area and pinned != area:
        raise Unprocessable(
            f'acquire.region "{pinned}" cannot store in the recordings bucket\'s region {settings.bucket_region} '
            f'(area "{area}"): Agora requires the storage region to be in the pinned area; pin "{area}" or leave it out'
        )


def create_recording(
    caller: Caller,
    request: RecordingRequest,
    idempotency_key: str | None,
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> tuple[int, dict[str, Any]]:
    """202 with the new recording's id (QUEUED with ``position`` and ``estimated_wait_seconds`` while Agora has no
    free task slot); 409 while the channel has an active recording; 429 when the admission queue is full."""
    _authorize(caller, settings)
    if not settings.recording_state_machine_arn:
        raise UpstreamUnavailable("the recording workflow is not configured")
    scope = None
    if idempotency_key is not None:
        try:
            logic.validate_idempotency_key(idempotency_key)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        scope = logic.idempotency_scope(caller.subject, idempotency_key)
    recording_id = str(uuid.uuid4())
    config = validate_start(request, recording_id, settings)
    now = deps.repo.now_ms()
    execution = logic.execution_arn(settings.recording_state_machine_arn, recording_id)
    body = {
        "recording_id": recording_id,
        "status": logic.REQUESTED,
        "channel": request.channel,
        "mode": request.mode,
        "created_at": logic.iso(now),
    }
    urls = logic.cdn_urls(config)
    item = Recording(
        recording_id=recording_id,
        channel=request.channel,
        mode=request.mode,
        status=logic.REQUESTED,
        active_status=logic.REQUESTED,
        config_json=json.dumps(config, separators=(",", ":")),
        requested_by=caller.subject,
        created_at=now,
        updated_at=now,
        execution_arn=execution,
        idempotency_key=idempotency_key,
        reacquires=0,
        agora_errors={},
        agora_warnings={},
        # a web recording with CDN push keeps its current addresses and a map for their event-100 reports
        cdn_urls=tuple(urls) if urls else None,
        cdn_outputs={} if urls else None,
    )
    # a request without transcription hashes as it did before the field existed (stored keys keep matching)
    fingerprint = logic.request_fingerprint(
        request.model_dump(mode="json", exclude={"transcription"} if request.transcription is None else None)
    )
    limits = admission.limits(settings) if deps.admission is not None else None
    try:
        outcome = deps.repo.create(
            item, idempotency_scope=scope, fingerprint=fingerprint, response=body, admission=limits
        )
    except AdmissionContended:
        raise UpstreamUnavailable(
            "too many recordings are being requested at this moment; try again", headers={"Retry-After": "1"}
        ) from None
    if outcome.kind == "replay":
        return 202, _queue_view(dict(outcome.response or {}), settings, deps)
    if outcome.kind == "full":
        retry = logic.admission_retry_after(settings.agora_max_tasks, settings.admission_typical_recording_seconds)
        raise TooManyRequests(
            f"Agora's concurrent-task limit ({settings.agora_max_tasks}) is reached and "
            f"{settings.admission_queue_cap} recordings already wait for a slot; try again later",
            headers={"Retry-After": str(retry)},
        )
    if outcome.kind == "mismatch":
        raise Unprocessable("this Idempotency-Key was already used with a different request body")
    if outcome.kind == "busy":
        raise Conflict(
            f"channel {request.channel!r} already has an active recording",
            details={"active_recording_id": outcome.active_recording_id},
        )
    if outcome.kind == "queued":
        deps.metric("RecordingQueued")
        return 202, _queue_view({**body, "status": logic.QUEUED}, settings, deps)
    try:
        deps.workflow.start(settings.recording_state_machine_arn, recording_id, {"recordingId": recording_id})
    except Exception as exc:
        logger.exception("could not start the workflow of recording %s", recording_id)
        _abandon(deps, item, scope, f"the workflow could not be started: {type(exc).__name__}")
        raise UpstreamUnavailable("the recording workflow could not be started; try again") from exc
    deps.metric("RecordingRequested")
    return 202, body


def _queue_view(body: dict[str, Any], settings: RecordingSettings, deps: RecordingDependencies) -> dict[str, Any]:
    """A QUEUED recording's answer with its place in line now (a replay too: the line has moved since)."""
    if body.get("status") != logic.QUEUED or deps.admission is None:
        return body
    current = deps.repo.get(str(body.get("recording_id")))
    if current is None or current.status != logic.QUEUED:
        return {**body, "status": current.status if current else body["status"]}
    return {**body, **admission.waiting(deps.admission, current, settings)}


def _abandon(deps: RecordingDependencies, item: Recording, scope: str | None, reason: str) -> None:
    """Undo a creation whose workflow never started: FAILED, channel released, key free for a retry."""
    recording_id = item.recording_id
    with contextlib.suppress(ConditionFailed):
        deps.repo.transition(
            recording_id,
            logic.FAILED,
            set_={"errorType": "WorkflowNotStarted", "errorReason": reason, "failedAt": deps.repo.now_ms()},
        )
        deps.metric("RecordingsEnded", dimensions={"StopReason": logic.ENDED_FAILED})
    deps.repo.release_lock(item.channel, recording_id)
    if scope:
        deps.repo.delete_idempotency(scope, recording_id)
    if deps.admission is not None:
        deps.admission.release_slot(recording_id)  # no pump: Step Functions refused a start just now
    deps.metric("RecordingFailed")


def get_recording(
    caller: Caller, recording_id: str, *, settings: RecordingSettings, deps: RecordingDependencies
) -> dict[str, Any]:
    _authorize(caller, settings)
    item = _load(deps, recording_id)
    try:  # Agora's stop reply and NCS 31/32 both lost: the bucket says it (service.recordings.uploads)
        from service.recordings.uploads import settled_item

        item = settled_item(item, repo=deps.repo, objects=deps.objects(), max_bytes=settings.playback_max_bytes)
    except Exception:  # a convenience like the media totals: never hides the recording
        logger.exception("upload status of %s not settled from the bucket", recording_id)
    media = integrity = None
    repository = deps.media() if item.sid else None
    if repository is not None and item.sid:
        from service.media.integrity import public

        try:
            media = repository.totals_for_sid(item.sid)
            integrity = public(repository.integrity(item.sid))
        except Exception:  # durations are a convenience: a media-table problem must not hide the recording
            logger.exception("media totals unavailable for sid %s", item.sid)
    shown = logic.view(item, media=media, integrity=integrity, now_ms=deps.repo.now_ms())
    shown["transcription_status"] = (
        _transcription_status(deps, item.transcription_id) if item.transcription_id is not None else None
    )
    if item.status == logic.QUEUED and deps.admission is not None:
        shown.update(admission.waiting(deps.admission, item, settings))
    return shown


def _transcription_status(deps: RecordingDependencies, transcription_id: str) -> str | None:
    """The linked transcription's state as its table says now (None when it cannot be read: never hides the
    recording)."""
    service = deps.transcriptions()
    if service is None:
        return None
    try:
        record = service.store.get(transcription_id)
    except Exception:
        logger.exception("transcription %s unavailable", transcription_id)
        return None
    return record.status if record is not None else None


def playlist(
    caller: Caller,
    recording_id: str,
    request: Any,
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> tuple[str, dict[str, str]]:
    """The recording's m3u8 with presigned segment URLs (``service.recordings.playback``)."""
    from service.recordings.playback import render

    _authorize(caller, settings)
    item = _load(deps, recording_id)
    objects = deps.objects()
    if objects is None:
        raise UpstreamUnavailable("playback needs the recordings bucket (RECORDINGS_BUCKET is not set)")
    return render(
        item,
        request,
        objects=objects,
        url_seconds=settings.playback_url_seconds,
        max_bytes=settings.playback_max_bytes,
        metric=deps.metric,
    )


def snapshot_files(
    caller: Caller,
    recording_id: str,
    request: dict[str, Any],
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> dict[str, Any]:
    """The recording's screenshots from the bucket, presigned (``service.recordings.playback.snapshots``)."""
    from service.recordings.playback import snapshots

    _authorize(caller, settings)
    item = _load(deps, recording_id)
    objects = deps.objects()
    if objects is None:
        raise UpstreamUnavailable("screenshots need the recordings bucket (RECORDINGS_BUCKET is not set)")
    return snapshots(item, objects=objects, url_seconds=settings.playback_url_seconds, **request)


def caption_files(
    caller: Caller,
    recording_id: str,
    expires_in: int | None,
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> dict[str, Any]:
    """The recording's captions and transcripts from the bucket, presigned (``playback.captions``)."""
    from service.recordings.playback import captions

    _authorize(caller, settings)
    item = _load(deps, recording_id)
    objects = deps.objects()
    if objects is None:
        raise UpstreamUnavailable("captions need the recordings bucket (RECORDINGS_BUCKET is not set)")
    return captions(item, objects=objects, url_seconds=settings.playback_url_seconds, expires_in=expires_in)


#: the attributes of a byChannel page key (table pk + index keys), and their DynamoDB types
_PAGE_KEY_TYPES = {"pk": "S", "channel": "S", "createdAt": "N"}


def _decode_token(token: str, channel: str) -> dict[str, Any]:
    """A ``next_token`` we issued for this channel, or a 400: a foreign token (another shape, another
    channel, values that are not DynamoDB's) never reaches DynamoDB, whose client would refuse it."""
    invalid = BadRequest("next_token is not valid for this listing (pass back the one the previous page returned)")
    if len(token) > 2048:
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4)))
    except (ValueError, UnicodeError):
        raise invalid from None
    if not isinstance(key, dict) or set(key) != set(_PAGE_KEY_TYPES):
        raise invalid
    for name, kind in _PAGE_KEY_TYPES.items():
        value = key[name]
        if not isinstance(value, dict) or set(value) != {kind} or not isinstance(value[kind], str):
            raise invalid
    if key["channel"]["S"] != channel or not key["createdAt"]["N"].isdigit() or len(key["createdAt"]["N"]) > 16:
        raise invalid
    if not key["pk"]["S"].startswith("REC#") or len(key["pk"]["S"]) > 64:
        raise invalid
    return key


def _encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def list_recordings(
    caller: Caller,
    *,
    channel: str | None,
    limit: int | None,
    next_token: str | None,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> dict[str, Any]:
    """A channel's recordings, newest first (paged); without a channel, the active and QUEUED ones."""
    _authorize(caller, settings)
    size = MAX_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise BadRequest(f"limit must be in 1..{MAX_PAGE}")
    if channel is None:
        if next_token:
            raise BadRequest("next_token applies to a channel listing")
        # the active recordings and those QUEUED for a task slot (they hold their channel too)
        statuses = (*logic.WAITING_STATUSES, *logic.ACTIVE_STATUSES)
        items = sorted(deps.repo.list_active(statuses), key=lambda i: i.created_at, reverse=True)
        return {"recordings": [logic.view(i, now_ms=deps.repo.now_ms()) for i in items[:size]], "next_token": None}
    if not channel or len(channel) > 1024:
        raise BadRequest("channel must be 1-1024 characters")
    start = _decode_token(next_token, channel) if next_token else None
    try:
        items, last = deps.repo.list_by_channel(channel, limit=size, start_key=start)
    except Exception as exc:
        if start is not None and type(exc).__name__ in ("ClientError", "ValidationException", "ParamValidationError"):
            raise BadRequest("next_token is not valid for this listing") from None
        raise
    return {"recordings": [logic.view(i, now_ms=deps.repo.now_ms()) for i in items], "next_token": _encode_token(last)}


def stop_recording(
    caller: Caller, recording_id: str, *, settings: RecordingSettings, deps: RecordingDependencies
) -> tuple[int, dict[str, Any]]:
    """Idempotent: 202 while the stop is under way, 200 once the recording has ended."""
    _authorize(caller, settings)
    item = _load(deps, recording_id)
    if logic.is_terminal(item.status):
        return 200, logic.view(item, now_ms=deps.repo.now_ms())
    if item.status == logic.QUEUED:
        ended = admission.cancel(deps, item.recording_id, logic.REASON_API)
        if ended is not None:
            return 200, logic.view(ended, now_ms=deps.repo.now_ms())
        item = _load(deps, recording_id)  # admitted meanwhile: stopped like any other
    current = request_stop(deps.repo, deps.workflow, item.recording_id, logic.REASON_API) or item
    status = 200 if logic.is_terminal(current.status) else 202
    return status, logic.view(current, now_ms=deps.repo.now_ms())


def _with_op_lock(
    deps: RecordingDependencies, item: Recording, settings: RecordingSettings, call: Callable[[Recording], None]
) -> None:
    """Run ``call`` while holding the recording's operation lock (one update/updateLayout at a time)."""
    recording_id = item.recording_id
    token = uuid.uuid4().hex
    try:
        locked = deps.repo.take_op_lock(recording_id, token, settings.recording_op_lock_seconds)
    except ConditionFailed as lost:
        current = lost.item or item
        status = current.status
        if status in (logic.QUEUED, logic.REQUESTED, logic.STARTING):
            raise Conflict(
                f"recording {recording_id} is not recording yet ({status}); try again once it is RECORDING",
                headers={"Retry-After": "2"},
            ) from None
        if status != logic.RECORDING or not current.sid:
            raise Conflict(f"recording {recording_id} is {status}; only a RECORDING recording can be changed") from None
        raise Conflict(
            f"another update of recording {recording_id} is in progress; send one at a time",
            headers={"Retry-After": "1"},
        ) from None
    try:
        call(locked)  # the item as it is under the lock: the sid is there
    finally:
        if not deps.repo.release_op_lock(recording_id, token):
            logger.warning("operation lock of %s expired before the call returned", recording_id)


def _agora_call(deps: RecordingDependencies, item: Recording, fn: Callable[[], object]) -> None:
    """One update/updateLayout. An ambiguous failure (timeout, 5xx, 206/65) is followed by a query, so the
    caller learns whether the task still runs (503: the change may or may not be applied; sending the
    same change again is safe) or is gone (409)."""
    from agorakit.agora.errors import AgoraError, AgoraNotFoundError, AgoraParameterError

    try:
        fn()
    except AgoraNotFoundError as exc:
        raise Conflict(
            "Agora no longer runs this recording task (it exited, or is migrating); try again later",
            details={"agora_code": exc.code, "agora_http_status": exc.http_status},
        ) from exc
    except AgoraParameterError as exc:
        raise Unprocessable(f"Agora rejected the request: {exc.message}", details={"agora_code": exc.code}) from exc
    except AgoraError as exc:
        if exc.maybe_executed:
            raise _after_ambiguous(deps, item, exc) from exc
        raise


def _after_ambiguous(deps: RecordingDependencies, item: Recording, exc: Exception) -> Exception:
    """Agora may have applied the change: ask whether the task still runs instead of assuming."""
    from agorakit.agora.errors import AgoraError, AgoraNotFoundError

    details = {"applied": "unknown", "agora_error": type(exc).__name__}
    task = item.task()
    try:
        deps.agora.query(task.resource_id, task.sid, task.mode)
    except AgoraNotFoundError:
        return Conflict("Agora no longer runs this recording task; the change was not applied", details=details)
    except AgoraError:
        return UpstreamUnavailable(
            "Agora did not confirm the change and could not say whether the task runs; try again",
            details={**details, "task": "unknown"}, headers={"Retry-After": "2"},
        )  # fmt: skip
    return UpstreamUnavailable(
        "Agora did not confirm the change; the task still runs and sending the same change again is safe",
        details={**details, "task": "running"}, headers={"Retry-After": "2"},
    )  # fmt: skip


def update_recording(
    caller: Caller,
    recording_id: str,
    request: UpdateRequest,
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> dict[str, Any]:
    _authorize(caller, settings)
    item = _load(deps, recording_id)
    if request.webRecordingConfig is not None and item.mode != "web":
        raise Conflict("webRecordingConfig applies to web recordings only")
    if request.streamSubscribe is not None and item.mode == "web":
        raise Conflict("streamSubscribe does not apply to web recordings")
    new_urls = _check_cdn_update(item, request)

    def call(current: Recording) -> None:
        _agora_call(
            deps, current,
            lambda: deps.agora.update(*current.task(), request.client_request()),
        )  # fmt: skip
        if new_urls is not None:  # under the operation lock: two URL changes are stored in the order Agora took them
            deps.repo.set_cdn_urls(current.recording_id, new_urls)

    _with_op_lock(deps, item, settings, call)
    deps.metric("RecordingUpdated")
    return logic.view(deps.repo.get(item.recording_id) or item, now_ms=deps.repo.now_ms())


def _check_cdn_update(item: Recording, request: UpdateRequest) -> list[str] | None:
    """The new CDN addresses of an update, or None. Agora pushes to a CDN only from a web recording that
    started with ``rtmp_publish_service``: anything else is refused before Agora is called (409)."""
    if request.rtmpPublishConfig is None:
        return None
    if item.mode != "web":
        raise Conflict("rtmpPublishConfig applies to web recordings with CDN push only")
    if not item.cdn_urls:
        raise Conflict("this web recording was started without CDN push (cdn); its addresses cannot be changed")
    return request.rtmpPublishConfig.urls()


def update_layout(
    caller: Caller,
    recording_id: str,
    request: LayoutRequest,
    *,
    settings: RecordingSettings,
    deps: RecordingDependencies,
) -> dict[str, Any]:
    _authorize(caller, settings)
    item = _load(deps, recording_id)
    if item.mode != "mix":
        raise Conflict(f"layouts apply to mix recordings; this one is {item.mode}")

    def call(current: Recording) -> None:
        _agora_call(
            deps, current,
            lambda: deps.agora.update_layout(*current.task(), request.client_request()),
        )  # fmt: skip

    _with_op_lock(deps, item, settings, call)
    deps.metric("RecordingLayoutUpdated")
    return logic.view(deps.repo.get(item.recording_id) or item, now_ms=deps.repo.now_ms())
