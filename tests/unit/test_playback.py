"""Playlist rewriting for playback (agorakit.m3u8.playback) and the integrity check (service.media.integrity)."""

from __future__ import annotations

import pytest
from agorakit.m3u8.playback import rewrite, segment_key, segment_uris
from service.media.integrity import check, public

KEY = "recordings/room/abc/sid1_room.m3u8"
PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-ALLOW-CACHE:YES
#EXT-X-TARGETDURATION:16
#EXTINF:15.000000
sid1_room_20260101000000000.ts
#EXT-X-DISCONTINUITY
#EXTINF:15.000000
sid1_room_20260101000015000.ts
#EXTINF:7.5
https://cdn.example/elsewhere.ts
#EXT-X-ENDLIST
"""


def sign(key: str) -> str:
    return f"https://signed/{key}?sig=1"


def test_segments_are_resolved_next_to_the_playlist_and_escapes_refused() -> None:
    assert segment_uris(PLAYLIST)[0] == "sid1_room_20260101000000000.ts"
    assert segment_key(KEY, "a.ts") == "recordings/room/abc/a.ts"
    assert segment_key(KEY, "sub/a%20b.ts?x=1") == "recordings/room/abc/sub/a b.ts"
    assert segment_key(KEY, "https://x/a.ts") is None
    assert segment_key(KEY, "/abs.ts") is None
    assert segment_key("a.m3u8", "../../etc.ts") is None


def test_every_own_segment_is_signed_and_tags_kept() -> None:
    out = rewrite(PLAYLIST, KEY, sign)
    lines = out.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "https://signed/recordings/room/abc/sid1_room_20260101000000000.ts?sig=1" in lines
    assert "https://cdn.example/elsewhere.ts" in lines  # not ours: left as it is
    assert lines.index("#EXT-X-DISCONTINUITY") < lines.index(
        "https://signed/recordings/room/abc/sid1_room_20260101000015000.ts?sig=1"
    )
    assert (out.segments, out.total_segments, out.ended, out.unsigned) == (3, 3, True, 1)
    assert "#EXT-X-TARGETDURATION:16" in lines and lines.count("#EXT-X-MEDIA-SEQUENCE:0") == 1


def test_a_window_moves_the_media_sequence_and_ends_only_at_the_end() -> None:
    first = rewrite(PLAYLIST, KEY, sign, offset=0, limit=2)
    assert first.segments == 2 and "#EXT-X-ENDLIST" not in first.text
    last = rewrite(PLAYLIST, KEY, sign, offset=2, limit=2)
    assert last.segments == 1 and "#EXT-X-MEDIA-SEQUENCE:2" in last.text and last.text.endswith("#EXT-X-ENDLIST\n")
    assert rewrite(PLAYLIST, KEY, sign, offset=10).segments == 0
    with pytest.raises(ValueError):
        rewrite(PLAYLIST, KEY, sign, limit=0)


def test_a_running_playlist_stays_open() -> None:
    running = PLAYLIST.replace("#EXT-X-ENDLIST\n", "")
    out = rewrite(running, KEY, sign)
    assert not out.ended and "#EXT-X-ENDLIST" not in out.text


class FakeBucket:
    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects
        self.listed: list[str] = []

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        self.listed.append(prefix)
        return {k: len(v) for k, v in self.objects.items() if k.startswith(prefix)}

    def text(self, bucket: str, key: str) -> str | None:
        data = self.objects.get(key)
        return None if data is None else data.decode()


def _files(ended: bool = True) -> list[dict[str, object]]:
    return [{"key": KEY, "bucket": "b", "status": "ok", "stream": "mix", "ended": ended}]


def test_integrity_complete_incomplete_and_pending() -> None:
    seg1, seg2 = (
        "recordings/room/abc/sid1_room_20260101000000000.ts",
        "recordings/room/abc/sid1_room_20260101000015000.ts",
    )
    bucket = FakeBucket({KEY: PLAYLIST.encode(), seg1: b"x" * 188, seg2: b"y" * 188})
    item = check("sid1", _files(), listing=bucket, now_ms=1)
    assert item["status"] == "complete" and item["segments"] == 2 and item["missing_count"] == 0
    assert bucket.listed == ["recordings/room/abc/"]  # one listing for the folder, no HEAD per segment

    bucket.objects[seg2] = b""  # an empty upload is as bad as none
    del bucket.objects[seg1]
    item = check("sid1", _files(), listing=bucket, now_ms=2)
    assert item["status"] == "incomplete" and item["missing_count"] == 2 and item["empty_count"] == 1
    assert item["missing"] == ["sid1_room_20260101000000000.ts", "sid1_room_20260101000015000.ts"]
    assert public(item)["checked_at"] == "1970-01-01T00:00:00.002Z" and "missing_keys" not in public(item)

    bucket.objects[seg1] = bucket.objects[seg2] = b"z"
    assert check("sid1", _files(ended=False), listing=bucket, now_ms=3)["status"] == "pending"
    assert check("sid1", [], listing=bucket, now_ms=4)["status"] == "pending"
