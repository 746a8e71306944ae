"""The Agora emulator against the documented behaviour, over real loopback HTTP.

Uploads land in a moto S3 server; webhooks arrive at a tiny local receiver and must verify with
``agorakit.ncs.signature.verify``. Emulated time (``time_scale``) keeps idle exits and segments fast.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import m3u8
import pytest
from agorakit.ncs.signature import HEADER_V1, verify

from emulator import Emulator
from tests.integration._emulator_fixtures import (
    APP_ID,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    WebhookReceiver,
    free_port,
    make_emulator,
    moto_s3,
    wait_until,
)

NCS_SECRET = "ncs-test-secret"
BUCKET = "agora-recordings"
REC = f"/v1/apps/{APP_ID}/cloud_recording"
STORAGE = {"vendor": 1, "region": 0, "bucket": BUCKET, "accessKey": "AKIAX", "secretKey": "storage-secret",
           "fileNamePrefix": ["recordings", "room", "a1b2"]}  # fmt: skip


class Api:
    """Raw HTTP to the emulator, as Agora's REST clients would send it."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.http = httpx.Client(base_url=emulator.url, auth=(CUSTOMER_ID, CUSTOMER_SECRET), timeout=10)

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, json=body, **kw)

    def acquire(self, cname: str, uid: str = "527841", **client_request: Any) -> str:
        r = self("POST", f"{REC}/acquire", {"cname": cname, "uid": uid, "clientRequest": client_request})
        assert r.status_code == 200, r.text
        return r.json()["resourceId"]

    def start(self, rid: str, cname: str, uid: str = "527841", mode: str = "mix", **extra: Any) -> httpx.Response:
        request: dict[str, Any] = {"storageConfig": STORAGE, "recordingConfig": {"channelType": 1, "maxIdleTime": 30}}
        request.update(extra)
        return self("POST", f"{REC}/resourceid/{rid}/mode/{mode}/start", {"cname": cname, "uid": uid,
                                                                           "clientRequest": request})  # fmt: skip

    def query(self, rid: str, sid: str, mode: str = "mix") -> httpx.Response:
        return self("GET", f"{REC}/resourceid/{rid}/sid/{sid}/mode/{mode}/query")

    def stop(self, rid: str, sid: str, cname: str, *, uid: str = "527841", mode: str = "mix",
             async_stop: bool = False) -> httpx.Response:  # fmt: skip
        return self("POST", f"{REC}/resourceid/{rid}/sid/{sid}/mode/{mode}/stop",
                    {"cname": cname, "uid": uid, "clientRequest": {"async_stop": async_stop}})  # fmt: skip

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def shared() -> Iterator[Emulator]:
    emulator = make_emulator(qps=0, time_scale=50, segment_seconds=4, exit_seconds=100)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def api(shared: Emulator) -> Iterator[Api]:
    shared.reset()
    shared.set_qps(0)
    shared.world.resource_ttl = 300
    client = Api(shared)
    yield client
    client.close()


def _segments(emulator: Emulator, sid: str) -> int:
    task = emulator.task(sid) or {"streams": {}}
    return sum(s["segments"] for s in task["streams"].values())


# ------------------------------------------------------------------------------------------ gateway


def test_basic_auth_is_required(api: Api):
    url = f"{api.emulator.url}{REC}/acquire"
    body = {"cname": "c", "uid": "1", "clientRequest": {}}
    assert httpx.post(url, json=body).json() == {"message": "Unauthorized"}
    for auth in ((CUSTOMER_ID, "wrong"), ("someone", CUSTOMER_SECRET)):
        r = httpx.post(url, json=body, auth=auth)
        assert (r.status_code, r.json()) == (401, {"message": "Invalid authentication credentials"})
    r = httpx.post(url, json=body, headers={"Authorization": "Basic !!!not-base64"})
    assert r.status_code == 401
    assert api.emulator.stats()["auth_failures"] == 4
    assert httpx.post(url, json=body, auth=(CUSTOMER_ID, CUSTOMER_SECRET)).status_code == 200


