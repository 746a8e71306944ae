"""A screenshots recording end to end: ``POST /recordings`` with ``snapshot_config``, the synthesized workflow in
moto, the emulator uploading Agora-named JPGs into the stack's bucket and sending event 45 for each; the notices
applied twice and out of order (NCS repeats and reorders). ``GET /recordings/{id}`` lists exactly the files in
the bucket."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.workflow.recording_env import NoticePump, RecordingStack, recording_stack

pytestmark = pytest.mark.slow

HOST_UID = 1001


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(uploads=True) as stack:
        yield stack


class HostilePump(NoticePump):
    """Applies this channel's recording notices twice each, every batch in reverse order; loses the first 45."""

    def __init__(self, rs: RecordingStack, channel: str):
        super().__init__(rs, channel)
        self.snapshot_events = 0
        self.lost: str | None = None

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        for notice in reversed(batch):
            if notice["eventType"] == 45 and self.lost is None:
                self.lost = notice["payload"]["details"]["fileName"]
                continue
            self.apply(notice, times=2)
            self.snapshot_events += notice["eventType"] == 45


def test_screenshots_land_in_the_bucket_and_on_the_recording(rs: RecordingStack) -> None:
    channel = "shot" + uuid.uuid4().hex[:8]
    rs.emulator.join(channel, HOST_UID, role="host")
    body = {"channel": channel, "mode": "individual", "snapshot_config": {"captureInterval": 5, "fileType": ["jpg"]}}
    with HostilePump(rs, channel) as pump:
        status, created = rs.api("POST", "/recordings", body=body)
        assert status == 202, created
        recording_id = created["recording_id"]
        item = rs.wait_status(recording_id, "RECORDING", timeout=20)
        assert rs.emulator.wait_for(lambda e: len(e.task(item["sid"])["snapshots"]) >= 3, timeout=20)
        assert rs.api("POST", f"/recordings/{recording_id}/stop")[0] == 202
        assert rs.wait_execution(recording_id, timeout=30)["status"] == "SUCCEEDED"
        assert rs.emulator.drain_uploads()
        taken = rs.emulator.task(item["sid"])["snapshots"]
        assert rs.emulator.wait_for(lambda e: pump.snapshot_events >= len(taken) - 1, timeout=10)
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=os.environ["RECORDINGS_BUCKET"], Prefix=f"recordings/{channel}/")
    jpgs = sorted(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".jpg"))
    assert jpgs == sorted(taken) and len(jpgs) >= 3
    assert not [o for o in listed.get("Contents", []) if not o["Key"].endswith(".jpg")], "screenshots only"
    status, view = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200, view
    assert view["status"] == "STOPPED" and view["outcome"] == "stopped", view
    # event 45 lists every screenshot but the one NCS lost
    assert pump.lost in jpgs
    notified = sorted(set(jpgs) - {pump.lost})
    assert view["snapshots"] == notified and view["snapshots_truncated"] is False
    assert sorted(rs.item(recording_id)["snapshotFiles"]) == notified
    # the bucket is the truth: GET /recordings/{id}/snapshots lists all of them, the lost one flagged, presigned
    names = sorted(k.rsplit("/", 1)[1] for k in jpgs)
    status, page = rs.api("GET", f"/recordings/{recording_id}/snapshots", query={"limit": "2", "expires_in": "60"})
    assert status == 200, page
    assert page["total"] == len(jpgs) and page["not_notified"] == 1 and page["url_expires_in"] == 60
    seen = []
    while True:
        for shot in page["snapshots"]:
            assert shot["uid"] == HOST_UID and shot["size"] > 0 and shot["taken_at"] > 0
            assert shot["notified"] == (shot["file"] != pump.lost.rsplit("/", 1)[1])
            assert shot["file"] in shot["url"] and "X-Amz-Expires=60" in shot["url"]
            seen.append(shot["file"])
        if page["next_after"] is None:
            break
        status, page = rs.api("GET", f"/recordings/{recording_id}/snapshots",
                              query={"limit": "2", "after": page["next_after"], "expires_in": "60"})  # fmt: skip
        assert status == 200, page
    assert seen == names
    times = [int(name.rsplit("_", 1)[1][:-4]) for name in names]
    assert times == sorted(times)
    assert rs.api("GET", f"/recordings/{recording_id}/snapshots", query={"limit": "0"})[0] == 400
    assert rs.api("GET", f"/recordings/{uuid.uuid4()}/snapshots")[0] == 404
    assert rs.api("GET", f"/recordings/{recording_id}/snapshots", groups=("hosts",))[0] == 403
