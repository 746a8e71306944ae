"""TranscriptionsTable stream images -> the live transcriptions' events (the only place that reads a
transcription item for events).

Facts, from the difference between the old and the new image of a ``TX#`` item (the ``TXLOCK#`` channel locks
and the ``TXAGENT#`` pointers publish nothing):
- created (INSERT) -> ``Transcription Requested``;
- ``agentId`` appeared (Agora accepted the join of generation 0, or it was adopted) -> ``Started``;
- ``agentId`` changed to a later ``generation``'s agent (the restart before Agora's 72-hour end) -> ``Restarted``;
- ``status`` reached RUNNING from REQUESTED or STARTING (the bot is in the channel, captions flow;
  RECOVERING -> RUNNING and a restart, which keeps RUNNING, are no new start) -> ``Running``;
- ``status`` moved to STOPPED -> ``Stopped`` (``stopReason``), to FAILED -> ``Failed`` (``lastError``);
- ``files`` gained keys (NCS product 20's files notice: transcripts and WebVTT captions) -> ``Files Ready``
  with the keys that write added.

Every write is conditional (``service.transcriptions.repository``: a status moves only from the state read, an
agent is attached once), so each fact is in exactly one stream record; a configuration update, a ``sequenceId``
increment or a repeated files notice (a set ``ADD`` of keys already there) publishes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.events.model import (
    Event,
    Source,
    TranscriptionDetail,
    TranscriptionFailed,
    TranscriptionFilesReady,
    TranscriptionRequested,
    TranscriptionRestarted,
    TranscriptionRunning,
    TranscriptionStarted,
    TranscriptionStopped,
    iso_ms,
)

TX_PREFIX = "TX#"
BEFORE_RUNNING = frozenset({"REQUESTED", "STARTING"})
CAPTION_SUFFIX = ".vtt"


def _is_transcription(image: Mapping[str, Any] | None) -> bool:
    return bool(image) and str((image or {}).get("pk", "")).startswith(TX_PREFIX)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def transcription_events(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, source: Source) -> list[Event]:
    """The facts one write of the transcriptions table states (none for a removal, a lock or a pointer)."""
    if new is None or not _is_transcription(new):
        return []
    before: Mapping[str, Any] = old if old is not None and _is_transcription(old) else {}
    transcription_id = str(new.get("id") or str(new["pk"])[len(TX_PREFIX) :])
    ordering = f"transcription:{transcription_id}"
    base: dict[str, Any] = {
        "transcription_id": transcription_id,
        "channel": str(new.get("channel") or ""),
        "recording_id": _opt_str(new.get("recordingId")),
    }

    def make(model: type[TranscriptionDetail], **fields: Any) -> Event:
        return Event(model(**source.common(model.DETAIL_TYPE, ordering), **base, **fields))

    events: list[Event] = []
    agent, old_agent = _opt_str(new.get("agentId")), _opt_str(before.get("agentId"))
    generation = int(new.get("generation") or 0)
    if not before:
        translate = new.get("translate")
        events.append(
            make(
                TranscriptionRequested,
                languages=[str(lang) for lang in new.get("languages") or ()],
                translate={
                    str(k): [str(t) for t in v]
                    for k, v in (translate if isinstance(translate, Mapping) else {}).items()
                },
                bot_uid=int(new.get("botUid") or 0),
                created_at=iso_ms(new.get("createdAt")),
            )
        )
    if agent and agent != old_agent:
        started_at = iso_ms(new.get("startedAt"))
        if old_agent is None:
            events.append(make(TranscriptionStarted, agent_id=agent, generation=generation, started_at=started_at))
        elif generation > int(before.get("generation") or 0):
            events.append(
                make(
                    TranscriptionRestarted,
                    agent_id=agent,
                    previous_agent_id=old_agent,
                    generation=generation,
                    started_at=started_at,
                )
            )
    status, old_status = _opt_str(new.get("status")), _opt_str(before.get("status"))
    if status == "RUNNING" and (old_status is None or old_status in BEFORE_RUNNING):
        events.append(make(TranscriptionRunning, agent_id=agent, generation=generation))
    if status != old_status and status == "STOPPED":
        events.append(
            make(
                TranscriptionStopped,
                agent_id=agent,
                reason=_opt_str(new.get("stopReason")),
                generation=generation,
                agents=len(new.get("agents") or ()),
                ended_at=iso_ms(new.get("endedAt")),
            )
        )
    elif status != old_status and status == "FAILED":
        events.append(
            make(
                TranscriptionFailed,
                agent_id=agent,
                reason=_opt_str(new.get("stopReason")),
                error=_opt_str(new.get("lastError")),
                generation=generation,
                ended_at=iso_ms(new.get("endedAt")),
            )
        )
    files = {str(key) for key in new.get("files") or ()}
    added = sorted(files - {str(key) for key in before.get("files") or ()})
    if added:
        events.append(
            make(
                TranscriptionFilesReady,
                files=added,
                captions=[key for key in added if key.endswith(CAPTION_SUFFIX)],
                total_files=len(files),
            )
        )
    return events
