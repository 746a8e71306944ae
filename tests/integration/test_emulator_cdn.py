"""Web page recording with CDN push (``rtmp_publish_service``), client against the emulator: the start body
is checked as Agora checks it, each address's state is reported with NCS event 100 (also through the hostile
sender), ``update`` ``rtmpPublishConfig`` replaces the addresses and ``webRecordingConfig.onhold`` pauses."""

from __future__ import annotations

from typing import Any

import pytest
from agorakit.agora.errors import AgoraError

from tests.integration._emulator_fixtures import WebhookReceiver, make_client, make_emulator, storage, wait_until

PAGE = {"url": "https://example.com/board", "audioProfile": 0, "videoWidth": 1280, "videoHeight": 720,
        "maxRecordingHour": 1}  # fmt: skip
FIRST = "rtmp://live.example.com/app/first"
SECOND = "rtmps://live.example.com:443/app/second"


@pytest.fixture(scope="module")
def emu():
    emulator = make_emulator(qps=1000, time_scale=20.0).start()
    yield emulator
    emulator.stop()


def services(*urls: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    listed: list[dict[str, Any]] = [
        {"serviceName": "web_recorder_service", "errorHandlePolicy": "error_abort", "serviceParam": PAGE}
    ]
    if urls:
        listed.append({"serviceName": "rtmp_publish_service", "errorHandlePolicy": "error_ignore",
                       "serviceParam": {"outputs": [{"rtmpUrl": u} for u in urls]}})  # fmt: skip
    return {"errorHandlePolicy": "error_abort", "extensionServices": listed + (extra or [])}


def start_web(emu, label: str, uid: int, *urls: str) -> tuple[Any, str, str]:
    client = make_client([emu.url])
    rid = client.acquire(label, uid, scene=1)
    sid = client.start(rid, label, uid, "web", token=None, storage_config=storage(),
                       extension_service_config=services(*urls)).sid  # fmt: skip
    return client, rid, sid


def cdn_events(emu, sid: str) -> list[tuple[str, str]]:
    return [
        (e["payload"]["details"]["rtmpUrl"], e["payload"]["details"]["status"])
        for e in emu.events()
        if e["eventType"] == 100 and e["payload"]["sid"] == sid
    ]


def test_the_push_connects_publishes_moves_pauses_and_disconnects(emu) -> None:
    client, rid, sid = start_web(emu, "web board 1", 31, FIRST)
    assert wait_until(lambda: (FIRST, "publishing") in cdn_events(emu, sid))
    assert cdn_events(emu, sid)[:2] == [(FIRST, "connecting"), (FIRST, "publishing")]
    envelope = next(e for e in emu.events() if e["eventType"] == 100)
    assert envelope["productId"] == 3 and envelope["payload"]["serviceType"] == 6
    assert envelope["payload"]["details"]["msgName"] == "rtmp_publish_status"
    state = client.query(rid, sid, "web").raw["serverResponse"]["extensionServiceState"]
    push = next(s for s in state if s["serviceName"] == "rtmp_publish_service")
    assert push["payload"]["outputs"] == [{"rtmpUrl": FIRST, "status": "publishing"}]

    client.update(rid, sid, "web board 1", 31, "web", {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": SECOND}]}})
    assert wait_until(lambda: (SECOND, "publishing") in cdn_events(emu, sid))
    assert (FIRST, "disconnected") in cdn_events(emu, sid)
    assert emu.task(sid)["cdn"] == {FIRST: "disconnected", SECOND: "publishing"}

    client.update(rid, sid, "web board 1", 31, "web", {"webRecordingConfig": {"onhold": True}})
    assert cdn_events(emu, sid)[-1] == (SECOND, "onhold")
    client.update(rid, sid, "web board 1", 31, "web", {"webRecordingConfig": {"onhold": False}})
    assert cdn_events(emu, sid)[-1] == (SECOND, "publishing")

    client.stop(rid, sid, "web board 1", 31, "web")
    assert cdn_events(emu, sid)[-1] == (SECOND, "disconnected")
    sequences = [e["payload"]["sequence"] for e in emu.events() if e["payload"].get("sid") == sid]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


def test_an_unreachable_cdn_disconnects_without_ending_the_recording(emu) -> None:
    client, rid, sid = start_web(emu, "web board 2", 32, "rtmp://cdn.invalid/app/key")
    assert wait_until(lambda: ("rtmp://cdn.invalid/app/key", "disconnected") in cdn_events(emu, sid))
    assert ("rtmp://cdn.invalid/app/key", "publishing") not in cdn_events(emu, sid)
    assert emu.task(sid)["state"] == "running"  # error_ignore: the page recording goes on
    client.stop(rid, sid, "web board 2", 32, "web")


def test_a_web_recording_without_push_reports_no_cdn_state(emu) -> None:
    client, rid, sid = start_web(emu, "web board 3", 33)
    state = client.query(rid, sid, "web").raw["serverResponse"]["extensionServiceState"]
    assert [s["serviceName"] for s in state] == ["web_recorder_service"]
    with pytest.raises(AgoraError) as refused:  # no push to change
        client.update(rid, sid, "web board 3", 33, "web", {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": FIRST}]}})
    assert refused.value.code == 2
    client.stop(rid, sid, "web board 3", 33, "web")
    assert cdn_events(emu, sid) == []


@pytest.mark.parametrize(
    ("mode", "config"),
    [
        ("web", services("http://live.example.com/app/key")),  # not RTMP
        ("web", services("rtmp://live.example.com")),  # no stream path
        ("web", services(FIRST, SECOND)),  # more than one output
        ("web", services(FIRST, extra=[services(SECOND)["extensionServices"][1]])),  # two push services
        ("web", {"extensionServices": [services(FIRST)["extensionServices"][1]]}),  # no web_recorder_service
        ("web", services(FIRST, extra=[{"serviceName": "cdn_service", "serviceParam": {}}])),
        ("mix", services(FIRST)),  # CDN push is for web mode only
    ],
)
def test_start_bodies_agora_refuses(emu, mode: str, config: dict[str, Any]) -> None:
    client = make_client([emu.url])
    label = "room4" if mode == "mix" else "web board 4"
    rid = client.acquire(label, 34, scene=1 if mode == "web" else 0)
    if mode == "web":
        body = client.start_body(label, 34, "web", token=None, storage_config=storage(),
                                 extension_service_config=config)  # fmt: skip
    else:
        body = client.start_body(label, 34, "mix", token=None, storage_config=storage())
        body["clientRequest"]["extensionServiceConfig"] = config
    with pytest.raises(AgoraError) as refused:
        client._call("start", "POST", client._task_path(rid, None, mode, "start"), body=body)
    assert refused.value.code == 2
    assert not [t for t in emu.tasks() if t["cname"] == label and t["state"] == "running"]


def test_updates_agora_refuses_change_nothing(emu) -> None:
    client, rid, sid = start_web(emu, "web board 5", 35, FIRST)
    for bad in (
        {"rtmpPublishConfig": {"outputs": []}},
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": SECOND}, {"rtmpUrl": FIRST}]}},
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": "srt://live.example.com/app/key"}]}},
        {"webRecordingConfig": {"onhold": "yes"}},
    ):
        with pytest.raises(AgoraError) as refused:
            client.update(rid, sid, "web board 5", 35, "web", bad)
        assert refused.value.code == 2
    assert set(emu.task(sid)["cdn"]) == {FIRST}
    client.stop(rid, sid, "web board 5", 35, "web")


def test_event_100_goes_through_the_hostile_sender() -> None:
    receiver = WebhookReceiver()
    emulator = make_emulator(qps=1000, time_scale=20.0, webhook_url=receiver.url, webhook_duplicates=1.0).start()
    try:
        _, _, sid = start_web(emulator, "web board 6", 36, FIRST)

        def pushed() -> list[str]:
            return [
                e["payload"]["details"]["status"]
                for e in receiver.envelopes()
                if e["eventType"] == 100 and e["payload"]["sid"] == sid
            ]

        assert wait_until(lambda: pushed().count("publishing") == 2)  # every notice delivered twice
        assert pushed().count("connecting") == 2
    finally:
        emulator.stop()
        receiver.close()
