"""What the recording use cases need from the outside, as small Protocols.

``RecordingStore`` is what the use cases ask of the recordings table (``repository.RecordingsRepository``
implements it; ``fakes.InMemoryRecordingStore`` is its in-memory twin, and ``tests/contract`` runs the same
cases against both). ``RecordingAgora`` is the part of ``agorakit.agora.client.AgoraClient`` that recordings call;
``WorkflowControl`` is what they ask of Step Functions (``service.adapters.stepfunctions`` implements it).
Typing against these keeps the use cases honest about their dependencies and lets tests substitute
either side without touching our own logic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from agorakit.agora.models import QueryResult, StartResult, StopResult, StorageConfig

    from service.recordings.record import (
        AgoraErrorRecord,
        CdnOutput,
        EventEntry,
        Recording,
        Resolution,
        StartResolution,
    )
    from service.recordings.repository import Admission, CreateOutcome


class Clock(Protocol):
    """Seconds since the epoch. ``time.time`` is the real one; ``fakes.FakeClock`` moves only when told."""

    def __call__(self) -> float: ...


class RecordingStore(Protocol):
    """The recordings table: every status change is conditional on ``logic.TRANSITIONS``; one active
    recording per channel (the channel lock); writes that lose their condition raise
    ``repository.ConditionFailed`` carrying the recording as it is."""

    def now_ms(self) -> int: ...

    def get(self, recording_id: str, *, consistent: bool = True) -> Recording | None: ...

    def lock_holder(self, channel: str) -> str | None: ...

    def by_sid(self, sid: str) -> Recording | None: ...

    def list_by_channel(
        self, channel: str, *, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[Recording], dict[str, Any] | None]: ...

    def list_active(self, statuses: Iterable[str] = ..., *, part: tuple[int, int] = ...) -> list[Recording]:
        """The recordings in ``statuses``; ``part=(i, n)``: only those whose id's crc32 is ``i`` mod ``n``."""
        ...

    def create(
        self,
        recording: Recording,
        *,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        response: Mapping[str, Any] | None = None,
        admission: Admission | None = None,
    ) -> CreateOutcome: ...

    def release_lock(self, channel: str, recording_id: str) -> bool: ...

    def delete_idempotency(self, scope: str, recording_id: str) -> None: ...

    def transition(
        self,
        recording_id: str,
        target: str,
        *,
        set_: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, Any] | None = None,
        sources: Iterable[str] | None = None,
    ) -> Recording: ...

    def request_stop(self, recording_id: str, reason: str) -> tuple[Recording | None, bool]: ...

    def park_wait(self, recording_id: str, task_token: str) -> Recording: ...

    def record_error(self, recording_id: str, error: AgoraErrorRecord) -> None: ...

    def link_transcription(self, recording_id: str, transcription_id: str | None, error: str | None) -> None:
        """``transcriptionId`` and ``transcriptionError`` (None: removed) of the recording's transcription."""

    def keep_sid(self, recording_id: str, sid: str, started_at: int) -> None: ...

    def mark_start_unknown(self, recording_id: str, state: StartResolution) -> None: ...

    def update_start_resolution(self, recording_id: str, state: StartResolution) -> None: ...

    def finish_start_resolution(self, recording_id: str, resolutions: Iterable[Resolution]) -> None: ...

    def adopt(self, recording_id: str, sid: str, resolutions: Iterable[Resolution]) -> Recording: ...

    def offer_candidate_sid(self, channel: str, uid: int, sid: str) -> bool: ...

    def mark_cleanup(self, recording_id: str, reason: str) -> None: ...

    def end_cleanup(self, recording_id: str, how: str) -> None: ...

    def set_if_newer(
        self, recording_id: str, seq_attr: str, sequence: int | None, fields: Mapping[str, Any]
    ) -> bool: ...

    def add_file_names(self, recording_id: str, names: Iterable[str]) -> None: ...

    def add_postponed_files(self, recording_id: str, names: Iterable[str]) -> None: ...

    def add_snapshot(self, recording_id: str, name: str, *, max_files: int) -> bool: ...

    def put_event_entry(
        self,
        recording_id: str,
        kind: Literal["agoraErrors", "agoraWarnings"],
        key: str,
        entry: EventEntry,
        *,
        max_entries: int,
    ) -> bool: ...

    def take_op_lock(self, recording_id: str, owner: str, seconds: int) -> Recording: ...

    def release_op_lock(self, recording_id: str, owner: str) -> bool: ...

    def mark_checked(self, recording_id: str, *, seen: bool = False, execution_running: bool = False) -> bool: ...

    def set_cdn_urls(self, recording_id: str, urls: Iterable[str]) -> None: ...

    def set_cdn_status(
        self, recording_id: str, key: str, output: CdnOutput, sequence: int | None, *, max_entries: int
    ) -> bool: ...


