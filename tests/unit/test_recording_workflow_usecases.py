"""``service.recordings.workflow``, ``resolve`` and ``reconcile`` against the fakes, in virtual time: the steps,
resource TTL, Agora's odd codes, an unknown start resolved either way, and the reconciler's repairs."""

from __future__ import annotations

import pytest
from agorakit.agora.errors import AgoraAlreadyStartedError, AgoraResourceExpiredError, AgoraServerError
from service.errors import Conflict
from service.recordings import logic, resolve
from service.recordings.repository import CLEANUP

from tests.unit.recording_world import HOST, World, world


@pytest.fixture
def w() -> World:
    return world()


def test_a_recording_from_acquire_to_finalize(w: World) -> None:
    recording_id = w.recording_started()
    rec = w.store.get(recording_id)
    assert rec is not None and rec.status == logic.RECORDING and rec.sid and rec.task_token
    assert logic.RECORDER_UID_MIN <= (rec.recorder_uid or 0) <= logic.RECORDER_UID_MAX
    w.agora.record(rec.sid, "a.m3u8", "a_0.ts")
    w.deps.workflow.complete_wait(rec.task_token, "api")
    stopped = w.step("stop", recording_id, wait={"reason": "api"})
    assert (stopped["outcome"], stopped["fileList"], stopped["reason"]) == ("stopped", ["a.m3u8", "a_0.ts"], "api")
    done = w.step("finalize", recording_id, stop=stopped)
    assert done["status"] == logic.STOPPED
    final = w.store.get(recording_id)
    assert final is not None and final.file_names == {"a.m3u8", "a_0.ts"} and final.stop_reason == "api"
    assert final.task_token is None and w.store.lock_holder("room") is None
    assert ("RecordingsEnded", 1, {"StopReason": "api"}) in w.metrics.seen


def test_a_resource_older_than_its_ttl_is_refused_before_agora_and_acquired_again(w: World) -> None:
    recording_id = w.create("room")
    first = w.step("acquire", recording_id)
    w.clock.advance(w.settings.recording_resource_max_age_seconds + 1)
    calls = len(w.agora.calls)
    with pytest.raises(AgoraResourceExpiredError):
        w.step("start", recording_id)
    assert len(w.agora.calls) == calls  # refused here: Agora was not asked
    rec = w.store.get(recording_id)
    assert rec is not None and rec.last_error is not None and rec.last_error.code == 433
    again = w.step("acquire", recording_id, reacquires=1)
    assert again["resourceId"] != first["resourceId"]
    assert w.step("start", recording_id)["outcome"] == "started"
    assert w.store.get(recording_id).reacquires == 1  # type: ignore[union-attr]


def test_agora_expiring_the_resource_sooner_is_the_same_error(w: World) -> None:
    w.agora.resource_ttl = 60  # Agora's clock says the resource is gone before ours does
    recording_id = w.create("room")
    w.step("acquire", recording_id)
    w.clock.advance(61)
    with pytest.raises(AgoraResourceExpiredError):
        w.step("start", recording_id)
    assert w.store.get(recording_id).last_error.step == "start"  # type: ignore[union-attr]


def test_a_start_that_may_have_worked_is_not_a_failure(w: World) -> None:
    recording_id = w.create("room")
    w.step("acquire", recording_id)
    w.agora.fail("start", AgoraServerError("gateway timeout", http_status=504))
    assert w.step("start", recording_id) == {"outcome": resolve.UNKNOWN}
    rec = w.store.get(recording_id)
    assert rec is not None and rec.status == logic.STARTING and rec.start_resolution is not None
    assert rec.start_resolution.http_status == 504 and w.store.lock_holder("room") == recording_id
    assert w.step("start", recording_id) == {"outcome": resolve.UNKNOWN}  # a retried step: resolve finds out


def test_resolve_adopts_the_task_the_second_start_reports(w: World) -> None:
    recording_id = w.create("room")
    w.step("acquire", recording_id)
    w.agora.fail("start", AgoraServerError("gateway timeout", http_status=504))
    w.step("start", recording_id)
    looked = w.step("resolve", recording_id)  # the first start never arrived: the same start now works
    assert looked["resolution"] == resolve.ADOPTED
    rec = w.store.get(recording_id)
    assert rec is not None and rec.status == logic.RECORDING and rec.sid == looked["sid"]
    assert [r.outcome for r in rec.resolutions] == [resolve.ADOPTED] and rec.start_resolution is None


