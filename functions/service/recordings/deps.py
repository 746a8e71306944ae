"""What the recording logic needs from the outside world, built lazily and injectable in tests.

Handlers build one ``RecordingDependencies`` per cold start; tests pass moto-backed or emulator-backed
ones. The Agora client is created on first use (it reads the REST secret), so routes that never call
Agora never pay for it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.adapters.secrets import SecretStore
from service.recordings.repository import RecordingsRepository
from service.recordings.settings import RecordingSettings


def _no_metric(name: str, value: float = 1) -> None:
    return None


@dataclass
class RecordingDependencies:
    repo: RecordingsRepository
    secrets: SecretStore
    sfn_factory: Callable[[], Any]
    agora_factory: Callable[[], Any]
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.SystemRandom)
    metric: Callable[..., None] = _no_metric
    media_factory: Callable[[], Any] | None = None
    _agora: Any = None
    _sfn: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def agora(self) -> Any:
        with self._lock:
            if self._agora is None:
                self._agora = self.agora_factory()
            return self._agora

    @property
    def sfn(self) -> Any:
        with self._lock:
            if self._sfn is None:
                self._sfn = self.sfn_factory()
            return self._sfn

    def media(self) -> Any | None:
        return self.media_factory() if self.media_factory is not None else None


def agora_client(settings: RecordingSettings, secrets: SecretStore) -> Any:
    """The shared AgoraClient (CONTRACTS A), with few in-Lambda attempts: Step Functions' Retry does the
    long, jittered backoff without paying for an idle Lambda."""
    from service.adapters.agora import build_agora_client

    client = build_agora_client(settings, secrets)
    client.max_attempts = settings.recording_agora_max_attempts
    return client


def media_repository(settings: RecordingSettings) -> Callable[[], Any] | None:
    """MediaRepository when the media module and its table exist (the recordings API shows durations)."""
    if not settings.media_table:
        return None
    table = settings.media_table

    def factory() -> Any:
        try:
            from service.media.repository import MediaRepository  # type: ignore[import-not-found]
        except ImportError:
            return None
        return MediaRepository(table)

    return factory


def build(settings: RecordingSettings, *, metric: Callable[..., None] = _no_metric) -> RecordingDependencies:
    from service.adapters.aws import client
    from service.adapters.secrets import SecretsManagerStore

    secrets = SecretsManagerStore(max_age=settings.secret_cache_seconds)
    return RecordingDependencies(
        repo=RecordingsRepository(settings.recordings_table),
        secrets=secrets,
        sfn_factory=lambda: client("stepfunctions"),
        agora_factory=lambda: agora_client(settings, secrets),
        metric=metric,
        media_factory=media_repository(settings),
    )