class AdmissionStore(Protocol):
    """The admission counters and queue (``repository.RecordingsRepository`` and ``fakes.InMemoryRecordingStore``
    implement it next to ``RecordingStore``): every change of a counter is in one transaction with the change
    of the recording it counts, so a slot is taken or given back exactly once."""

    def admission_counts(self) -> tuple[int, int]: ...

    def queue(self, limit: int) -> list[Recording]: ...

    def queue_position(self, recording: Recording) -> int: ...

    def admit(self, recording_id: str, max_tasks: int) -> Recording | None: ...

    def cancel_queued(self, recording_id: str, reason: str) -> Recording | None: ...

    def release_slot(self, recording_id: str) -> bool: ...


class RecordingAgora(Protocol):
    """Agora's cloud recording REST calls, as the workflow and the API use them."""

    def acquire(
        self,
        cname: str,
        uid: int | str,
        *,
        scene: int = 0,
        resource_expired_hour: int = 72,
        start_parameter: dict[str, Any] | None = None,
        region: str | None = None,
        exclude_resource_ids: Sequence[str] | None = None,
    ) -> str: ...

    def start(
        self,
        resource_id: str,
        cname: str,
        uid: int | str,
        mode: str,
        *,
        token: str | None,
        recording_config: dict[str, Any] | None = None,
        storage_config: StorageConfig | dict[str, Any],
        recording_file_config: dict[str, Any] | None = None,
        snapshot_config: dict[str, Any] | None = None,
        extension_service_config: dict[str, Any] | None = None,
        app_extra: dict[str, Any] | None = None,
    ) -> StartResult: ...

    def query(self, resource_id: str, sid: str, mode: str) -> QueryResult: ...

    def stop(
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, *, async_stop: bool = True
    ) -> StopResult: ...

    def update(  # noqa: PLR0917 - the client's positional order
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, client_request: dict[str, Any]
    ) -> dict[str, Any]: ...

    def update_layout(  # noqa: PLR0917 - the client's positional order
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, client_request: dict[str, Any]
    ) -> dict[str, Any]: ...

    def create_kicking_rule(
        self,
        cname: str | None,
        *,
        uid: int | None = None,
        ip: str | None = None,
        seconds: int,
        privileges: Sequence[str] = ("join_channel",),
    ) -> int: ...

    def delete_kicking_rule(self, rule_id: int) -> None: ...

    def user_status(self, cname: str, uid: int) -> dict[str, Any]: ...


class WorkflowControl(Protocol):
    """Starting a recording's execution, ending its wait, and asking whether it still runs."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> None:
        """Start the execution ``name``; raises when Step Functions refuses."""
        ...

    def complete_wait(self, task_token: str, reason: str) -> bool:
        """SendTaskSuccess ``{"reason": reason}``; False when the task had already ended."""
        ...

    def execution_status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or MISSING when it does not exist."""
        ...


class RecordingObjects(Protocol):
    """The recordings bucket, as playback reads it (``service.adapters.s3_objects.S3RecordingObjects``)."""

    def list(self, prefix: str) -> dict[str, int]:
        """key -> size of every object under ``prefix``."""
        ...

    def read(self, key: str, max_bytes: int) -> bytes:
        """The object's bytes; raises NotFound if it is gone, PayloadTooLarge above ``max_bytes``."""
        ...

    def presign(self, key: str, seconds: int) -> str: ...
