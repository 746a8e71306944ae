"""What the recording use cases need from the outside world, built lazily and injectable in tests.

Handlers build one ``RecordingDependencies`` per cold start; tests pass moto-backed or emulator-backed
ones. The Agora client is created on first use (it reads the REST secret), so routes that never call
Agora never pay for it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from service.adapters.agora import CallBudget
from service.adapters.secrets import SecretStore
from service.observability import MetricSink, limiter_wait_observer, no_metric
from service.recordings.logic import LIMITER_SLEEP_SECONDS
from service.recordings.ports import AdmissionStore, Clock, RecordingAgora, RecordingStore, WorkflowControl
from service.recordings.repository import RecordingsRepository
from service.recordings.settings import RecordingSettings

if TYPE_CHECKING:
    from agorakit.agora.client import AgoraClient

    from service.media.repository import MediaRepository
    from service.recordings.ports import RecordingObjects
    from service.transcriptions.usecases import TranscriptionService


_no_metric = no_metric


@dataclass
class RecordingDependencies:
    repo: RecordingStore
    secrets: SecretStore
    workflow_factory: Callable[[], WorkflowControl]
    agora_factory: Callable[[], RecordingAgora]
    #: the one clock of the use cases: ``build`` gives the same one to the store (``repo.now_ms``), so resource
    #: TTL, resolve windows, stale thresholds and postponed ``overdue`` all read it (a ``FakeClock`` in tests)
    clock: Clock = time.time
    rng: random.Random = field(default_factory=random.SystemRandom)
    metric: MetricSink = _no_metric
    media_factory: Callable[[], MediaRepository] | None = None
    objects_factory: Callable[[], RecordingObjects] | None = None
    #: admission control (Agora's concurrent-task limit and the queue); None: every creation starts at once
    admission: AdmissionStore | None = None
    #: the transcriptions use cases (a recording's ``transcription``); None: not configured
    transcriptions_factory: Callable[[], TranscriptionService] | None = None
    _transcriptions: TranscriptionService | None = None
    _agora: RecordingAgora | None = None
    _workflow: WorkflowControl | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def agora(self) -> RecordingAgora:
        with self._lock:
            if self._agora is None:
                self._agora = self.agora_factory()
            return self._agora

    @property
    def workflow(self) -> WorkflowControl:
        with self._lock:
            if self._workflow is None:
                self._workflow = self.workflow_factory()
            return self._workflow

    def transcriptions(self) -> TranscriptionService | None:
        """Built on first use (its table adapter and Agora client), once."""
        if self.transcriptions_factory is None:
            return None
        with self._lock:
            if self._transcriptions is None:
                self._transcriptions = self.transcriptions_factory()
            return self._transcriptions

    def media(self) -> MediaRepository | None:
        return self.media_factory() if self.media_factory is not None else None

    def objects(self) -> RecordingObjects | None:
        return self.objects_factory() if self.objects_factory is not None else None


#: workflow tasks (60 s Lambda timeout): at most 2 x 10 s attempts, a 5 s backoff and 10 s per rate-limit slot,
#: so a rate limit raises AgoraRateLimitedError (Step Functions' Retry waits, with jitter) before the timeout
WORKFLOW_BUDGET = CallBudget(timeout=10.0, max_attempts=2, backoff_cap=5.0, limiter_max_wait=10.0)
#: the workflow task function: the same, but a limiter slot further than ``logic.LIMITER_SLEEP_SECONDS`` away is
#: refused at once (``AgoraRateLimitedError.retry_after``): the step returns a wait and the state machine waits
STEP_BUDGET = replace(WORKFLOW_BUDGET, limiter_max_wait=LIMITER_SLEEP_SECONDS)


def agora_client(
    settings: RecordingSettings,
    secrets: SecretStore,
    budget: CallBudget | None = None,
    on_wait: Callable[[float], None] | None = None,
) -> AgoraClient:
    """The shared AgoraClient (``service.adapters.agora``). Workflow tasks make few in-Lambda attempts:
    Step Functions' Retry does the long, jittered backoff without paying for an idle Lambda. The API passes
    ``INTERACTIVE``: a slow Agora becomes our 503 within API Gateway's 30 s."""
    from service.adapters.agora import build_agora_client

    if budget is None or budget is STEP_BUDGET:
        client = build_agora_client(settings, secrets, budget=budget or WORKFLOW_BUDGET, on_wait=on_wait)
        client.max_attempts = settings.recording_agora_max_attempts
        return client
    return build_agora_client(settings, secrets, budget=budget, on_wait=on_wait)


