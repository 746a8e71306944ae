"""Playback is scoped to the recording (issue 21): a playlist in recording A's folder whose lines point into
recording B's folder, the bucket root or anywhere else gets no presigned URL for them; each such line is an
``#ERROR line <n>`` comment, counted in ``X-Playlist-Refused``. S3 in moto: the objects exist, so a URL
signed for them would work."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from service.recordings.repository import from_item

BUCKET = "playback-scope"
A = from_item({"channel": "room", "recordingId": "0c3e2b4f-1f5a-4d7e-9b1a-2f6c8d9e0a1b"})
B = from_item({"channel": "room", "recordingId": "9d1f7a2e-3b4c-4e5f-8a6b-7c8d9e0f1a2b"})
OTHER_CHANNEL = from_item({"channel": "other", "recordingId": "0c3e2b4f-1f5a-4d7e-9b1a-2f6c8d9e0a1b"})


@pytest.fixture
def bucket():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        from service.adapters.s3_objects import S3RecordingObjects

        yield client, S3RecordingObjects(BUCKET, client=client)


def test_lines_leaving_the_recordings_folder_are_errors_never_signed(bucket):
    from service.recordings.playback import PlaybackRequest, recording_prefix, render

    client, store = bucket
    a, b, other = recording_prefix(A), recording_prefix(B), recording_prefix(OTHER_CHANNEL)
    assert a.count("/") >= 2 and b != a
    b_id = B.recording_id
    for key in (f"{a}own_0.ts", f"{a}own_1.ts", f"{b}secret.ts", "root.ts", f"{other}x.ts", f"{a}sub/own_2.ts"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"ts")
    hostile = [
        f"../{b_id}/secret.ts",  # B's folder, next to A's
        f"../../room/{b_id}/secret.ts",
        "../" * a.count("/") + "root.ts",  # the bucket root
        f"/{b}secret.ts",  # an absolute key
        f"%2e%2e/{b_id}/secret.ts",  # percent-encoded ..
        f"..%2f{b_id}%2fsecret.ts",
        f"%2F{b}secret.ts",
        f"sub/../../{b_id}/secret.ts",
        f"https://{BUCKET}.s3.amazonaws.com/{b}secret.ts",  # an absolute URL into the bucket
        "../../../other/" + OTHER_CHANNEL.recording_id + "/x.ts",
        "own_0.ts%00.ts",
    ]
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:4", "#EXTINF:4.0,", "own_0.ts"]
    for uri in hostile:
        lines += ["#EXTINF:4.0,", uri]
    lines += ["#EXTINF:4.0,", "sub/own_2.ts", "#EXTINF:4.0,", "./own_1.ts", "#EXT-X-ENDLIST"]
    client.put_object(Bucket=BUCKET, Key=f"{a}sid_room.m3u8", Body="\n".join(lines).encode())

    text, headers = render(A, PlaybackRequest(), objects=store, url_seconds=900, max_bytes=1_000_000)

    signed = [line for line in text.splitlines() if line.startswith("http")]
    assert len(signed) == 3
    assert all(f"/{a}" in url for url in signed), signed  # every presigned URL is for a key under A's folder
    assert "secret.ts" not in "".join(signed) and "root.ts" not in "".join(signed)
    errors = [line for line in text.splitlines() if line.startswith("#ERROR")]
    assert headers["X-Playlist-Refused"] == str(len(hostile)) == str(len(errors))
    numbers = [int(e.split()[2].rstrip(":")) for e in errors]
    assert numbers == [6 + 2 * i for i in range(len(hostile))]  # the playlist's own line numbers
    assert all("not signed" in e for e in errors)
    # a refused segment takes its #EXTINF with it: a player sees 3 segments, not durations without URIs
    assert text.count("#EXTINF") == 3


def test_a_recording_whose_folder_name_is_a_prefix_of_another_is_not_a_way_in(bucket):
    """``.../<id>`` must not admit ``.../<id>x/``: the scope ends with a slash."""
    from service.recordings.playback import PlaybackRequest, recording_prefix, render

    client, store = bucket
    a = recording_prefix(A)
    client.put_object(Bucket=BUCKET, Key=f"{a[:-1]}x/seg.ts", Body=b"ts")
    playlist = f"#EXTM3U\n#EXTINF:4.0,\n../{A.recording_id}x/seg.ts\n#EXT-X-ENDLIST\n"
    client.put_object(Bucket=BUCKET, Key=f"{a}sid_room.m3u8", Body=playlist.encode())
    text, headers = render(A, PlaybackRequest(), objects=store, url_seconds=900, max_bytes=100_000)
    assert headers["X-Playlist-Refused"] == "1" and "http" not in text
