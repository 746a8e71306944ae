"""Upload status recovered (issue 21): a recording whose stop reply AND NCS event 31 were both lost ends STOPPED
without Agora ever saying its files reached the bucket. The emulator uploads into the stack's bucket (moto),
loses the stop's reply after the effect, and this test's NCS delivery loses every 31/32; reading the recording
settles the status from the bucket's playlists and segments, and writes it once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import NoticePump, RecordingStack, recording_stack

pytestmark = pytest.mark.slow

HOST_UID = 1001


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(uploads=True) as stack:
        yield stack


class LosesUploadEvents(NoticePump):
    """NCS as it can be: every event 31 (uploaded) and 32 (backed up) is lost, the others arrive."""

    def __init__(self, rs: RecordingStack, channel: str):
        super().__init__(rs, channel)
        self.lost: list[int] = []

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        for notice in batch:
            if notice["eventType"] in (31, 32):
                self.lost.append(int(notice["eventType"]))
                continue
            self.apply(notice)


def test_stop_reply_and_event_31_lost_the_bucket_settles_uploaded(rs: RecordingStack) -> None:
    channel = "up" + uuid.uuid4().hex[:10]
    rs.emulator.set_faults(clear=True)
    rs.emulator.join(channel, HOST_UID, role="host")
    with LosesUploadEvents(rs, channel) as pump:
        status, created = rs.api("POST", "/recordings", body={"channel": channel, "mode": "mix"})
        assert status == 202, created
        recording_id = created["recording_id"]
        item = rs.wait_status(recording_id, "RECORDING", timeout=20)
        sid = item["sid"]
        assert rs.emulator.wait_for(
            lambda e: sum(s["segments"] for s in (e.task(sid) or {}).get("streams", {}).values()) >= 3, timeout=20
        )
        rs.emulator.set_faults(script=["timeout_after@stop"], timeout_ms=300)  # stopped at Agora, reply lost
        rs.api("POST", f"/recordings/{recording_id}/stop")
        assert rs.wait_execution(recording_id, timeout=30)["status"] == "SUCCEEDED"
        assert rs.emulator.drain_uploads(timeout=20)
        assert rs.emulator.flush_webhooks(timeout=10)
        assert rs.emulator.wait_for(lambda e: 31 in pump.lost, timeout=10), "the emulator never sent event 31"
    rs.emulator.set_faults(clear=True)
    done = rs.item(recording_id)
    assert done["status"] == "STOPPED" and done["outcome"] == "gone"  # the repeated stop learnt "gone"
    assert "uploadingStatus" not in done  # neither the stop reply nor NCS said it

    status, view = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200, view
    assert view["uploading_status"] == "uploaded" and view["uploading_status_from"] == "bucket"
    settled = rs.item(recording_id)
    assert settled["uploadingStatus"] == "uploaded" and settled["uploadingStatusFrom"] == "bucket"
    assert "uploadSeq" not in settled  # a late NCS 31/32 (sequenced) would still overwrite it

    # a second read finds it written: nothing listed again
    status, again = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200 and again["uploading_status"] == "uploaded"
