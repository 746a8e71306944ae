"""``GET /recordings/{id}/captions`` (``playback.captions``) on moto S3: live transcription's WebVTT tracks and
transcripts in the recording's own folder, presigned; the recording's media and other folders are not listed."""

from __future__ import annotations

import boto3
import pytest
from agorakit.captions import Cue, to_webvtt
from moto import mock_aws
from service.errors import BadRequest
from service.recordings.repository import from_item

BUCKET = "captions-bucket"
REC = from_item({"channel": "room-1", "recordingId": "0c3e2b4f-1f5a-4d7e-9b1a-2f6c8d9e0a1b"})
OTHER = from_item({"channel": "room-1", "recordingId": "9d1f7a2e-3b4c-4e5f-8a6b-7c8d9e0f1a2b"})


@pytest.fixture
def bucket():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        from service.adapters.s3_objects import S3RecordingObjects

        yield client, S3RecordingObjects(BUCKET, client=client)


def test_tracks_per_language_and_transcripts_are_listed_and_presigned(bucket) -> None:
    from service.recordings.playback import captions, recording_prefix

    client, objects = bucket
    here, there = recording_prefix(REC), recording_prefix(OTHER)
    vtt = to_webvtt([Cue(uid=1001, language="en-US", start_ms=1_000, end_ms=2_000, text="hello")], 0).encode()
    for key, body in {
        f"{here}AGENT1_room1_en-US.vtt": vtt,
        f"{here}AGENT1_room1_fr-FR.vtt": vtt,
        f"{here}AGENT2_room1_en-US.vtt": vtt,  # the agent after a 72-hour restart
        f"{here}AGENT1_room1_transcript.json": b"{}",
        f"{here}sid_room1.m3u8": b"#EXTM3U",
        f"{there}AGENT9_room1_en-US.vtt": vtt,
    }.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    listed = captions(REC, objects=objects, url_seconds=900)
    assert [(t["agent_id"], t["language"]) for t in listed["tracks"]] == [
        ("AGENT1", "en-US"), ("AGENT1", "fr-FR"), ("AGENT2", "en-US")]  # fmt: skip
    assert [t["agent_id"] for t in listed["transcripts"]] == ["AGENT1"]
    assert all(t["url"].startswith("http") and "AGENT9" not in t["url"] for t in listed["tracks"])
    assert listed["url_expires_in"] == 900
    with pytest.raises(BadRequest):
        captions(REC, objects=objects, url_seconds=900, expires_in=901)
    assert captions(OTHER, objects=objects, url_seconds=900, expires_in=60)["tracks"][0]["agent_id"] == "AGENT9"
