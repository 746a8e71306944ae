"""HLS playlists and file names as Agora Cloud Recording writes them (doc section 3).

``parser``: a streaming, exact duration summary of an m3u8 (``parse_playlist``, ``PlaylistParser``).
``filenames``: what an object key says (sid, channel, mode, uid, track, failover and backup copies).
Names are re-exported lazily so ``import agorakit.m3u8`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # importing typing costs more than this whole module
if TYPE_CHECKING:
    from typing import Any

    from agorakit.m3u8.filenames import RecordingFileName, parse_recording_filename, safe_channel_name
    from agorakit.m3u8.parser import (
        AgoraTag,
        PlaylistError,
        PlaylistParser,
        PlaylistSummary,
        parse_playlist,
        parse_playlist_file,
    )

_EXPORTS = {
    "AgoraTag": "parser",
    "PlaylistError": "parser",
    "PlaylistParser": "parser",
    "PlaylistSummary": "parser",
    "parse_playlist": "parser",
    "parse_playlist_file": "parser",
    "RecordingFileName": "filenames",
    "parse_recording_filename": "filenames",
    "safe_channel_name": "filenames",
}

__all__ = [
    "AgoraTag",
    "PlaylistError",
    "PlaylistParser",
    "PlaylistSummary",
    "RecordingFileName",
    "parse_playlist",
    "parse_playlist_file",
    "parse_recording_filename",
    "safe_channel_name",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agorakit.m3u8' has no attribute {name!r}")
    return getattr(import_module(f"agorakit.m3u8.{module}"), name)