def media_repository(settings: RecordingSettings) -> Callable[[], MediaRepository] | None:
    """MediaRepository when the media table is configured (the recordings API shows durations)."""
    if not settings.media_table:
        return None
    table = settings.media_table

    def factory() -> MediaRepository:
        from service.media.repository import MediaRepository

        return MediaRepository(table)

    return factory


def recording_objects(settings: RecordingSettings) -> Callable[[], RecordingObjects] | None:
    """The recordings bucket (playback) when it is configured."""
    if not settings.recordings_bucket:
        return None
    bucket = settings.recordings_bucket

    def factory() -> RecordingObjects:
        from service.adapters.s3_objects import S3RecordingObjects

        return S3RecordingObjects(bucket)

    return factory


def transcription_service(
    settings: RecordingSettings,
    secrets: SecretStore,
    budget: CallBudget | None,
    metric: MetricSink,
    clock: Clock,
) -> Callable[[], TranscriptionService] | None:
    """The transcriptions use cases as the recording functions use them: the table, Agora's STT through the same
    limiter and budget as the recording's calls, the bot's token and the captions beside the recording's files.
    No restart is scheduled: a recording ends within 24 hours, long before Agora's 72-hour end of an agent."""
    if not settings.transcriptions_table:
        return None
    stt_budget = WORKFLOW_BUDGET if budget is STEP_BUDGET else budget

    def factory() -> TranscriptionService:
        from agorakit.agora.stt import SttClient

        from service.transcriptions.deployed import LazyStt, bot_token_signer, caption_storage
        from service.transcriptions.repository import TranscriptionsRepository
        from service.transcriptions.settings import TranscriptionsSettings
        from service.transcriptions.usecases import TranscriptionService

        shared = settings.model_dump(include=set(TranscriptionsSettings.model_fields))
        stt_settings = TranscriptionsSettings.model_validate(
            {**shared, "recordings_bucket_region": settings.bucket_region}
        )
        return TranscriptionService(
            store=TranscriptionsRepository(str(settings.transcriptions_table), clock=clock),
            # the workflow's budget, not STEP_BUDGET's one-second limiter wait: these steps have no limiter Wait state
            agora=LazyStt(
                lambda: SttClient(agora_client(settings, secrets, stt_budget, limiter_wait_observer(metric)))
            ),
            clock=clock,
            bot_token=bot_token_signer(stt_settings, secrets),
            caption_storage=caption_storage(stt_settings, secrets),
        )

    return factory


def build(
    settings: RecordingSettings,
    *,
    metric: MetricSink = _no_metric,
    budget: CallBudget | None = None,
    clock: Clock = time.time,
) -> RecordingDependencies:
    """``budget``: None for the reconciler, ``STEP_BUDGET`` for workflow tasks, ``INTERACTIVE`` behind API Gateway."""
    from service.adapters.secrets import SecretsManagerStore
    from service.adapters.stepfunctions import StepFunctionsControl

    versioned = {}
    if settings.app_certificate_secret_name:  # the recorder token's signer: see service.adapters.secrets
        versioned[settings.app_certificate_secret_name] = settings.recorder_certificate_check_seconds
    secrets = SecretsManagerStore(max_age=settings.secret_cache_seconds, versioned=versioned, clock=clock)
    repo = RecordingsRepository(settings.recordings_table, clock=clock)
    return RecordingDependencies(
        repo=repo,
        admission=repo,
        clock=clock,
        secrets=secrets,
        workflow_factory=StepFunctionsControl,
        agora_factory=lambda: agora_client(settings, secrets, budget, limiter_wait_observer(metric)),
        metric=metric,
        media_factory=media_repository(settings),
        objects_factory=recording_objects(settings),
        transcriptions_factory=transcription_service(settings, secrets, budget, metric, clock),
    )
