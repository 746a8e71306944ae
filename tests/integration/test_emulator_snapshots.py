"""Screenshots (``snapshotConfig``) in the emulator, driven by the Agora client over loopback HTTP: JPG files
uploaded to S3 (moto) with Agora's names at the capture interval, one NCS event 45 per file (lost or repeated
like any NCS event), capture paused while the user sends no video, and the stop's empty file list."""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import boto3
import pytest

from tests.integration._emulator_fixtures import (
    WebhookReceiver,
    make_client,
    make_emulator,
    moto_s3,
    storage,
    wait_until,
)

BUCKET = "snapshot-bucket"
HOST = 2845863044
PREFIX = ["recordings", "shots", "a1b2"]
SNAPSHOT = {"captureInterval": 5, "fileType": ["jpg"]}
OPTIONS = {"time_scale": 50, "segment_seconds": 4, "s3_bucket": BUCKET, "channel_close_seconds": 3600,
           "exit_seconds": 0.2}  # fmt: skip


def _objects(endpoint: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def _events(emulator, sid: str, event_type: int) -> list[dict]:
    return [e for e in emulator.events() if e.get("sid") == sid and e["eventType"] == event_type]


def _start(client, cname: str, **kwargs):
    rid = client.acquire(cname, 11)
    config = {"channelType": 1, "maxIdleTime": 3600}
    sid = client.start(rid, cname, 11, "individual", token=None, storage_config=storage(PREFIX, BUCKET),
                       recording_config=config, snapshot_config=SNAPSHOT, **kwargs).sid  # fmt: skip
    return rid, sid


def test_screenshots_only_upload_agora_named_jpgs_every_interval_with_event_45() -> None:
    with moto_s3(BUCKET) as endpoint, make_emulator(s3_endpoint=endpoint, **OPTIONS) as emulator:
        client = make_client([emulator.url])
        emulator.join("shots", HOST, "host")
        rid, sid = _start(client, "shots")
        assert wait_until(lambda: len(emulator.task(sid)["snapshots"]) >= 3, 10)
        stop = client.stop(rid, sid, "shots", 11, "individual", async_stop=False)
        # a screenshots-only task records no HLS: the stop succeeds with an empty file list (not 206/435)
        assert stop.outcome == "stopped" and stop.file_list == [] and stop.uploading_status == "uploaded"
        assert emulator.drain_uploads()
        objects = _objects(endpoint)
        taken = emulator.task(sid)["snapshots"]
        assert sorted(objects) == sorted(taken), "screenshots only: no .ts, no .m3u8"
        pattern = re.escape(f"{'/'.join(PREFIX)}/{sid}_shots__uid_s_{HOST}__uid_e_video_") + r"(\d{17})\.jpg"
        stamps = []
        for key in taken:
            match = re.fullmatch(pattern, key)
            assert match, key
            stamps.append(datetime.strptime(match.group(1) + "000", "%Y%m%d%H%M%S%f").timestamp())
            body = objects[key]
            assert body[:4] == b"\xff\xd8\xff\xe0" and body[6:11] == b"JFIF\x00" and body.endswith(b"\xff\xd9")
        assert len(set(objects.values())) == len(objects), "every screenshot's bytes differ"
        assert all(abs(b - a - 5) < 0.01 for a, b in itertools.pairwise(stamps)), stamps  # the interval
        # one event 45 per file, serviceType 1, fileName with the prefix
        reported = _events(emulator, sid, 45)
        assert [e["payload"]["details"]["fileName"] for e in reported] == taken
        assert {e["payload"]["serviceType"] for e in reported} == {1}
        assert {e["payload"]["details"]["msgName"] for e in reported} == {"recorder_snapshot_file"}
        # event 31 comes with an empty fileList: the names are only in the 45s
        assert wait_until(lambda: _events(emulator, sid, 31), 5)
        assert _events(emulator, sid, 31)[0]["payload"]["details"]["fileList"] == []
        client.close()


def test_capture_pauses_while_the_user_sends_no_video_and_recording_and_capture_share_a_task() -> None:
    with moto_s3(BUCKET) as endpoint, make_emulator(s3_endpoint=endpoint, **OPTIONS) as emulator:
        client = make_client([emulator.url])
        emulator.join("both", HOST, "host")
        rid, sid = _start(client, "both", recording_file_config={"avFileType": ["hls"]})
        assert wait_until(lambda: len(emulator.task(sid)["snapshots"]) >= 2, 10)
        emulator.leave("both", HOST)
        assert wait_until(lambda: [e["payload"]["details"]["state"] for e in _events(emulator, sid, 44)] == [0, 1], 10)
        paused = len(emulator.task(sid)["snapshots"])
        # 20 emulated seconds (4 intervals) without video: no screenshot
        emulator.wait_for(lambda e: False, timeout=0.4)
        assert len(emulator.task(sid)["snapshots"]) == paused
        emulator.join("both", HOST, "host")
        assert wait_until(lambda: len(emulator.task(sid)["snapshots"]) > paused, 10)
        stop = client.stop(rid, sid, "both", 11, "individual", async_stop=False)
        assert stop.outcome == "stopped" and len(stop.file_list) == 2  # the audio and video playlists
        assert emulator.drain_uploads()
        keys = set(_objects(endpoint))
        assert set(emulator.task(sid)["snapshots"]) <= keys
        assert any(k.endswith(".ts") for k in keys) and any(k.endswith("__uid_e_video.m3u8") for k in keys)
        client.close()


def test_event_45_is_lost_and_repeated_like_any_notification() -> None:
    receiver = WebhookReceiver()
    try:
        with make_emulator(webhook_url=receiver.url, webhook_duplicates=1.0, **OPTIONS) as emulator:
            emulator.set_webhooks(lose_once=[45])
            client = make_client([emulator.url])
            emulator.join("lossy", HOST, "host")
            rid, sid = _start(client, "lossy")
            assert wait_until(lambda: len(emulator.task(sid)["snapshots"]) >= 3, 10)
            client.stop(rid, sid, "lossy", 11, "individual")
            assert emulator.flush_webhooks()
            taken = emulator.task(sid)["snapshots"]
            client.close()
        delivered = [e["payload"]["details"]["fileName"] for e in receiver.envelopes() if e["eventType"] == 45]
        assert taken[0] not in delivered, "the first event 45 was lost"
        assert sorted(set(delivered)) == sorted(taken[1:]) and len(delivered) == 2 * len(taken[1:])
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("config", "snapshot"),
    [({"subscribeAudioUids": ["#allstream#"]}, SNAPSHOT), ({"streamTypes": 0}, SNAPSHOT)],
)
def test_screenshot_rules_are_checked_by_the_client_and_the_emulator(config, snapshot) -> None:
    from agorakit.agora.errors import AgoraError, AgoraParameterError

    with make_emulator(qps=1000) as emulator:
        client = make_client([emulator.url])
        with pytest.raises(AgoraParameterError):
            client.start_body("rules", 11, "individual", token=None, storage_config=storage(),
                              recording_config=config, snapshot_config=snapshot)  # fmt: skip
        body = client.start_body("rules", 11, "individual", token=None, storage_config=storage(),
                                 recording_config=config)  # fmt: skip
        body["clientRequest"]["snapshotConfig"] = snapshot
        rid = client.acquire("rules", 11)
        with pytest.raises(AgoraError) as err:
            client._call("start", "POST", client._task_path(rid, None, "individual", "start"), body=body)
        assert err.value.code == 2
        client.close()
