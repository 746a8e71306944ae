"""Web page recording with CDN push through the recordings API, against moto and the Agora emulator: the
start sends ``rtmp_publish_service``, NCS event 100 is applied per address (late, repeated, reordered notices
never move an address backwards), the update route replaces the addresses, and what Agora would refuse is a
precise 4xx before Agora is called. Executions are not run: the workflow's own steps arrange the states."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workflow.recording_env import RecordingStack, apply_notices, recording_notice, recording_stack

WEB = {"url": "https://example.com/board"}
FIRST = "rtmp://live.example.com/app/first"
SECOND = "rtmps://live.example.com:443/app/second"


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(execute=False) as stack:
        yield stack


@pytest.fixture
def label() -> str:
    return "cdn board " + uuid.uuid4().hex[:8]


def notice(item: dict[str, Any], sequence: int | None, **details: Any) -> dict[str, Any]:
    """An event 100 (CDN push state) for the recording ``item``."""
    return recording_notice(item, 100, sequence, service_type=6, msgName="rtmp_publish_status", **details)


apply = apply_notices


def emulator_events(rs: RecordingStack, sid: str) -> list[dict[str, Any]]:
    return [n for n in rs.emulator.events() if n.get("productId") == 3 and n["payload"].get("sid") == sid]


def cdn(rs: RecordingStack, recording_id: str) -> list[dict[str, Any]]:
    status, view = rs.api("GET", f"/recordings/{recording_id}")
    assert status == 200, view
    return list(view["cdn"])


def test_a_web_recording_pushes_to_its_cdn(rs: RecordingStack, label: str) -> None:
    item = rs.running(label, mode="web", web=WEB, cdn={"outputs": [FIRST]})
    assert item["cdnUrls"] == [FIRST] and item["cdnOutputs"] == {}
    assert rs.emulator.wait_for(lambda e: e.task(item["sid"])["cdn"] == {FIRST: "publishing"}, timeout=5)
    assert cdn(rs, item["recordingId"]) == [{"url": FIRST, "status": None, "updated_at": None, "current": True}]
    apply(*emulator_events(rs, item["sid"]))
    assert cdn(rs, item["recordingId"])[0]["status"] == "publishing"
    rs.api("POST", f"/recordings/{item['recordingId']}/stop")


def test_event_100_is_ordered_per_address_and_idempotent(rs: RecordingStack, label: str) -> None:
    item = rs.running(label, mode="web", web=WEB, cdn={"outputs": [FIRST]})
    recording_id = item["recordingId"]
    publishing = notice(item, 105, rtmpUrl=FIRST, status="publishing")
    apply(publishing, notice(item, 103, rtmpUrl=FIRST, status="connecting"))  # the older one arrives late
    written = rs.item(recording_id)
    apply(publishing, notice(item, 104, rtmpUrl=FIRST, status="disconnected"))  # a resend, a stale one
    assert rs.item(recording_id) == written, "a repeated or stale event 100 writes nothing (not even updatedAt)"
    assert cdn(rs, recording_id) == [
        {"url": FIRST, "status": "publishing", "updated_at": "2023-11-14T22:13:20.105Z", "current": True}
    ]
    apply(
        notice(item, 106, rtmpUrl=FIRST, status="lost"),  # not one of Agora's states
        notice(item, 107, status="publishing"),  # no address
        notice(item, 108, rtmpUrl=7, status="publishing"),
    )
    assert rs.item(recording_id)["cdnOutputs"] == written["cdnOutputs"]
    apply(notice(item, None, rtmpUrl=SECOND, status="connecting"))  # no sequence: fills an empty slot only
    apply(notice(item, None, rtmpUrl=SECOND, status="disconnected"))
    apply(notice(item, 109, rtmpUrl=FIRST, status="onhold"))
    view = cdn(rs, recording_id)
    assert [(c["url"], c["status"], c["current"]) for c in view] == [
        (FIRST, "onhold", True),
        (SECOND, "connecting", False),  # reported, but not one of the recording's addresses now
    ]
    apply(notice(item, 110, rtmpUrl=SECOND, status="disconnected"))  # a sequenced report orders after it
    assert cdn(rs, recording_id)[1]["status"] == "disconnected"
    rs.api("POST", f"/recordings/{recording_id}/stop")


def test_shuffled_and_repeated_notices_end_in_the_emulator_state(rs: RecordingStack, label: str) -> None:
    item = rs.running(label, mode="web", web=WEB, cdn={"outputs": [FIRST]})
    recording_id = item["recordingId"]
    rs.emulator.wait_for(lambda e: e.task(item["sid"])["cdn"] == {FIRST: "publishing"}, timeout=5)
    status, _ = rs.api("POST", f"/recordings/{recording_id}/update",
                       body={"rtmpPublishConfig": {"outputs": [{"rtmpUrl": SECOND}]}})  # fmt: skip
    assert status == 200
    rs.emulator.wait_for(lambda e: e.task(item["sid"])["cdn"].get(SECOND) == "publishing", timeout=5)
    notices = emulator_events(rs, item["sid"]) * 2
    random.Random(13).shuffle(notices)
    apply(*notices)
    view = cdn(rs, recording_id)
    assert [(c["url"], c["status"], c["current"]) for c in view] == [
        (SECOND, "publishing", True),
        (FIRST, "disconnected", False),
    ]
    rs.api("POST", f"/recordings/{recording_id}/stop")


def test_the_reconciler_fills_in_an_address_no_event_100_reported(rs: RecordingStack, label: str) -> None:
    """Every event 100 lost: the reconciler's query gives the state; a sequenced event 100 still wins over it,
    and an address an event already reported is not overwritten by a query (the two are not ordered)."""
    item = rs.running(label, mode="web", web=WEB, cdn={"outputs": [FIRST]})
    recording_id = item["recordingId"]
    assert rs.emulator.wait_for(lambda e: e.task(item["sid"])["cdn"] == {FIRST: "publishing"}, timeout=5)
    assert cdn(rs, recording_id)[0]["status"] is None  # no notice was applied
    counts = rs.reconcile()
    assert counts["cdn_filled"] >= 1, counts
    filled = rs.item(recording_id)["cdnOutputs"]
    assert [(e["url"], e["status"], e["source"]) for e in filled.values()] == [(FIRST, "publishing", "query")]
    assert cdn(rs, recording_id)[0]["updated_at"] is not None
    rs.reconcile()
    assert rs.item(recording_id)["cdnOutputs"] == filled, "a filled address is not written again"
    apply(notice(item, 201, rtmpUrl=FIRST, status="onhold"))  # a late, sequenced report replaces the query's
    assert cdn(rs, recording_id)[0]["status"] == "onhold"
    rs.reconcile()  # the emulator still says publishing: a reported address keeps its event's state
    assert cdn(rs, recording_id)[0]["status"] == "onhold"
    rs.api("POST", f"/recordings/{recording_id}/stop")


def test_update_replaces_the_addresses(rs: RecordingStack, label: str) -> None:
    item = rs.running(label, mode="web", web=WEB, cdn={"outputs": [FIRST]})
    recording_id = item["recordingId"]
    status, view = rs.api("POST", f"/recordings/{recording_id}/update",
                          body={"rtmpPublishConfig": {"outputs": [{"rtmpUrl": SECOND}]}})  # fmt: skip
    assert status == 200, view
    assert [(c["url"], c["current"]) for c in view["cdn"]] == [(SECOND, True)]
    assert rs.item(recording_id)["cdnUrls"] == [SECOND]
    assert rs.emulator.task(item["sid"])["cdn"][FIRST] == "disconnected"
    status, view = rs.api("POST", f"/recordings/{recording_id}/update",
                          body={"webRecordingConfig": {"onhold": True},
                                "rtmpPublishConfig": {"outputs": [{"rtmpUrl": FIRST}]}})  # fmt: skip
    assert status == 200, view
    assert rs.item(recording_id)["cdnUrls"] == [FIRST]
    rs.api("POST", f"/recordings/{recording_id}/stop")


def test_what_agora_would_refuse_is_a_precise_4xx(rs: RecordingStack, label: str) -> None:
    change = {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": SECOND}]}}
    plain_web = rs.running(label, mode="web", web=WEB)
    status, body = rs.api("POST", f"/recordings/{plain_web['recordingId']}/update", body=change)
    assert status == 409 and "without CDN push" in body["error"]["message"]
    apply(notice(plain_web, 3, rtmpUrl=SECOND, status="publishing"))  # not ours to record
    assert "cdnOutputs" not in rs.item(plain_web["recordingId"])
    rs.api("POST", f"/recordings/{plain_web['recordingId']}/stop")

    channel = "cdnmix" + uuid.uuid4().hex[:8]
    mix = rs.running(channel, mode="mix")
    status, body = rs.api("POST", f"/recordings/{mix['recordingId']}/update", body=change)
    assert status == 409 and "web recordings with CDN push only" in body["error"]["message"]
    rs.api("POST", f"/recordings/{mix['recordingId']}/stop")

    pushing = rs.running(label + "b", mode="web", web=WEB, cdn={"outputs": [FIRST]})
    for bad in (
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": "http://live.example.com/app/key"}]}},
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": FIRST}, {"rtmpUrl": SECOND}]}},
        {"rtmpPublishConfig": {"outputs": []}},
    ):
        status, body = rs.api("POST", f"/recordings/{pushing['recordingId']}/update", body=bad)
        assert status == 422, body
    assert rs.item(pushing["recordingId"])["cdnUrls"] == [FIRST]
    assert rs.emulator.task(pushing["sid"])["cdn"].keys() == {FIRST}
    rs.api("POST", f"/recordings/{pushing['recordingId']}/stop")

    for bad_create in (
        {"channel": "cdnmix2", "mode": "mix", "cdn": {"outputs": [FIRST]}},
        {"channel": "cdn board", "mode": "web", "web": WEB, "cdn": {"outputs": ["rtmp://no-path.example.com"]}},
        {"channel": "cdn board", "mode": "web", "web": WEB, "cdn": {"outputs": [FIRST, SECOND]}},
    ):
        status, body = rs.api("POST", "/recordings", body=bad_create)
        assert status == 422, body
