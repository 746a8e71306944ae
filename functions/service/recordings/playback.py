"""The playback use cases: ``GET /recordings/{id}/playlist`` and ``/snapshots`` over the recordings bucket
(``ports.RecordingObjects``; ``service.adapters.s3_objects`` is the S3 adapter).

``GET /recordings/{id}/playlist``: the recording's m3u8 with every segment a short-lived presigned S3 URL.

The bucket stays private; a browser or a player gets a playlist whose segment lines are presigned
``GetObject`` URLs (``playback_url_seconds``, at most the caller's ``expires_in``). A running recording
works too: its playlist has no ``#EXT-X-ENDLIST`` yet, so players poll it (and get fresh URLs each time).

Which playlist: the recording's files live under its own ``fileNamePrefix`` (``recordings/<channel>/<id>``);
its playlists are the ``.m3u8`` objects there, Agora's HA copies (``bak<n>_``) and rotated copies
(``_<tick>_<index>.m3u8``) included. With one main playlist (mix and web modes) it is the answer; in
individual mode (one per uid and track) the caller names one with ``file``, and the 400 lists them.

Lambda answers at most 6 MB: a 30-day playlist rewritten with presigned URLs is far larger, so the
answer is capped (``playback_max_bytes``) and a long playlist is read in windows (``offset``, ``limit``).

Only the recording's own files are signed: a playlist line whose key leaves ``recording_prefix`` (``../``, an
absolute key, another recording's folder, percent-encoded variants) becomes an ``#ERROR line <n>`` comment
and is counted in ``X-Playlist-Refused`` (issue 21).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agorakit.captions import caption_files

from service.errors import BadRequest, NotFound, PayloadTooLarge
from service.recordings import logic
from service.recordings.ports import RecordingObjects
from service.recordings.record import Recording

CONTENT_TYPE = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class PlaybackRequest:
    file: str | None = None
    offset: int = 0
    limit: int | None = None
    expires_in: int | None = None


def recording_prefix(item: Recording) -> str:
    """The recording's own folder: the ``fileNamePrefix`` the workflow gave Agora, as a key prefix."""
    return "/".join(logic.file_name_prefix(item.channel, item.recording_id)) + "/"


def playlists(objects: dict[str, int]) -> list[str]:
    return sorted(k for k in objects if k.lower().endswith(".m3u8"))


def choose_playlist(keys: list[str], wanted: str | None) -> str:
    """The playlist to play: the one named ``wanted``, or the only main one."""
    if not keys:
        raise NotFound("the recording has no playlist in the bucket yet")
    names = {posixpath.basename(k): k for k in keys}
    if wanted is not None:
        if wanted not in names:
            raise NotFound(f"the recording has no playlist {wanted!r}; it has: {', '.join(sorted(names))}")
        return names[wanted]
    main = [k for k in keys if _is_main(posixpath.basename(k))]
    if len(main) == 1:
        return main[0]
    raise BadRequest(
        f"the recording has {len(main) or len(keys)} playlists: name one with file= ({', '.join(sorted(names))})"
    )


def _is_main(name: str) -> bool:
    from agorakit.m3u8.filenames import parse_recording_filename

    parsed = parse_recording_filename(name)
    if parsed is None:
        return True
    return parsed.failover is None and parsed.backup_tick is None