def test_routes_app_id_and_request_ids(api: Api):
    r = api("GET", f"{REC}/nothing-here")
    assert (r.status_code, r.json()) == (404, {"message": "no Route matched with those values"})
    r = api("GET", f"{REC}/acquire")  # wrong method
    assert r.status_code == 404
    r = api("POST", f"/v1/apps/{'f' * 32}/cloud_recording/acquire", {"cname": "c", "uid": "1"})
    assert (r.status_code, r.json()) == (400, {"message": "appid is invalid"})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])
    r = api("POST", f"{REC}/acquire", content=b"cname=c", headers={"Content-Type": "text/plain"})
    assert (r.status_code, r.json()["code"]) == (400, 8)
    r = api("POST", f"{REC}/acquire", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (400, 8)


@pytest.mark.parametrize(
    ("uid", "ok"),
    [("527841", True), ("4294967295", True), ("1", True), (527841, False), ("0", False), ("4294967296", False),
     ("007", False), ("-1", False), ("12ab", False), (None, False)],
)  # fmt: skip
def test_uid_rules(api: Api, uid: Any, ok: bool):
    r = api("POST", f"{REC}/acquire", {"cname": "room", "uid": uid, "clientRequest": {}})
    if ok:
        assert r.status_code == 200 and r.json()["uid"] == uid
    else:
        assert (r.status_code, r.json()["code"]) == (400, 2)


def test_channel_name_rules(api: Api):
    assert api.acquire("room 1!#$%&()+-:;<=.>?@[]^_{}|~,")
    for bad in ("x" * 64, "a/b", "naïve", ""):
        r = api("POST", f"{REC}/acquire", {"cname": bad, "uid": "1", "clientRequest": {}})
        assert r.status_code == 400 and r.json()["code"] in (2, 1013), bad
    assert api.acquire("https://example.com/page?room=1", scene=1)  # web mode: any label
    r = api("POST", f"{REC}/acquire", {"cname": "c", "uid": "1", "clientRequest": {"resourceExpiredHour": 721}})
    assert r.json() == {"code": 2, "reason": "Acquire: invalid resourceExpiredHour value!"}


# ------------------------------------------------------------------------------------------ recording tasks


def test_resource_ids_expire_and_serve_one_start(api: Api):
    api.emulator.world.resource_ttl = 0.1
    rid = api.acquire("room")
    time.sleep(0.15)
    r = api.start(rid, "room")
    assert (r.status_code, r.json()["code"]) == (400, 433)
    api.emulator.world.resource_ttl = 300
    rid = api.acquire("room")
    first = api.start(rid, "room")
    assert first.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", first.json()["sid"])
    again = api.start(rid, "room")
    assert again.status_code == 201 and again.json()["code"] == 7  # "already started" is not success
    assert [e["eventType"] for e in api.emulator.events() if e["productId"] == 3][-1] == 3
    other = api.acquire("room")
    r = api.start(other, "room")
    assert (r.status_code, r.json()["code"]) == (400, 53)  # one task per (cname, uid)
    r = api.start(api.acquire("room", uid="99"), "room", uid="98")
    assert (r.status_code, r.json()["code"]) == (400, 432)
    r = api.start("not-a-resource-id", "room")
    assert (r.status_code, r.json()["code"]) == (400, 1001)


@pytest.mark.parametrize(
    "request_change",
    [
        {"storageConfig": {**STORAGE, "region": 17}},
        {"storageConfig": {**STORAGE, "fileNamePrefix": ["a-b"]}},
        {"storageConfig": {**STORAGE, "fileNamePrefix": ["a" * 64, "b" * 64]}},
        {"storageConfig": {k: v for k, v in STORAGE.items() if k != "secretKey"}},
        {"storageConfig": None},
        {"recordingConfig": {"maxIdleTime": 2}},
        {"recordingConfig": {"subscribeAudioUids": ["1"], "unsubscribeAudioUids": ["2"]}},
        {"recordingFileConfig": {"avFileType": ["mp4"]}},
    ],
)
def test_start_validates_the_request(api: Api, request_change: dict[str, Any]):
    r = api.start(api.acquire("room"), "room", **request_change)
    assert (r.status_code, r.json()["code"]) == (400, 2)


def test_query_status_and_file_list(api: Api):
    api.emulator.join("room", 1001, "host")
    rid = api.acquire("room")
    sid = api.start(rid, "room").json()["sid"]
    first = api.query(rid, sid).json()
    assert first["serverResponse"]["status"] in (1, 4, 5)
    assert wait_until(lambda: api.query(rid, sid).json()["serverResponse"]["fileList"], timeout=5, interval=0.15)
    body = api.query(rid, sid).json()
    assert body["serverResponse"]["status"] == 5
    assert body["serverResponse"]["fileListMode"] == "string"
    assert body["serverResponse"]["fileList"] == f"recordings/room/a1b2/{sid}_room.m3u8"
    assert {k: body[k] for k in ("cname", "uid", "resourceId", "sid")} == {"cname": "room", "uid": "527841",
                                                                             "resourceId": rid, "sid": sid}  # fmt: skip
    r = api.query(rid, "0" * 32)
    assert (r.status_code, r.json()) == (404, {"code": 404, "reason": "failed to find worker"})


def test_stop_results_49_then_404_and_435(api: Api):
    api.emulator.join("room", 1001, "host")
    rid = api.acquire("room")
    sid = api.start(rid, "room").json()["sid"]
    assert wait_until(lambda: _segments(api.emulator, sid) > 0, timeout=5)
    r = api.stop(rid, sid, "room")
    assert r.status_code == 200
    server = r.json()["serverResponse"]
    assert server["uploadingStatus"] == "uploaded"
    assert server["fileList"] == f"recordings/room/a1b2/{sid}_room.m3u8"
    again = api.stop(rid, sid, "room")
    assert (again.status_code, again.json()["code"]) == (400, 49)
    assert api.query(rid, sid).json()["code"] == 49
    with api.emulator.world.lock:
        api.emulator.world.tasks[sid].exit_real = 0.0
    assert wait_until(lambda: api.query(rid, sid).status_code == 404, timeout=5, interval=0.15)
    assert api.stop(rid, sid, "room").status_code == 404

    api.emulator.leave("room", 1001)
    rid = api.acquire("room")
    sid = api.start(rid, "room").json()["sid"]
    r = api.stop(rid, sid, "room")  # nobody published during the task
    assert (r.status_code, r.json()["code"]) == (206, 435)


def test_hls_with_mp4_lists_json(api: Api):
    api.emulator.join("room", 1001, "host")
    rid = api.acquire("room")
    sid = api.start(rid, "room", recordingFileConfig={"avFileType": ["hls", "mp4"]}).json()["sid"]
    assert wait_until(lambda: _segments(api.emulator, sid) > 0, timeout=5)
    server = api.stop(rid, sid, "room").json()["serverResponse"]
    assert server["fileListMode"] == "json"
    (entry,) = server["fileList"]
    assert entry["fileName"].endswith(f"{sid}_room.m3u8")
    assert (entry["trackType"], entry["uid"], entry["mixedAllUser"], entry["isPlayable"]) == (
        "audio_and_video", "0", True, True)  # fmt: skip
    assert 1_000_000_000 < entry["sliceStartTime"] < 10_000_000_000  # seconds in REST


def test_web_mode_shapes(api: Api):
    label = "https://example.com/class?id=7"
    rid = api.acquire(label, scene=1)
    service = {"serviceName": "web_recorder_service", "errorHandlePolicy": "error_abort",
               "serviceParam": {"url": label, "audioProfile": 0, "videoWidth": 1280, "videoHeight": 720,
                                "maxRecordingHour": 1}}  # fmt: skip
    r = api("POST", f"{REC}/resourceid/{rid}/mode/web/start", {"cname": label, "uid": "527841", "clientRequest": {
        "storageConfig": STORAGE, "extensionServiceConfig": {"extensionServices": [service]}}})  # fmt: skip
    assert r.status_code == 200, r.text
    sid = r.json()["sid"]
    assert wait_until(lambda: _segments(api.emulator, sid) > 0, timeout=5)
    states = api.query(rid, sid, "web").json()["serverResponse"]["extensionServiceState"]
    assert states[0]["payload"]["state"] == "inProgress" and states[0]["payload"]["fileList"][0]["filename"]
    stop = api.stop(rid, sid, label, mode="web").json()["serverResponse"]["extensionServiceState"]
    assert {s["serviceName"] for s in stop} == {"upload_service", "web_recorder_service"}
    name = stop[1]["payload"]["fileList"][0]["filename"]
    assert name == f"recordings/room/a1b2/{sid}_https---example-com-class-id-7.m3u8"


def test_max_idle_time_exits_the_task():
    with make_emulator(time_scale=200, segment_seconds=4, exit_seconds=20) as emulator:
        api = Api(emulator)
        emulator.join("idle", 1001, "host")
        rid = api.acquire("idle")
        sid = api.start(rid, "idle", recordingConfig={"channelType": 1, "maxIdleTime": 10}).json()["sid"]
        assert wait_until(lambda: _segments(emulator, sid) > 0, timeout=5)
        emulator.leave("idle", 1001)
        assert wait_until(lambda: emulator.task(sid)["state"] != "running", timeout=5)
        assert api.query(rid, sid).json()["code"] == 49  # exiting
        # polled under the emulator's 10 QPS (as Agora's): at wait_until's 100 polls a second, the stop below got 429
        assert wait_until(lambda: api.query(rid, sid).status_code == 404, timeout=5, interval=0.15)
        events = [e for e in emulator.events() if e["productId"] == 3 and e["sid"] == sid]
        kinds = [e["eventType"] for e in events]
        assert kinds[:2] == [40, 30] and kinds.index(41) < kinds.index(11) < kinds.index(31)
        leave = next(e for e in events if e["eventType"] == 41)
        assert leave["payload"]["details"]["leaveCode"] & 4  # "no users": the idle timeout
        assert next(e for e in events if e["eventType"] == 11)["payload"]["details"]["exitStatus"] == 0
        assert api.stop(rid, sid, "idle").status_code == 404
        # The bot left the channel: it is empty and gone.
        gone = lambda: api("GET", f"/dev/v1/channel/user/{APP_ID}/idle").json()  # noqa: E731 - closed 30 s later
        assert wait_until(
            lambda: gone() == {"success": True, "data": {"channel_exist": False}}, timeout=5, interval=0.15
        )
        api.close()


# ------------------------------------------------------------------------------------------ uploads


def _objects(endpoint: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_uploads_land_in_s3_with_agora_names():
    with moto_s3(BUCKET) as endpoint, make_emulator(time_scale=50, segment_seconds=4, s3_endpoint=endpoint,
                                                    s3_bucket=BUCKET, exit_seconds=0.2) as emulator:  # fmt: skip
        api = Api(emulator)
        emulator.join("room.1", 1001, "host")
        rid = api.acquire("room.1")
        sid = api.start(rid, "room.1").json()["sid"]
        assert wait_until(lambda: (emulator.task(sid)["streams"].get("mix") or {}).get("segments", 0) >= 4, 10)
        emulator.drain_uploads()
        growing = _objects(endpoint)[f"recordings/room/a1b2/{sid}_room-1.m3u8"].decode()
        assert "#EXT-X-ENDLIST" not in growing  # rewritten as segments are added
        stop = api.stop(rid, sid, "room.1").json()  # synchronous: answers after the upload
        objects = _objects(endpoint)
        playlist_key = f"recordings/room/a1b2/{sid}_room-1.m3u8"
        assert stop["serverResponse"]["fileList"] == playlist_key
        text = objects[playlist_key].decode()
        assert text.startswith("#EXTM3U\n") and text.rstrip().endswith("#EXT-X-ENDLIST")
        playlist = m3u8.loads(text)
        ts_keys = sorted(k for k in objects if k.endswith(".ts"))
        assert [f"recordings/room/a1b2/{s.uri}" for s in playlist.segments] == ts_keys
        for key in ts_keys:
            assert re.fullmatch(rf"recordings/room/a1b2/{sid}_room-1_\d{{17}}\.ts", key)
            assert objects[key][:1] == b"\x47" and len(objects[key]) % 188 == 0  # MPEG-TS packets
        durations = [s.duration for s in playlist.segments]
        assert len(durations) >= 5
        assert all(3.9 < d < 4.2 for d in durations[:-1])
        assert any(d != int(d) for d in durations)  # realistic, non-integer durations
        assert re.search(r"^#EXTINF:\d+\.\d{6}$", text, re.MULTILINE)  # Agora's format, no trailing comma
        assert emulator.task(sid)["streams"]["mix"]["duration"] == pytest.approx(sum(durations), abs=1e-3)
        api.close()


def _video_states(emulator, sid: str) -> list[int]:
    """The recorder's video track states for ``sid`` in order (event 44: 0 = recording, 1 = gone)."""
    return [e["payload"]["details"]["state"] for e in emulator.events() if e.get("sid") == sid and e["eventType"] == 44]


def test_individual_uploads_per_uid_and_track_with_discontinuity():
    # idle exit and channel close far beyond any pause a loaded machine adds between leave and rejoin: this test
    # is about the discontinuity, not about timing
    options = {"time_scale": 50, "segment_seconds": 4, "s3_bucket": BUCKET, "channel_close_seconds": 3600}
    with moto_s3(BUCKET) as endpoint, make_emulator(s3_endpoint=endpoint, **options) as emulator:
        api = Api(emulator)
        emulator.join("solo", 2845863044, "host")
        rid = api.acquire("solo")
        config = {"channelType": 1, "maxIdleTime": 3600, "subscribeUidGroup": 0}
        sid = api.start(rid, "solo", mode="individual", recordingConfig=config).json()["sid"]
        assert wait_until(lambda: len(emulator.task(sid)["streams"]) == 2, 5)
        # every step waits until the recorder has seen it (events 43/44), not a fixed sleep: on a loaded machine a
        # leave and a rejoin can otherwise both fall between two of the recorder's ticks and never be observed
        assert wait_until(lambda: _video_states(emulator, sid) == [0], 10)
        video_key = "2845863044:video"
        assert wait_until(lambda: emulator.task(sid)["streams"][video_key]["segments"] >= 1, 10)  # a segment before
        emulator.leave("solo", 2845863044)
        assert wait_until(lambda: _video_states(emulator, sid) == [0, 1], 10)
        before_rejoin = emulator.task(sid)["streams"][video_key]["segments"]
        emulator.join("solo", 2845863044, "host")
        assert wait_until(lambda: _video_states(emulator, sid) == [0, 1, 0], 10)
        # a slice after the rejoin is long enough to be kept (the recorder drops one shorter than half a second)
        assert wait_until(lambda: emulator.task(sid)["streams"][video_key]["segments"] > before_rejoin, 10)
        stop = api.stop(rid, sid, "solo", mode="individual").json()["serverResponse"]
        assert stop["fileListMode"] == "json"
        names = sorted(f["fileName"] for f in stop["fileList"])
        base = f"recordings/room/a1b2/{sid}_solo__uid_s_2845863044__uid_e_"
        assert names == [base + "audio.m3u8", base + "video.m3u8"]
        objects = _objects(endpoint)
        video = objects[base + "video.m3u8"].decode()
        assert "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=" in video
        assert "#EXT-X-DISCONTINUITY" in video  # the user left and came back within the same sid
        assert any(re.fullmatch(re.escape(base) + r"audio_\d{17}\.ts", k) for k in objects)
        api.close()


# ------------------------------------------------------------------------------------------ webhooks


def test_webhooks_arrive_signed_in_agoras_envelope():
    receiver = WebhookReceiver()
    try:
        with make_emulator(time_scale=50, segment_seconds=4, webhook_url=receiver.url, ncs_secret=NCS_SECRET,
                           exit_seconds=0.1) as emulator:  # fmt: skip
            api = Api(emulator)
            emulator.join("hooks", 1001, "host", platform=2)
            rid = api.acquire("hooks")
            sid = api.start(rid, "hooks").json()["sid"]
            assert wait_until(lambda: _segments(emulator, sid) > 0, timeout=5)
            api.stop(rid, sid, "hooks")
            emulator.leave("hooks", 1001)
            assert wait_until(lambda: emulator.task(sid)["state"] == "exited", 5)
            assert wait_until(lambda: 102 in [e["eventType"] for e in emulator.events()], 5)  # closed 30 s after
            assert emulator.flush_webhooks()
            generated = emulator.events()
            api.close()
        assert len(receiver.received) == len(generated) > 10
        for headers, body in receiver.received:
            assert verify(body, headers, [NCS_SECRET]) == "v2"
            assert verify(body, {HEADER_V1: headers[HEADER_V1]}, [NCS_SECRET]) == "v1"
            assert verify(body, headers, ["another-secret"]) is None
        envelopes = receiver.envelopes()
        recording = [e for e in envelopes if e["productId"] == 3]
        for e in recording:
            assert set(e) == {"noticeId", "productId", "eventType", "notifyMs", "sid", "payload"}
            assert re.fullmatch(r"[0-9a-f]{32}", e["noticeId"])
            p = e["payload"]
            assert set(p) == {"cname", "uid", "sid", "sequence", "sendts", "serviceType", "details"}
            assert (p["cname"], p["uid"], p["sid"], e["sid"]) == ("hooks", "527841", sid, sid)
            assert isinstance(p["details"]["msgName"], str)
        assert sorted(e["payload"]["sequence"] for e in recording) == list(range(len(recording)))
        kinds = {e["eventType"] for e in recording}
        assert {40, 30, 42, 4, 41, 11, 31} <= kinds
        file_infos = next(e for e in recording if e["eventType"] == 4)
        assert file_infos["payload"]["details"]["fileList"] == f"recordings/room/a1b2/{sid}_hooks.m3u8"
        uploaded = next(e for e in recording if e["eventType"] == 31)["payload"]["details"]
        assert uploaded["msgName"] == "uploaded" and uploaded["fileList"][0]["sliceStartTime"] > 10**12  # ms in NCS
        rtc = [e for e in envelopes if e["productId"] == 1]
        assert [e["eventType"] for e in rtc] == [101, 103, 103, 104, 104, 102]
        user_join, bot_join = rtc[1]["payload"], rtc[2]["payload"]
        assert (user_join["uid"], user_join["platform"], user_join["channelName"]) == (1001, 2, "hooks")
        assert (bot_join["uid"], bot_join["platform"], bot_join["clientType"]) == (527841, 6, 10)
        assert rtc[4]["payload"]["reason"] == 1 and rtc[4]["payload"]["clientSeq"] > user_join["clientSeq"]
        assert rtc[5]["payload"]["lastUid"] == 1001
    finally:
        receiver.close()


def test_webhook_duplicates_reordering_and_retries():
    receiver = WebhookReceiver(fail_first=2)
    try:
        with make_emulator(webhook_url=receiver.url, ncs_secret=NCS_SECRET, webhook_duplicates=1.0,
                           webhook_reorder=1.0) as emulator:  # fmt: skip
            emulator.webhooks.retry_delay = 0.01
            for uid in range(1, 7):
                emulator.join("dup", uid, "audience")
            assert emulator.flush_webhooks()
            generated = [e["noticeId"] for e in emulator.events()]
            stats = emulator.stats()["webhooks"]
        received = [e["noticeId"] for e in receiver.envelopes()]
        assert Counter(received) == Counter(dict.fromkeys(generated, 2))  # every event twice
        assert list(dict.fromkeys(received)) != generated  # and not in the order they happened
        assert stats["failed"] == 0 and stats["attempts"] == stats["delivered"] + 2  # two refusals retried
        assert all(verify(b, h, [NCS_SECRET]) == "v2" for h, b in receiver.received)
    finally:
        receiver.close()


def test_a_stuck_receiver_never_blocks_the_api():
    release = threading.Event()

    class Stuck(WebhookReceiver):
        pass

    receiver = Stuck()
    original = receiver._server.RequestHandlerClass.do_POST

    def stuck(handler: Any) -> None:
        release.wait(10)
        original(handler)

    receiver._server.RequestHandlerClass.do_POST = stuck  # type: ignore[method-assign]
    try:
        with make_emulator(time_scale=50, segment_seconds=4, webhook_url=receiver.url, ncs_secret=NCS_SECRET) as emu:
            api = Api(emu)
            emu.join("stuck", 1001, "host")
            rid = api.acquire("stuck")
            sid = api.start(rid, "stuck").json()["sid"]
            assert wait_until(lambda: _segments(emu, sid) > 0, timeout=5)
            assert api.stop(rid, sid, "stuck").status_code == 200  # answered while deliveries hang
            assert emu.stats()["webhooks"]["delivered"] == 0
            release.set()
            assert emu.flush_webhooks()
            assert emu.stats()["webhooks"]["delivered"] == len(emu.events())
            api.close()
    finally:
        release.set()
        receiver.close()


# ------------------------------------------------------------------------------------------ QPS and faults


def test_qps_limit_answers_429(api: Api):
    api.emulator.set_qps(5)
    statuses = [api("GET", f"/dev/v1/channel/{APP_ID}").status_code for _ in range(12)]
    assert statuses.count(200) == 5 and statuses.count(429) == 7
    r = api("GET", f"/dev/v1/channel/{APP_ID}")
    assert r.json() == {"message": "API rate limit exceeded"} and "Retry-After" not in r.headers  # as Agora
    assert api.emulator.stats()["throttled"] == 8


def test_faults_on_demand_over_http(api: Api):
    control = httpx.Client(base_url=api.emulator.url)
    r = control.post("/emulator/faults", json={"script": ["5xx", "206_65", "429"], "retry_after": 3})
    assert r.status_code == 200 and r.json()["script"] == ["5xx", "206_65", "429"]
    first = api("POST", f"{REC}/acquire", {"cname": "f", "uid": "1", "clientRequest": {}})
    assert (first.status_code, first.json()["code"]) == (500, 504)
    second = api("POST", f"{REC}/acquire", {"cname": "f", "uid": "1", "clientRequest": {}})
    assert (second.status_code, second.json()["code"]) == (206, 65)
    r = api("GET", f"/dev/v1/channel/{APP_ID}")
    assert (r.status_code, r.headers["Retry-After"]) == (429, "3")
    assert control.post("/emulator/faults", json={"script": ["boom"]}).status_code == 400
    assert control.post("/emulator/faults", json={"rate_429": 2}).status_code == 400
    control.post("/emulator/faults", json={"rate_5xx": 1.0})
    assert api("GET", f"/dev/v1/channel/{APP_ID}").status_code == 500
    control.post("/emulator/faults", json={"clear": True})
    assert api("GET", f"/dev/v1/channel/{APP_ID}").status_code == 200
    assert api.emulator.stats()["injected"] == {"5xx": 2, "206_65": 1, "429": 1}
    control.close()


def test_a_script_taken_back_leaves_the_other_callers_entries(api: Api):
    """``drop``: what is left of one caller's script goes (each entry once), another caller's stays."""
    api.emulator.set_faults(script=["5xx@channel.list", "5xx@channel.list", "401@ncs.ip"])
    assert api("GET", f"/dev/v1/channel/{APP_ID}").status_code == 500  # one of the two consumed
    left = api.emulator.set_faults(drop=["5xx@channel.list", "5xx@channel.list", "429@update"])
    assert left["script"] == ["401@ncs.ip"]  # the one left of the two taken back; absent entries ignored
    assert api("GET", f"/dev/v1/channel/{APP_ID}").status_code == 200
    api.emulator.set_faults(clear=True)


def test_acquire_after_206_65_was_not_performed(api: Api):
    api.emulator.set_faults(script=["206_65"])
    r = api("POST", f"{REC}/acquire", {"cname": "f", "uid": "1", "clientRequest": {}})
    assert (r.status_code, r.json()) == (206, {"code": 65, "reason": "request not completed"})
    assert api.emulator.world.resources == {}


# ------------------------------------------------------------------------------------------ channels


def test_control_api_and_channel_queries_over_http(api: Api):
    control = httpx.Client(base_url=api.emulator.url)
    assert control.post("/emulator/channels/live/join", json={"uid": 2845863044, "role": "host", "platform": 7}).json()[
        "joined"]  # fmt: skip
    control.post("/emulator/channels/live/join", json={"uid": 11, "role": "audience"})
    control.post("/emulator/channels/talk/join", json={"uid": 21, "role": "communication"})
    r = api("GET", f"/dev/v1/channel/{APP_ID}", params={"page_no": 0, "page_size": 100})
    assert r.json() == {"success": True, "data": {"channels": [{"channel_name": "live", "user_count": 2},
                                                               {"channel_name": "talk", "user_count": 1}],
                                                  "total_size": 2}}  # fmt: skip
    assert api("GET", f"/dev/v1/channel/{APP_ID}", params={"page_size": 0}).status_code == 400
    live = api("GET", f"/dev/v1/channel/user/{APP_ID}/live").json()
    assert live == {"success": True, "data": {"channel_exist": True, "mode": 2, "broadcasters": [2845863044],
                                              "audience": [11], "audience_total": 1}}  # fmt: skip
    assert api("GET", f"/dev/v1/channel/user/{APP_ID}/live/hosts_only").json()["data"]["broadcasters"] == [2845863044]
    talk = api("GET", f"/dev/v1/channel/user/{APP_ID}/talk").json()
    assert talk == {"success": True, "data": {"channel_exist": True, "mode": 1, "total": 1, "users": [21]}}
    prop = api("GET", f"/dev/v1/channel/user/property/{APP_ID}/2845863044/live").json()["data"]
    assert (prop["in_channel"], prop["uid"], prop["role"], prop["platform"]) == (True, 2845863044, 2, 7)
    assert api("GET", f"/dev/v1/channel/user/property/{APP_ID}/11/live").json()["data"]["role"] == 3
    control.post("/emulator/channels/live/join", json={"uid": 11, "role": "host"})  # audience -> host
    control.post("/emulator/channels/live/join", json={"uid": 11, "role": "audience"})  # and back
    roles = [e for e in api.emulator.events() if e["eventType"] in (111, 112)]
    assert [(e["eventType"], e["payload"]["uid"]) for e in roles] == [(111, 11), (112, 11)]
    assert roles[1]["payload"]["clientSeq"] > roles[0]["payload"]["clientSeq"]
    assert control.post("/emulator/channels/live/join", json={"uid": 12, "platform": "x"}).status_code == 400
    tasks = control.get("/emulator/tasks").json()
    assert tasks == {"tasks": []}
    assert control.post("/emulator/channels/live/leave", json={"uid": 11}).json() == {"left": True}
    assert control.post("/emulator/channels/live/join", json={"uid": 0}).status_code == 400
    assert control.post("/emulator/reset").json() == {"reset": True}
    assert control.get("/emulator/channels").json() == {"channels": []}
    control.close()


def test_kicking_rules_kick_ban_and_expire(api: Api):
    emulator = api.emulator
    emulator.join("mod", 501, "host", ip="10.0.0.5")
    emulator.join("mod", 502, "host")
    emulator.join("other", 501, "host")
    r = api("POST", "/dev/v1/kicking-rule", {"appid": APP_ID, "cname": "mod", "uid": 501, "time_in_seconds": 60,
                                             "privileges": ["join_channel"]})  # fmt: skip
    assert r.json()["status"] == "success"
    rule_id = r.json()["id"]
    assert [u["uid"] for u in emulator.channels()[0]["users"]] == [502]  # kicked from "mod" only
    control = httpx.Client(base_url=emulator.url)
    denied = control.post("/emulator/channels/mod/join", json={"uid": 501})
    assert (denied.status_code, denied.json()["rule_id"]) == (403, rule_id)
    rules = api("GET", "/dev/v1/kicking-rule", params={"appid": APP_ID}).json()["rules"]
    assert [(x["id"], x["cname"], x["uid"], x["privileges"]) for x in rules] == [(rule_id, "mod", 501,
                                                                                 ["join_channel"])]  # fmt: skip
    assert rules[0]["ts"].endswith("Z")
    leave = [e for e in emulator.events() if e["eventType"] == 104][-1]["payload"]
    assert (leave["uid"], leave["reason"]) == (501, 3)  # "kicked by the banning REST API"
    # The rule lasts 60 emulated seconds: at time_scale 50 that is ~1.2 real seconds.
    r = api("PUT", "/dev/v1/kicking-rule", {"appid": APP_ID, "id": rule_id, "time_in_seconds": 10})
    assert r.json()["result"]["id"] == rule_id
    assert wait_until(lambda: control.post("/emulator/channels/mod/join", json={"uid": 501}).status_code == 200, 3)
    # A one-time kick: dropped now, may rejoin at once, not listed.
    api("POST", "/dev/v1/kicking-rule", {"appid": APP_ID, "uid": 502, "time_in_seconds": 0,
                                         "privileges": ["join_channel"]})  # fmt: skip
    assert 502 not in [u["uid"] for c in emulator.channels() for u in c["users"]]
    assert control.post("/emulator/channels/mod/join", json={"uid": 502}).status_code == 200
    assert api("GET", "/dev/v1/kicking-rule", params={"appid": APP_ID}).json()["rules"] == []
    ip_rule = api("POST", "/dev/v1/kicking-rule", {"appid": APP_ID, "ip": "10.0.0.9", "time": 5,
                                                   "privileges": ["join_channel"]}).json()["id"]  # fmt: skip
    assert control.post("/emulator/channels/any/join", json={"uid": 9, "ip": "10.0.0.9"}).status_code == 403
    assert api("DELETE", "/dev/v1/kicking-rule", {"appid": APP_ID, "id": ip_rule}).json() == {"status": "success",
                                                                                             "id": ip_rule}  # fmt: skip
    assert control.post("/emulator/channels/any/join", json={"uid": 9, "ip": "10.0.0.9"}).status_code == 200
    assert api("DELETE", "/dev/v1/kicking-rule", {"appid": APP_ID, "id": ip_rule}).status_code == 404
    bad = api("POST", "/dev/v1/kicking-rule", {"appid": "nope", "uid": 1, "privileges": ["join_channel"]})
    assert bad.status_code == 400
    control.close()


def test_a_channel_ban_removes_the_recorder_and_ends_its_task(api: Api):
    emulator = api.emulator
    emulator.join("closing", 1001, "host")
    rid = api.acquire("closing")
    sid = api.start(rid, "closing").json()["sid"]
    api("POST", "/dev/v1/kicking-rule", {"appid": APP_ID, "cname": "closing", "time_in_seconds": 60,
                                         "privileges": ["join_channel"]})  # fmt: skip
    assert emulator.task(sid)["state"] == "exiting"
    exit_event = [e for e in emulator.events() if e["eventType"] == 11][-1]
    assert exit_event["payload"]["details"]["exitStatus"] == 1


# ------------------------------------------------------------------------------------------ CLI


def test_cli_runs_the_emulator():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agorakit", "emulator", "--port", str(port), "--app-id", APP_ID, "--customer-id",
         CUSTOMER_ID, "--customer-secret", CUSTOMER_SECRET, "--qps", "3", "--time-scale", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/dev/v1/channel/{APP_ID}"

        def up() -> bool:
            try:
                return httpx.get(url).status_code == 401
            except httpx.TransportError:
                return False

        assert wait_until(up, timeout=15, interval=0.05)
        with httpx.Client(auth=(CUSTOMER_ID, CUSTOMER_SECRET)) as client:
            statuses = [client.get(url).status_code for _ in range(10)]
        assert statuses[:3] == [200] * 3 and 429 in statuses  # --qps 3
        busy = subprocess.run([sys.executable, "-m", "agorakit", "emulator", "--port", str(port)], capture_output=True,
                              text=True, check=False, timeout=30)  # fmt: skip
        assert busy.returncode == 1 and f"port {port} on 127.0.0.1 is already in use" in busy.stderr
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "Agora emulator on" in out
    assert f"Customer ID:     {CUSTOMER_ID}" in out and f"Customer secret: {CUSTOMER_SECRET}" in out
    helptext = subprocess.run([sys.executable, "-m", "agorakit", "emulator", "--help"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
    assert "(default: 8090)" in " ".join(helptext.split())
    fault_options = re.findall(r"^  (--fault-[\w-]+)", helptext, flags=re.M)
    assert len(fault_options) >= 9, fault_options
    for option in fault_options:
        line = " ".join(helptext.split(option, 1)[1].split("\n  --", 1)[0].split())
        assert len(line) > len("RATE") + 10, f"{option} has no help"  # every fault option says what it does
    bad = subprocess.run([sys.executable, "-m", "agorakit", "emulator", "--fault-429", "2"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert bad.returncode == 2 and "rate" in bad.stderr
