"""A web page recording with CDN push through the SYNTHESIZED state machine (moto's interpreter, the real task
handlers, the Agora emulator): it starts with ``rtmp_publish_service``, NCS event 100 statuses reach the
recording (delivered twice and out of order, as NCS may), the update route moves the push to another
address, and the stop ends the recording and the push."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import RecordingStack, processor_applier, recording_stack

pytestmark = pytest.mark.slow

FIRST = "rtmp://live.example.com/app/first"
SECOND = "rtmps://live.example.com:443/app/second"


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack() as stack:
        yield stack


def deliver(rs: RecordingStack, sid: str, rng: random.Random) -> list[int]:
    """The webhook processor's work on this recording's notices, each delivered twice in a shuffled order."""
    apply_recording_event = processor_applier()
    notices = [n for n in rs.emulator.events() if n.get("productId") == 3 and n["payload"].get("sid") == sid]
    notices = notices * 2
    rng.shuffle(notices)
    for notice in notices:
        apply_recording_event(notice)
    return [n["eventType"] for n in notices]


def cdn(rs: RecordingStack, recording_id: str) -> list[tuple[str, Any, bool]]:
    status, view = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200, view
    return [(c["url"], c["status"], c["current"]) for c in view["cdn"]]


def test_web_recording_with_cdn_push_end_to_end(rs: RecordingStack) -> None:
    rng = random.Random(11)
    label = "cdn workflow " + uuid.uuid4().hex[:8]
    status, created = rs.api(
        "POST", "/recordings", body={"channel": label, "mode": "web", "web": {"url": "https://example.com/show"},
                                     "cdn": {"outputs": [FIRST]}},
    )  # fmt: skip
    assert status == 202, created
    recording_id = created["recording_id"]
    item = rs.wait_status(recording_id, "RECORDING")
    sid = item["sid"]
    services = rs.emulator.task(sid)  # the task Agora runs: both extension services
    assert services is not None and services["mode"] == "web"
    assert rs.emulator.wait_for(lambda e: e.task(sid)["cdn"] == {FIRST: "publishing"}, timeout=5)

    assert 100 in deliver(rs, sid, rng)
    assert cdn(rs, recording_id) == [(FIRST, "publishing", True)]

    status, view = rs.api("POST", f"/recordings/{recording_id}/update",
                          body={"rtmpPublishConfig": {"outputs": [{"rtmpUrl": SECOND}]}})  # fmt: skip
    assert status == 200, view
    assert rs.emulator.wait_for(lambda e: e.task(sid)["cdn"] == {FIRST: "disconnected", SECOND: "publishing"}, 5)
    deliver(rs, sid, rng)
    assert cdn(rs, recording_id) == [(SECOND, "publishing", True), (FIRST, "disconnected", False)]

    status, _ = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert status in (200, 202)
    assert rs.wait_execution(recording_id)["status"] == "SUCCEEDED"
    deliver(rs, sid, rng)
    item = rs.item(recording_id)
    assert item["status"] == "STOPPED" and item["stopReason"] == "api"
    assert cdn(rs, recording_id) == [(SECOND, "disconnected", True), (FIRST, "disconnected", False)]
    status, body = rs.api("POST", f"/recordings/{recording_id}/update",
                          body={"rtmpPublishConfig": {"outputs": [{"rtmpUrl": FIRST}]}})  # fmt: skip
    assert status == 409, body  # a stopped recording pushes nowhere
