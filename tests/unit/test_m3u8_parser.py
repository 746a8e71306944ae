"""The streaming m3u8 summary: exact sums, Agora's tags and names, odd formatting, errors naming the line."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from agorakit.errors import AgorakitError
from agorakit.m3u8 import parser as parser_module
from agorakit.m3u8.parser import (
    PlaylistError,
    PlaylistParser,
    PlaylistSummary,
    parse_playlist,
    parse_playlist_file,
    slice_time,
)

SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"

AGORA_MIX = f"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-ALLOW-CACHE:YES
#EXT-X-TARGETDURATION:16
#EXTINF:15.016
{SID}_room42_20240301120000000.ts
#EXTINF:14.984
{SID}_room42_20240301120015016.ts
#EXT-X-DISCONTINUITY
#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO,TIME=20240301120100000
#EXTINF:10.5
{SID}_room42_20240301120100000.ts
#EXT-X-ENDLIST
"""


def summarize(data: bytes, *, block_size: int = parser_module.DEFAULT_BLOCK_SIZE, fast: bool = True) -> PlaylistSummary:
    p = PlaylistParser(block_size=block_size, fast=fast)
    p.feed(data)
    return p.close()


def every_way(data: bytes) -> PlaylistSummary:
    """The reference (line path) summary, after checking the fast path and small blocks agree with it."""
    reference = summarize(data, fast=False)
    for block_size in (1, 5, 64, parser_module.DEFAULT_BLOCK_SIZE):
        assert summarize(data, block_size=block_size) == reference, block_size
    return reference


def error_of(data: bytes, **kwargs) -> PlaylistError:
    with pytest.raises(PlaylistError) as info:
        summarize(data, **kwargs)
    return info.value


# ---- a typical Agora playlist -------------------------------------------------------------------


def test_agora_mix_playlist_summary():
    s = every_way(AGORA_MIX.encode())
    assert s.segments == 3
    assert s.duration_us == 40_500_000
    assert s.duration_seconds == Decimal("40.500000")
    assert str(s.duration_seconds) == "40.500000"
    assert s.ended is True
    assert s.discontinuities == 1
    assert (s.target_duration, s.version, s.media_sequence) == (16, 3, 0)
    assert s.first_segment_uri == f"{SID}_room42_20240301120000000.ts"
    assert s.last_segment_uri == f"{SID}_room42_20240301120100000.ts"
    assert s.first_slice_utc == datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert s.last_slice_utc == datetime(2024, 3, 1, 12, 1, 0, tzinfo=UTC)
    assert s.last_segment_us == 10_500_000
    # wall clock: 60 s from first to last slice start, plus the last slice's 10.5 s
    assert s.wall_clock_span_us == 70_500_000
    assert s.wall_clock_span_seconds == Decimal("70.5")
    assert s.track_events == 1
    assert s.trailing_extinf is False
    assert s.byte_size == len(AGORA_MIX.encode())
    assert s.lines == AGORA_MIX.count("\n")


def test_to_dict_is_json_with_exact_strings():
    d = every_way(AGORA_MIX.encode()).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["duration_seconds"] == "40.500000"
    assert d["wall_clock_span_seconds"] == "70.500000"
    assert d["first_slice_utc"] == "2024-03-01T12:00:00.000Z"
    assert d["agora_tags"][0]["attributes"] == {"EVENT": "START", "TRACK_TYPE": "AUDIO", "TIME": "20240301120100000"}
    for key in ("segments", "ended", "discontinuities", "target_duration", "byte_size", "agora_tag_counts"):
        assert key in d


def test_no_slice_stamps_means_no_wall_clock():
    s = every_way(b"#EXTM3U\n#EXTINF:4.0,\nhttps://cdn.example/a.ts\n#EXTINF:6,\nb.ts?x=1\n")
    assert s.segments == 2
    assert s.duration_us == 10_000_000
    assert s.first_slice_utc is None
    assert s.wall_clock_span_us is None
    assert s.ended is False


def test_slice_time_reads_the_name_only():
    assert slice_time("a/b/sid_c_20240101000000123.ts?sig=1") == datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    assert slice_time("sid_c_20241301000000000.ts") is None  # month 13 is not a time
    assert slice_time("sid_c_2024010100000012.ts") is None  # 16 digits


