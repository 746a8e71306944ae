"""What the recording use cases need from the outside, as small Protocols.

``RecordingAgora`` is the part of ``agorakit.agora.client.AgoraClient`` that recordings call;
``WorkflowControl`` is what they ask of Step Functions (``service.adapters.stepfunctions`` implements it).
Typing against these keeps the use cases honest about their dependencies and lets tests substitute
either side without touching our own logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agorakit.agora.models import QueryResult, StartResult, StopResult, StorageConfig


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
