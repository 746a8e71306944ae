"""The recording workflow against a hostile Agora: replies lost after the effect, NCS events lost, the
network cut while a recorder runs. The synthesized state machine runs in moto with the real handlers and
the emulator; every test checks the final DynamoDB state AND the emulator's task history: never two
recorders in one channel at one time, and none left running once the recording has ended.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from service.recordings.repository import status_key

from tests.workflow.recording_env import NoticePump, RecordingStack, recording_stack

pytestmark = pytest.mark.slow

HOST_UID = 1001


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack() as stack:
        yield stack


@pytest.fixture
def channel(rs: RecordingStack) -> Iterator[str]:
    name = "hx" + uuid.uuid4().hex[:10]
    rs.emulator.set_faults(clear=True)
    yield name
    rs.emulator.set_faults(clear=True)
    assert_history_clean(rs, name)


def assert_history_clean(rs: RecordingStack, channel: str) -> list[dict[str, Any]]:
    """No overlap in the channel, and no recorder left once the recording ended."""
    assert rs.emulator.wait_for(
        lambda e: not [t for t in e.task_history(channel) if t["ended_at"] is None], timeout=10
    ), f"a recorder is still running in {channel}: {rs.emulator.task_history(channel)}"
    history = rs.emulator.task_history(channel)
    sids = {t["sid"] for t in history}
    assert not [pair for pair in rs.emulator.overlapping_tasks() if set(pair) & sids], history
    return history


def start(rs: RecordingStack, channel: str, **body: Any) -> str:
    status, payload = rs.api("POST", "/recordings", body={"channel": channel, **body})
    assert status == 202, payload
    return str(payload["recording_id"])


class Pump(NoticePump):
    """The webhook intake in miniature: applies this channel's NCS recording notices as they appear."""


def test_lost_start_reply_the_task_is_adopted(rs: RecordingStack, channel: str) -> None:
    """206/65 after the effect: the recorder runs; NCS names its sid; the workflow adopts it (no 2nd task)."""
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.emulator.set_faults(script=["206_65_after@start"])
    with Pump(rs, channel):
        recording_id = start(rs, channel)
        item = rs.wait_status(recording_id, "RECORDING", timeout=20)
        history = rs.emulator.task_history(channel)
        assert [t["sid"] for t in history] == [item["sid"]], "the started task is the one adopted"
        assert [r["outcome"] for r in item["resolutions"]] == ["adopted"]
        assert "ResolveStart" in rs.states_entered(recording_id)
        status, _ = rs.api("POST", f"/recordings/{recording_id}/stop")
        assert status == 202
        assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["stopReason"] == "api" and item["outcome"] == "stopped"
    assert "startResolution" not in item and "candidateSid" not in item
    assert len(assert_history_clean(rs, channel)) == 1


def test_lost_start_reply_and_lost_events_remove_the_recorder_then_start_again(
    rs: RecordingStack, channel: str
) -> None:
    """A timeout after the effect and no NCS at all: after the resolve window the recorder uid is kicked,
    confirmed absent, the rule lifted, and a new acquire (new uid) starts the one recorder of the channel."""
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.emulator.set_faults(script=["timeout_after@start"], timeout_ms=300)
    recording_id = start(rs, channel)
    item = rs.wait_status(recording_id, "RECORDING", timeout=30)
    first, second = rs.emulator.task_history(channel)
    assert first["ended_at"] is not None and second["sid"] == item["sid"]
    assert first["uid"] != second["uid"] and int(second["uid"]) == int(item["recorderUid"])
    removed = item["resolutions"][0]
    assert removed["outcome"] == "removed" and removed["ruleLifted"] is True
    assert int(removed["recorderUid"]) == int(first["uid"])
    assert not rs.emulator.world.rules, "the kicking rule was lifted"
    assert int(item["reacquires"]) == 1
    assert rs.api("POST", f"/recordings/{recording_id}/stop")[0] == 202
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    assert rs.item(recording_id)["status"] == "STOPPED"
    assert len(assert_history_clean(rs, channel)) == 2


