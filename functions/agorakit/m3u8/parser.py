"""A streaming, exact summary of an HLS media playlist (m3u8) as Agora Cloud Recording writes it.

Why not the ``m3u8`` library: it loads the whole text, builds an object per segment and sums floats.
A 30-day recording's playlist is about 13 MB and 170-260 thousand segments; this parser reads it in
chunks with constant memory (a block of at most about 512 KiB plus one line) and is an order of
magnitude faster, because runs of ``#EXTINF``/URI pairs are validated and summed with bytes and
regex operations over a whole block at a time. Anything unusual (tags, blank lines, CR, odd spacing)
goes through a line-by-line path that is the reference semantics; tests check both paths agree.
The block path expects the number of decimals of the values it saw last (Agora writes 6 throughout a
playlist): values of exactly that form are summed as integers straight from one regex pass; any other
region takes a general pattern once, which learns the new number of decimals.

Exactness (a deliberate choice): every ``#EXTINF`` value is parsed as a decimal digit string with
integer arithmetic, never through float. The exact sum is kept as an integer in units of
10^-d, where d is the largest number of decimals seen (6 at least, 18 at most; more than 18 decimals,
or more than 12 integer digits, is rejected as not a duration). ``duration_us`` is that exact sum
rounded half-to-even to the microsecond, so it equals the exact sum whenever every value has at most
6 decimals (Agora writes 3 or 6); ``duration_exact_seconds`` keeps every digit.

Semantics: a segment is a URI line preceded by its ``#EXTINF``; the duration is the sum of the
segments' ``#EXTINF`` values. A final ``#EXTINF`` without a URI (a playlist cut mid-write) does not
count and sets ``trailing_extinf``. Blank and whitespace-only lines are ignored, leading/trailing
spaces and tabs of a line are stripped, lines end in LF or CRLF, a UTF-8 BOM and a missing final
newline are accepted. Invalid input raises :class:`PlaylistError` naming the line: not a playlist (the
first non-empty line is not ``#EXTM3U``), an empty object, NUL bytes or invalid UTF-8 (binary data),
a line over 1 MiB, a non-numeric or negative ``#EXTINF``, a URI without ``#EXTINF``, two ``#EXTINF``
without a URI between them, a segment after ``#EXT-X-ENDLIST``, a non-integer integer tag, and a master
playlist (``#EXT-X-STREAM-INF``), whose variants have no duration of their own.

Over 400 lines on purpose: the streaming parser's fast path and its line-by-line fallback must agree byte for byte,
so they stay side by side.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agorakit.errors import AgorakitError
from agorakit.m3u8._utc import iso_utc, parse_utc17

TYPE_CHECKING = False  # typing, collections.abc and dataclasses stay out of the import (see _record)
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from dataclasses import dataclass
    from typing import Any, BinaryIO
else:
    from agorakit.m3u8._record import record

    def dataclass(**_: object) -> object:
        return record


#: The longest line accepted. A playlist line is a tag or a URI; a longer one means binary data.
MAX_LINE_BYTES = 1 << 20
#: Bytes read per ``read()`` from a file object.
DEFAULT_CHUNK_SIZE = 256 * 1024
#: Bytes gathered before a block of complete lines is parsed (big enough to amortise per-block work).
DEFAULT_BLOCK_SIZE = 256 * 1024
#: Agora tags kept in full (all are counted); bounds memory for pathological playlists.
MAX_COLLECTED_TAGS = 1000
MAX_INT_DIGITS = 12
MAX_FRACTION_DIGITS = 18
_MIN_SCALE = 6

_BOM = b"\xef\xbb\xbf"
_HASH = 0x23  # "#"
_BLANKISH = (0x20, 0x09, 0x0A)  # a line starting with space, tab or newline is handled line by line

# One #EXTINF line of the common form, after the newline that ends the line before it, whose next
# line is a URI (not a tag, not blank, not indented) or the end of the region. The group is the number
# ("10.016", "10", "10."). Starting at the newline gives the search a literal prefix (a lookbehind
# for the line start costs about as much as the rest of the match).
_EXTINF_ANY = re.compile(rb"\n#EXTINF:(\d{1,12}(?:\.\d{0,18})?)[ \t]*(?:,[^\n]*)?(?=\n(?:[^#\s]|\Z))")
_EXTINF_K: dict[int, re.Pattern[bytes]] = {}  # k -> the same, for numbers with exactly k decimals
# The newline before a line the fast path leaves to the line-by-line path: a tag other than #EXTINF,
# a comment, a blank line or an indented line. A lookahead, so that a run of blank lines is found whole.
_SPECIAL = re.compile(rb"\n(?=#(?!EXTINF:)|[ \t\n])")
_EXTINF_VALUE = re.compile(rb"(\d*)(?:\.(\d*))?")
_ATTRIBUTE = re.compile(r'([A-Za-z0-9_-]+)=("[^"]*"|[^,]*)')
_SLICE_UTC = re.compile(r"_(\d{17})\.[A-Za-z0-9]+$")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Value = bytes  # one #EXTINF number as written: digits, optionally "." and decimal digits


class PlaylistError(AgorakitError, ValueError):
    """The input is not a valid media playlist; ``line`` is the 1-based line at fault."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.line, self.reason))


