"""Transcripts and WebVTT captions of a Real-Time STT task, as pure code (no I/O, no AWS).

A transcript is a list of ``Cue`` (who spoke, in which language, from when to when in Unix milliseconds,
what was said, and its translations). Agora's STT writes captions on its own clock; a recording of the
same channel starts at another instant. ``to_webvtt(cues, base_ms)`` writes the cues on any time base, so
the captions of a recording are written on the recording's base (the first slice's epoch) and line up
with its playlist; ``parse_webvtt`` reads them back (offsets relative to the base).

The transcript JSON (``transcript_json`` / ``parse_transcript``) is the lossless form: absolute epoch
milliseconds, so it can be re-based to any recording later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

TRANSCRIPT_FORMAT = "agora-serverless.transcript/1"
_TIME_RE = re.compile(r"^(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})$")


class CaptionError(ValueError):
    """A transcript or WebVTT document that cannot be read."""


@dataclass(frozen=True)
class Cue:
    """One utterance: ``start_ms``/``end_ms`` are Unix milliseconds (or offsets after ``parse_webvtt``)."""

    uid: int
    language: str
    start_ms: int
    end_ms: int
    text: str
    translations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise CaptionError(f"a cue ends before it starts ({self.start_ms} > {self.end_ms})")


@dataclass(frozen=True)
class Transcript:
    agent_id: str
    channel: str
    languages: tuple[str, ...]
    start_ms: int
    end_ms: int
    cues: tuple[Cue, ...]


def format_timestamp(ms: int) -> str:
    """WebVTT's ``hh:mm:ss.ttt`` (hours may exceed 99: a 72-hour task writes 71:59:59.999)."""
    if ms < 0:
        raise CaptionError("a WebVTT timestamp cannot be negative")
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def parse_timestamp(text: str) -> int:
    match = _TIME_RE.match(text.strip())
    if match is None:
        raise CaptionError(f"not a WebVTT timestamp: {text!r}")
    hours, minutes, seconds, millis = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise CaptionError(f"not a WebVTT timestamp: {text!r}")
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _escape(text: str) -> str:
    # "-->" and blank lines would end or break a cue; "&" and "<" are markup in a cue payload
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_webvtt(cues: list[Cue] | tuple[Cue, ...], base_ms: int, *, language: str | None = None) -> str:
    """A WebVTT document of ``cues`` (of ``language`` if given, its translation when the cue is in another
    language) on the time base ``base_ms``: a cue before the base is clipped to it, one wholly before it
    is left out. Each cue names its speaker with a voice span (``<v 1001>``)."""
    lines = ["WEBVTT", "", f"NOTE base {base_ms}", ""]
    index = 0
    for cue in sorted(cues, key=lambda c: (c.start_ms, c.uid)):
        if cue.end_ms < base_ms or (cue.start_ms < base_ms and cue.end_ms == base_ms):
            continue  # wholly before the base
        text = cue.text
        if language is not None and cue.language != language:
            if language not in cue.translations:
                continue
            text = cue.translations[language]
        index += 1
        start, end = max(cue.start_ms, base_ms) - base_ms, cue.end_ms - base_ms
        lines += [str(index), f"{format_timestamp(start)} --> {format_timestamp(end)}"]
        lines += [f"<v {cue.uid}>{_escape(text)}", ""]
    return "\n".join(lines)


_VOICE_RE = re.compile(r"^<v ([^>]*)>(.*)$")


