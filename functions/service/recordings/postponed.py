"""Postponed transcoding and postponed audio mixing (acquire ``scene: 2``).

The caller asks ``POST /recordings`` for ``postponed: {"mode": "transcoding" | "audio_mix", ...}``. The task
records individual HLS as usual; within 24 hours after it ends Agora transcodes it into one MP4 per uid
(``transcoding``) or mixes every uid's audio into one file (``audio_mix``: mp3, m4a or aac), uploads the
result into our bucket and reports it with NCS events 80 (``transcoder_started``), 81
(``transcoder_completed``: per-uid results) and 1001 (``postpone_transcode_final_result``: the file list).

Item attributes (events arrive late, twice and out of order; every write is idempotent):
- ``postponedFiles``: a string set; every file name 81 or 1001 reports is ADDed.
- ``postponedStatus`` (``transcoding``, ``completed``, ``partial``, ``failed``) guarded by ``postponedSeq``: a
  stale event (lower sequence) never moves the status back; 80 only starts it, 1001 is Agora's last word.
- ``postponedUids`` (81's per-uid results) guarded by ``postponedUidsSeq``.
- ``postponedStartedAt`` (80, guarded by ``postponedStartSeq``) / ``postponedFinishedAt`` (81, 1001): ``sendts``.

NCS is advisory: a lost 1001 would leave the status ``pending`` (or ``transcoding``) forever, and Agora has no
query for a stopped task. So the view reads ``overdue`` once the recording has been over for longer than Agora's
24 hours (plus an hour's margin); a late 81/1001 still sets the real result, since nothing is written for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from agorakit.ncs.events import RecordingEvent

    from service.recordings.ports import RecordingStore, WorkflowControl
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


class _StrictOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PostponedAudio(_StrictOptions):
    """The mixed audio (``transcodeOptions.audio``, audio mixing only); Agora's strings, as it wants them."""

    sampleRate: Literal["48000", "32000", "16000"] = "48000"
    bitrate: Literal["48000"] = "48000"
    channels: Literal["1", "2"] = "2"


class PostponedOptions(_StrictOptions):
    """``POST /recordings`` ``postponed``: produce the result files after the recording ends (individual mode)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"mode": "audio_mix", "container": "m4a"}]}
    )

    mode: Literal["transcoding", "audio_mix"] = Field(
        description="transcoding: one MP4 per uid; audio_mix: every uid's audio in one file"
    )
    container: Literal["mp4", "mp3", "m4a", "aac"] | None = Field(
        default=None, description="transcoding: mp4 (the default and only choice); audio_mix: mp3 (default), m4a, aac"
    )
    audio: PostponedAudio | None = Field(default=None, description="audio_mix only: sample rate, bitrate, channels")

    @model_validator(mode="after")
    def _agora_rules(self) -> Self:
        if self.mode == "transcoding":
            if self.container not in (None, "mp4"):
                raise ValueError(f'postponed transcoding produces mp4 only, not "{self.container}"')
            if self.audio is not None:
                raise ValueError("postponed.audio applies to mode audio_mix only")
        elif self.container not in (None, *AUDIO_MIX_CONTAINERS):
            raise ValueError(f'postponed audio mixing produces mp3, m4a or aac, not "{self.container}"')
        return self

    def stored(self) -> dict[str, Any]:
        """What the recording item keeps (``configJson.postponed``), with the defaults applied."""
        out: dict[str, Any] = {"mode": self.mode, "container": self.container or DEFAULT_CONTAINER[self.mode]}
        if self.mode == "audio_mix":
            out["audio"] = (self.audio or PostponedAudio()).model_dump()
        return out


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


# ------------------------------------------------------------------------------------------------ events


def _names(file_list: Any) -> set[str]:
    names: set[str] = set()
    for entry in file_list if isinstance(file_list, list) else []:
        name = entry.get("fileName") if isinstance(entry, Mapping) else entry
        if isinstance(name, str) and name.strip():
            names.add(name.strip())
    return names


def _add_files(repo: RecordingStore, recording_id: str, names: set[str]) -> None:
    if names:
        repo.add_postponed_files(recording_id, set(sorted(names)[:MAX_FILES]))


def on_started(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    """80: Agora started the postponed job (its time is kept even when the final result came first)."""
    if event.sendts is not None:
        repo.set_if_newer(recording_id, "postponedStartSeq", event.sequence, {"postponedStartedAt": event.sendts})
    repo.set_if_newer(recording_id, "postponedSeq", event.sequence, {"postponedStatus": "transcoding"})


def _uids(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    listed = details.get("uids")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, Mapping) and entry.get("uid") is not None:
            out.append(
                {
                    "uid": str(entry["uid"]),
                    "result": str(entry.get("result")) if entry.get("result") is not None else None,
                    "files": sorted(_names(entry.get("fileList"))),
                }
            )
    return sorted(out, key=lambda e: str(e["uid"]))[:MAX_FILES]


def on_completed(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    """81: the transcoder finished; per-uid results and their files."""
    details = event.details
    uids = _uids(details)
    _add_files(repo, recording_id, {name for entry in uids for name in entry["files"]})
    if uids:
        repo.set_if_newer(recording_id, "postponedUidsSeq", event.sequence, {"postponedUids": json.dumps(uids)})
    _final(repo, recording_id, event, details.get("result"))


def on_final_result(repo: RecordingStore, workflow: WorkflowControl, recording_id: str, event: RecordingEvent) -> None:
    """1001: the final result and the file list."""
    _add_files(repo, recording_id, _names(event.details.get("fileList")))
    _final(repo, recording_id, event, event.details.get("result"))


def _final(repo: RecordingStore, recording_id: str, event: RecordingEvent, result: object) -> None:
    status = RESULTS.get(str(result)) if result is not None else None
    if status is None:
        return
    fields: dict[str, Any] = {"postponedStatus": status, "postponedResult": str(result)}
    if event.sendts is not None:
        fields["postponedFinishedAt"] = event.sendts
    repo.set_if_newer(recording_id, "postponedSeq", event.sequence, fields)


HANDLERS = {STARTED: on_started, TRANSCODING: on_completed, FINAL_RESULT: on_final_result}


# -------------------------------------------------------------------------------------------------- view


class PostponedUid(BaseModel):
    uid: str
    result: str | None = None
    files: list[str]


class PostponedView(BaseModel):
    """``GET /recordings/{id}`` ``postponed``: what was asked and what Agora reported (events 80/81/1001)."""

    mode: Literal["transcoding", "audio_mix"]
    container: str
    status: str = Field(
        description="pending (nothing reported yet; Agora has 24 h after the recording ends), transcoding (80), "
        "completed, partial or failed (81/1001); overdue when the recording ended over 25 h ago and no result "
        "came (the notice may have been lost: look for the files in the bucket)"
    )
    result: str | None = Field(default=None, description="Agora's result word (e.g. total_success)")
    files: list[str] = Field(default_factory=list, description="the result files (object keys in the bucket)")
    uids: list[PostponedUid] = Field(default_factory=list, description="per-uid results (event 81)")
    started_at: str | None = None
    finished_at: str | None = None


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