@dataclass(frozen=True, slots=True)
class AgoraTag:
    """One of Agora's own tags (``#EXT-X-AGORA-TRACK-EVENT``, ``#EXT-X-AGORA-ROTATE``, ...)."""

    name: str
    line: int
    attributes: dict[str, str]
    time: datetime | None = None  # from TIME=, a 17-digit UTC stamp or epoch milliseconds

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.name, "line": self.line, "attributes": dict(self.attributes), "time": iso_utc(self.time)}


@dataclass(frozen=True, slots=True)
class PlaylistSummary:
    """What a playlist says about its recording. ``to_dict()`` is JSON-ready (exact decimals as strings)."""

    segments: int
    duration_us: int
    duration_exact_seconds: Decimal
    ended: bool
    discontinuities: int
    target_duration: int | None
    media_sequence: int | None
    version: int | None
    playlist_type: str | None
    first_segment_uri: str | None
    last_segment_uri: str | None
    last_segment_us: int | None
    first_slice_utc: datetime | None
    last_slice_utc: datetime | None
    wall_clock_span_us: int | None
    agora_tag_counts: dict[str, int]
    agora_tags: tuple[AgoraTag, ...]
    agora_tags_truncated: bool
    trailing_extinf: bool
    byte_size: int
    lines: int

    @property
    def track_events(self) -> int:
        """``#EXT-X-AGORA-TRACK-EVENT`` tags: a stream (re)started (individual mode)."""
        return self.agora_tag_counts.get("EXT-X-AGORA-TRACK-EVENT", 0)

    @property
    def rotations(self) -> int:
        return self.agora_tag_counts.get("EXT-X-AGORA-ROTATE", 0)

    @property
    def duration_seconds(self) -> Decimal:
        """Exact to the microsecond, always 6 decimals (``Decimal('12345.678901')``)."""
        return _seconds(self.duration_us)

    @property
    def wall_clock_span_seconds(self) -> Decimal | None:
        return None if self.wall_clock_span_us is None else _seconds(self.wall_clock_span_us)

    def to_dict(self) -> dict[str, Any]:
        span = self.wall_clock_span_seconds
        return {
            "segments": self.segments,
            "duration_seconds": str(self.duration_seconds),
            "duration_us": self.duration_us,
            "duration_exact_seconds": str(self.duration_exact_seconds),
            "ended": self.ended,
            "discontinuities": self.discontinuities,
            "target_duration": self.target_duration,
            "media_sequence": self.media_sequence,
            "version": self.version,
            "playlist_type": self.playlist_type,
            "first_segment_uri": self.first_segment_uri,
            "last_segment_uri": self.last_segment_uri,
            "last_segment_us": self.last_segment_us,
            "first_slice_utc": iso_utc(self.first_slice_utc),
            "last_slice_utc": iso_utc(self.last_slice_utc),
            "wall_clock_span_seconds": None if span is None else str(span),
            "wall_clock_span_us": self.wall_clock_span_us,
            "track_events": self.track_events,
            "rotations": self.rotations,
            "agora_tag_counts": dict(self.agora_tag_counts),
            "agora_tags": [t.to_dict() for t in self.agora_tags],
            "agora_tags_truncated": self.agora_tags_truncated,
            "trailing_extinf": self.trailing_extinf,
            "byte_size": self.byte_size,
            "lines": self.lines,
        }


