"""The block path's exact-k sums against a slow reference: runs of #EXTINF values whose number of decimals
changes, written in every accepted form, between tags, comments, blank and indented lines, LF or CRLF."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from agorakit.m3u8.parser import PlaylistParser
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fixtures import examples

SPECIALS = [
    "#EXT-X-DISCONTINUITY",
    "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20240101000000000",
    "#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=360,ROTATE=90,TIME=20240101000000000",
    "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z",
    "# a comment",
    "#EXTINFO not an #EXTINF",
    "",
    "  ",
    "\t",
]


def value_text(units: int, k: int, form: int) -> str:
    """units * 10**-k as an #EXTINF value in one of the forms the parser accepts."""
    whole, frac = divmod(units, 10**k)
    number = f"{whole}.{frac:0{k}d}" if k else (f"{whole}." if form == 1 else f"{whole}")
    if form == 2:
        number = "0" + number  # a leading zero
    suffix = ["", ",", ",a title, with commas", " ,", "\t,x"][form % 5]
    return number + suffix


@st.composite
def playlists(draw):
    """(text lines, [exact values], discontinuities)."""
    lines, values, gaps = ["#EXTM3U", "#EXT-X-TARGETDURATION:12"], [], 0
    for _ in range(draw(st.integers(1, 4))):  # runs with one number of decimals each
        k = draw(st.sampled_from([0, 1, 3, 6, 6, 6, 9, 18]))
        form = draw(st.sampled_from([0, 0, 1, 1, 2, 3, 4]))
        for i in range(draw(st.integers(1, 300))):
            if draw(st.integers(0, 40)) == 0:
                for special in draw(st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=3)):
                    lines.append(special)
                    gaps += special == "#EXT-X-DISCONTINUITY"
            units = draw(st.integers(0, 30 * 10**k))
            values.append(Decimal(units).scaleb(-k))
            lines.append("#EXTINF:" + value_text(units, k, form))
            if draw(st.integers(0, 60)) == 0:
                lines.append(draw(st.sampled_from(SPECIALS[:4])))  # a tag between #EXTINF and its URI
                gaps += lines[-1] == "#EXT-X-DISCONTINUITY"
            lines.append(("  " if draw(st.integers(0, 80)) == 0 else "") + f"sid_room_{i:017d}.ts")
    lines.append("#EXT-X-ENDLIST")
    return lines, values, gaps


def reference(text: str) -> tuple[int, Decimal, int]:
    """Segments, exact duration and discontinuities, one line at a time with Decimal (valid playlists only)."""
    segments, total, gaps, pending = 0, Decimal(0), 0, None
    for raw in text.splitlines():
        line = raw.strip(" \t")
        if line.startswith("#EXTINF:"):
            pending = Decimal(line[8:].split(",", 1)[0].strip(" \t").rstrip(".") or "0")
        elif line == "#EXT-X-DISCONTINUITY":
            gaps += 1
        elif line and not line.startswith("#"):
            assert pending is not None
            segments, total, pending = segments + 1, total + pending, None
    return segments, total, gaps


def parse(data: bytes, *, block_size: int, cuts: list[int] = (), fast: bool = True):
    parser = PlaylistParser(block_size=block_size, fast=fast)
    points = sorted({c % (len(data) + 1) for c in cuts})
    for i, j in zip([0, *points], [*points, len(data)], strict=True):
        parser.feed(data[i:j])
    return parser


@pytest.mark.slow  # 80 playlists of up to 1,200 segments, each drawn by Hypothesis: seconds
@settings(max_examples=examples(80), deadline=None, derandomize=True)
@given(
    playlists(),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([64, 1000, 4096, 1 << 18]),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_exact_whatever_the_decimals_forms_and_specials(playlist, newline, block_size, cuts):
    lines, values, gaps = playlist
    text = newline.join(lines) + newline
    data = text.encode()
    summary = parse(data, block_size=block_size, cuts=cuts).close()
    assert (summary.segments, summary.duration_exact_seconds, summary.discontinuities) == reference(text)
    assert summary.duration_exact_seconds == sum(values, Decimal(0))
    assert summary.discontinuities == gaps
    assert summary == parse(data, block_size=1 << 18, fast=False).close()


@pytest.mark.slow  # up to 8,000 segments per example: seconds
@settings(max_examples=examples(40), deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from([0, 3, 6, 9]), st.integers(200, 2000)), min_size=1, max_size=4))
def test_the_general_pattern_runs_only_where_the_decimals_change(runs):
    """Each run of one k costs at most a region or two through the general pattern; the rest is exact-k."""
    lines, total, n = ["#EXTM3U"], Decimal(0), 0
    for k, count in runs:
        for _ in range(count):
            units = 10 * 10**k + n % 997
            total += Decimal(units).scaleb(-k)
            lines += ["#EXTINF:" + value_text(units, k, 0) + ",", f"s{n}.ts"]
            n += 1
    data = ("\n".join(lines) + "\n").encode()
    parser = PlaylistParser(block_size=4096)
    general: list[int] = []
    original = parser._add_many
    parser._add_many = lambda values: (general.append(len(values)), original(values))[1]  # type: ignore[method-assign]
    parser.feed(data)
    summary = parser.close()
    assert summary.duration_exact_seconds == total
    assert summary.segments == n
    changes = sum(1 for a, b in pairwise(runs) if a[0] != b[0]) + (runs[0][0] != 6)
    assert len(general) <= 2 * changes
