"""Settings of the transcriptions function, read once at cold start (``TranscriptionsSettings.from_env()``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from service.adapters.agora import AgoraAccessSettings


class TranscriptionsSettings(AgoraAccessSettings):
    transcriptions_table: str
    groups_claim: str = "cognito:groups"
    admin_group: str = "admins"
    #: the App Certificate (the bot's RTC token); None: an App ID without certificate, no token
    app_certificate_secret_name: str | None = None
    #: where Agora writes transcripts and captions: the recordings bucket, with the uploader's keys
    recordings_bucket: str | None = None
    recordings_bucket_region: str = "us-east-1"
    recording_uploader_secret_name: str | None = None
    #: the lifetime of the presigned URLs of ``GET /transcriptions/{id}/captions`` (at most; ``expires_in`` less)
    caption_url_seconds: int = Field(default=900, ge=60, le=43_200)
    secret_cache_seconds: float = Field(default=300.0, ge=0)
    #: the bot's token lifetime (Agora's maximum is 24 h): v7's ``update`` cannot renew it, so the restart
    #: workflow joins the next agent (with a fresh token) ``transcription_restart_margin_seconds`` before it ends
    bot_token_seconds: int = Field(default=24 * 3600, ge=600, le=24 * 3600)
    #: Agora's lifetime of one task (72 h) and how long before its end the next agent joins; the restart
    #: workflow (Step Functions) waits until then. Smaller only in tests (scaled time).
    transcription_lifetime_seconds: int = Field(default=259_200, ge=10, le=259_200)
    transcription_restart_margin_seconds: int = Field(default=600, ge=1, le=86_400)
    #: the most transcriptions active at once in the stack (CDK context ``transcriptionsMaxRunning``); past it
    #: POST /transcriptions is 429
    transcriptions_max_running: int = Field(default=50, ge=1, le=10_000)
    #: the restart workflow; None: no restart is scheduled (a transcription ends at 72 hours)
    transcription_state_machine_arn: str | None = None

    @model_validator(mode="after")
    def _margin_within_token(self) -> TranscriptionsSettings:
        if self.transcription_restart_margin_seconds >= self.bot_token_seconds:
            raise ValueError("transcription_restart_margin_seconds must be shorter than bot_token_seconds")
        return self
