"""``POST /recordings`` ``postponed`` and ``GET /recordings/{id}`` ``postponed``: the API's pydantic models of
postponed transcoding / audio mixing (the rules they follow are in ``postponed_rules``)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.recordings.postponed_rules import AUDIO_MIX_CONTAINERS, DEFAULT_CONTAINER


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
