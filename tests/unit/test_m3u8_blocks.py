"""The block path on playlists with tags and blank lines: each byte is scanned once, results match the line path."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from agorakit.m3u8.parser import PlaylistParser
from hypothesis import given, settings
from hypothesis import strategies as st

SPECIAL_LINES = [
    b"#EXT-X-DISCONTINUITY",
    b"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20240101000000000",
    b"#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=360,ROTATE=90,TIME=20240101000000000",
    b"",
    b"  ",
    b"# comment",
]


def parse(data: bytes, *, block_size: int = 1 << 18, fast: bool = True, spans: list | None = None):
    parser = PlaylistParser(block_size=block_size, fast=fast)
    if spans is not None:
        original = parser._run

        def recording_run(buf, a, b):  # records what the block path scans, then does it
            spans.append((id(buf), a, b))
            return original(buf, a, b)

        parser._run = recording_run  # type: ignore[method-assign]
    parser.feed(data)
    return parser.close()


def playlist(pairs: int, every: int, special: bytes) -> tuple[bytes, Decimal]:
    out = [b"#EXTM3U\n#EXT-X-TARGETDURATION:12\n"]
    total = Decimal(0)
    for i in range(pairs):
        if i and i % every == 0:
            out.append(special + b"\n")
        value = Decimal(10_000_000 + (i * 7919) % 600_000).scaleb(-6)
        total += value
        out.append(b"#EXTINF:%s,\nsid_room_%017d.ts\n" % (f"{value:f}".encode(), 20240101000000000 + i))
    out.append(b"#EXT-X-ENDLIST\n")
    return b"".join(out), total


@pytest.mark.parametrize("special", SPECIAL_LINES, ids=repr)
def test_no_byte_is_scanned_twice_by_the_block_path(special):
    """A block holding a tag or a blank line is split at once, not run whole first and then again in pieces."""
    data, total = playlist(30_000, 997, special)
    spans: list[tuple[bytes, int, int]] = []
    summary = parse(data, spans=spans)
    assert summary.segments == 30_000
    assert summary.duration_exact_seconds == total
    by_block: dict[int, list[tuple[int, int]]] = {}
    for block, a, b in spans:
        by_block.setdefault(id(block), []).append((a, b))
    for ranges in by_block.values():
        ranges.sort()
        for (_, end), (start, _) in pairwise(ranges):
            assert end <= start, "a region went through the #EXTINF scan twice"
    assert sum(b - a for _, a, b in spans) <= len(data)
    assert len(spans) > 30_000 // 997  # and the pieces between the specials did take the block path


def test_tag_free_blocks_still_go_whole():
    data, total = playlist(30_000, 10**9, b"")
    spans: list[tuple[bytes, int, int]] = []
    summary = parse(data, spans=spans)
    assert summary.duration_exact_seconds == total
    assert len(spans) == len({id(s[0]) for s in spans})  # one run per block


@pytest.mark.parametrize("block_size", [1, 7, 64, 4096, 1 << 18])
@pytest.mark.parametrize("special", SPECIAL_LINES, ids=repr)
def test_specials_at_every_block_edge_agree_with_the_line_path(block_size, special):
    data, total = playlist(400, 3, special)
    fast = parse(data, block_size=block_size)
    assert fast == parse(data, fast=False)
    assert fast.duration_exact_seconds == total
    assert fast.discontinuities == (133 if special == b"#EXT-X-DISCONTINUITY" else 0)


@pytest.mark.slow  # 200 examples at every block size: seconds
@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(SPECIAL_LINES),
            st.integers(min_value=0, max_value=10**8).map(lambda n: b"P%d" % n),
        ),
        max_size=60,
    ),
    st.sampled_from([1, 5, 33, 1 << 18]),
)
def test_any_mix_of_pairs_tags_and_blank_lines(items, block_size):
    """Pairs (P<n> -> an #EXTINF of n microseconds and its URI) mixed with specials, exact under any block size."""
    lines, total = [b"#EXTM3U"], Decimal(0)
    for i, item in enumerate(items):
        if item.startswith(b"P"):
            value = Decimal(int(item[1:])).scaleb(-6)
            total += value
            lines += [b"#EXTINF:%s," % f"{value:f}".encode(), b"s_%d.ts" % i]
        else:
            lines.append(item)
    data = b"\n".join(lines) + b"\n"
    summary = parse(data, block_size=block_size)
    assert summary.duration_exact_seconds == total
    assert summary == parse(data, fast=False)


@pytest.mark.slow  # 300 examples against a line-by-line reference: seconds
@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(
        st.sampled_from(
            [b"#EXTINF:1.5,", b"a.ts", b"", b" ", b"\t", b"#EXT-X-DISCONTINUITY", b"# c", b"#EXTM3U", b"#X", b"#EXTINF"]
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=0, max_value=5),
)
def test_special_line_finder_matches_a_line_by_line_reference(lines, start):
    """The lines the block path hands to the line path: every tag but #EXTINF, comments, blank and indented lines."""
    from agorakit.m3u8.parser import _special_lines

    buf = b"\n".join(lines) + b"\n"
    start = min(start, len(buf) - 1)
    expected, pos = [], 0
    for line in buf.split(b"\n")[:-1]:
        special = line == b"" or line[:1] in (b" ", b"\t") or (line[:1] == b"#" and not line.startswith(b"#EXTINF:"))
        if special and pos > start:  # the first line of the range is the caller's to check
            expected.append(pos)
        pos += len(line) + 1
    assert _special_lines(buf, start, len(buf)) == expected