def parse_webvtt(text: str, *, language: str = "") -> tuple[int | None, list[Cue]]:
    """(the ``NOTE base`` epoch ms if any, the cues with offsets in ms). A malformed document is a
    ``CaptionError`` naming the line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not lines[0].startswith("WEBVTT"):
        raise CaptionError("a WebVTT document starts with WEBVTT")
    base: int | None = None
    cues: list[Cue] = []
    i = 1
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("NOTE"):
            parts = line.split()
            if len(parts) == 3 and parts[1] == "base" and parts[2].isdigit():
                base = int(parts[2])
            while i < len(lines) and lines[i].strip():
                i += 1
            continue
        if "-->" not in line:  # a cue identifier
            i += 1
            if i >= len(lines) or "-->" not in lines[i]:
                raise CaptionError(f"line {i + 1}: a cue identifier without timings")
            line = lines[i].strip()
        start_text, _, rest = line.partition("-->")
        end_text = rest.strip().split(" ")[0]
        start, end = parse_timestamp(start_text), parse_timestamp(end_text)
        i += 1
        payload: list[str] = []
        while i < len(lines) and lines[i].strip():
            payload.append(lines[i].strip())
            i += 1
        joined = " ".join(payload)
        uid = 0
        voice = _VOICE_RE.match(joined)
        if voice is not None:
            uid = int(voice.group(1)) if voice.group(1).isdigit() else 0
            joined = voice.group(2)
        try:
            cues.append(Cue(uid=uid, language=language, start_ms=start, end_ms=end, text=_unescape(joined)))
        except CaptionError as exc:
            raise CaptionError(f"line {i}: {exc}") from None
    return base, cues


def transcript_json(transcript: Transcript) -> bytes:
    return json.dumps(
        {
            "format": TRANSCRIPT_FORMAT,
            "agent_id": transcript.agent_id,
            "channel": transcript.channel,
            "languages": list(transcript.languages),
            "start_ms": transcript.start_ms,
            "end_ms": transcript.end_ms,
            "cues": [
                {
                    "uid": c.uid,
                    "language": c.language,
                    "start_ms": c.start_ms,
                    "end_ms": c.end_ms,
                    "text": c.text,
                    "translations": dict(c.translations),
                }
                for c in transcript.cues
            ],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _field(doc: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CaptionError(f"transcript field {name!r} is missing or not a {kind}")
    return value


def parse_transcript(data: bytes | str) -> Transcript:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise CaptionError(f"a transcript is JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != TRANSCRIPT_FORMAT:
        raise CaptionError(f"not a {TRANSCRIPT_FORMAT} document")
    cues = []
    for raw in _field(doc, "cues", list):
        if not isinstance(raw, dict):
            raise CaptionError("a cue is an object")
        translations = raw.get("translations") or {}
        if not isinstance(translations, dict) or not all(isinstance(v, str) for v in translations.values()):
            raise CaptionError("a cue's translations map languages to texts")
        cues.append(
            Cue(
                uid=_field(raw, "uid", int),
                language=_field(raw, "language", str),
                start_ms=_field(raw, "start_ms", int),
                end_ms=_field(raw, "end_ms", int),
                text=_field(raw, "text", str),
                translations={str(k): v for k, v in translations.items()},
            )
        )
    languages = _field(doc, "languages", list)
    return Transcript(
        agent_id=_field(doc, "agent_id", str),
        channel=_field(doc, "channel", str),
        languages=tuple(str(lang) for lang in languages),
        start_ms=_field(doc, "start_ms", int),
        end_ms=_field(doc, "end_ms", int),
        cues=tuple(cues),
    )


def merge(transcripts: list[Transcript]) -> list[Cue]:
    """The cues of consecutive tasks of one channel (a 72-hour restart overlaps its predecessor by a few
    seconds) in time order, an utterance heard by both counted once."""
    seen: set[tuple[int, int, str]] = set()
    out: list[Cue] = []
    for cue in sorted((c for t in transcripts for c in t.cues), key=lambda c: (c.start_ms, c.uid)):
        key = (cue.uid, cue.start_ms // 1000, cue.text)
        if key in seen:
            continue
        seen.add(key)
        out.append(cue)
    return out


def caption_files(
    listed: Mapping[str, int], presign: Callable[[str], str], agents: Collection[str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The WebVTT tracks (``<agent>_<channel>_<lang>.vtt``) and transcripts (``<agent>_<channel>_transcript.json``,
    the names the STT agent writes) among ``listed`` (object key -> size), each with ``presign(key)``; only the files
    of ``agents`` when given (a recording's folder may hold another transcription's files)."""
    tracks, transcripts = [], []
    for key in sorted(listed):
        name = key.rsplit("/", 1)[-1]
        agent, _, rest = name.partition("_")
        if not rest or (agents is not None and agent not in agents):
            continue
        if name.endswith(".vtt"):
            language = rest.rsplit("_", 1)[-1].removesuffix(".vtt")
            tracks.append({"language": language, "agent_id": agent, "file": name, "size": listed[key],
                           "url": presign(key)})  # fmt: skip
        elif name.endswith("_transcript.json"):
            transcripts.append({"agent_id": agent, "file": name, "size": listed[key], "url": presign(key)})
    return tracks, transcripts


__all__ = [
    "TRANSCRIPT_FORMAT",
    "CaptionError",
    "Cue",
    "Transcript",
    "caption_files",
    "format_timestamp",
    "merge",
    "parse_timestamp",
    "parse_transcript",
    "parse_webvtt",
    "to_webvtt",
    "transcript_json",
]