def render(
    item: Recording,
    request: PlaybackRequest,
    *,
    objects: RecordingObjects,
    url_seconds: int,
    max_bytes: int,
    metric: Callable[..., None] | None = None,
) -> tuple[str, dict[str, str]]:
    """(the rewritten playlist, response headers) for a recording item."""
    from agorakit.m3u8.playback import rewrite

    if request.offset < 0:
        raise BadRequest("offset must be >= 0")
    if request.limit is not None and request.limit < 1:
        raise BadRequest("limit must be >= 1")
    seconds = url_seconds if request.expires_in is None else request.expires_in
    if not 1 <= seconds <= url_seconds:
        raise BadRequest(f"expires_in must be between 1 and {url_seconds} seconds")
    scope = recording_prefix(item)
    key = choose_playlist(playlists(objects.list(scope)), request.file)
    text = objects.read(key, max_bytes).decode("utf-8", errors="replace")
    result = rewrite(
        text, key, lambda k: objects.presign(k, seconds), offset=request.offset, limit=request.limit, scope=scope
    )
    size = len(result.text.encode())
    if size > max_bytes:
        per = max(1, size // max(1, result.segments))
        raise PayloadTooLarge(
            f"the rewritten playlist is {size} bytes (limit {max_bytes}); read it in windows: "
            f"limit={max(1, max_bytes // per - 1)} and offset=0, {max(1, max_bytes // per - 1)}, ..."
        )
    if metric is not None:
        metric("PlaylistsSigned")
    headers = {
        "Content-Type": CONTENT_TYPE,
        "Cache-Control": "private, no-store",  # presigned URLs must not outlive their expiry in a cache
        "X-Playlist-File": posixpath.basename(key),
        "X-Playlist-Segments": str(result.total_segments),
        "X-Playlist-Ended": "true" if result.ended else "false",
        "X-Url-Expires-In": str(seconds),
        # segments outside the recording's folder: never signed, an #ERROR line in their place
        "X-Playlist-Refused": str(len(result.refused)),
    }
    return result.text, headers


#: ``[bak<n>_]<sid>_<cname>__uid_s_<uid>__uid_e_video_<utc17>.jpg`` (Agora's screenshot names)
_SNAPSHOT_NAME = r"(?:bak\d+_)?.+__uid_s_(\d+)__uid_e_video_(\d{17})\.jpg"
MAX_SNAPSHOTS_PER_PAGE = 1000


def snapshots(
    item: Recording,
    *,
    objects: RecordingObjects,
    url_seconds: int,
    expires_in: int | None = None,
    limit: int = 100,
    after: str | None = None,
) -> dict[str, Any]:
    """The recording's screenshots as the bucket has them (a lost event 45 hides none), by file name, each with a
    presigned URL; ``notified`` says whether event 45 reported it. One page of ``limit`` after the name ``after``."""
    import re
    from datetime import UTC, datetime

    seconds = url_seconds if expires_in is None else expires_in
    if not 1 <= seconds <= url_seconds:
        raise BadRequest(f"expires_in must be between 1 and {url_seconds} seconds")
    if not 1 <= limit <= MAX_SNAPSHOTS_PER_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_SNAPSHOTS_PER_PAGE}")
    listed = objects.list(recording_prefix(item))
    jpgs = sorted((posixpath.basename(k), k) for k in listed if k.lower().endswith(".jpg"))
    notified = {posixpath.basename(n) for n in item.snapshot_files}
    page = [(name, key) for name, key in jpgs if after is None or name > after]
    entries = []
    for name, key in page[:limit]:
        match = re.fullmatch(_SNAPSHOT_NAME, name)
        taken = None
        if match:
            moment = datetime.strptime(match.group(2) + "000", "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)
            taken = int(moment.timestamp() * 1000)
        entries.append(
            {
                "file": name,
                "uid": int(match.group(1)) if match else None,
                "taken_at": taken,
                "size": listed[key],
                "notified": name in notified,
                "url": objects.presign(key, seconds),
            }
        )
    more = len(page) > limit
    return {
        "recording_id": item.recording_id,
        "total": len(jpgs),
        "not_notified": sum(1 for name, _ in jpgs if name not in notified),
        "snapshots": entries,
        "next_after": entries[-1]["file"] if more and entries else None,
        "url_expires_in": seconds,
    }


def captions(
    item: Recording, *, objects: RecordingObjects, url_seconds: int, expires_in: int | None = None
) -> dict[str, Any]:
    """The live-transcription files Agora wrote beside the recording (``service.transcriptions``: a transcription
    started with this ``recording_id``): one WebVTT track per language (``<agent>_<channel>_<lang>.vtt``, the
    player's captions track beside the playlist) and the transcript JSON, each a presigned URL."""
    seconds = url_seconds if expires_in is None else expires_in
    if not 1 <= seconds <= url_seconds:
        raise BadRequest(f"expires_in must be between 1 and {url_seconds} seconds")
    listed = objects.list(recording_prefix(item))
    tracks, transcripts = caption_files(listed, lambda key: objects.presign(key, seconds))
    return {"recording_id": item.recording_id, "tracks": tracks, "transcripts": transcripts, "url_expires_in": seconds}
