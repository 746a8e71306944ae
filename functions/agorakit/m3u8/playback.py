"""Playing a recording from a private bucket: a playlist's segment URIs, rewritten to presigned URLs.

Pure text work (no S3 here): ``segment_uris`` lists what a playlist references, ``segment_key`` turns a
relative URI into the object key next to the playlist, and ``rewrite`` replaces each segment line with
what ``sign(key)`` returns (a short-lived presigned URL), keeping every tag as it is. A window
(``offset``, ``limit``) cuts a long playlist into playable pieces: ``#EXT-X-MEDIA-SEQUENCE`` is moved to
the first segment of the window, and ``#EXT-X-ENDLIST`` is kept only in the window that reaches the end.

With a ``scope`` (a key prefix ending in ``/``: the recording's own folder), only keys under it are signed. A
line that resolves anywhere else (``../``, an absolute key or URL, another prefix, the same after
percent-decoding, a control character) is never signed: the segment and its tags are replaced by one comment
line ``#ERROR line <n>: ...`` (RFC 8216 ignores ``#`` lines that are not tags) and listed in ``refused``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


def _is_segment(line: str) -> bool:
    return bool(line) and not line.startswith("#")


def segment_uris(text: str) -> list[str]:
    """The URI lines of a media playlist, in order (tags and blank lines are not segments)."""
    return [line.strip() for line in text.splitlines() if _is_segment(line.strip())]


def segment_key(playlist_key: str, uri: str) -> str | None:
    """The object key of a segment URI relative to the playlist; None for an absolute URL or a path
    that leaves the bucket (``..`` above the root): those are not ours to sign."""
    if urlsplit(uri).scheme or uri.startswith("/"):
        return None
    path = unquote(uri.split("?", 1)[0].split("#", 1)[0])
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(playlist_key), path))
    if joined.startswith("..") or joined in (".", ""):
        return None
    return joined


@dataclass(frozen=True)
class Rewritten:
    text: str
    segments: int  # segments in the answer
    total_segments: int  # segments in the playlist
    ended: bool  # the playlist has #EXT-X-ENDLIST
    unsigned: int  # segments left as they were (absolute URLs; none with a scope)
    refused: tuple[tuple[int, str], ...] = ()  # (playlist line number, why) of segments outside the scope


_SEGMENT_TAGS = ("#EXTINF", "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-AGORA-TRACK-EVENT")


def _parse(lines: list[str]) -> tuple[list[str], list[tuple[list[str], str, int]], int, bool]:
    """(playlist tags, [(a segment's tags, its URI, its line number)], media sequence, ended)."""
    header: list[str] = []
    segments: list[tuple[list[str], str, int]] = []
    pending: list[str] = []
    sequence, ended = 0, False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            value = line.split(":", 1)[1]
            sequence = int(value) if value.isdigit() else 0
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line.startswith("#"):
            own = segments or pending or line.startswith(_SEGMENT_TAGS)
            (pending if own else header).append(line)
        elif line:
            segments.append((pending, line, number))
            pending = []
    return header, segments, sequence, ended


def scoped_key(playlist_key: str, uri: str, scope: str) -> tuple[str | None, str]:
    """(the key to sign, "") for a segment URI whose key is under ``scope``; (None, why) for any other."""
    if not scope.endswith("/"):
        raise ValueError("a scope is a key prefix ending in '/'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in unquote(uri)):
        return None, "a control character in the segment URI"
    if urlsplit(uri).scheme:
        return None, "an absolute URL, not a file of this recording"
    if uri.startswith("/") or unquote(uri).startswith("/"):
        return None, "an absolute key, not a file of this recording"
    key = segment_key(playlist_key, uri)
    if key is None or not key.startswith(scope):
        return None, "the segment resolves outside this recording's folder"
    return key, ""


def rewrite(
    text: str,
    playlist_key: str,
    sign: Callable[[str], str],
    *,
    offset: int = 0,
    limit: int | None = None,
    scope: str | None = None,
) -> Rewritten:
    """The playlist with each segment (within the window) replaced by ``sign(key)``; with ``scope``, a segment
    outside it is replaced by an ``#ERROR`` comment and never reaches ``sign``."""
    if offset < 0 or (limit is not None and limit < 1):
        raise ValueError("offset must be >= 0 and limit >= 1")
    header, segments, sequence, ended = _parse(text.splitlines())
    total = len(segments)
    end = total if limit is None else min(total, offset + limit)
    body: list[str] = []
    unsigned = 0
    refused: list[tuple[int, str]] = []
    for tags, uri, number in segments[offset:end]:
        if scope is not None:
            key, why = scoped_key(playlist_key, uri, scope)
            if key is None:
                refused.append((number, why))
                body.append(f"#ERROR line {number}: not signed, {why}")
                continue
            body.extend([*tags, sign(key)])
            continue
        key = segment_key(playlist_key, uri)
        unsigned += key is None
        body.extend([*tags, uri if key is None else sign(key)])
    tags = [line for line in header if line != "#EXTM3U"]
    out = ["#EXTM3U", *tags, f"#EXT-X-MEDIA-SEQUENCE:{sequence + offset}", *body]
    if ended and end >= total:
        out.append("#EXT-X-ENDLIST")
    return Rewritten("\n".join(out) + "\n", max(0, end - offset), total, ended, unsigned, tuple(refused))