# ---- formatting variants ------------------------------------------------------------------------


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("final_newline", [False, True])
def test_crlf_bom_and_missing_final_newline_change_nothing(crlf, bom, final_newline):
    text = AGORA_MIX if final_newline else AGORA_MIX.rstrip("\n")
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    s = every_way(data)
    plain = every_way(AGORA_MIX.encode())
    assert (s.segments, s.duration_us, s.ended, s.discontinuities, s.wall_clock_span_us) == (
        plain.segments,
        plain.duration_us,
        plain.ended,
        plain.discontinuities,
        plain.wall_clock_span_us,
    )
    assert s.last_segment_uri == plain.last_segment_uri  # no stray "\r"


@pytest.mark.parametrize(
    ("extinf", "us"),
    [
        ("10", 10_000_000),
        ("10.", 10_000_000),
        ("10.5", 10_500_000),
        ("10.5,", 10_500_000),
        ("10.500000,", 10_500_000),
        ("10.5,some title", 10_500_000),
        ("10.5 , title, with commas", 10_500_000),
        (" 10.25\t,x", 10_250_000),
        ("010.125", 10_125_000),
        (".5", 500_000),
        ("0.000001", 1),
        ("999999999999.999999", 999_999_999_999_999_999),
    ],
)
def test_extinf_forms(extinf, us):
    s = every_way(f"#EXTM3U\n#EXTINF:{extinf}\na.ts\n#EXTINF:1.000\nb.ts\n".encode())
    assert s.segments == 2
    assert s.duration_us == us + 1_000_000


def test_blank_lines_comments_and_indentation_are_ignored():
    data = b"\n\n  \n#EXTM3U\n\n# Audio\n#EXTINF:1.5\n\n  a.ts  \n\t\n#EXTINF:2.5,\n# Video\nb.ts\n\n"
    s = every_way(data)
    assert (s.segments, s.duration_us) == (2, 4_000_000)
    assert (s.first_segment_uri, s.last_segment_uri) == ("a.ts", "b.ts")


def test_tags_between_extinf_and_uri():
    data = b"#EXTM3U\n#EXTINF:3\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\na.ts\n"
    s = every_way(data)
    assert (s.segments, s.duration_us, s.discontinuities) == (1, 3_000_000, 1)


def test_trailing_extinf_without_uri_is_not_counted():
    s = every_way(b"#EXTM3U\n#EXTINF:5.0\na.ts\n#EXTINF:7.0\n")
    assert s.segments == 1
    assert s.duration_us == 5_000_000
    assert s.trailing_extinf is True
    assert s.last_segment_us == 5_000_000


def test_header_only_playlist():
    s = every_way(b"#EXTM3U\n#EXT-X-TARGETDURATION:15\n")
    assert (s.segments, s.duration_us, s.first_segment_uri, s.wall_clock_span_us) == (0, 0, None, None)
    assert s.to_dict()["duration_seconds"] == "0.000000"


def test_endlist_then_tags_is_fine():
    s = every_way(b"#EXTM3U\n#EXTINF:1\na.ts\n#EXT-X-ENDLIST\n#EXT-X-SOMETHING\n\n# trailing comment\n")
    assert s.ended and s.segments == 1


# ---- Agora's tags ---------------------------------------------------------------------------------


def test_agora_tags_counted_and_collected():
    data = (
        b"#EXTM3U\n"
        b"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20240301120000123\n"
        b"#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=360,ROTATE=90,TIME=1709294400123\n"
        b"#EXTINF:15.0\na.ts\n"
        b"#EXT-X-DISCONTINUITY\n"
        b'#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE="VIDEO",TIME=20240301121000000\n'
        b"#EXT-X-AGORA-NEWTHING:A=1\n"
        b"#EXTINF:15.0\nb.ts\n"
    )
    s = every_way(data)
    assert s.agora_tag_counts == {"EXT-X-AGORA-TRACK-EVENT": 2, "EXT-X-AGORA-ROTATE": 1, "EXT-X-AGORA-NEWTHING": 1}
    assert (s.track_events, s.rotations, s.discontinuities) == (2, 1, 1)
    first, rotate, second, new = s.agora_tags
    assert (first.name, first.line) == ("EXT-X-AGORA-TRACK-EVENT", 2)
    assert first.time == datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert rotate.attributes["ROTATE"] == "90"
    assert rotate.time == datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)  # epoch milliseconds
    assert second.attributes["TRACK_TYPE"] == "VIDEO"  # quotes removed
    assert (new.name, new.time) == ("EXT-X-AGORA-NEWTHING", None)
    assert s.agora_tags_truncated is False


