"""Entry point of the recordings API function (``service.recordings.api_handler.handler``): thin routes for
``/recordings*`` over ``service.recordings.operations``.

Every route requires the admin group. ``POST /recordings`` honours an ``Idempotency-Key`` header.

``create_app(settings, deps)`` is the function with its settings and dependencies bound (tests pass fakes or
moto-backed ones); the module-level ``handler`` builds the default one from the environment on its first
call, once. The routes are registered on the module's resolver at import (they read nothing: the OpenAPI
document comes from them) and find the app serving the current request through a context variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.adapters.agora import INTERACTIVE
from service.apps import DefaultApp
from service.auth import Caller, caller_from_event
from service.http import build_resolver, contract
from service.observability import make_tracer, metric_sink
from service.recordings import deps as deps_module
from service.recordings import operations
from service.recordings.models import (
    CaptionList,
    LayoutRequest,
    RecordingAccepted,
    RecordingList,
    RecordingRequest,
    RecordingView,
    SnapshotList,
    UpdateRequest,
)
from service.recordings.settings import RecordingSettings

logger = Logger()
metrics = Metrics()
tracer = make_tracer()


def _authorize(event: Mapping[str, Any]) -> None:
    """Every route: the admin group, checked before the request is validated (service.http.build_resolver)."""
    settings = _current().settings
    caller = caller_from_event(dict(event), groups_claim=settings.groups_claim)
    caller.require_group(settings.admin_group, "managing recordings")


app = build_resolver(authorize=_authorize)


_metric = metric_sink(metrics)
#: the lifetime a caller may ask of presigned URLs: at most PLAYBACK_URL_SECONDS's default (900), stated in the
#: document and checked by the same validation; a function configured lower refuses more (400, operations)
_URL_SECONDS: int = RecordingSettings.model_fields["playback_url_seconds"].default
ExpiresIn = Annotated[
    int | None,
    Query(
        ge=1,
        le=_URL_SECONDS,
        description=f"seconds the presigned URLs stay valid: 1..{_URL_SECONDS} (PLAYBACK_URL_SECONDS can lower it)",
    ),
]


@dataclass(frozen=True)
class RecordingsApi:
    """The API function with its settings and dependencies: call it with an API Gateway event."""

    settings: RecordingSettings
    deps: deps_module.RecordingDependencies

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = _serving.set(self)
        try:
            return app.resolve(event, context)
        finally:
            _serving.reset(token)


_serving: ContextVar[RecordingsApi] = ContextVar("recordings_api")


def create_app(settings: RecordingSettings, deps: deps_module.RecordingDependencies) -> RecordingsApi:
    return RecordingsApi(settings, deps)


def _from_env() -> RecordingsApi:
    settings = RecordingSettings.from_env()
    # INTERACTIVE: a slow Agora becomes our 503, not an API Gateway timeout
    return create_app(settings, deps_module.build(settings, metric=_metric, budget=INTERACTIVE))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


def _current() -> RecordingsApi:
    return _serving.get()


def _caller() -> Caller:
    return caller_from_event(app.current_event.raw_event, groups_claim=_current().settings.groups_claim)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type="application/json", body=body, headers=headers or {})


TAGS = ["recordings"]
_ADMIN = "the caller is not in the admin group"
_CHANGE = {
    403: _ADMIN,
    404: "no such recording",
    409: "the recording is not RECORDING, does not have this mode, or another change is in progress",
    422: "the body is invalid, or Agora rejected the change's parameters",
    502: "Agora rejected the call",
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,255}$",
        description="a retry with the same key and body answers the first request's recording (per caller)",
    ),
]


@app.post(
    "/recordings",
    summary="Start a cloud recording of a channel",
    tags=TAGS,
    responses=contract(
        {202: (RecordingAccepted, "accepted: the workflow starts the recording (also a replay of the same key)")},
        403,
        409,
        429,
        body=True,
        descriptions={
            403: _ADMIN,
            409: "the channel already has an active recording (details.active_recording_id)",
            429: "Agora's task limit is reached and the admission queue is full (admissionQueueCap): see Retry-After",
            422: "the body is invalid, or the Idempotency-Key was used with another body",
        },
    ),
)
@tracer.capture_method
def post_recording(body: RecordingRequest, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
    api = _current()
    key = idempotency_key
    status, payload = operations.create_recording(_caller(), body, key, settings=api.settings, deps=api.deps)
    logger.info("recording requested", extra={"recording_id": payload.get("recording_id"), "channel": body.channel})
    return _json(status, payload, {"Location": f"/recordings/{payload.get('recording_id')}"})


@app.get(
    "/recordings",
    summary="A channel's recordings (newest first), or the active ones",
    tags=TAGS,
    responses=contract(
        {200: (RecordingList, "one page of recordings")},
        403,
        descriptions={400: "a malformed or unknown query parameter, or a next_token from another listing"},
    ),
)
@tracer.capture_method
def list_recordings(
    channel: Annotated[
        str | None, Query(min_length=1, max_length=1024, description="the channel; without it, active and QUEUED ones")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=operations.MAX_PAGE, description="page size")] = None,
    next_token: Annotated[
        str | None, Query(min_length=1, max_length=2048, description="the previous page's next_token")
    ] = None,
) -> Response[dict[str, Any]]:
    api = _current()
    payload = operations.list_recordings(
        _caller(),
        channel=channel,
        limit=limit,
        next_token=next_token,
        settings=api.settings,
        deps=api.deps,
    )
    return _json(200, payload)


@app.get(
    "/recordings/<recording_id>",
    summary="One recording, with media durations when known",
    tags=TAGS,
    responses=contract({200: (RecordingView, "the recording")}, 403, 404, descriptions={403: _ADMIN}),
)
@tracer.capture_method
def get_recording(recording_id: str) -> Response[dict[str, Any]]:
    api = _current()
    return _json(200, operations.get_recording(_caller(), recording_id, settings=api.settings, deps=api.deps))


@app.get(
    "/recordings/<recording_id>/playlist",
    summary="The recording's m3u8, each segment a short-lived presigned S3 URL (plays a private bucket)",
    tags=TAGS,
    responses={
        200: {
            "description": "an HLS media playlist",
            "content": {"application/vnd.apple.mpegurl": {"schema": {"type": "string"}}},
            "headers": {
                "X-Playlist-File": {"description": "the playlist object served", "schema": {"type": "string"}},
                "X-Playlist-Segments": {
                    "description": "segments in the whole playlist (a window may hold fewer)",
                    "schema": {"type": "integer", "minimum": 0},
                },
                "X-Playlist-Ended": {
                    "description": "true once the recording's playlist is final (#EXT-X-ENDLIST)",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
                "X-Url-Expires-In": {
                    "description": "seconds the segment URLs stay valid",
                    "schema": {"type": "integer", "minimum": 1},
                },
                "X-Playlist-Refused": {
                    "description": "segments (in this window) whose key leaves the recording's folder: never "
                    "signed, each replaced by a '#ERROR line <n>: ...' comment",
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
        },
        **contract(
            {},
            403,
            404,
            413,
            descriptions={403: _ADMIN, 404: "no such recording, or no playlist in the bucket yet"},
        ),
    },
)
@tracer.capture_method
def get_playlist(
    recording_id: str,
    file: Annotated[str | None, Query(max_length=255)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
    expires_in: ExpiresIn = None,
) -> Response[str]:
    from service.recordings.playback import PlaybackRequest

    api = _current()
    request = PlaybackRequest(file=file, offset=offset, limit=limit, expires_in=expires_in)
    text, headers = operations.playlist(_caller(), recording_id, request, settings=api.settings, deps=api.deps)
    return Response(status_code=200, content_type=headers.pop("Content-Type"), body=text, headers=headers)


@app.get(
    "/recordings/<recording_id>/snapshots",
    summary="The recording's screenshots (JPG) in the bucket, each a short-lived presigned URL",
    tags=TAGS,
    responses=contract(
        {200: (SnapshotList, "one page of screenshots, by file name")},
        403,
        404,
        descriptions={403: _ADMIN, 404: "no such recording"},
    ),
)
@tracer.capture_method
def get_snapshots(
    recording_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=255)] = None,
    expires_in: ExpiresIn = None,
) -> Response[dict[str, Any]]:
    api = _current()
    request = {"limit": limit, "after": after, "expires_in": expires_in}
    payload = operations.snapshot_files(_caller(), recording_id, request, settings=api.settings, deps=api.deps)
    return _json(200, payload)


@app.get(
    "/recordings/<recording_id>/captions",
    summary="The recording's captions (WebVTT per language) and transcripts from live transcription, presigned",
    tags=TAGS,
    responses=contract(
        {200: (CaptionList, "the caption tracks and transcripts in the recording's folder")},
        403,
        404,
        descriptions={403: _ADMIN, 404: "no such recording"},
    ),
)
@tracer.capture_method
def get_captions(recording_id: str, expires_in: ExpiresIn = None) -> Response[dict[str, Any]]:
    api = _current()
    payload = operations.caption_files(_caller(), recording_id, expires_in, settings=api.settings, deps=api.deps)
    return _json(200, payload)


@app.post(
    "/recordings/<recording_id>/stop",
    summary="Stop a recording (idempotent)",
    tags=TAGS,
    responses=contract(
        {
            200: (RecordingView, "the recording has ended (STOPPED or FAILED)"),
            202: (RecordingView, "the stop is under way; poll GET /recordings/{recording_id}"),
        },
        403,
        404,
        descriptions={403: _ADMIN},
    ),
)
@tracer.capture_method
def stop_recording(recording_id: str) -> Response[dict[str, Any]]:
    api = _current()
    status, payload = operations.stop_recording(_caller(), recording_id, settings=api.settings, deps=api.deps)
    return _json(status, payload)


@app.post(
    "/recordings/<recording_id>/update",
    summary="Change subscriptions, web onhold or CDN push addresses (Agora update), one at a time",
    tags=TAGS,
    responses=contract({200: (RecordingView, "Agora accepted the update")}, *_CHANGE, body=True, descriptions=_CHANGE),
)
@tracer.capture_method
def update_recording(recording_id: str, body: UpdateRequest) -> Response[dict[str, Any]]:
    api = _current()
    payload = operations.update_recording(_caller(), recording_id, body, settings=api.settings, deps=api.deps)
    return _json(200, payload)


@app.post(
    "/recordings/<recording_id>/layout",
    summary="Replace a mix recording's layout (Agora updateLayout)",
    tags=TAGS,
    responses=contract({200: (RecordingView, "Agora accepted the layout")}, *_CHANGE, body=True, descriptions=_CHANGE),
)
@tracer.capture_method
def update_layout(recording_id: str, body: LayoutRequest) -> Response[dict[str, Any]]:
    api = _current()
    payload = operations.update_layout(_caller(), recording_id, body, settings=api.settings, deps=api.deps)
    return _json(200, payload)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
