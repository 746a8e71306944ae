"""``service.recordings.operations`` against the fakes (``tests/unit/recording_world.py``): create with the
channel lock and the Idempotency-Key, stop, and the precise 4xx of bad input, at unit speed."""

from __future__ import annotations

import pytest
from service.auth import Caller
from service.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable, UpstreamUnavailable
from service.recordings import logic, operations
from service.recordings.models import LayoutRequest, RecordingRequest

from tests.unit.recording_world import ADMIN, World, world


@pytest.fixture
def w() -> World:
    return world()


def _request(channel: str = "room", **body: object) -> RecordingRequest:
    return RecordingRequest.model_validate({"channel": channel, **body})


def test_create_stores_a_requested_recording_takes_the_channel_and_starts_its_workflow(w: World) -> None:
    recording_id = w.create("room")
    rec = w.store.get(recording_id)
    assert rec is not None and (rec.status, rec.channel, rec.mode, rec.requested_by) == (
        logic.REQUESTED, "room", "mix", ADMIN.subject,
    )  # fmt: skip
    assert rec.execution_arn == logic.execution_arn(w.settings.recording_state_machine_arn or "", recording_id)
    assert w.store.lock_holder("room") == recording_id
    assert w.workflow.executions[recording_id].payload == {"recordingId": recording_id}
    assert w.metrics.names() == ["RecordingRequested"]


def test_a_channel_has_one_active_recording_and_is_free_once_it_ended(w: World) -> None:
    first = w.create("room")
    with pytest.raises(Conflict) as busy:
        w.create("room")
    assert busy.value.status == 409 and busy.value.details == {"active_recording_id": first}
    w.store.transition(first, logic.FAILED)  # ended without releasing its lock (a crashed finalize)
    second = w.create("room")
    assert w.store.lock_holder("room") == second != first


def test_the_same_idempotency_key_replays_and_another_body_is_refused(w: World) -> None:
    status, first = operations.create_recording(ADMIN, _request(), "key-1", settings=w.settings, deps=w.deps)
    status_again, again = operations.create_recording(ADMIN, _request(), "key-1", settings=w.settings, deps=w.deps)
    assert (status, status_again) == (202, 202) and again == first
    assert len(w.workflow.executions) == 1
    with pytest.raises(Unprocessable, match="different request body"):
        operations.create_recording(ADMIN, _request("other"), "key-1", settings=w.settings, deps=w.deps)
    other_caller = Caller("someone-else", frozenset({"admins"}))
    status, theirs = operations.create_recording(other_caller, _request("else"), "key-1", settings=w.settings,
                                                 deps=w.deps)  # fmt: skip
    assert theirs["recording_id"] != first["recording_id"]  # keys are per caller


def test_a_workflow_that_cannot_start_leaves_nothing_behind(w: World) -> None:
    w.workflow.fail_next_start = RuntimeError("Step Functions is down")
    with pytest.raises(UpstreamUnavailable):
        operations.create_recording(ADMIN, _request(), "key-2", settings=w.settings, deps=w.deps)
    (rec,) = w.store.items.values()
    assert rec["status"] == logic.FAILED and rec["errorType"] == "WorkflowNotStarted"
    assert w.store.lock_holder("room") is None
    retried = operations.create_recording(ADMIN, _request(), "key-2", settings=w.settings, deps=w.deps)[1]
    assert retried["recording_id"] != rec["recordingId"]  # the key was withdrawn: a retry creates afresh
    assert "RecordingFailed" in w.metrics.names()