def test_resolve_removes_a_recorder_nobody_named_once_the_window_passed(w: World) -> None:
    recording_id = w.create("room")
    w.step("acquire", recording_id)
    w.agora.fail("start", AgoraAlreadyStartedError("already started", code=7, http_status=201))
    w.step("start", recording_id)
    w.agora.fail("start", AgoraAlreadyStartedError("already started", code=7, http_status=201))
    assert w.step("resolve", recording_id)["resolution"] == resolve.PENDING  # 201/7: something runs
    w.clock.advance(w.settings.recording_resolve_seconds - 10)
    assert w.step("resolve", recording_id)["resolution"] == resolve.PENDING  # still inside the window
    w.clock.advance(11)
    assert w.step("resolve", recording_id)["resolution"] == resolve.PENDING  # kicked, seen absent once
    assert w.agora.rules and "create_kicking_rule" in w.agora.calls
    w.clock.advance(w.settings.recording_resolve_poll_seconds)
    removed = w.step("resolve", recording_id)
    assert removed["resolution"] == resolve.REMOVED and not w.agora.rules  # the rule was lifted
    rec = w.store.get(recording_id)
    assert rec is not None and rec.status == logic.STARTING and rec.start_resolution is None
    assert rec.resolutions[-1].outcome == resolve.REMOVED and rec.resolutions[-1].rule_lifted is True


def test_stop_of_a_task_that_already_exited_is_gone_not_a_failure(w: World) -> None:
    recording_id = w.recording_started()
    rec = w.store.get(recording_id)
    assert rec is not None and rec.sid
    w.agora.exit(rec.sid)
    stopped = w.step("stop", recording_id, wait={"reason": "recorder_exited"})
    assert stopped["outcome"] == "gone" and stopped["reason"] == "recorder_exited"


def test_a_stop_requested_before_the_start_skips_it(w: World) -> None:
    recording_id = w.create("room")
    w.store.request_stop(recording_id, "api")
    assert w.step("acquire", recording_id) == {"skipped": True}
    assert w.agora.calls == []


def test_the_fail_handler_reports_agoras_error_stops_the_recorder_and_frees_the_channel(w: World) -> None:
    recording_id = w.recording_started()
    rec = w.store.get(recording_id)
    assert rec is not None and rec.sid
    w.step("fail", recording_id, error={"Error": "States.Timeout", "Cause": "the step timed out"})
    failed = w.store.get(recording_id)
    assert failed is not None and failed.status == logic.FAILED and failed.failure is not None
    assert failed.failure.type == "States.Timeout" and failed.recorder_gone
    assert w.agora.tasks[rec.sid].exited and w.store.lock_holder("room") is None


def test_a_recorder_that_cannot_be_confirmed_gone_keeps_the_channel_until_the_reconciler_can(w: World) -> None:
    from service.recordings.reconcile import reconcile

    recording_id = w.create("room", mode="web", web={"url": "https://example.com/page"})
    w.step("acquire", recording_id)
    w.agora.fail("start", AgoraServerError("gateway timeout", http_status=504))
    w.step("start", recording_id)
    w.step("fail", recording_id, error={"Error": "AgoraServerError", "Cause": "{}"})
    rec = w.store.get(recording_id)
    assert rec is not None and rec.status == logic.FAILED and rec.active_status == CLEANUP
    assert w.store.lock_holder("room") == recording_id
    with pytest.raises(Conflict):
        w.create("room")  # the channel stays locked while a recorder may be in it
    assert reconcile(settings=w.settings, deps=w.deps)["cleaned"] == 0  # a web recorder: still unconfirmed


def test_the_reconciler_completes_a_recording_whose_recorder_left_after_the_grace(w: World) -> None:
    from service.recordings.reconcile import reconcile

    recording_id = w.recording_started()
    rec = w.store.get(recording_id)
    assert rec is not None and rec.sid
    assert reconcile(settings=w.settings, deps=w.deps)["running"] == 1
    w.agora.exit(rec.sid)
    assert reconcile(settings=w.settings, deps=w.deps)["in_grace"] == 1  # HA may still move it
    w.clock.advance(w.settings.recording_ha_grace_seconds + 1)
    counts = reconcile(settings=w.settings, deps=w.deps)
    assert counts["completed"] == 1
    assert w.workflow.tokens[f"token-{recording_id}"] == logic.REASON_RECONCILER


def test_the_reconciler_fails_a_recording_whose_execution_ended(w: World) -> None:
    from service.recordings.reconcile import reconcile

    recording_id = w.recording_started()
    w.workflow.end(recording_id, "ABORTED")
    assert reconcile(settings=w.settings, deps=w.deps)["repaired"] == 0  # updated too recently to judge
    w.clock.advance(w.settings.recording_stale_seconds + 1)
    assert reconcile(settings=w.settings, deps=w.deps)["repaired"] == 1
    rec = w.store.get(recording_id)
    assert rec is not None and rec.status == logic.FAILED and rec.failure is not None
    assert rec.failure.type == "ExecutionEnded" and w.store.lock_holder("room") is None


def test_a_host_in_the_channel_is_not_the_recorder(w: World) -> None:
    recording_id = w.recording_started()
    rec = w.store.get(recording_id)
    assert rec is not None and rec.recorder_uid != HOST
    assert w.agora.user_status("room", HOST)["in_channel"] is True