class PlaylistParser:
    """Incremental parser: ``feed()`` byte chunks of any size, then ``close()`` for the summary.

    ``block_size`` is how many bytes are gathered before parsing (tests use tiny values to put block
    boundaries everywhere); ``fast=False`` forces the line-by-line reference path.
    """

    def __init__(self, *, block_size: int = DEFAULT_BLOCK_SIZE, fast: bool = True) -> None:
        if block_size < 1:
            raise ValueError("block_size must be positive")
        self._block_size = min(block_size, MAX_LINE_BYTES // 2)
        self._fast_enabled = fast
        self._carry = b""  # the start of a line whose end has not arrived yet
        self._pieces: list[bytes] = []  # new data since the last flush
        self._buffered = 0  # bytes in self._pieces
        self._size = 0
        self._lines = 0
        self._closed = False
        self._header = False
        self._ended = False
        self._segments = 0
        self._total = 0  # exact sum of every #EXTINF seen, in units of 10**-self._scale
        self._scale = _MIN_SCALE
        self._fast_k = _MIN_SCALE  # decimals the block path expects (it learns them from the playlist)
        self._pending: _Value | None = None  # an #EXTINF still waiting for its URI
        self._last_value: _Value | None = None  # the #EXTINF of the last complete segment
        self._first_uri: bytes | None = None
        self._last_uri: bytes | None = None
        self._discontinuities = 0
        self._target: int | None = None
        self._media_sequence: int | None = None
        self._version: int | None = None
        self._playlist_type: str | None = None
        self._agora_counts: dict[str, int] = {}
        self._agora_tags: list[AgoraTag] = []

    # ---- input ---------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ValueError("feed() after close()")
        if not isinstance(data, bytes):
            if isinstance(data, str):
                raise TypeError("the playlist must be read as bytes (open the file in binary mode)")
            data = bytes(data)
        if not data:
            return
        self._size += len(data)
        step = self._block_size
        for offset in range(0, len(data), step):
            piece = data[offset : offset + step] if len(data) > step else data
            self._pieces.append(piece)
            self._buffered += len(piece)
            if self._buffered >= self._block_size or len(self._pieces) >= 4096:
                self._flush(final=False)

    def close(self) -> PlaylistSummary:
        if not self._closed:
            self._flush(final=True)
            self._closed = True
        if self._size == 0:
            raise PlaylistError(1, "empty object, not a playlist")
        if not self._header:
            raise PlaylistError(max(self._lines, 1), "no #EXTM3U header before the end of the data")
        return self._summary()

    def _flush(self, *, final: bool) -> None:
        if not self._pieces and not self._carry:
            return
        # The leading newline is a sentinel: every line of the block, the first too, follows a newline,
        # which is where the block path's patterns start. Complete lines are parsed in place, by range.
        data = b"".join([b"\n", self._carry, *self._pieces])
        self._carry = b""
        self._pieces = []
        self._buffered = 0
        cut = data.rfind(b"\n") + 1  # the end of the last complete line (1: none)
        if final and cut < len(data):
            data += b"\n"
            cut = len(data)
        if cut > 1:
            # A flush adds under 2 * block_size <= MAX_LINE_BYTES new bytes, so only the first line of
            # a block (it may start in the carry) can be too long: one rule whatever the chunking.
            first = data.find(b"\n", 1)
            if first - 1 > MAX_LINE_BYTES:
                raise self._binary_error(data[1:first], self._lines + 1, f"line longer than {MAX_LINE_BYTES} bytes")
            self._block(data, 1, cut)
        if cut < len(data):
            rest = data[cut:]
            if len(rest) > MAX_LINE_BYTES:
                raise self._binary_error(rest, self._lines + 1, f"line longer than {MAX_LINE_BYTES} bytes")
            self._carry = rest

    def _binary_error(self, text: bytes, line: int, reason: str) -> PlaylistError:
        if b"\x00" in text:
            return PlaylistError(line, "binary data (NUL byte), not a playlist")
        return PlaylistError(line, reason)

    # ---- blocks of complete lines ------------------------------------------------------------

    def _block(self, buf: bytes, start: int, end: int) -> None:
        """Parse the complete lines buf[start:end]; buf[start - 1] is a newline."""
        bad, reason = buf.find(b"\x00", start, end), "binary data (NUL byte), not a playlist"
        if bad < 0 and not buf.isascii():  # (the whole buffer: rare, then the block exactly)
            try:
                buf[start:end].decode("utf-8")
            except UnicodeDecodeError as exc:
                bad, reason = start + exc.start, "invalid UTF-8 (binary data?), not a playlist"
        if bad >= 0:
            # Lines before the bad one come first, so the error reported does not depend on chunking.
            line_start = buf.rfind(b"\n", start - 1, bad) + 1
            if line_start > start:
                self._block(buf, start, line_start)
            raise PlaylistError(self._lines + 1, reason)
        base = self._lines + 1  # number of the block's first line
        fast = self._fast_enabled
        if buf.find(b"\r", start, end) >= 0:
            buf = b"\n" + buf[start:end].replace(b"\r\n", b"\n")
            start, end = 1, len(buf)
            fast = fast and b"\r" not in buf  # a lone CR: let the line path deal with it
        pos, line = start, base
        while pos < end and not (fast and self._header):
            nl = buf.index(b"\n", pos)
            self._line(buf[pos:nl], line)
            pos, line = nl + 1, line + 1
        if pos < end:
            line = self._fast_block(buf, pos, end, line)
        self._lines = line - 1

    def _fast_block(self, buf: bytes, start: int, end: int, line: int) -> int:
        """Parse buf[start:end] (complete lines, the header seen); return the number of the line after it."""
        # Find the lines the fast path leaves to the line path first, so that a block holding a tag
        # or a blank line is split straight away instead of failing a whole-block run and being
        # scanned again (each byte goes through the #EXTINF regex once).
        specials = _special_lines(buf, start - 1, end)  # buf[start - 1] is a newline: the first line too
        pos = start
        for s in specials:
            if s > pos:
                line = self._region(buf, pos, s, line)
            nl = buf.index(b"\n", s)
            self._line(buf[s:nl], line)
            pos, line = nl + 1, line + 1
        if pos < end:
            line = self._region(buf, pos, end, line)
        return line

    def _region(self, buf: bytes, a: int, b: int, line: int) -> int:
        """buf[a:b] has no special line: the fast path if it can, else line by line; the next line's number."""
        n_lines = self._run(buf, a, b)
        if not n_lines:
            n_lines = buf.count(b"\n", a, b)
            self._lines_slow(buf, a, b, line)
        return line + n_lines

    def _lines_slow(self, buf: bytes, start: int, end: int, line: int) -> None:
        for raw in buf[start : end - 1].split(b"\n"):
            self._line(raw, line)
            line += 1

    def _run(self, buf: bytes, a: int, b: int) -> int:
        """Take buf[a:b] in one go if it is only #EXTINF/URI pairs (completing/leaving one pending).

        Returns the number of lines taken, or 0, having changed nothing, for anything else; the caller
        then splits the region. Correctness: the regex only matches a valid #EXTINF at a line start
        followed by a URI line; the line count must then be the least possible, which leaves no room
        for any other line.
        """
        if self._ended:
            return 0
        pending = self._pending
        first_is_uri = buf[a] != _HASH
        if first_is_uri != (pending is not None) or buf[a] in _BLANKISH:
            return 0
        last_start = max(buf.rfind(b"\n", a, b - 1) + 1, a)
        last_is_uri = buf[last_start] != _HASH
        n_lines = buf.count(b"\n", a, b)
        # Each #EXTINF is followed by its own URI line, so n_lines >= 2 * n_tags - 1 + first_is_uri +
        # last_is_uri, with equality only if every line is either a matched #EXTINF or the URI right
        # after one (or the leading URI): the region must hold exactly this many matches.
        twice = n_lines + 1 - first_is_uri - last_is_uri
        if twice & 1:
            return 0
        n_tags = twice >> 1
        found = self._values(buf, a, b, n_tags) if n_tags else []
        if found is None:
            return 0
        n_uris = n_lines - n_tags
        # commit
        if n_tags == 0:
            last_value: _Value | None = pending
            self._pending = None
        elif last_is_uri:
            last_value = found[-1]
            self._pending = None
        else:
            self._pending = found[-1]
            # with one #EXTINF ([URI,] #EXTINF) the last complete segment is the pending one or an older one
            last_value = found[-2] if n_tags >= 2 else (pending if first_is_uri else self._last_value)
        self._last_value = last_value
        if n_uris:
            self._segments += n_uris
            if self._first_uri is None:
                s = a if first_is_uri else buf.index(b"\n", a) + 1
                self._first_uri = buf[s : buf.index(b"\n", s)].rstrip(b" \t")
            if last_is_uri:
                self._last_uri = buf[last_start : b - 1].rstrip(b" \t")
            else:
                prev = max(buf.rfind(b"\n", a, last_start - 1) + 1, a)
                self._last_uri = buf[prev : last_start - 1].rstrip(b" \t")
        return n_lines

    def _values(self, buf: bytes, a: int, b: int, n_tags: int) -> list[_Value] | None:
        """The region's n_tags #EXTINF numbers, already added to the sum; None (nothing added) if it has not."""
        # The patterns start at the newline before an #EXTINF line (buf[a - 1]: the block's sentinel
        # or the end of the line before the region).
        # Numbers with the last region's number of decimals (Agora: always 6) go straight to an
        # integer sum; anything else takes the general pattern once, which also learns the new k.
        k = self._fast_k
        strict = _EXTINF_K.get(k)
        if strict is None:
            strict = _EXTINF_K[k] = re.compile(_EXTINF_ANY.pattern.replace(rb"(?:\.\d{0,18})?", _k_decimals(k)))
        found: list[_Value] = strict.findall(buf, a - 1, b)
        if len(found) == n_tags:
            self._add_k(found, k)
            return found
        found = _EXTINF_ANY.findall(buf, a - 1, b)
        if len(found) != n_tags:
            return None
        self._add_many(found)
        self._fast_k = _decimals(found[-1])
        return found

    # ---- the reference path: one line -------------------------------------------------------

    def _line(self, raw: bytes, no: int) -> None:
        if no == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        line = raw.strip(b" \t\r")
        if not line:
            return
        if not self._header:
            if line == b"#EXTM3U":
                self._header = True
                return
            raise PlaylistError(no, f"not a playlist: the first non-empty line must be #EXTM3U, got {_show(line)}")
        if line[0] != _HASH:
            if self._ended:
                raise PlaylistError(no, "segment after #EXT-X-ENDLIST")
            if self._pending is None:
                raise PlaylistError(no, f"segment URI without a preceding #EXTINF: {_show(line)}")
            self._last_value, self._pending = self._pending, None
            self._segments += 1
            if self._first_uri is None:
                self._first_uri = line
            self._last_uri = line
            return
        if line.startswith(b"#EXTINF:"):
            if self._ended:
                raise PlaylistError(no, "segment after #EXT-X-ENDLIST")
            if self._pending is not None:
                raise PlaylistError(no, "#EXTINF follows an #EXTINF that has no segment URI")
            value = _parse_extinf(line[8:], no)
            self._add_one(value)
            self._pending = value
            return
        if line.startswith(b"#EXT"):  # anything else starting with "#" is a comment
            name, _, rest = line[1:].decode("utf-8").partition(":")
            self._tag(name.strip(), rest.strip(), no)

    def _tag(self, name: str, rest: str, no: int) -> None:
        if name == "EXT-X-ENDLIST":
            self._ended = True
        elif name == "EXT-X-DISCONTINUITY":
            self._discontinuities += 1
        elif name == "EXT-X-TARGETDURATION":
            self._target = _int_tag(name, rest, no)
        elif name == "EXT-X-MEDIA-SEQUENCE":
            self._media_sequence = _int_tag(name, rest, no)
        elif name == "EXT-X-VERSION":
            self._version = _int_tag(name, rest, no)
        elif name == "EXT-X-PLAYLIST-TYPE":
            self._playlist_type = rest
        elif name in ("EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF"):
            raise PlaylistError(no, f"a master playlist (#{name}) lists variants, not segments")
        elif name.startswith("EXT-X-AGORA-"):
            self._agora_counts[name] = self._agora_counts.get(name, 0) + 1
            if len(self._agora_tags) < MAX_COLLECTED_TAGS:
                attributes = {k: v.strip('"') for k, v in _ATTRIBUTE.findall(rest)}
                self._agora_tags.append(AgoraTag(name, no, attributes, _tag_time(attributes.get("TIME"))))

    # ---- exact arithmetic ------------------------------------------------------------------

    def _rescale(self, decimals: int) -> int:
        if decimals > self._scale:
            self._total *= 10 ** (decimals - self._scale)
            self._scale = decimals
        return self._scale

    def _add_one(self, value: _Value) -> None:
        scale = self._rescale(_decimals(value))
        self._total += _units(value, scale)

    def _add_many(self, values: list[_Value]) -> None:
        """Exact sum of numbers of any form: a few C-level passes when they share one number of decimals."""
        k = _decimals(values[0])
        joined = b",".join(values)
        if joined.count(b".") == (len(values) if k else 0) and _k_pattern(k).fullmatch(joined) is not None:
            self._add_k(values, k, joined)
        else:
            for value in values:
                self._add_one(value)

    def _add_k(self, values: list[_Value], k: int, joined: bytes | None = None) -> None:
        """Exact sum of numbers that all have exactly k decimals (and a dot if k > 0).

        Dropping the dots turns each number into an integer count of 10**-k; those are summed exactly.
        """
        if joined is None:
            joined = b",".join(values)
        if k:
            joined = joined.replace(b".", b"")
        try:  # json parses a list of integers in C; a leading zero ("0.5" -> "05") is not JSON
            units = sum(json.loads(b"[" + joined + b"]"))
        except ValueError:
            units = sum(map(int, joined.split(b",")))
        scale = self._rescale(k)
        self._total += units * 10 ** (scale - k)

    def _summary(self) -> PlaylistSummary:
        total = self._total
        trailing = self._pending is not None
        if self._pending is not None:
            total -= _units(self._pending, self._scale)
        scale = self._scale
        duration_us = _round_half_even(total, 10 ** (scale - _MIN_SCALE))
        first_uri = self._first_uri.decode("utf-8") if self._first_uri is not None else None
        last_uri = self._last_uri.decode("utf-8") if self._last_uri is not None else None
        last_us = None if self._last_value is None else _value_us(self._last_value)
        first_utc = slice_time(first_uri) if first_uri else None
        last_utc = slice_time(last_uri) if last_uri else None
        span = None
        if first_utc is not None and last_utc is not None and last_us is not None:
            span = (last_utc - first_utc) // timedelta(microseconds=1) + last_us
        return PlaylistSummary(
            segments=self._segments,
            duration_us=duration_us,
            duration_exact_seconds=Decimal(f"{total}e-{scale}"),
            ended=self._ended,
            discontinuities=self._discontinuities,
            target_duration=self._target,
            media_sequence=self._media_sequence,
            version=self._version,
            playlist_type=self._playlist_type,
            first_segment_uri=first_uri,
            last_segment_uri=last_uri,
            last_segment_us=last_us,
            first_slice_utc=first_utc,
            last_slice_utc=last_utc,
            wall_clock_span_us=span,
            agora_tag_counts=dict(self._agora_counts),
            agora_tags=tuple(self._agora_tags),
            agora_tags_truncated=sum(self._agora_counts.values()) > len(self._agora_tags),
            trailing_extinf=trailing,
            byte_size=self._size,
            lines=self._lines,
        )


# ---- entry points ------------------------------------------------------------------------------


def parse_playlist(
    source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> PlaylistSummary:
    """Summarise a playlist from bytes, a binary file object (read in chunks) or an iterable of chunks."""
    parser = PlaylistParser(block_size=block_size)
    for chunk in iter_chunks(source, chunk_size):
        parser.feed(chunk)
    return parser.close()


def parse_playlist_file(path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> PlaylistSummary:
    with open(path, "rb", buffering=0) as fh:
        return parse_playlist(fh, chunk_size=chunk_size)


def iter_chunks(source: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
        return
    if isinstance(source, str):
        raise TypeError("pass the playlist as bytes, a binary file object or byte chunks, not str")
    read = getattr(source, "read", None)
    if callable(read):
        while chunk := read(chunk_size):
            yield chunk
        return
    yield from source


def slice_time(uri: str) -> datetime | None:
    """The start time Agora encodes in a slice name (``..._<yyyyMMddHHmmssSSS>.ts``), or None."""
    name = uri.split("?", 1)[0].rsplit("/", 1)[-1]
    match = _SLICE_UTC.search(name)
    return parse_utc17(match.group(1)) if match else None


# ---- helpers -----------------------------------------------------------------------------------


def _special_lines(buf: bytes, start: int, end: int) -> list[int]:
    """Starts of the lines after the first in buf[start:end] that ``_SPECIAL`` picks out, in order.

    One regex pass: it stops at every newline but creates an object only for the few hundred specials
    among hundreds of thousands of lines; measured three times faster than substring finds for each kind.
    """
    return [m.start() + 1 for m in _SPECIAL.finditer(buf, start, end)]


def _k_decimals(k: int) -> bytes:
    """The regex for the fraction of a number with exactly k decimals (none: no dot either)."""
    return rb"\.\d{%d}" % k if k else b""


_K_LISTS: dict[int, re.Pattern[bytes]] = {}


def _k_pattern(k: int) -> re.Pattern[bytes]:
    """A ","-joined list of numbers that all have exactly k decimals."""
    pattern = _K_LISTS.get(k)
    if pattern is None:
        one = rb"\d+" + _k_decimals(k)
        pattern = _K_LISTS[k] = re.compile(one + rb"(?:," + one + rb")*")
    return pattern


def _parse_extinf(text: bytes, no: int) -> _Value:
    value = text.split(b",", 1)[0].strip(b" \t")
    match = _EXTINF_VALUE.fullmatch(value)
    if not value or match is None or (not match.group(1) and not match.group(2)):
        if value.startswith(b"-") and _EXTINF_VALUE.fullmatch(value[1:]):
            raise PlaylistError(no, f"negative #EXTINF duration {_show(value)}")
        raise PlaylistError(no, f"#EXTINF duration is not a decimal number: {_show(value)}")
    ints, fracs = match.group(1).lstrip(b"0") or b"0", match.group(2) or b""
    if len(ints) > MAX_INT_DIGITS:
        raise PlaylistError(no, f"#EXTINF duration too large: {_show(value)}")
    if len(fracs) > MAX_FRACTION_DIGITS:
        raise PlaylistError(no, f"#EXTINF duration has more than {MAX_FRACTION_DIGITS} decimals: {_show(value)}")
    return ints + b"." + fracs if fracs else ints


def _decimals(value: _Value) -> int:
    dot = value.find(b".")
    return 0 if dot < 0 else len(value) - dot - 1


def _units(value: _Value, scale: int) -> int:
    """``value`` as an integer count of 10**-scale (scale >= its decimals)."""
    ints, _, fracs = value.partition(b".")
    return int(ints) * 10**scale + (int(fracs) * 10 ** (scale - len(fracs)) if fracs else 0)


def _value_us(value: _Value) -> int:
    scale = max(_MIN_SCALE, _decimals(value))
    return _round_half_even(_units(value, scale), 10 ** (scale - _MIN_SCALE))


def _round_half_even(n: int, d: int) -> int:
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
    return q


def _int_tag(name: str, text: str, no: int) -> int:
    if not text.isascii() or not text.isdigit():
        raise PlaylistError(no, f"#{name} must be a non-negative integer, got {text[:40]!r}")
    return int(text)


def _tag_time(text: str | None) -> datetime | None:
    if not text or not text.isdigit():
        return None
    if len(text) == 17:
        return parse_utc17(text)
    if len(text) == 13:  # epoch milliseconds (what NCS and some writers use)
        return _EPOCH + timedelta(milliseconds=int(text))
    return None


def _seconds(us: int) -> Decimal:
    return Decimal(f"{us}e-6")  # the string form is exact whatever the context precision


def _show(text: bytes) -> str:
    shown = text[:60].decode("utf-8", "replace")
    return repr(shown + ("..." if len(text) > 60 else ""))
