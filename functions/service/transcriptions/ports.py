"""What the transcription use cases need from the outside: the table (``TranscriptionStore``:
``repository.TranscriptionsRepository``, twin ``fakes.InMemoryTranscriptionStore``) and Agora's Real-Time STT
(``SttAgora``: ``agorakit.agora.stt.SttClient``, twin ``fakes.FakeStt``). ``tests/contract`` runs the same cases
against each pair."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agorakit.agora.stt import SttAgent, SttJoin

    from service.transcriptions.record import Transcription


class ConditionFailed(Exception):
    """A conditional write lost; ``item`` is the record as it is now (None if absent)."""

    def __init__(self, item: Transcription | None):
        super().__init__("conditional write failed")
        self.item = item


class ChannelBusy(Exception):
    """The channel already has an active transcription (``holder`` is its id)."""

    def __init__(self, holder: str | None):
        super().__init__(f"the channel is transcribed by {holder}")
        self.holder = holder


class AtCapacity(Exception):
    """The stack already runs its maximum of transcriptions (``transcriptionsMaxRunning``): nothing was written."""

    def __init__(self, limit: int):
        super().__init__(f"{limit} transcriptions are active, the most this stack runs at once")
        self.limit = limit


class TranscriptionStore(Protocol):
    def running(self) -> int:
        """How many running places are held (transcriptions created and not yet ended)."""

    def create(self, transcription: Transcription, *, max_running: int | None = None) -> None:
        """Insert it, take its channel's lock (``ChannelBusy`` if another active one holds it) and one of the stack's
        running places (``AtCapacity`` if ``max_running`` are held; the lock is told first). The move into a
        terminal state gives the place back, once."""

    def get(self, transcription_id: str) -> Transcription | None: ...

    def by_agent(self, agent_id: str) -> Transcription | None: ...

    def list(
        self, *, channel: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Transcription], str | None]: ...

    def active(self) -> tuple[Transcription, ...]:
        """Every transcription not ended, oldest first."""

    def attach_agent(
        self, transcription_id: str, agent_id: str, generation: int, at_ms: int, token_expires_ms: int | None = None
    ) -> Transcription:
        """The agent of ``generation`` is ours (conditional: still active, generation not past it), its bot's
        token expiring at ``token_expires_ms`` (None: no token). Attaching it again stores only that expiry."""

    def move(
        self,
        transcription_id: str,
        source: str,
        target: str,
        at_ms: int,
        *,
        reason: str | None = None,
        error: str | None = None,
    ) -> Transcription:
        """``source`` -> ``target`` if the record is still ``source`` (else ``ConditionFailed``); an end releases
        the channel lock."""

    def next_sequence(self, transcription_id: str) -> int:
        """The next ``sequenceId`` (atomically increased; ``ConditionFailed`` unless the record can be updated)."""

    def save_config(
        self,
        transcription_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> bool:
        """Store what update ``sequence_id`` applied, unless a later one is stored already (False then)."""

    def add_files(self, transcription_id: str, keys: Iterable[str]) -> None: ...


class SttAgora(Protocol):
    def join(self, request: SttJoin) -> SttAgent: ...

    def get(self, agent_id: str) -> SttAgent: ...

    def leave(self, agent_id: str) -> bool: ...

    def update(
        self,
        agent_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> SttAgent: ...

    def list_agents(
        self, *, channel: str | None = None, state: str = "RUNNING", limit: int = 100
    ) -> list[SttAgent]: ...

    def find_running(self, name: str, channel: str) -> SttAgent | None: ...


class CaptionObjects(Protocol):
    """The recordings bucket, read for a transcription's files (``service.adapters.s3_objects.S3RecordingObjects``)."""

    def list(self, prefix: str) -> dict[str, int]:
        """key -> size of every object under ``prefix``."""
        ...

    def presign(self, key: str, seconds: int) -> str: ...