def test_collected_agora_tags_are_bounded(monkeypatch):
    monkeypatch.setattr(parser_module, "MAX_COLLECTED_TAGS", 3)
    lines = ["#EXTM3U"]
    for i in range(10):
        lines += ["#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO", "#EXTINF:1", f"s{i}.ts"]
    s = summarize("\n".join(lines).encode())
    assert s.track_events == 10
    assert len(s.agora_tags) == 3
    assert s.agora_tags_truncated is True


# ---- exactness ------------------------------------------------------------------------------------


@pytest.mark.slow  # a million segments: seconds
def test_a_million_tenths_are_exactly_100000_seconds():
    def chunks() -> Iterator[bytes]:
        yield b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n"
        block = b"#EXTINF:0.1,\nseg.ts\n" * 10_000
        for _ in range(100):
            yield block
        yield b"#EXT-X-ENDLIST\n"

    s = parse_playlist(chunks())
    assert s.segments == 1_000_000
    assert s.duration_us == 100_000_000_000
    assert str(s.duration_seconds) == "100000.000000"
    assert s.duration_exact_seconds == Decimal(100000)
    naive = 0.0
    for _ in range(1_000_000):
        naive += 0.1  # what a parser adding floats as it reads would have printed
    assert naive != 100000.0  # (sum() itself is compensated since Python 3.12, a running total is not)


def test_more_than_six_decimals_round_half_even_on_the_exact_total():
    one = every_way(b"#EXTM3U\n#EXTINF:0.0000005\na.ts\n")
    assert one.duration_us == 0  # 0.5 us rounds to the even 0
    assert one.duration_exact_seconds == Decimal("0.0000005")
    three = every_way(b"#EXTM3U\n" + b"#EXTINF:0.0000005\na.ts\n" * 3)
    assert three.duration_us == 2  # 1.5 us rounds to 2; per-segment rounding would have said 0
    assert three.duration_exact_seconds == Decimal("0.0000015")
    mixed = every_way(b"#EXTM3U\n#EXTINF:1.1\na.ts\n#EXTINF:2.123456789\nb.ts\n#EXTINF:3\nc.ts\n")
    assert mixed.duration_exact_seconds == Decimal("6.223456789")
    assert mixed.duration_us == 6_223_457
    assert mixed.last_segment_us == 3_000_000


# ---- chunk and block boundaries everywhere ------------------------------------------------------

SMALL = (
    "\ufeff#EXTM3U\r\n#EXT-X-TARGETDURATION:16\r\n#EXTINF:15.016,\r\nsid_c_20240101000000000.ts\r\n"
    "#EXT-X-DISCONTINUITY\n\n#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=AUDIO\n"
    "#EXTINF:9.5\nsid_c_20240101000100000.ts\n#EXTINF:0.484,t\nsid_c_20240101000109500.ts\n#EXT-X-ENDLIST"
).encode()


def test_split_at_every_position():
    reference = summarize(SMALL, fast=False)
    assert (reference.segments, reference.duration_us, reference.discontinuities) == (3, 25_000_000, 1)
    for block_size in (1, 3, parser_module.DEFAULT_BLOCK_SIZE):
        for cut in range(len(SMALL) + 1):
            p = PlaylistParser(block_size=block_size)
            p.feed(SMALL[:cut])
            p.feed(SMALL[cut:])
            assert p.close() == reference, (block_size, cut)


def test_one_byte_chunks():
    reference = summarize(SMALL, fast=False)
    for block_size in (1, 2, 7, parser_module.DEFAULT_BLOCK_SIZE):
        p = PlaylistParser(block_size=block_size)
        for i in range(len(SMALL)):
            p.feed(SMALL[i : i + 1])
        assert p.close() == reference


