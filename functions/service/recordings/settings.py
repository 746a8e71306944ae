"""Settings of the recording functions (API, workflow tasks, reconciler), read once at cold start.

One model for the three functions: each gets the variables it needs from the construct, and fields
that a function does not use are optional. Agora access comes from ``AgoraAccessSettings``.
``RecordingEventSettings`` is what the webhook processor needs to apply recording events.
"""

from __future__ import annotations

from pydantic import Field

from service.adapters.agora import AgoraAccessSettings
from service.settings import FunctionSettings

#: Agora's tokens live at most 24 hours and a recorder's token cannot be renewed (recording doc, section 7).
MAX_TOKEN_SECONDS = 86_400


class RecordingEventSettings(FunctionSettings):
    """The webhook processor's view: the recording construct's ``grant_events()`` sets RECORDINGS_TABLE."""

    recordings_table: str


class RecordingSettings(AgoraAccessSettings):
    recordings_table: str
    recording_state_machine_arn: str | None = None
    app_certificate_secret_name: str | None = None
    recordings_bucket: str | None = None
    recordings_bucket_region: str | None = None
    recording_uploader_secret_name: str | None = None
    media_table: str | None = None
    #: the transcriptions table: a recording asked with ``transcription`` starts and stops one (workflow tasks) and
    #: shows its state (API); None: such a recording records without it (``transcriptionError`` says why)
    transcriptions_table: str | None = None

    groups_claim: str = "cognito:groups"
    admin_group: str = "admins"

    #: longest a recording may run; the recorder's token and the wait's timeout are derived from it
    recording_max_hours: int = Field(default=4, ge=1, le=24)
    #: overrides ``recording_max_hours`` (tests and the bench use seconds)
    recording_max_duration_seconds: int | None = Field(default=None, ge=1, le=MAX_TOKEN_SECONDS)
    recording_async_stop: bool = True
    #: a resource ID lives 5 minutes; start refuses older ones (and the workflow acquires again)
    recording_resource_max_age_seconds: float = Field(default=240.0, gt=0, le=300)
    #: attempts inside one Lambda call; Step Functions' Retry (with jitter) does the long backoff
    recording_agora_max_attempts: int = Field(default=2, ge=1, le=10)
    #: Agora's HA migration window: a 404 younger than this is not yet proof that the recorder exited
    recording_ha_grace_seconds: float = Field(default=90.0, ge=0)
    #: after a start whose outcome is unknown: how long the workflow looks for the task (NCS events carry its
    #: sid) before it removes the recorder from the channel with a kicking rule
    recording_resolve_seconds: float = Field(default=60.0, ge=0, le=3600)
    #: how long the workflow waits between two looks
    recording_resolve_poll_seconds: int = Field(default=5, ge=1, le=300)
    #: the most a recording's execution waits in Wait states for our Agora limiter (one total for its acquire,
    #: start and stop steps, re-acquires included); past it the limiter's error is retried and then fails
    recording_throttle_max_seconds: int = Field(default=1800, ge=0, le=86_400)
    #: Agora's concurrent-task limit for this App ID (PCW, 50 unless Agora raised it): recordings past it are QUEUED
    agora_max_tasks: int = Field(default=50, ge=1, le=100_000)
    #: the most recordings QUEUED at once; past it POST /recordings answers 429 with Retry-After
    admission_queue_cap: int = Field(default=1000, ge=0, le=1_000_000)
    #: the typical recording length the queue's wait estimate assumes (a slot frees every typical/max_tasks s)
    admission_typical_recording_seconds: int = Field(default=1800, ge=1, le=86_400)
    #: the kicking rule's lifetime: lifted as soon as the recorder is confirmed gone, expires on its own otherwise
    recording_kick_seconds: int = Field(default=600, ge=60, le=86_400)
    #: how long an update/updateLayout may hold a recording's operation lock
    recording_op_lock_seconds: int = Field(default=30, ge=1, le=900)
    #: a row quiet this long (no update, no DescribeExecution that saw it RUNNING) has its execution described, and
    #: is repaired if it ended. Three reconciler periods: a row checked every run describes its execution once
    #: per 15 minutes, not at every run (with 300 s = the period, schedule jitter made half the rows describe)
    recording_stale_seconds: float = Field(default=900.0, ge=0)
    #: a reconciler run takes no new row once its invocation has less than this left: the row in flight (an
    #: Agora query: 2 x 10 s attempts and a 10 s limiter wait at most), clean-up and the metrics flush fit in it
    recording_reconciler_margin_seconds: float = Field(default=60.0, ge=0, le=600)
    #: the longest a presigned segment URL of GET /recordings/{id}/playlist lives (callers may ask for less)
    playback_url_seconds: int = Field(default=900, ge=60, le=43_200)
    #: the largest playlist answer (Lambda answers at most 6 MB): longer playlists are read in windows
    playback_max_bytes: int = Field(default=5_000_000, ge=10_000, le=5_500_000)
    #: how long a secret (REST credentials, uploader keys) is reused before re-reading it
    secret_cache_seconds: float = Field(default=300.0, ge=0)
    #: the recorder token is signed only with a certificate whose version was confirmed current within this many
    #: seconds (0: at every start, one DescribeSecret); at most the token function's, which the rotation waits out
    recorder_certificate_check_seconds: float = Field(default=0.0, ge=0, le=10)

    @property
    def max_duration_seconds(self) -> int:
        if self.recording_max_duration_seconds is not None:
            return self.recording_max_duration_seconds
        return self.recording_max_hours * 3600

    @property
    def bucket_region(self) -> str:
        return self.recordings_bucket_region or self.aws_region or "us-east-1"
