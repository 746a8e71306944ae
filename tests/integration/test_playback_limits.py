"""The playlist route's size limit against S3 in moto: too large a rewritten playlist is a 413 that says
which window to ask for, and that window then fits (Lambda answers at most 6 MB)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

BUCKET = "playback-limits"


@pytest.fixture
def objects():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        from service.adapters.s3_objects import S3RecordingObjects

        yield client, S3RecordingObjects(BUCKET, client=client)


def test_a_playlist_too_large_once_signed_is_413_naming_a_window_that_fits(objects):
    from service.errors import PayloadTooLarge
    from service.recordings.playback import PlaybackRequest, recording_prefix, render
    from service.recordings.record import Recording

    client, store = objects
    item = Recording(
        recording_id="0c3e2b4f-1f5a-4d7e-9b1a-2f6c8d9e0a1b", channel="room", mode="mix", status="STOPPED", created_at=0
    )
    prefix = recording_prefix(item)
    segments = "".join(f"#EXTINF:4.000000\nsid_room_{i:017d}.ts\n" for i in range(400))
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n{segments}#EXT-X-ENDLIST\n"
    client.put_object(Bucket=BUCKET, Key=f"{prefix}sid_room.m3u8", Body=playlist.encode())

    with pytest.raises(PayloadTooLarge) as refused:
        render(item, PlaybackRequest(), objects=store, url_seconds=900, max_bytes=20_000)
    assert refused.value.status == 413
    message = str(refused.value)
    assert "limit=" in message and "offset=0" in message
    window = int(message.split("limit=", 1)[1].split(maxsplit=1)[0])
    text, headers = render(item, PlaybackRequest(limit=window), objects=store, url_seconds=900, max_bytes=20_000)
    assert len(text.encode()) <= 20_000 and text.count("#EXTINF:") == window
    assert text.count("https://") == window  # every segment of the window is a presigned URL
    assert headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
