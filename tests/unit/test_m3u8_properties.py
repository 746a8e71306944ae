"""Generated playlists against an exact Decimal reference, under random chunking and block sizes."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from agorakit.m3u8.parser import PlaylistError, PlaylistParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fixtures import examples

TAGS = [
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20240101000000000",
    "#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=360,ROTATE=90,TIME=20240101000000000",
    "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z",
    "# a comment",
    "",
    "   ",
]

durations = st.builds(
    lambda units, k: Decimal(units).scaleb(-k),
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from([0, 0, 1, 3, 3, 6, 6, 7, 9]),
)


@st.composite
def playlists(draw):
    """(bytes, [durations], ended, discontinuities, track events)."""
    values = draw(st.lists(durations, max_size=40))
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{draw(st.integers(0, 30))}"]
    discontinuities = track_events = 0
    for i, value in enumerate(values):
        for tag in draw(st.lists(st.sampled_from(TAGS), max_size=2)):
            lines.append(tag)
            discontinuities += tag == "#EXT-X-DISCONTINUITY"
            track_events += tag.startswith("#EXT-X-AGORA-TRACK-EVENT")
        text = draw(st.sampled_from(["{:f}", "{:f},", "{:f},title", " {:f} , a,b", "0{:f}"])).format(value)
        lines.append("#EXTINF:" + text)
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append(draw(st.sampled_from(TAGS[:4])))  # a tag between #EXTINF and its URI
            discontinuities += lines[-1] == "#EXT-X-DISCONTINUITY"
            track_events += lines[-1].startswith("#EXT-X-AGORA-TRACK-EVENT")
        lines.append(f"sid_chan_{20240101000000000 + i * 15000}.ts" + draw(st.sampled_from(["", " "])))
    ended = draw(st.booleans())
    if ended:
        lines.append("#EXT-X-ENDLIST")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    data = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode()
    return data, values, ended, discontinuities, track_events


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[i:j] for i, j in zip([0, *points], [*points, len(data)], strict=True)]


def run(chunks: list[bytes], *, block_size: int, fast: bool = True):
    p = PlaylistParser(block_size=block_size, fast=fast)
    for chunk in chunks:
        p.feed(chunk)
    return p.close()


@pytest.mark.slow  # 300 playlists of up to 40 segments, some fed a byte at a time: seconds
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    playlists(),
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=12),
    st.sampled_from([1, 2, 5, 17, 64, 1 << 18]),
)
def test_summary_matches_exact_reference(playlist, cuts, block_size):
    data, values, ended, discontinuities, track_events = playlist
    summary = run(chunked(data, cuts), block_size=block_size)
    exact = sum(values, Decimal(0))
    assert summary.segments == len(values)
    assert summary.duration_exact_seconds == exact
    assert summary.duration_us == int((exact * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))
    assert summary.duration_seconds == exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    assert summary.ended is ended
    assert summary.discontinuities == discontinuities
    assert summary.track_events == track_events
    assert summary.byte_size == len(data)
    if values:
        last = values[-1]
        assert summary.last_segment_us == int((last * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))
        assert summary.last_segment_uri == f"sid_chan_{20240101000000000 + (len(values) - 1) * 15000}.ts"
    # the line-by-line reference path agrees on everything
    assert run([data], block_size=1 << 18, fast=False) == summary


BROKEN = [
    "#EXTINF:abc",
    "#EXTINF:-1",
    "#EXTINF:",
    "orphan.ts",
    "#EXTINF:1.5",  # doubled #EXTINF (or a trailing one, which is fine)
    "#EXT-X-STREAM-INF:BANDWIDTH=1",
    "#EXT-X-TARGETDURATION:x",
    "bad\x00line",
    "#EXTINF:1e5",
]


@pytest.mark.slow  # 200 broken playlists, some fed a byte at a time: seconds
@settings(max_examples=examples(200), deadline=None)
@given(
    playlists(),
    st.sampled_from(BROKEN),
    st.integers(min_value=1),
    st.lists(st.integers(min_value=0, max_value=10**6), max_size=8),
    st.sampled_from([1, 3, 64, 1 << 18]),
)
def test_errors_are_the_same_whatever_the_chunking(playlist, broken, where, cuts, block_size):
    data = playlist[0]
    lines = data.split(b"\n")
    lines.insert(1 + where % len(lines), broken.encode())
    data = b"\n".join(lines)

    def outcome(chunks, **kw):
        try:
            s = run(chunks, **kw)
        except PlaylistError as exc:
            return ("error", exc.line, str(exc))
        return ("ok", s.segments, s.duration_exact_seconds)

    reference = outcome([data], block_size=1 << 18, fast=False)
    assert outcome(chunked(data, cuts), block_size=block_size) == reference


@pytest.mark.parametrize("k", [1, 3, 6])
def test_many_equal_values_sum_exactly(k):
    """Values on a 10**-k grid summed by the block path equal the Decimal sum (no float involved)."""
    value = Decimal(1).scaleb(-k) * 7  # 0.7, 0.007, 0.000007
    n = 50_000
    data = b"#EXTM3U\n" + (b"#EXTINF:%s\nx.ts\n" % f"{value:f}".encode()) * n
    summary = run([data], block_size=1 << 18)
    assert summary.duration_exact_seconds == value * n
