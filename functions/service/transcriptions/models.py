"""What the transcriptions API takes and answers (``/transcriptions*``), documented in docs/openapi.json."""

from __future__ import annotations

from typing import Annotated

from agorakit.ids import CHANNEL_PATTERN
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: a BCP 47-like language code as Agora lists them (en-US, zh-CN, ...)
Language = Annotated[
    str, StringConstraints(min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
]
UserUid = Annotated[int, Field(ge=1, le=3_999_999_999, description="a user's uid (not the reserved bot range)")]


class UidLanguages(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uid: UserUid
    languages: list[Language] = Field(min_length=1, max_length=4)


class Translation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Language
    targets: list[Language] = Field(min_length=1, max_length=4)


class TranscriptionOptions(BaseModel):
    """What a transcription transcribes: ``POST /transcriptions``' body without its channel, and the
    ``transcription`` object of ``POST /recordings`` (the recording's channel, linked to the recording)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"languages": ["en-US"],
                                         "translation": [{"source": "en-US", "targets": ["fr-FR"]}]}]},
    )  # fmt: skip
    languages: list[Language] = Field(min_length=1, max_length=4, description="up to 4 languages, such as en-US")
    uid_languages: list[UidLanguages] | None = Field(default=None, max_length=5, description="up to 5 uids")
    translation: list[Translation] | None = Field(default=None, max_length=4)
    subscribe_uids: list[UserUid] | None = Field(
        default=None, max_length=32, description="only these users (default all hosts)"
    )
    max_idle_seconds: int = Field(default=30, ge=0, le=259_200, description="0: never idle out")

    def per_uid(self) -> dict[int, list[str]]:
        """``uid_languages`` as a map (``ValueError`` when a uid is listed twice)."""
        per_uid = {item.uid: list(item.languages) for item in self.uid_languages or []}
        if self.uid_languages and len(per_uid) != len(self.uid_languages):
            raise ValueError("uid_languages: a uid is listed twice")
        return per_uid

    def translate(self) -> dict[str, list[str]] | None:
        """``translation`` as source -> targets (``ValueError`` when a source is listed twice)."""
        if self.translation is None:
            return None
        out: dict[str, list[str]] = {}
        for pair in self.translation:
            if pair.source in out:
                raise ValueError(f"translation: {pair.source} is listed twice")
            out[pair.source] = list(pair.targets)
        return out


class TranscriptionRequest(TranscriptionOptions):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"channel": "demo", "languages": ["en-US"],
                                         "translation": [{"source": "en-US", "targets": ["fr-FR"]}]}]},
    )  # fmt: skip
    channel: str = Field(min_length=1, max_length=63, pattern=CHANNEL_PATTERN)
    recording_id: str | None = Field(default=None, max_length=64, description="the recording these captions go with")


class TranscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"languages": ["en-US", "es-ES"]}]})
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=4)
    subscribe_uids: list[UserUid] | None = Field(default=None, max_length=32)
    translation: list[Translation] | None = Field(default=None, max_length=4)


class TranscriptionView(BaseModel):
    id: str
    channel: str
    status: str
    languages: list[str]
    uid_languages: dict[str, list[str]]
    translation: dict[str, list[str]]
    subscribe_uids: list[UserUid] | None
    bot_uid: int
    agent_id: str | None
    agents: list[str] = Field(description="every Agora agent of this transcription (a restart adds one)")
    generation: int
    sequence_id: int = Field(description="the last sequenceId sent to Agora's update")
    created_at_ms: int
    started_at_ms: int | None
    ended_at_ms: int | None
    stop_reason: str | None
    last_error: str | None
    recording_id: str | None
    files: list[str] = Field(description="transcript and caption objects in the recordings bucket")
    restart_due_ms: int | None = Field(
        description="when the next agent joins: before Agora's 72-hour end or the bot token's expiry"
    )
    token_expires_ms: int | None = Field(
        default=None, description="when the current agent's bot RTC token expires (null: no App Certificate)"
    )
    cost_per_hour_usd: float = Field(description="Agora's list price for this configuration, per hour")


class TranscriptionList(BaseModel):
    transcriptions: list[TranscriptionView]
    next_cursor: str | None


class CaptionTrack(BaseModel):
    language: str = Field(description="the track's language (a transcribed or a translated one)")
    agent_id: str = Field(description="the Real-Time STT agent that wrote it (each restart adds one)")
    file: str
    size: int
    url: str = Field(description="a presigned GetObject URL of the WebVTT file")


class TranscriptFile(BaseModel):
    agent_id: str
    file: str
    size: int
    url: str = Field(description="a presigned GetObject URL of the transcript JSON")


class CaptionList(BaseModel):
    """The files Agora wrote for the transcription's agents (beside its recording, or under transcripts/)."""

    transcription_id: str
    recording_id: str | None
    tracks: list[CaptionTrack]
    transcripts: list[TranscriptFile]
    url_expires_in: int
