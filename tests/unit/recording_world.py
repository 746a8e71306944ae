"""The recording use cases wired to the in-memory fakes (``service.recordings.fakes``): no network, no moto,
virtual time. ``tests/contract`` keeps each fake honest against its real adapter."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.auth import Caller
from service.recordings.deps import RecordingDependencies
from service.recordings.fakes import (
    FakeClock,
    FakeRecordingAgora,
    FakeSecretStore,
    FakeWorkflowControl,
    InMemoryRecordingStore,
)
from service.recordings.models import RecordingRequest
from service.recordings.settings import RecordingSettings

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:recording"
ADMIN = Caller("admin-subject", frozenset({"admins"}))
HOST = 1001


@dataclass
class Metrics:
    seen: list[tuple[str, float, dict[str, str]]] = field(default_factory=list)

    def __call__(
        self, name: str, value: float = 1, *, unit: str = "Count", dimensions: Mapping[str, str] | None = None
    ) -> None:
        self.seen.append((name, value, dict(dimensions or {})))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.seen]


@dataclass
class World:
    clock: FakeClock
    store: InMemoryRecordingStore
    agora: FakeRecordingAgora
    workflow: FakeWorkflowControl
    secrets: FakeSecretStore
    settings: RecordingSettings
    deps: RecordingDependencies
    metrics: Metrics

    def create(self, channel: str = "room", **body: Any) -> str:
        from service.recordings.operations import create_recording

        status, answer = create_recording(
            ADMIN, RecordingRequest.model_validate({"channel": channel, **body}), None,
            settings=self.settings, deps=self.deps,
        )  # fmt: skip
        assert status == 202
        return str(answer["recording_id"])

    def step(self, action: str, recording_id: str, **event: Any) -> dict[str, Any]:
        from service.recordings.workflow import STEPS

        if action in ("stop", "finalize", "fail"):
            return STEPS[action](
                {"state": {"recordingId": recording_id, **event}}, settings=self.settings, deps=self.deps
            )
        return STEPS[action]({"recordingId": recording_id, **event}, settings=self.settings, deps=self.deps)

    def recording_started(self, channel: str = "room") -> str:
        """A recording through acquire, start and wait, with a host in the channel."""
        self.agora.join(channel, HOST)
        recording_id = self.create(channel)
        self.step("acquire", recording_id)
        assert self.step("start", recording_id)["outcome"] == "started"
        self.step("wait", recording_id, taskToken=self.workflow.park(f"token-{recording_id}"))
        return recording_id


def world(*, admission: bool = False, agora_tasks: int | None = None, **settings: Any) -> World:
    """``admission``: creations go through admission control (``agora_max_tasks``, ``admission_queue_cap``);
    ``agora_tasks``: the fake Agora's concurrent-task limit (406 past it)."""
    clock = FakeClock()
    store = InMemoryRecordingStore(clock)
    agora = FakeRecordingAgora(clock, max_tasks=agora_tasks)
    workflow = FakeWorkflowControl()
    secrets = FakeSecretStore({
        "uploader": json.dumps({"access_key": "AKIAFAKE", "secret_key": "fake-secret"}),
        "certificate": json.dumps({"app_certificate": "0" * 32}),
    })  # fmt: skip
    config = RecordingSettings.model_validate({
        "agora_app_id": "a" * 32, "agora_rest_secret_name": "rest", "recordings_table": "recordings",
        "recording_state_machine_arn": MACHINE, "recordings_bucket": "bucket",
        "recording_uploader_secret_name": "uploader", "app_certificate_secret_name": "certificate", **settings,
    })  # fmt: skip
    metrics = Metrics()
    deps = RecordingDependencies(
        repo=store, secrets=secrets, workflow_factory=lambda: workflow, agora_factory=lambda: agora,
        clock=clock, rng=random.Random(7), metric=metrics, admission=store if admission else None,
    )  # fmt: skip
    return World(clock, store, agora, workflow, secrets, config, deps, metrics)