def _thirty_days(segment_seconds: int = 15) -> tuple[Iterator[bytes], list[int]]:
    """Lazily generated 30-day Agora mix playlist, ~13 MB; expected [segments, total_ms] filled as it goes."""
    expected = [0, 0]

    def gen() -> Iterator[bytes]:
        yield b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:18\n"
        t_ms = 1_700_000_000_000
        horizon = t_ms + 30 * 86_400_000
        lines: list[bytes] = []
        i = 0
        while t_ms < horizon:
            d_ms = segment_seconds * 1000 + (i * 7919) % 1001 - 500  # deterministic, 3 decimals
            stamp = datetime.fromtimestamp(t_ms / 1000, UTC).strftime("%Y%m%d%H%M%S") + f"{t_ms % 1000:03d}"
            lines.append(
                b"#EXTINF:%d.%03d\n%s_room42_%s.ts\n" % (d_ms // 1000, d_ms % 1000, SID.encode(), stamp.encode())
            )
            expected[0] += 1
            expected[1] += d_ms
            t_ms += d_ms
            i += 1
            if len(lines) == 2000:
                yield b"".join(lines)
                lines = []
        yield b"".join(lines) + b"#EXT-X-ENDLIST\n"

    return gen(), expected


@pytest.mark.slow  # thirty days of segments: seconds
def test_thirty_day_playlist_streamed_with_constant_memory():
    generated, expected = _thirty_days()
    chunks = list(generated)  # generated outside the trace: the parser's own allocations are measured
    p = PlaylistParser()
    tracemalloc.start()
    try:
        for chunk in chunks:
            p.feed(chunk)
        summary = p.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.byte_size > 12_000_000
    assert summary.segments == expected[0] > 170_000
    assert summary.duration_us == expected[1] * 1000
    assert summary.ended
    # the span: first start to last start + last duration == the sum, as the generator has no gaps
    assert summary.wall_clock_span_us == expected[1] * 1000
    assert peak < 8_000_000, peak  # a few blocks and chunks, not the 13 MB playlist


def test_the_fast_path_does_the_work(monkeypatch):
    """Only headers and tags go line by line; segment pairs are taken a block at a time."""
    calls = []
    original = PlaylistParser._line

    def spy(self, raw, no):
        calls.append(raw)
        return original(self, raw, no)

    monkeypatch.setattr(PlaylistParser, "_line", spy)
    body = b"".join(b"#EXTINF:10.%03d\nsid_c_%017d.ts\n" % (i % 1000, 20240101000000000 + i) for i in range(20_000))
    s = summarize(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:11\n" + body + b"#EXT-X-DISCONTINUITY\n" + body + b"#EXT-X-ENDLIST\n"
    )
    assert s.segments == 40_000
    assert s.discontinuities == 1
    assert len(calls) < 10


# ---- inputs ---------------------------------------------------------------------------------------


def test_sources_bytes_file_iterator_and_path(tmp_path):
    data = AGORA_MIX.encode()
    path = tmp_path / "p.m3u8"
    path.write_bytes(data)
    expected = summarize(data)
    assert parse_playlist(data) == expected
    assert parse_playlist(bytearray(data)) == expected
    assert parse_playlist(io.BytesIO(data), chunk_size=7) == expected
    assert parse_playlist(iter([data[:10], b"", data[10:]])) == expected
    assert parse_playlist_file(path) == expected


def test_text_input_is_refused():
    with pytest.raises(TypeError):
        parse_playlist(AGORA_MIX)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_playlist(io.StringIO(AGORA_MIX))  # type: ignore[arg-type]


def test_feed_after_close_is_refused():
    p = PlaylistParser()
    p.feed(AGORA_MIX.encode())
    p.close()
    with pytest.raises(ValueError):
        p.feed(b"x")


# ---- errors ---------------------------------------------------------------------------------------

BAD = [
    (b"", 1, "empty object"),
    (b"\n  \n\r\n", 3, "no #EXTM3U"),
    (b"hello\n#EXTM3U\n", 1, "first non-empty line must be #EXTM3U"),
    (b"\n\n<html>\n", 3, "first non-empty line must be #EXTM3U"),
    (b"#EXTM3U8\n", 1, "first non-empty line must be #EXTM3U"),
    (b"G\x40\x00\x10\xff\xff\xff", 1, "NUL byte"),
    (b"#EXTM3U\n#EXTINF:1\na.ts\nb\x00c\n", 4, "NUL byte"),
    (b"#EXTM3U\n#EXTINF:1\n\xc3\x28.ts\n", 3, "invalid UTF-8"),
    (b"\xff\xfe#\x00E\x00", 1, "NUL byte"),
    (b"#EXTM3U\n#EXTINF:abc\na.ts\n", 2, "not a decimal number: 'abc'"),
    (b"#EXTM3U\n#EXTINF:\na.ts\n", 2, "not a decimal number"),
    (b"#EXTM3U\n#EXTINF:,title\na.ts\n", 2, "not a decimal number"),
    (b"#EXTM3U\n#EXTINF:1e3\na.ts\n", 2, "not a decimal number"),
    (b"#EXTM3U\n#EXTINF:1.2.3\na.ts\n", 2, "not a decimal number"),
    (b"#EXTM3U\n#EXTINF:10.5 s\na.ts\n", 2, "not a decimal number"),
    (b"#EXTM3U\n#EXTINF:-4.0\na.ts\n", 2, "negative"),
    (b"#EXTM3U\n#EXTINF:1.1234567890123456789\na.ts\n", 2, "more than 18 decimals"),
    (b"#EXTM3U\n#EXTINF:1234567890123\na.ts\n", 2, "too large"),
    (b"#EXTM3U\n#EXTINF:1\na.ts\nb.ts\n", 4, "URI without a preceding #EXTINF"),
    (b"#EXTM3U\na.ts\n", 2, "URI without a preceding #EXTINF"),
    (b"#EXTM3U\n#EXTINF:1\nu#EXTINF:2\nv\nw\n", 4, "URI without a preceding #EXTINF"),  # a tag-like URI
    (b"#EXTM3U\n#EXTINF:1\n#EXTINF:2\na.ts\n", 3, "#EXTINF follows an #EXTINF"),
    (b"#EXTM3U\n#EXTINF:1\na.ts\n#EXT-X-ENDLIST\n#EXTINF:1\nb.ts\n", 5, "after #EXT-X-ENDLIST"),
    (b"#EXTM3U\n#EXT-X-ENDLIST\nb.ts\n", 3, "after #EXT-X-ENDLIST"),
    (b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", 2, "master playlist"),
    (b"#EXTM3U\n#EXT-X-TARGETDURATION:15.5\n", 2, "TARGETDURATION must be a non-negative integer"),
    (b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n", 2, "MEDIA-SEQUENCE"),
]


@pytest.mark.parametrize(("data", "line", "fragment"), BAD)
def test_invalid_input_names_the_line(data, line, fragment):
    errors = [error_of(data, fast=False)] + [error_of(data, block_size=b) for b in (1, 4, 1 << 18)]
    for err in errors:
        assert err.line == line, str(err)
        assert fragment in str(err)
        assert str(err).startswith(f"line {line}: ")
        assert "\n" not in str(err)
    assert isinstance(errors[0], AgorakitError)
    assert isinstance(errors[0], ValueError)


@pytest.mark.parametrize(("data", "line", "fragment"), BAD)
def test_errors_do_not_depend_on_chunking(data, line, fragment):
    for size in (1, 2, 3):
        p = PlaylistParser(block_size=size)
        with pytest.raises(PlaylistError) as info:
            for i in range(0, len(data), size):
                p.feed(data[i : i + size])
            p.close()
        assert info.value.line == line


def test_errors_among_many_segments_are_found_in_the_block_path():
    good = b"#EXTINF:10.000\nsid_c_20240101000000000.ts\n" * 5000
    data = b"#EXTM3U\n" + good + b"#EXTINF:ten\nx.ts\n" + good
    err = error_of(data)
    assert err.line == 1 + 10_000 + 1
    assert "'ten'" in str(err)


def test_long_lines_are_refused_whatever_the_chunking():
    limit = parser_module.MAX_LINE_BYTES
    ok = b"#EXTM3U\n#EXTINF:1\n" + b"a" * limit + b"\n"
    assert summarize(ok).segments == 1
    too_long = b"#EXTM3U\n#EXTINF:1\n" + b"a" * (limit + 1) + b"\n"
    for feed in (1 << 20, 4096, 3 * limit):
        p = PlaylistParser()
        with pytest.raises(PlaylistError, match=r"^line 3: line longer than"):
            for i in range(0, len(too_long), feed):
                p.feed(too_long[i : i + feed])
            p.close()
    binary = b"\x01" * (limit + 10)  # no newline at all: refused before it is buffered whole
    p = PlaylistParser()
    with pytest.raises(PlaylistError, match=r"^line 1: "):
        for i in range(0, len(binary), 65536):
            p.feed(binary[i : i + 65536])
        p.close()


def test_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(PlaylistError(7, "bad")))  # noqa: S301 - our own bytes
    assert (err.line, err.reason, str(err)) == (7, "bad", "line 7: bad")
