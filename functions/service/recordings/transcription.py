"""The live transcription a recording was asked to start with (``POST /recordings`` with ``transcription``).

It shares the recording's channel lifetime: the workflow's ``StartTranscription`` step starts it once the recording
is ``RECORDING`` (after Start succeeded, or ResolveStart adopted the recorder), so a recording that is QUEUED, or
that never starts, never transcribes; the Stop step and the fail handler stop it, whatever ended the recording
(DELETE, the maximum duration, NCS, the reconciler, a failure). Both go through the transcriptions use cases
(``service.transcriptions.usecases``: the name-keyed join, adoption after an ambiguous answer, the STT bot uid).

The transcription's id is the recording's UUID without dashes: a retried step starts nothing twice (the record is
found and its agent adopted by name), and a stop finds it even when the link was never written. Its failures are
recorded on the recording (``transcriptionError``) and never fail it.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from service.recordings import logic
from service.recordings.deps import RecordingDependencies
from service.recordings.record import Recording

if TYPE_CHECKING:
    from service.transcriptions.models import TranscriptionOptions
    from service.transcriptions.record import Transcription
    from service.transcriptions.usecases import TranscriptionService

logger = logging.getLogger(__name__)

#: the recording's configuration key of the requested transcription (``operations.validate_start``)
CONFIG_KEY = "transcription"
#: how ``transcriptionError`` begins when a stop failed (the next stop that succeeds clears it)
STOP_FAILED = "the transcription did not stop"


def transcription_id(recording_id: str) -> str:
    """The id of the transcription started with ``recording_id`` (32 lowercase hex, as the transcriptions API's)."""
    return uuid.UUID(recording_id).hex


def requested(item: Recording) -> TranscriptionOptions | None:
    """The transcription ``item`` was created with (None: none asked)."""
    raw = item.config().get(CONFIG_KEY)
    if not isinstance(raw, dict):
        return None
    from service.transcriptions.models import TranscriptionOptions

    return TranscriptionOptions.model_validate(raw)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def start(deps: RecordingDependencies, item: Recording) -> dict[str, Any]:
    """Start the transcription of a recording that records. Never raises for the transcription's own trouble:
    it is recorded on the recording (``transcriptionError``), which goes on recording."""
    options = requested(item)
    if options is None:
        return {"transcription": "none"}
    if item.status != logic.RECORDING or item.stop_requested:
        return {"transcription": "skipped", "status": item.status}
    service = deps.transcriptions()
    if service is None:
        deps.repo.link_transcription(item.recording_id, None, "live transcription is not configured (no table)")
        return {"transcription": "unavailable"}
    from service.transcriptions.usecases import StartCommand

    wanted = transcription_id(item.recording_id)
    error: str | None = None
    try:
        record = service.start(
            StartCommand(
                channel=item.channel, languages=options.languages, uid_languages=options.per_uid(),
                translate=options.translate(), subscribe_uids=options.subscribe_uids,
                max_idle_seconds=options.max_idle_seconds, recording_id=item.recording_id, transcription_id=wanted,
            )
        )  # fmt: skip
        status: str | None = record.status
        if record.status in ("FAILED", "STOPPED"):
            error = record.last_error or f"the transcription is {record.status}"
    except Exception as exc:  # Agora's refusal or failure, a channel already transcribed: the recording goes on
        logger.warning("the transcription of recording %s did not start: %s", item.recording_id, exc)
        error = _why(exc)
        existing = service.store.get(wanted)
        status = existing.status if existing is not None else None
    deps.repo.link_transcription(item.recording_id, wanted if status is not None else None, error)
    deps.metric("RecordingTranscriptionStarted" if error is None else "RecordingTranscriptionFailed")
    return {"transcription": "started" if error is None else "failed", "transcriptionId": wanted,
            "status": status}  # fmt: skip


def stop(deps: RecordingDependencies, item: Recording, reason: str) -> str | None:
    """Stop the recording's transcription (idempotent: one already ended, or never started, is left as it is).
    Returns its state after the stop (None: there is none); a failure is recorded on the recording. The Stop step
    calls it, then Finalize again (a no-op when it ended), and the fail handler: a leave Agora failed once is
    sent again before the recording ends."""
    if item.transcription_id is None and requested(item) is None:
        return None
    service = deps.transcriptions()
    if service is None:
        return None
    wanted = item.transcription_id or transcription_id(item.recording_id)
    record = service.store.get(wanted)
    if record is None:
        return None  # never started (queued, failed before recording, or its start was refused before a record)
    try:
        if record.agent_id is None and record.status not in ("STOPPED", "FAILED"):
            _adopt_lost_join(deps, service, record)
        status = service.stop(wanted, reason=f"the recording stopped ({reason})").status
    except Exception as exc:
        logger.warning("the transcription %s of recording %s did not stop: %s", wanted, item.recording_id, exc)
        deps.repo.link_transcription(item.recording_id, wanted, f"{STOP_FAILED}: {_why(exc)}")
        return None
    if (item.transcription_error or "").startswith(STOP_FAILED):
        deps.repo.link_transcription(item.recording_id, wanted, None)  # an earlier attempt's failure, now undone
    return status


def _adopt_lost_join(deps: RecordingDependencies, service: TranscriptionService, record: Transcription) -> None:
    """A record with no agent that has not ended: its join's answer may have been lost with the step that sent it
    (a Lambda timeout). An agent running under its name is ours: attach it, so the stop makes it leave."""
    from service.transcriptions import logic as transcription_rules
    from service.transcriptions.ports import ConditionFailed

    agent = service.agora.find_running(transcription_rules.agent_name(record.id, record.generation), record.channel)
    if agent is None:
        return
    try:
        service.store.attach_agent(record.id, agent.agent_id, record.generation, int(deps.clock() * 1000))
    except ConditionFailed:  # ended meanwhile: the stop reads it as it is
        logger.info("transcription %s ended while its lost agent %s was adopted", record.id, agent.agent_id)
