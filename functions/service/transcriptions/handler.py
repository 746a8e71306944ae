"""``/transcriptions*``: thin routes over ``service.transcriptions.usecases``. Admin group only.

No ``from __future__ import annotations`` here: Powertools reads the route signatures at runtime.

``create_app(settings, service)`` is the function with its settings and use cases bound (tests pass fakes or
moto/emulator-backed ones); ``handler`` builds the default one from the environment on its first call, once.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from agorakit.agora.ratelimit import Lane, lane
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp, Serving
from service.auth import caller_from_event
from service.errors import BadRequest
from service.http import build_resolver, contract
from service.observability import limiter_wait_observer, make_tracer, metric_sink
from service.transcriptions import logic
from service.transcriptions.models import (
    CaptionList,
    TranscriptionList,
    TranscriptionRequest,
    TranscriptionUpdate,
    TranscriptionView,
    Translation,
)
from service.transcriptions.record import Transcription
from service.transcriptions.settings import TranscriptionsSettings
from service.transcriptions.usecases import StartCommand, TranscriptionService

if TYPE_CHECKING:
    from service.adapters.agora import CallBudget

logger = Logger()
metrics = Metrics()
_metric = metric_sink(metrics)
tracer = make_tracer()


def _authorize(event: Mapping[str, Any]) -> None:
    """Every route: the admin group, checked before the request is validated (service.http.build_resolver)."""
    settings = _api().settings
    caller = caller_from_event(dict(event), groups_claim=settings.groups_claim)
    caller.require_group(settings.admin_group, "managing transcriptions")


app = build_resolver(authorize=_authorize)


@dataclass(frozen=True)
class TranscriptionsApi:
    settings: TranscriptionsSettings
    service: TranscriptionService

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # every Agora call of a request (join and its resolution, update, leave, the state read) has a person waiting
        with _serving.use(self), lane(Lane.INTERACTIVE):
            return app.resolve(event, context)


_serving: Serving[TranscriptionsApi] = Serving("transcriptions_api")
_api = _serving.get


def create_app(settings: TranscriptionsSettings, service: TranscriptionService) -> TranscriptionsApi:
    return TranscriptionsApi(settings, service)


def build_service(settings: TranscriptionsSettings, budget: "CallBudget | None" = None) -> TranscriptionService:
    """The deployed adapters: the table, Agora's STT (credentials in Secrets Manager, the shared limiter), the
    bot's token signer and the caption storage (the recordings bucket with the uploader's keys). ``budget``:
    ``INTERACTIVE`` (the default) behind API Gateway; the restart workflow passes ``BACKGROUND``."""
    from agorakit.agora.stt import SttClient

    from service.adapters.agora import INTERACTIVE, build_agora_client
    from service.adapters.secrets import SecretsManagerStore
    from service.transcriptions.deployed import LazyStt, bot_token_signer, caption_storage, restart_scheduler
    from service.transcriptions.repository import TranscriptionsRepository

    secrets = SecretsManagerStore(max_age=settings.secret_cache_seconds)
    objects = None
    if settings.recordings_bucket:
        from service.adapters.s3_objects import S3RecordingObjects

        objects = S3RecordingObjects(settings.recordings_bucket)
    return TranscriptionService(
        store=TranscriptionsRepository(settings.transcriptions_table),
        agora=LazyStt(
            lambda: SttClient(
                build_agora_client(
                    settings, secrets, budget=budget or INTERACTIVE, on_wait=limiter_wait_observer(_metric)
                )
            )
        ),
        clock=time.time,
        bot_token=bot_token_signer(settings, secrets),
        caption_storage=caption_storage(settings, secrets),
        schedule_restart=restart_scheduler(settings),
        lifetime_ms=settings.transcription_lifetime_seconds * 1000,
        restart_margin_ms=settings.transcription_restart_margin_seconds * 1000,
        max_running=settings.transcriptions_max_running,
        bot_token_seconds=settings.bot_token_seconds,
        caption_objects=objects,
        caption_url_seconds=settings.caption_url_seconds,
    )


def _from_env() -> TranscriptionsApi:
    settings = TranscriptionsSettings.from_env()
    return create_app(settings, build_service(settings))


_default = DefaultApp(_from_env)
default_app = _default.get
reset = _default.reset


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def view(t: Transcription) -> dict[str, Any]:
    service = _api().service
    restart = None
    if t.started_at_ms is not None and t.status not in logic.TERMINAL:
        restart = logic.restart_due_ms(t.started_at_ms, service.restart_margin_ms, service.lifetime_ms,
                                       t.token_expires_ms)  # fmt: skip
    targets = {target for targets in t.translate.values() for target in targets}
    return TranscriptionView(
        id=t.id,
        channel=t.channel,
        status=t.status,
        languages=list(t.languages),
        uid_languages={str(uid): list(v) for uid, v in t.uid_languages.items()},
        translation={source: list(v) for source, v in t.translate.items()},
        subscribe_uids=list(t.subscribe_uids) if t.subscribe_uids is not None else None,
        bot_uid=t.bot_uid,
        agent_id=t.agent_id,
        agents=list(t.agents),
        generation=t.generation,
        sequence_id=t.sequence_id,
        created_at_ms=t.created_at_ms,
        started_at_ms=t.started_at_ms,
        ended_at_ms=t.ended_at_ms,
        stop_reason=t.stop_reason,
        last_error=t.last_error,
        recording_id=t.recording_id,
        files=list(t.files),
        restart_due_ms=restart,
        token_expires_ms=t.token_expires_ms,
        cost_per_hour_usd=logic.cost_per_hour(len(targets)),
    ).model_dump()


def _translate(pairs: list[Translation] | None) -> dict[str, list[str]] | None:
    if pairs is None:
        return None
    out: dict[str, list[str]] = {}
    for pair in pairs:
        if pair.source in out:
            raise BadRequest(f"translation: {pair.source} is listed twice")
        out[pair.source] = list(pair.targets)
    return out


TAGS = ["transcriptions"]
TranscriptionId = Annotated[
    str, Path(description="a transcription id", json_schema_extra={"pattern": r"^[0-9a-f]{32}$"})
]
_ADMIN = {403: "the caller is not in the admin group", 502: "Agora failed (not a refusal of the request)"}
_ID = {**_ADMIN, 404: "no transcription with this id"}


def _id(value: str) -> str:
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise BadRequest("a transcription id is 32 lowercase hexadecimal characters")
    return value


@app.post(
    "/transcriptions",
    summary="Start live transcription (Agora Real-Time STT v7) in a channel",
    tags=TAGS,
    responses=contract(
        {201: (TranscriptionView, "the transcription, its agent starting")},
        403,
        409,
        429,
        502,
        body=True,
        descriptions={
            **_ADMIN,
            409: "the channel is already transcribed",
            429: "the stack's running cap (transcriptionsMaxRunning) is reached, or Agora's concurrent-agent quota "
            "(its 422: the transcription, details.transcription_id, is FAILED); Retry-After says when to try "
            "again (no queue: a person is waiting)",
        },
    ),
)
@tracer.capture_method
def post_transcription(body: TranscriptionRequest) -> Response[Any]:
    per_uid = {item.uid: item.languages for item in body.uid_languages or []}
    if body.uid_languages and len(per_uid) != len(body.uid_languages):
        raise BadRequest("uid_languages: a uid is listed twice")
    started = _api().service.start(
        StartCommand(
            channel=body.channel,
            languages=body.languages,
            uid_languages=per_uid,
            translate=_translate(body.translation),
            subscribe_uids=body.subscribe_uids,
            max_idle_seconds=body.max_idle_seconds,
            recording_id=body.recording_id,
        )
    )
    _metric("TranscriptionsStarted")
    logger.info("transcription started", extra={"id": started.id, "channel": started.channel})
    return _json(201, view(started))


@app.get(
    "/transcriptions",
    summary="Transcriptions, newest first (of one channel)",
    tags=TAGS,
    responses=contract({200: (TranscriptionList, "one page")}, 403, descriptions=_ADMIN),
)
@tracer.capture_method
def get_transcriptions(
    channel: Annotated[str | None, Query(min_length=1, max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> Response[Any]:
    items, next_cursor = _api().service.list(channel=channel, limit=limit, cursor=cursor)
    return _json(200, {"transcriptions": [view(t) for t in items], "next_cursor": next_cursor})


@app.get(
    "/transcriptions/<transcription_id>",
    summary="A transcription: state, agents, files, the next restart, the cost per hour",
    tags=TAGS,
    responses=contract({200: (TranscriptionView, "the transcription")}, 403, 404, descriptions=_ID),
)
@tracer.capture_method
def get_transcription(transcription_id: TranscriptionId) -> Response[Any]:
    return _json(200, view(_api().service.get(_id(transcription_id))))


@app.get(
    "/transcriptions/<transcription_id>/captions",
    summary="The transcription's captions (WebVTT per language) and transcripts, presigned",
    tags=TAGS,
    responses=contract(
        {200: (CaptionList, "the caption tracks and transcripts of the transcription's agents")},
        403,
        404,
        503,
        descriptions={**_ID, 503: "the recordings bucket is not configured"},
    ),
)
@tracer.capture_method
def get_transcription_captions(
    transcription_id: TranscriptionId,
    expires_in: Annotated[
        int | None,
        Query(ge=1, le=43_200, description="seconds the URLs stay valid (at most the deployment's setting)"),
    ] = None,
) -> Response[Any]:
    return _json(200, _api().service.captions(_id(transcription_id), expires_in))


@app.patch(
    "/transcriptions/<transcription_id>",
    summary="Change the languages, the users transcribed or the translation (Agora's update, sequenceId handled)",
    tags=TAGS,
    responses=contract(
        {200: (TranscriptionView, "the transcription as updated")},
        403,
        404,
        409,
        502,
        body=True,
        descriptions={**_ID, 409: "not running, or a later update reached Agora first"},
    ),
)
@tracer.capture_method
def patch_transcription(transcription_id: TranscriptionId, body: TranscriptionUpdate) -> Response[Any]:
    updated = _api().service.update(
        _id(transcription_id),
        languages=body.languages,
        subscribe_uids=body.subscribe_uids,
        translate=_translate(body.translation),
    )
    return _json(200, view(updated))


@app.delete(
    "/transcriptions/<transcription_id>",
    summary="Stop a transcription (its agent leaves; transcripts and captions stay)",
    tags=TAGS,
    responses=contract(
        {200: (TranscriptionView, "the transcription, stopping or stopped")}, 403, 404, 502, descriptions=_ID
    ),
)
@tracer.capture_method
def delete_transcription(transcription_id: TranscriptionId) -> Response[Any]:
    stopped = _api().service.stop(_id(transcription_id))
    _metric("TranscriptionsStopped")
    return _json(200, view(stopped))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
