"""What an Agora Cloud Recording object key says about the file (doc section 3.1 and 3.2).

Names, after the ``fileNamePrefix`` directories:

- mix / web:   ``<sid>_<cname>.m3u8``, slices ``<sid>_<cname>_<utc17>.ts``, ``<sid>_<cname>_<n>.mp4``
  (and ``.mp3/.m4a/.aac`` audio files);
- individual:  ``<sid>_<cname>__uid_s_<uid>__uid_e_<audio|video|av>.m3u8``, slices ``..._<utc17>.ts``
  (or ``.webm``), screenshots ``..._video_<utc17>.jpg``, MP4 ``...__uid_e_[<type>_]<n>.mp4``;
- HA failover: ``bak<n>_`` before any of these (a continuation: its segments add to the original's);
- Cloud Backup copies of a playlist: ``<base>_<tick>_<index>.m3u8`` (versions of the same playlist:
  keep the larger, never add them up).

Decisions: a key that is not such a name gives ``None`` (callers decide whether that is an error);
"mix" also covers web-page recording (same names). A channel name may itself end in
``_<digits>_<digits>``, which reads like a backup suffix: pass ``channel=`` (the recording's channel,
raw or with special characters replaced) to settle it; without it, a suffix counts as a backup copy
only when the tick has at least 6 digits (Agora's ticks are about 11). ``sid`` is everything before the
first ``_``; Agora's sids have no ``_``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from agorakit.m3u8._utc import iso_utc, parse_utc17

#: Characters Agora replaces with "-" in file names (documented for web mode; safest to assume always).
SPECIAL_CHARACTERS = frozenset("!@#$%^&*()+_.=[]{}~|,;:?<>")
PLAYLIST_TRACKS = ("audio", "video", "av")

Mode = Literal["mix", "individual"]
Kind = Literal["playlist", "slice", "mp4", "audio", "screenshot"]

_EXTENSIONS: dict[str, Kind] = {
    "m3u8": "playlist",
    "ts": "slice",
    "webm": "slice",
    "mp4": "mp4",
    "mp3": "audio",
    "m4a": "audio",
    "aac": "audio",
    "jpg": "screenshot",
}
_FAILOVER = re.compile(r"bak(\d+)_(.+)")
_SID = re.compile(r"[A-Za-z0-9]+")
_INDIVIDUAL = re.compile(r"(?P<channel>.+?)__uid_s_(?P<uid>.+?)__uid_e_(?P<tail>.+)")
_TRACK_BACKUP = re.compile(r"(audio|video|av)(?:_(\d+)_(\d+))?")
_TRACK_SLICE = re.compile(r"(audio|video|av)_(\d{17})")
_TRACK_INDEX = re.compile(r"(?:(audio|video|av)_)?(\d+)")
_MIX_BACKUP = re.compile(r"(.+?)_(\d{6,})_(\d+)")
_NUMBERED = re.compile(r"(.+)_(\d+)")
_SLICE = re.compile(r"(.+)_(\d{17})")


@dataclass(frozen=True, slots=True)
class RecordingFileName:
    key: str
    prefix: tuple[str, ...]  # the fileNamePrefix directories
    name: str
    sid: str
    channel: str  # as written in the name (special characters may have become "-")
    mode: Mode
    kind: Kind
    extension: str
    uid: str | None = None  # individual mode
    track: str | None = None  # "audio" | "video" | "av" (individual mode)
    failover: int | None = None  # n of a bak<n>_ name (HA migration)
    backup_tick: int | None = None  # <tick> of a Cloud Backup copy of a playlist
    backup_index: int | None = None  # <index> of that copy (higher = newer)
    slice_utc: datetime | None = None  # start of a slice or screenshot
    index: int | None = None  # MP4 / audio file index

    @property
    def is_playlist(self) -> bool:
        return self.kind == "playlist"

    @property
    def is_backup_copy(self) -> bool:
        return self.backup_index is not None

    @property
    def stream(self) -> str:
        """The recorded stream: ``"mix"`` or ``"<uid>:<track>"``; failover parts of it share it."""
        return "mix" if self.mode == "mix" else f"{self.uid}:{self.track}"

    @property
    def base_name(self) -> str:
        """The playlist name this file is a version of (without ``bak<n>_`` or a backup suffix)."""
        name = self.name.removeprefix(f"bak{self.failover}_") if self.failover is not None else self.name
        if self.backup_index is not None:
            stem, ext = name.rsplit(".", 1)
            name = stem.removesuffix(f"_{self.backup_tick}_{self.backup_index}") + "." + ext
        return name

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "prefix": list(self.prefix),
            "name": self.name,
            "sid": self.sid,
            "channel": self.channel,
            "mode": self.mode,
            "kind": self.kind,
            "extension": self.extension,
            "uid": self.uid,
            "track": self.track,
            "stream": self.stream,
            "failover": self.failover,
            "backup_tick": self.backup_tick,
            "backup_index": self.backup_index,
            "slice_utc": iso_utc(self.slice_utc),
            "index": self.index,
        }


def safe_channel_name(cname: str, *, keep_underscore: bool = False) -> str:
    """The channel name as Agora writes it in file names: special characters become ``-``.

    ``keep_underscore``: Agora's list includes ``_`` but its mix examples keep it; both forms are
    accepted when matching a ``channel=`` hint.
    """
    return "".join("-" if ch in SPECIAL_CHARACTERS and not (keep_underscore and ch == "_") else ch for ch in cname)


def parse_recording_filename(key: str, *, channel: str | None = None) -> RecordingFileName | None:
    """Parse an object key (``recordings/.../<name>``); None if the name is not an Agora recording file."""
    if not isinstance(key, str):
        raise TypeError("key must be a str")
    *prefix_parts, name = key.split("/")
    stem, dot, ext = name.rpartition(".")
    kind = _EXTENSIONS.get(ext.lower()) if dot else None
    if kind is None or not stem:
        return None
    failover = None
    match = _FAILOVER.fullmatch(stem)
    if match:
        failover, stem = int(match.group(1)), match.group(2)
    sid, sep, rest = stem.partition("_")
    if not sep or not rest or not _SID.fullmatch(sid):
        return None
    individual = _INDIVIDUAL.fullmatch(rest) if "__uid_s_" in rest else None
    fields = _individual(individual, kind) if individual else _mix(rest, kind, channel)
    if fields is None or not fields["channel"]:
        return None
    return RecordingFileName(
        key=key,
        prefix=tuple(prefix_parts),
        name=name,
        sid=sid,
        extension=ext.lower(),
        kind=kind,
        failover=failover,
        **fields,
    )


def _individual(match: re.Match[str], kind: Kind) -> dict[str, Any] | None:
    base: dict[str, Any] = {"channel": match.group("channel"), "mode": "individual", "uid": match.group("uid")}
    tail = match.group("tail")
    if kind == "playlist":
        m = _TRACK_BACKUP.fullmatch(tail)
        if not m:
            return None
        base["track"] = m.group(1)
        if m.group(2):
            base["backup_tick"], base["backup_index"] = int(m.group(2)), int(m.group(3))
        return base
    if kind in ("slice", "screenshot"):
        m = _TRACK_SLICE.fullmatch(tail)
        utc = parse_utc17(m.group(2)) if m else None
        if m is None or utc is None or (kind == "screenshot" and m.group(1) != "video"):
            return None
        base["track"], base["slice_utc"] = m.group(1), utc
        return base
    m = _TRACK_INDEX.fullmatch(tail)  # mp4 (or audio) files per uid
    if not m:
        return None
    base["track"], base["index"] = m.group(1), int(m.group(2))
    return base


def _mix(rest: str, kind: Kind, channel: str | None) -> dict[str, Any] | None:
    base: dict[str, Any] = {"mode": "mix"}
    if kind == "playlist":
        return base | _mix_playlist(rest, channel)
    if kind == "slice":
        m = _SLICE.fullmatch(rest)
        utc = parse_utc17(m.group(2)) if m else None
        if m is None or utc is None:
            return None
        base["channel"], base["slice_utc"] = m.group(1), utc
        return base
    if kind in ("mp4", "audio"):
        m = _NUMBERED.fullmatch(rest)
        if not m:
            return None
        base["channel"], base["index"] = m.group(1), int(m.group(2))
        return base
    return None  # screenshots exist in individual mode only


def _mix_playlist(rest: str, channel: str | None) -> dict[str, Any]:
    hinted = _split_hinted(rest, channel) if channel else None
    if hinted is not None:
        written, suffix = hinted
        if not suffix:
            return {"channel": written}
        tick, _, index = suffix.partition("_")
        return {"channel": written, "backup_tick": int(tick), "backup_index": int(index)}
    m = _MIX_BACKUP.fullmatch(rest)
    if m:
        return {"channel": m.group(1), "backup_tick": int(m.group(2)), "backup_index": int(m.group(3))}
    return {"channel": rest}


def _split_hinted(rest: str, channel: str) -> tuple[str, str] | None:
    """(channel as written, backup suffix or "") if ``rest`` is the hinted channel plus an optional suffix."""
    for written in dict.fromkeys(
        (channel, safe_channel_name(channel), safe_channel_name(channel, keep_underscore=True))
    ):
        if rest == written:
            return written, ""
        if rest.startswith(written + "_") and re.fullmatch(r"\d+_\d+", rest[len(written) + 1 :]):
            return written, rest[len(written) + 1 :]
    return None
