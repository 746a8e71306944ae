"""``python -m agorakit m3u8 duration|name``: JSON out, one-line errors, no tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from agorakit.cli import main

PLAYLIST = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:16\n"
    b"#EXTINF:15.016\nsid1_room_20240301120000000.ts\n"
    b"#EXT-X-DISCONTINUITY\n"
    b"#EXTINF:0.000001,\nsid1_room_20240301120100000.ts\n"
    b"#EXT-X-ENDLIST\n"
)


def test_duration_of_a_file(tmp_path, capsys):
    path = tmp_path / "p.m3u8"
    path.write_bytes(PLAYLIST)
    assert main(["m3u8", "duration", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["segments"] == 2
    assert out["duration_seconds"] == "15.016001"  # a string, exact to the microsecond
    assert out["duration_us"] == 15_016_001
    assert out["ended"] is True
    assert out["discontinuities"] == 1
    assert out["target_duration"] == 16
    assert out["wall_clock_span_seconds"] == "60.000001"
    assert out["byte_size"] == len(PLAYLIST)


def test_duration_compact_from_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PLAYLIST)))
    assert main(["m3u8", "duration", "-", "--compact"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out)["segments"] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "error: line 1: empty object, not a playlist"),
        (b"<html>\n", "error: line 1: not a playlist"),
        (b"#EXTM3U\n#EXTINF:x\na.ts\n", "error: line 2: #EXTINF duration is not a decimal number"),
    ],
)
def test_bad_playlists_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "bad.m3u8"
    path.write_bytes(content)
    assert main(["m3u8", "duration", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message)
    assert captured.err.count("\n") == 1


def test_missing_file(tmp_path, capsys):
    assert main(["m3u8", "duration", str(tmp_path / "nope.m3u8")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_bad_s3_url(capsys):
    assert main(["m3u8", "duration", "s3://bucket-only"]) == 1
    assert "expected s3://bucket/key" in capsys.readouterr().err


def test_name(capsys):
    key = "recordings/room/abc/bak0_sid9_room__uid_s_42__uid_e_audio_22194679897_2.m3u8"
    assert main(["m3u8", "name", key]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sid"] == "sid9"
    assert out["uid"] == "42"
    assert out["track"] == "audio"
    assert (out["failover"], out["backup_tick"], out["backup_index"]) == (0, 22194679897, 2)
    assert out["prefix"] == ["recordings", "room", "abc"]


def test_name_with_channel_hint(capsys):
    assert main(["m3u8", "name", "sid9_room_12345678_3.m3u8", "--channel", "room_12345678_3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["channel"], out["backup_index"]) == ("room_12345678_3", None)


def test_unknown_name(capsys):
    assert main(["m3u8", "name", "notes.txt"]) == 1
    assert capsys.readouterr().err == "error: not an Agora recording file name: 'notes.txt'\n"


@pytest.mark.slow  # the process boundary (exit code, stderr) is the point
def test_error_path_in_a_real_process(tmp_path):
    path = tmp_path / "binary.m3u8"
    path.write_bytes(b"\x47\x40\x00\x10" + bytes(range(256)) * 10)
    proc = subprocess.run(
        [sys.executable, "-m", "agorakit", "m3u8", "duration", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "error: line 1: binary data (NUL byte), not a playlist\n"
    assert "Traceback" not in proc.stderr
