"""Where a transcription's transcript and WebVTT files are, and ``GET /transcriptions/{id}/captions``'s answer.

Agora writes them (``captionConfig.storage``) into the recordings bucket: into the recording's own folder when the
transcription goes with a recording (``recordings/<channel>/<recording id>/``), else
``transcripts/<channel>/<transcription id>/``. Only the files of this transcription's agents are listed (a
recording's folder may also hold another transcription's), each with a presigned GetObject URL, in the shape of
``GET /recordings/{id}/captions`` (``agorakit.captions.caption_files``).
"""

from __future__ import annotations

from typing import Any

from agorakit.captions import caption_files

from service.errors import BadRequest
from service.recordings.logic import channel_segment, file_name_prefix
from service.transcriptions.ports import CaptionObjects
from service.transcriptions.record import Transcription

#: the folder of transcriptions without a recording (the uploader's keys may write there: infra grants it)
TRANSCRIPTS_FOLDER = "transcripts"


def caption_prefix(record: Transcription) -> list[str]:
    """Agora's ``fileNamePrefix`` for the transcription's files."""
    if record.recording_id:
        return file_name_prefix(record.channel, record.recording_id)
    return [TRANSCRIPTS_FOLDER, channel_segment(record.channel)[:60], record.id]


def captions(
    record: Transcription, *, objects: CaptionObjects, url_seconds: int, expires_in: int | None = None
) -> dict[str, Any]:
    seconds = url_seconds if expires_in is None else expires_in
    if not 1 <= seconds <= url_seconds:
        raise BadRequest(f"expires_in must be between 1 and {url_seconds} seconds")
    listed = objects.list("/".join(caption_prefix(record)) + "/")
    tracks, transcripts = caption_files(listed, lambda key: objects.presign(key, seconds), set(record.agents))
    return {
        "transcription_id": record.id,
        "recording_id": record.recording_id,
        "tracks": tracks,
        "transcripts": transcripts,
        "url_expires_in": seconds,
    }
