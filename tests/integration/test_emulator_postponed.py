"""Postponed transcoding / audio mixing (acquire ``scene: 2``) in the emulator, driven by the Agora client over
loopback HTTP: the start body is validated as Agora does, and after the task ends the result files are uploaded to
S3 (moto) with Agora's names and reported with NCS 80, 81 and 1001, which NCS may lose or repeat."""

from __future__ import annotations

import boto3
import pytest
from agorakit.agora.errors import AgoraError
from service.recordings.postponed_rules import app_extra

from tests.integration._emulator_fixtures import (
    WebhookReceiver,
    make_client,
    make_emulator,
    moto_s3,
    storage,
    wait_until,
)

BUCKET = "postponed-bucket"
HOSTS = (2845863044, 17)
PREFIX = ["recordings", "later", "c3d4"]
OPTIONS = {"time_scale": 50, "segment_seconds": 4, "s3_bucket": BUCKET, "channel_close_seconds": 3600,
           "exit_seconds": 0.2}  # fmt: skip
TRANSCODING = {"mode": "transcoding", "container": "mp4"}
AUDIO_MIX = {"mode": "audio_mix", "container": "m4a", "audio": {"sampleRate": "48000", "bitrate": "48000",
                                                                "channels": "2"}}  # fmt: skip


def _events(emulator, sid: str, event_type: int) -> list[dict]:
    return [e for e in emulator.events() if e.get("sid") == sid and e["eventType"] == event_type]


def _record(client, emulator, cname: str, stored: dict, *, seconds: float = 0.4):
    for uid in HOSTS:
        emulator.join(cname, uid, "host")
    rid = client.acquire(cname, 11, scene=2)
    sid = client.start(rid, cname, 11, "individual", token=None, storage_config=storage(PREFIX, BUCKET),
                       recording_config={"channelType": 1, "maxIdleTime": 3600},
                       app_extra=app_extra(stored)).sid  # fmt: skip
    assert wait_until(lambda: emulator.task(sid)["streams"], 10)
    emulator.wait_for(lambda e: False, timeout=seconds)
    client.stop(rid, sid, cname, 11, "individual", async_stop=False)
    return sid


def _objects(endpoint: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_postponed_transcoding_uploads_one_mp4_per_uid_after_the_end_and_reports_80_81_1001() -> None:
    # postpone_seconds: 20 emulated seconds (0.2-0.4 s real at time_scale 50) stand for Agora's 24 hours
    with moto_s3(BUCKET) as endpoint, make_emulator(s3_endpoint=endpoint, postpone_seconds=20.0, **OPTIONS) as emulator:
        client = make_client([emulator.url])
        sid = _record(client, emulator, "later", {"mode": "transcoding", "container": "mp4"})
        assert wait_until(lambda: emulator.task(sid)["postponed"]["done"], 20)
        assert emulator.drain_uploads()
        base = "/".join(PREFIX) + f"/{sid}_later__uid_s_"
        expected = sorted(f"{base}{uid}__uid_e_0.mp4" for uid in HOSTS)
        assert sorted(emulator.task(sid)["postponed"]["files"]) == expected
        objects = _objects(endpoint)
        assert all(objects[key][4:12] == b"ftypisom" for key in expected), "MP4 files in the bucket"
        assert any(k.endswith(".m3u8") for k in objects) and any(k.endswith(".ts") for k in objects)
        # the order Agora documents: 11 and 31 first, then 80, 81 and 1001
        started, completed, final = (_events(emulator, sid, t) for t in (80, 81, 1001))
        assert len(started) == len(completed) == len(final) == 1
        sequences = [e["payload"]["sequence"] for e in (started[0], completed[0], final[0])]
        assert sequences == sorted(sequences) and sequences[0] > _events(emulator, sid, 31)[0]["payload"]["sequence"]
        details = final[0]["payload"]["details"]
        assert details["msgName"] == "postpone_transcode_final_result" and details["result"] == "total_success"
        assert sorted(f["fileName"] for f in details["fileList"]) == expected
        uids = completed[0]["payload"]["details"]["uids"]
        assert sorted(u["uid"] for u in uids) == sorted(str(u) for u in HOSTS)
        assert completed[0]["payload"]["details"]["result"] == "all_success"
        client.close()


def test_postponed_audio_mixing_writes_one_file_in_the_chosen_container() -> None:
    with moto_s3(BUCKET) as endpoint, make_emulator(s3_endpoint=endpoint, **OPTIONS) as emulator:
        emulator.world.postpone_seconds = 20.0
        client = make_client([emulator.url])
        stored = {"mode": "audio_mix", "container": "m4a", "audio": AUDIO_MIX["audio"]}
        sid = _record(client, emulator, "mixed", stored)
        assert wait_until(lambda: emulator.task(sid)["postponed"]["done"], 20)
        assert emulator.drain_uploads()
        key = "/".join(PREFIX) + f"/{sid}_mixed_0.m4a"
        assert emulator.task(sid)["postponed"]["files"] == [key]
        assert _objects(endpoint)[key][4:12] == b"ftypM4A "
        final = _events(emulator, sid, 1001)[0]["payload"]["details"]
        assert final["fileList"] == [{"fileName": key}]
        client.close()


@pytest.mark.parametrize(
    ("scene", "mode", "extra", "reason"),
    [
        (0, "individual", app_extra({"mode": "transcoding", "container": "mp4"}), "scene 2"),
        (2, "individual", None, "combinationPolicy"),
        (2, "individual", {"appsCollection": {"combinationPolicy": "postpone_transcoding"}}, "transConfig"),
        (2, "individual", app_extra({"mode": "transcoding", "container": "mp3"}), "container.format"),
        (2, "individual", app_extra({"mode": "audio_mix", "container": "mp4"}), "container.format"),
        (2, "individual", app_extra({"mode": "audio_mix", "container": "mp3", "audio": {"channels": "6"}}), "audio"),
        (2, "mix", app_extra({"mode": "transcoding", "container": "mp4"}), "individual mode only"),
    ],
)
def test_start_bodies_agora_refuses_are_code_2(scene: int, mode: str, extra, reason: str) -> None:
    with make_emulator(**OPTIONS) as emulator:
        client = make_client([emulator.url])
        rid = client.acquire("refused", 11, scene=scene)
        with pytest.raises(AgoraError) as raised:
            client.start(rid, "refused", 11, mode, token=None, storage_config=storage(PREFIX, BUCKET),
                         app_extra=extra)  # fmt: skip
        assert raised.value.code == 2 and reason in str(raised.value), raised.value
        client.close()


def test_80_81_1001_go_through_the_hostile_sender() -> None:
    receiver = WebhookReceiver()
    try:
        with make_emulator(webhook_url=receiver.url, webhook_duplicates=1.0, **OPTIONS) as emulator:
            emulator.world.postpone_seconds = 10.0
            emulator.set_webhooks(lose_once=[81])
            client = make_client([emulator.url])
            sid = _record(client, emulator, "hostile", {"mode": "transcoding", "container": "mp4"}, seconds=0.2)
            assert wait_until(lambda: emulator.task(sid)["postponed"]["done"], 20)
            assert emulator.flush_webhooks()
            client.close()
        types = [e["eventType"] for e in receiver.envelopes() if e.get("sid") == sid]
        assert types.count(1001) == 2 and types.count(80) == 2, "every notice sent twice"
        assert 81 not in types, "the 81 was lost"
    finally:
        receiver.close()
