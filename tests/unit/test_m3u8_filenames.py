"""Agora recording file names (doc 3.1/3.2): modes, tracks, failover and backup copies, slices, prefixes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from agorakit.m3u8.filenames import RecordingFileName, parse_recording_filename, safe_channel_name

SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"


def parse(key: str, **kw) -> RecordingFileName:
    parsed = parse_recording_filename(key, **kw)
    assert parsed is not None, key
    return parsed


def test_mix_playlist_with_prefix():
    f = parse(f"recordings/room42/0f1e2d3c/{SID}_room42.m3u8")
    assert (f.sid, f.channel, f.mode, f.kind, f.extension) == (SID, "room42", "mix", "playlist", "m3u8")
    assert f.prefix == ("recordings", "room42", "0f1e2d3c")
    assert f.name == f"{SID}_room42.m3u8"
    assert (f.uid, f.track, f.failover, f.backup_index) == (None, None, None, None)
    assert f.is_playlist and not f.is_backup_copy
    assert f.stream == "mix"
    assert f.base_name == f.name


def test_mix_slice_and_mp4():
    ts = parse(f"{SID}_room42_20240301120015016.ts")
    assert (ts.kind, ts.mode, ts.channel) == ("slice", "mix", "room42")
    assert ts.slice_utc == datetime(2024, 3, 1, 12, 0, 15, 16000, tzinfo=UTC)
    assert ts.prefix == ()
    mp4 = parse(f"{SID}_room42_0.mp4")
    assert (mp4.kind, mp4.index, mp4.channel) == ("mp4", 0, "room42")
    audio = parse(f"{SID}_room42_2.m4a")
    assert (audio.kind, audio.index) == ("audio", 2)


@pytest.mark.parametrize("track", ["audio", "video", "av"])
def test_individual_playlists(track):
    f = parse(f"rec/{SID}_room42__uid_s_123456__uid_e_{track}.m3u8")
    assert (f.mode, f.kind, f.uid, f.track, f.channel) == ("individual", "playlist", "123456", track, "room42")
    assert f.stream == f"123456:{track}"


def test_individual_slices_webm_and_screenshots():
    ts = parse(f"{SID}_room42__uid_s_4294967295__uid_e_video_20240301120000123.ts")
    assert (ts.kind, ts.uid, ts.track) == ("slice", "4294967295", "video")
    assert ts.slice_utc == datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    webm = parse(f"{SID}_room42__uid_s_7__uid_e_video_20240301120000123.webm")
    assert (webm.kind, webm.extension) == ("slice", "webm")
    jpg = parse(f"{SID}_room42__uid_s_7__uid_e_video_20240301120000123.jpg")
    assert (jpg.kind, jpg.track) == ("screenshot", "video")
    mp4 = parse(f"{SID}_room42__uid_s_7__uid_e_3.mp4")
    assert (mp4.kind, mp4.index, mp4.track) == ("mp4", 3, None)


def test_doc_example():
    f = parse("sid713476478245_cnameagora__uid_s_123__uid_e_video_20190920125142485.ts")
    assert (f.sid, f.channel, f.uid, f.track) == ("sid713476478245", "cnameagora", "123", "video")
    assert f.slice_utc == datetime(2019, 9, 20, 12, 51, 42, 485000, tzinfo=UTC)


def test_failover_bak_prefix():
    f = parse(f"recordings/x/bak1_{SID}_room42__uid_s_123__uid_e_audio.m3u8")
    assert (f.failover, f.sid, f.uid, f.track) == (1, SID, "123", "audio")
    assert f.base_name == f"{SID}_room42__uid_s_123__uid_e_audio.m3u8"
    assert f.stream == "123:audio"
    mix = parse(f"bak0_{SID}_room42.m3u8")
    assert (mix.failover, mix.channel, mix.mode) == (0, "room42", "mix")
    ts = parse(f"bak0_{SID}_room42_20240301120000000.ts")
    assert (ts.failover, ts.kind) == (0, "slice")


def test_cloud_backup_copies():
    f = parse(f"{SID}_room42__uid_s_123__uid_e_video_22194679897_3.m3u8")
    assert (f.backup_tick, f.backup_index, f.track) == (22194679897, 3, "video")
    assert f.is_backup_copy
    assert f.base_name == f"{SID}_room42__uid_s_123__uid_e_video.m3u8"
    mix = parse(f"{SID}_room42_22194679897_0.m3u8")
    assert (mix.channel, mix.backup_tick, mix.backup_index) == ("room42", 22194679897, 0)
    assert mix.base_name == f"{SID}_room42.m3u8"
    both = parse(f"bak2_{SID}_room42_22194679897_1.m3u8")
    assert (both.failover, both.backup_index, both.base_name) == (2, 1, f"{SID}_room42.m3u8")


def test_channel_names_ending_like_a_backup_suffix():
    # Without a hint, short numbers are part of the channel; a long tick reads as a backup copy.
    assert parse(f"{SID}_room_5_3.m3u8").channel == "room_5_3"
    guessed = parse(f"{SID}_room_12345678_3.m3u8")
    assert (guessed.channel, guessed.backup_index) == ("room", 3)
    # The recording's channel settles it either way.
    hinted = parse(f"{SID}_room_12345678_3.m3u8", channel="room_12345678_3")
    assert (hinted.channel, hinted.backup_index) == ("room_12345678_3", None)
    copy = parse(f"{SID}_room_5_3_22194679897_1.m3u8", channel="room_5_3")
    assert (copy.channel, copy.backup_tick, copy.backup_index) == ("room_5_3", 22194679897, 1)
    # A hint that does not fit the name is ignored.
    assert parse(f"{SID}_other.m3u8", channel="room").channel == "other"


def test_special_characters_replaced_in_channel_names():
    raw = "Team #1: Q&A (live)!"
    assert safe_channel_name(raw) == "Team -1- Q-A -live--"
    assert safe_channel_name("a_b.c") == "a-b-c"
    assert safe_channel_name("a_b.c", keep_underscore=True) == "a_b-c"
    written = safe_channel_name(raw)
    f = parse(f"{SID}_{written}_22194679897_2.m3u8", channel=raw)
    assert (f.channel, f.backup_index) == (written, 2)
    g = parse(f"{SID}_{written}__uid_s_9__uid_e_audio.m3u8")
    assert (g.channel, g.uid) == (written, "9")
    h = parse(f"{SID}_a_b-c.m3u8", channel="a_b.c")  # underscore kept, as in Agora's mix examples
    assert h.channel == "a_b-c"


def test_to_dict():
    d = parse(f"r/bak0_{SID}_room__uid_s_5__uid_e_video_20240301120000000.ts").to_dict()
    assert d["slice_utc"] == "2024-03-01T12:00:00.000Z"
    assert d["stream"] == "5:video"
    assert d["prefix"] == ["r"]
    assert d["failover"] == 0


@pytest.mark.parametrize(
    "key",
    [
        "",
        "recordings/",
        "notes.txt",
        f"{SID}.m3u8",  # no channel
        f"{SID}_.m3u8",
        f"_{SID}_room.m3u8",
        f"{SID}_room_20241301120000000.ts",  # month 13
        f"{SID}_room_2024030112000000.ts",  # 16 digits
        f"{SID}_room.ts",  # a slice needs its stamp
        f"{SID}_room__uid_s_1__uid_e_subtitle.m3u8",
        f"{SID}_room__uid_s_1__uid_e_audio_20240301120000000.jpg",  # screenshots are video
        f"{SID}_room.jpg",
        f"{SID}_room_x.mp4",
        "sid-with-dash_room.m3u8",
    ],
)
def test_unknown_names_are_none(key):
    assert parse_recording_filename(key) is None


def test_non_string_key_is_a_type_error():
    with pytest.raises(TypeError):
        parse_recording_filename(b"x.m3u8")  # type: ignore[arg-type]