def test_stop_during_an_unknown_start_ends_without_a_recorder(rs: RecordingStack, channel: str) -> None:
    """A stop while the start's outcome is unknown: the channel stays locked (409) until the recorder is
    gone; then STOPPED, and the channel is free."""
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.emulator.set_faults(script=["5xx_after@start"])
    recording_id = start(rs, channel)
    deadline = time.monotonic() + 15
    while "startResolution" not in rs.item(recording_id):
        assert time.monotonic() < deadline, rs.item(recording_id)
        time.sleep(0.05)
    assert rs.api("POST", f"/recordings/{recording_id}/stop")[0] == 202
    status, body = rs.api("POST", "/recordings", body={"channel": channel})
    assert status == 409 and body["error"]["details"]["active_recording_id"] == recording_id
    assert rs.wait_execution(recording_id, timeout=30)["status"] == "SUCCEEDED"
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["outcome"] == "not_started" and item["stopReason"] == "api"
    assert [r["outcome"] for r in item["resolutions"]] == ["removed"]
    assert len(assert_history_clean(rs, channel)) == 1
    again = start(rs, channel)  # the channel is free again
    rs.wait_status(again, "RECORDING", timeout=20)
    rs.api("POST", f"/recordings/{again}/stop")
    assert rs.wait_execution(again)["status"] == "SUCCEEDED"


def test_a_failed_recording_keeps_its_channel_until_the_recorder_is_confirmed_gone(
    rs: RecordingStack, channel: str
) -> None:
    """Agora unreachable while a recorder runs: the stop fails, the recording is FAILED, but the channel
    stays locked (a new POST gets 409) until the reconciler confirms the recorder gone."""
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel)
    item = rs.wait_status(recording_id, "RECORDING", timeout=20)
    rs.link.down()
    try:
        rs.api("POST", f"/recordings/{recording_id}/stop")
        assert rs.wait_execution(recording_id, timeout=60)["status"] == "FAILED"
        failed = rs.item(recording_id)
        assert failed["status"] == "FAILED" and failed["recorderUnconfirmed"]
        assert failed["activeStatus"] == status_key("CLEANUP", recording_id)
        status, body = rs.api("POST", "/recordings", body={"channel": channel})
        assert status == 409 and body["error"]["details"]["active_recording_id"] == recording_id
        assert (rs.emulator.task(item["sid"]) or {}).get("state") == "running"
    finally:
        rs.link.up()
    counts = rs.reconcile()
    assert counts["cleaned"] == 1, counts
    done = rs.item(recording_id)
    assert done["recorderGone"] and "recorderUnconfirmed" not in done and "activeStatus" not in done
    assert_history_clean(rs, channel)
    again = start(rs, channel)
    rs.wait_status(again, "RECORDING", timeout=20)
    rs.api("POST", f"/recordings/{again}/stop")
    assert rs.wait_execution(again)["status"] == "SUCCEEDED"


def test_a_stop_whose_reply_was_lost_is_found_out_not_assumed(rs: RecordingStack, channel: str) -> None:
    """The stop takes effect and its reply is lost: the Retry's repeated stop learns "gone" (404/49)."""
    rs.emulator.join(channel, HOST_UID, role="host")
    recording_id = start(rs, channel)
    item = rs.wait_status(recording_id, "RECORDING", timeout=20)
    rs.emulator.set_faults(script=["timeout_after@stop"], timeout_ms=300)
    rs.api("POST", f"/recordings/{recording_id}/stop")
    assert rs.wait_execution(recording_id, timeout=30)["status"] == "SUCCEEDED"
    done = rs.item(recording_id)
    assert done["status"] == "STOPPED" and done["outcome"] == "gone" and done["stopReason"] == "api"
    assert [t["sid"] for t in assert_history_clean(rs, channel)] == [item["sid"]]
    failures = [e for e in rs.history(recording_id) if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failures] == ["AgoraUnavailableError"]
