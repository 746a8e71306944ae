"""``m3u8 duration s3://bucket/key``: streamed from S3 (moto in-process, and a moto server for a real process)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest
from agorakit.cli import main
from agorakit.m3u8 import cli as m3u8_cli
from moto import mock_aws
from moto.server import ThreadedMotoServer

BUCKET = "recordings-bucket"
KEY = "recordings/room42/abc123/sid1_room42.m3u8"


def playlist(segments: int) -> bytes:
    body = b"".join(
        b"#EXTINF:10.%03d\nsid1_room42_%017d.ts\n" % (i % 1000, 20240301120000000 + i) for i in range(segments)
    )
    return b"#EXTM3U\n#EXT-X-TARGETDURATION:11\n" + body + b"#EXT-X-ENDLIST\n"


def expected_us(segments: int) -> int:
    return sum(10_000_000 + (i % 1000) * 1000 for i in range(segments))


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_s3_object_is_streamed_in_chunks(s3, monkeypatch):
    data = playlist(30_000)  # ~1.3 MB: several chunks
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=data)
    sizes: list[int] = []
    from agorakit.m3u8.parser import PlaylistParser

    feed = PlaylistParser.feed

    def spy(self, chunk):
        sizes.append(len(chunk))
        return feed(self, chunk)

    monkeypatch.setattr(PlaylistParser, "feed", spy)
    summary = m3u8_cli.summarize_s3(f"s3://{BUCKET}/{KEY}")
    assert summary.segments == 30_000
    assert summary.duration_us == expected_us(30_000)
    assert summary.byte_size == len(data)
    assert len(sizes) > 1
    assert max(sizes) <= m3u8_cli.S3_CHUNK


def test_main_prints_json_for_s3(s3, capsys):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=playlist(3))
    assert main(["m3u8", "duration", f"s3://{BUCKET}/{KEY}"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["segments"] == 3
    assert out["duration_seconds"] == "30.003000"
    assert out["ended"] is True


def test_missing_object_is_a_one_line_error(s3, capsys):
    assert main(["m3u8", "duration", f"s3://{BUCKET}/nope.m3u8"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: s3://{BUCKET}/nope.m3u8: NoSuchKey")
    assert err.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_real_process_against_a_moto_server(moto_server):
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket="served")
    client.put_object(Bucket="served", Key=KEY, Body=playlist(500))
    client.put_object(Bucket="served", Key="recordings/bad.m3u8", Body=b"#EXTM3U\n#EXTINF:-1\na.ts\n")
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "AWS_DEFAULT_REGION": "us-east-1"}

    ok = subprocess.run(
        [sys.executable, "-m", "agorakit", "m3u8", "duration", f"s3://served/{KEY}", "--compact"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["segments"] == 500
    assert out["duration_us"] == expected_us(500)

    bad = subprocess.run(
        [sys.executable, "-m", "agorakit", "m3u8", "duration", "s3://served/recordings/bad.m3u8"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr == "error: line 2: negative #EXTINF duration '-1'\n"
