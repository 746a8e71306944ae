"""What the bucket says of a stopped recording's upload (``service.recordings.uploads``), on S3 in moto: every
main playlist final and every segment present is ``uploaded``; a missing or empty segment is ``incomplete``; no
playlist, or one still open, settles nothing. A segment line outside the folder never counts as present."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

BUCKET = "upload-status"
RAW = {"channel": "room", "recordingId": "0c3e2b4f-1f5a-4d7e-9b1a-2f6c8d9e0a1b", "sid": "s1", "status": "STOPPED"}


def recording(**changes):
    from service.recordings.repository import from_item

    return from_item({**RAW, **changes})


ITEM = recording()


@pytest.fixture
def bucket():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        from service.adapters.s3_objects import S3RecordingObjects
        from service.recordings.playback import recording_prefix

        yield client, S3RecordingObjects(BUCKET, client=client), recording_prefix(ITEM)


def playlist(*segments: str, ended: bool = True) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:4", *(f"#EXTINF:4.0,\n{s}" for s in segments)]
    return ("\n".join(lines) + ("\n#EXT-X-ENDLIST\n" if ended else "\n")).encode()


def settle(store):
    from service.recordings.uploads import settle_from_bucket

    return settle_from_bucket(ITEM, store, max_bytes=1_000_000)


def test_final_playlist_with_every_segment_is_uploaded(bucket):
    client, store, prefix = bucket
    assert settle(store) is None  # nothing in the bucket: nothing to say
    for name in ("a.ts", "b.ts"):
        client.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"ts")
    client.put_object(Bucket=BUCKET, Key=prefix + "s1_room.m3u8", Body=playlist("a.ts", "b.ts", ended=False))
    assert settle(store) is None  # still open: the recorder may be writing
    client.put_object(Bucket=BUCKET, Key=prefix + "s1_room.m3u8", Body=playlist("a.ts", "b.ts"))
    assert settle(store) == "uploaded"


@pytest.mark.parametrize("trouble", ["missing", "empty", "outside"])
def test_a_missing_empty_or_foreign_segment_is_incomplete(bucket, trouble):
    client, store, prefix = bucket
    client.put_object(Bucket=BUCKET, Key=prefix + "a.ts", Body=b"ts")
    client.put_object(Bucket=BUCKET, Key="elsewhere/b.ts", Body=b"ts")
    if trouble == "empty":
        client.put_object(Bucket=BUCKET, Key=prefix + "b.ts", Body=b"")
    second = "../../../elsewhere/b.ts" if trouble == "outside" else "b.ts"
    client.put_object(Bucket=BUCKET, Key=prefix + "s1_room.m3u8", Body=playlist("a.ts", second))
    assert settle(store) == "incomplete"


def test_only_a_stopped_recording_with_no_status_is_settled():
    from service.recordings.uploads import needs_settling

    assert needs_settling(ITEM)
    assert not needs_settling(recording(uploadingStatus="backuped"))
    assert not needs_settling(recording(status="RECORDING"))
    assert not needs_settling(recording(sid=None))
