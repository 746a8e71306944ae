"""Postponed transcoding and postponed audio mixing (acquire ``scene: 2``): the pure rules.

The caller asks ``POST /recordings`` for ``postponed: {"mode": "transcoding" | "audio_mix", ...}``
(``postponed_models``). The task records individual HLS as usual; within 24 hours after it ends Agora
transcodes it into one MP4 per uid (``transcoding``) or mixes every uid's audio into one file (``audio_mix``:
mp3, m4a or aac), uploads the result into our bucket and reports it with NCS events 80, 81 and 1001
(``postponed_events`` applies them).

Here: which combinations Agora refuses, start's extra keys, Agora's result words, and the view, which reads
``overdue`` once the recording has been over for longer than Agora's 24 hours (plus an hour's margin): NCS is
advisory, a lost 1001 would otherwise leave the status ``pending`` forever, and Agora has no query for a stopped
task. A late 81/1001 still sets the real result, since nothing is written for ``overdue``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.recordings.postponed_models import PostponedOptions
    from service.recordings.record import Recording

TRANS_MODES = {"transcoding": "postponeTranscoding", "audio_mix": "audioMix"}
DEFAULT_CONTAINER = {"transcoding": "mp4", "audio_mix": "mp3"}
AUDIO_MIX_CONTAINERS = ("mp3", "m4a", "aac")
#: Agora's result words (81: all_success / partial_success / fail; 1001: total_success / partial_success / failed)
RESULTS = {
    "all_success": "completed",
    "total_success": "completed",
    "partial_success": "partial",
    "fail": "failed",
    "failed": "failed",
}
STARTED, TRANSCODING = 80, 81
FINAL_RESULT = 1001
MAX_FILES = 500  # one MP4 per uid (about 17 uids; Agora splits long ones): far above any real result
#: Agora produces the result within 24 hours after the recording ends; past this (plus a margin) it is overdue
RESULT_WINDOW_MS = 24 * 3600 * 1000
OVERDUE_MARGIN_MS = 3600 * 1000


def check_request(options: PostponedOptions, mode: str, recording_config: Mapping[str, Any] | None) -> None:
    """The combinations Agora refuses (ValueError with the reason): scene 2 is individual recording."""
    if mode != "individual":
        raise ValueError(f'postponed applies to mode individual only (not "{mode}")')
    config = recording_config or {}
    if options.mode == "audio_mix" and config.get("streamTypes") == 1:
        raise ValueError("postponed audio mixing needs audio: recording_config.streamTypes must be 0 or 2")
    if options.mode == "transcoding" and config.get("streamMode") == "original":
        raise ValueError('postponed transcoding needs transcoded streams: streamMode "original" is refused')


def app_extra(stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """start's extra ``clientRequest`` keys for a stored ``postponed`` config (None: not postponed)."""
    if not stored:
        return None
    options: dict[str, Any] = {
        "transConfig": {"transMode": TRANS_MODES[str(stored["mode"])]},
        "container": {"format": str(stored["container"])},
    }
    if stored.get("audio"):
        options["audio"] = dict(stored["audio"])
    return {"appsCollection": {"combinationPolicy": "postpone_transcoding"}, "transcodeOptions": options}


def overdue(item: Recording, status: str, now_ms: float) -> bool:
    """No final result, and the recording ended longer ago than Agora's window allows.

    The end is ``stoppedAt`` (set when the workflow finalizes); a recording that FAILED has none, so its last
    write (``updatedAt``, later than its end) is used: that errs on the side of waiting longer.
    """
    if status not in ("pending", "transcoding") or item.status not in ("STOPPED", "FAILED"):
        return False
    ended = item.stopped_at or item.updated_at
    if ended is None:
        return False
    return now_ms - ended > RESULT_WINDOW_MS + OVERDUE_MARGIN_MS


def view(item: Recording, config: Mapping[str, Any], *, now_ms: float | None = None) -> dict[str, Any] | None:
    """The ``postponed`` part of a recording's view (None when it was not asked for)."""
    from service.recordings.logic import iso

    stored = config.get("postponed")
    if not isinstance(stored, Mapping):
        return None
    result = item.postponed
    status = result.status or "pending"
    if overdue(item, status, time.time() * 1000 if now_ms is None else now_ms):
        status = "overdue"
    return {
        "mode": stored.get("mode"),
        "container": stored.get("container"),
        "status": status,
        "result": result.result,
        "files": sorted(result.files),
        "uids": [{"uid": u.uid, "result": u.result, "files": list(u.files)} for u in result.uids],
        "started_at": iso(result.started_at),
        "finished_at": iso(result.finished_at),
    }
