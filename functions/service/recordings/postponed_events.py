"""NCS events 80 (``transcoder_started``), 81 (``transcoder_completed``: per-uid results) and 1001
(``postpone_transcode_final_result``: the file list) applied to a recording, for ``events`` (the webhook
processor's use case).

Item attributes (events arrive late, twice and out of order; every write is idempotent):
- ``postponedFiles``: a string set; every file name 81 or 1001 reports is ADDed.
- ``postponedStatus`` (``transcoding``, ``completed``, ``partial``, ``failed``) guarded by ``postponedSeq``: a
  stale event (lower sequence) never moves the status back; 80 only starts it, 1001 is Agora's last word.
- ``postponedUids`` (81's per-uid results) guarded by ``postponedUidsSeq``.
- ``postponedStartedAt`` (80, guarded by ``postponedStartSeq``) / ``postponedFinishedAt`` (81, 1001): ``sendts``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from service.recordings.postponed_rules import FINAL_RESULT, MAX_FILES, RESULTS, STARTED, TRANSCODING

if TYPE_CHECKING:
    from agorakit.ncs.events import RecordingEvent

    from service.recordings.ports import RecordingStore, WorkflowControl


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
