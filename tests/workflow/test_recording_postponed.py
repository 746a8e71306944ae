"""Postponed transcoding end to end: ``POST /recordings`` with ``postponed``, the synthesized workflow in moto,
the emulator recording individual HLS into the stack's bucket, then (after the recording has ended and the
workflow has finished) uploading one MP4 per uid with Agora's names and sending NCS 80/81/1001, applied twice and
in reverse order. ``GET /recordings/{id}`` ends with the result, and its files are the MP4s in the bucket."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.workflow.recording_env import NoticePump, RecordingStack, recording_stack

pytestmark = pytest.mark.slow

HOSTS = (1001, 1002)


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(uploads=True) as stack:
        yield stack


class ReversingPump(NoticePump):
    """Applies this channel's recording notices twice each, every batch in reverse order."""

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        for notice in reversed(batch):
            self.apply(notice, times=2)


def test_the_recording_ends_with_the_postponed_result_recorded(rs: RecordingStack) -> None:
    channel = "later" + uuid.uuid4().hex[:8]
    for uid in HOSTS:
        rs.emulator.join(channel, uid, role="host")
    rs.emulator.world.postpone_seconds = 3.0  # emulated seconds (Agora: up to 24 hours)
    body = {"channel": channel, "mode": "individual", "postponed": {"mode": "transcoding", "container": "mp4"}}
    with ReversingPump(rs, channel) as pump:
        status, created = rs.api("POST", "/recordings", body=body)
        assert status == 202, created
        recording_id = created["recording_id"]
        item = rs.wait_status(recording_id, "RECORDING", timeout=40)
        assert rs.emulator.wait_for(lambda e: len(e.task(item["sid"])["streams"]) == 4, timeout=40)
        assert rs.api("POST", f"/recordings/{recording_id}/stop")[0] == 202
        assert rs.wait_execution(recording_id, timeout=30)["status"] == "SUCCEEDED"
        assert rs.emulator.wait_for(lambda e: e.task(item["sid"])["postponed"]["done"], timeout=30)
        assert rs.emulator.drain_uploads()
        assert rs.emulator.wait_for(lambda e: 1001 in pump.applied and 81 in pump.applied, timeout=10)
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=os.environ["RECORDINGS_BUCKET"], Prefix=f"recordings/{channel}/")
    mp4 = sorted(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".mp4"))
    assert len(mp4) == len(HOSTS)
    assert all(
        key.endswith(f"{item['sid']}_{channel}__uid_s_{uid}__uid_e_0.mp4") for key, uid in zip(mp4, HOSTS, strict=True)
    )
    status, view = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200, view
    assert view["status"] == "STOPPED" and view["outcome"] == "stopped", view
    result = view["postponed"]
    assert result["status"] == "completed" and result["result"] == "total_success", result
    assert result["files"] == mp4
    assert [u["uid"] for u in result["uids"]] == [str(uid) for uid in HOSTS]
    assert result["started_at"] is not None and result["finished_at"] is not None
    assert not any(name.endswith(".mp4") for name in view["files"]), "results are not HLS files"