@pytest.mark.parametrize(
    ("caller", "key", "body", "error"),
    [
        (Caller("user", frozenset({"users"})), None, {}, Forbidden),
        (ADMIN, "has space", {}, BadRequest),
        (ADMIN, None, {"acquire": {"region": "EU"}}, Unprocessable),  # the bucket is in us-east-1 (area NA)
    ],
)
def test_bad_input_is_a_precise_4xx_before_anything_is_written(
    w: World, caller: Caller, key: str | None, body: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        operations.create_recording(caller, _request(**body), key, settings=w.settings, deps=w.deps)
    assert w.store.items == {} and w.workflow.executions == {}


def test_reads_of_unknown_or_malformed_ids_and_bad_listings_are_4xx(w: World) -> None:
    for recording_id in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(NotFound):
            operations.get_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    with pytest.raises(BadRequest):
        operations.list_recordings(ADMIN, channel=None, limit=0, next_token=None, settings=w.settings, deps=w.deps)
    with pytest.raises(BadRequest):
        operations.list_recordings(ADMIN, channel="room", limit=5, next_token="garbage", settings=w.settings,
                                   deps=w.deps)  # fmt: skip


def test_a_configuration_without_the_workflow_is_unavailable_not_a_crash() -> None:
    w = world(recording_state_machine_arn=None)
    with pytest.raises(UpstreamUnavailable):
        w.create("room")


def test_stop_asks_once_ends_the_wait_and_reports_200_once_over(w: World) -> None:
    recording_id = w.recording_started()
    status, view = operations.stop_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert (status, view["stop_requested"]) == (202, "api")
    assert w.workflow.tokens[f"token-{recording_id}"] == "api"
    status, _ = operations.stop_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert status == 202  # still stopping: the same answer, nothing new
    w.step("stop", recording_id, wait={"reason": "api"})
    w.step("finalize", recording_id, stop={"outcome": "empty", "fileList": [], "reason": "api"})
    status, view = operations.stop_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
    assert (status, view["status"]) == (200, logic.STOPPED)


def test_changes_wait_for_a_recording_task_and_refuse_the_wrong_mode(w: World) -> None:
    recording_id = w.create("room")
    layout = LayoutRequest.model_validate({"mixedVideoLayout": 1})
    with pytest.raises(Conflict) as early:
        operations.update_layout(ADMIN, recording_id, layout, settings=w.settings, deps=w.deps)
    assert early.value.headers.get("Retry-After") == "2"
    started = w.recording_started("other")
    view = operations.update_layout(ADMIN, started, layout, settings=w.settings, deps=w.deps)
    assert view["status"] == logic.RECORDING and w.agora.calls[-1] == "update_layout"
    assert w.store.get(started).op_lock is None  # type: ignore[union-attr]
    individual = world()
    individual.agora.join("solo", 1001)
    rid = individual.create("solo", mode="individual")
    with pytest.raises(Conflict, match="mix recordings"):
        operations.update_layout(ADMIN, rid, layout, settings=individual.settings, deps=individual.deps)


def test_listing_shows_a_channels_recordings_newest_first_and_the_active_ones(w: World) -> None:
    first = w.create("room")
    w.store.transition(first, logic.FAILED)
    w.clock.advance(1)
    second = w.create("room")
    page = operations.list_recordings(ADMIN, channel="room", limit=None, next_token=None, settings=w.settings,
                                      deps=w.deps)  # fmt: skip
    assert [r["recording_id"] for r in page["recordings"]] == [second, first]
    active = operations.list_recordings(ADMIN, channel=None, limit=None, next_token=None, settings=w.settings,
                                        deps=w.deps)  # fmt: skip
    assert [r["recording_id"] for r in active["recordings"]] == [second]


def test_a_postponed_result_that_never_came_reads_overdue_on_the_use_cases_clock(w: World) -> None:
    w.agora.join("late", 1001)
    recording_id = w.create("late", mode="individual", postponed={"mode": "transcoding"})
    w.step("acquire", recording_id)
    w.step("start", recording_id)
    w.step("wait", recording_id, taskToken=w.workflow.park("token-late"))
    w.store.request_stop(recording_id, "api")
    w.step("stop", recording_id, wait={"reason": "api"})
    w.step("finalize", recording_id, stop={"outcome": "empty", "fileList": [], "reason": "api"})

    def status() -> str:
        view = operations.get_recording(ADMIN, recording_id, settings=w.settings, deps=w.deps)
        return str(view["postponed"]["status"])

    assert status() == "pending"
    w.clock.advance(24 * 3600)
    assert status() == "pending"  # Agora has 24 hours (and we give it one more)
    w.clock.advance(3600 + 1)
    assert status() == "overdue"
