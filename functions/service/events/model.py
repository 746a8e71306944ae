"""The events apps receive: the EventBridge envelope and one typed ``detail`` model per detail-type.

Every ``detail`` carries:
- ``version``: the schema version of this detail-type (``docs/events/<name>.v<version>.json``);
- ``event_id``: deterministic from (table, item key, stream sequence number, detail-type): a fact delivered
  twice (a retried stream batch, a retried PutEvents) carries the same id, so apps de-duplicate on it;
- ``ordering_key`` and ``sequence``: events with the same ordering key (one recording, one channel user, ...)
  are in the order of ``sequence`` (DynamoDB stream sequence numbers: compare them as integers);
- ``occurred_at``: when the state change was written (the stream record's approximate creation time).

No detail carries a secret or a token: each model lists the fields it publishes, nothing is copied whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

#: ``source`` of the events, per capability
RECORDINGS_SOURCE = "agora-serverless.recordings"
CHANNELS_SOURCE = "agora-serverless.channels"
PROJECTS_SOURCE = "agora-serverless.projects"
AGENTS_SOURCE = "agora-serverless.agents"
TRANSCRIPTIONS_SOURCE = "agora-serverless.transcriptions"


class Detail(BaseModel):
    """What every event's ``detail`` holds; subclasses name their detail-type and source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    DETAIL_TYPE: ClassVar[str] = ""
    SOURCE: ClassVar[str] = ""

    version: Literal[1] = 1
    event_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="the same for every delivery of one fact")
    ordering_key: str = Field(description="events with the same key are ordered by sequence")
    sequence: str = Field(pattern=r"^[0-9]{1,40}$", description="compare as an integer, within one ordering_key")
    occurred_at: str | None = Field(default=None, description="when the state change was written (ISO 8601, UTC)")

    @classmethod
    def schema_name(cls) -> str:
        return cls.DETAIL_TYPE.lower().replace(" ", "-")


# ---------------------------------------------------------------------------------------------- recordings


class RecordingDetail(Detail):
    SOURCE: ClassVar[str] = RECORDINGS_SOURCE

    recording_id: str
    channel: str
    mode: str | None = None


class RecordingRequested(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Requested"

    requested_by: str | None = None
    created_at: str | None = None


class RecordingStarted(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Started"

    sid: str | None = None
    started_at: str | None = None


class RecordingStopped(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Stopped"

    sid: str | None = None
    reason: str | None = Field(default=None, description="api, recorder_exited, reconciler or max_duration")
    outcome: str | None = None
    stopped_at: str | None = None


class RecordingFailed(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Failed"

    sid: str | None = None
    reason: str | None = None
    error_type: str | None = None
    error_code: int | str | None = None
    recorder_unconfirmed: bool = False
    failed_at: str | None = None


class RecordingFilesReady(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Files Ready"

    sid: str | None = None
    uploading_status: str = Field(description="uploaded (to your bucket) or backuped (Agora's backup, uploaded later)")
    files: list[str]


class RecordingPostponedResult(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Postponed Result"

    sid: str | None = None
    status: str = Field(description="completed, partial or failed")
    result: str | None = None
    files: list[str]


class RecordingCdnStatusChanged(RecordingDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording CDN Status Changed"

    sid: str | None = None
    output: str = Field(description="the CDN address's key (a hash: the address may hold a stream key)")
    host: str | None = Field(default=None, description="the CDN address's host (the path and stream key are left out)")
    status: str
    previous_status: str | None = None
    current: bool = Field(description="the address is one of the recording's current CDN addresses")


# ---------------------------------------------------------------------------------------------- media (by sid)


class MediaDetail(Detail):
    SOURCE: ClassVar[str] = RECORDINGS_SOURCE

    sid: str
    recording_id: str | None = Field(default=None, description="null when no recording has this sid (yet)")


class RecordingIntegrityChecked(MediaDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Integrity Checked"

    status: Literal["complete", "incomplete"]
    segments: int
    missing_count: int
    missing: list[str] = Field(description="the first missing segments' file names (at most 50)")
    checked_at: str | None = None


class RecordingDurationComputed(MediaDetail):
    DETAIL_TYPE: ClassVar[str] = "Recording Duration Computed"

    duration_us: int
    duration_seconds: str
    longest_stream_us: int
    segments: int
    streams: int


# ---------------------------------------------------------------------------------------------- channels


class ChannelDetail(Detail):
    SOURCE: ClassVar[str] = CHANNELS_SOURCE

    channel: str


class UserJoinedChannel(ChannelDetail):
    DETAIL_TYPE: ClassVar[str] = "User Joined Channel"

    uid: int
    role: str | None = None
    bot: bool = False
    platform: int | None = None
    joined_ts: int | None = None


class UserLeftChannel(ChannelDetail):
    DETAIL_TYPE: ClassVar[str] = "User Left Channel"

    uid: int
    bot: bool = Field(default=False, description="a recorder bot (Cloud Recording's uid), not a user")
    reason: int | None = Field(default=None, description="Agora's leave reason code (null when inferred)")
    reason_name: str | None = Field(default=None, description="the reason's name, or channel_destroyed")
    left_ts: int | None = None
    session_seconds: int | None = None


class ChannelClosed(ChannelDetail):
    DETAIL_TYPE: ClassVar[str] = "Channel Closed"

    destroyed_ts: int | None = None
    last_uid: int | None = None


class KickingRuleDetail(ChannelDetail):
    rule_id: int
    uid: int | None = None
    privileges: list[str]


class KickingRuleCreated(KickingRuleDetail):
    DETAIL_TYPE: ClassVar[str] = "Kicking Rule Created"

    duration_seconds: int
    expires_at: str | None = None
    created_by: str | None = None


class KickingRuleLifted(KickingRuleDetail):
    DETAIL_TYPE: ClassVar[str] = "Kicking Rule Lifted"


# ---------------------------------------------------------------------------------------------- projects


class CertificateRotated(Detail):
    SOURCE: ClassVar[str] = PROJECTS_SOURCE
    DETAIL_TYPE: ClassVar[str] = "Certificate Rotated"

    project_id: str
    app_id: str
    secret_version: str = Field(description="the Secrets Manager version id now holding the certificate")
    previous_tokens_valid: bool


# ---------------------------------------------------------------------------------------------- agents


class AgentDetail(Detail):
    SOURCE: ClassVar[str] = AGENTS_SOURCE

    agent_id: str = Field(description="ours (the API's agentId), not Agora's")
    channel: str
    profile: str


class AgentRequested(AgentDetail):
    DETAIL_TYPE: ClassVar[str] = "Agent Requested"

    requested_by: str | None = None
    bot_uid: int
    remote_uids: list[int]
    created_at: str | None = None
    max_duration_ends_at: str | None = None


class AgentStarted(AgentDetail):
    DETAIL_TYPE: ClassVar[str] = "Agent Started"

    agora_agent_id: str = Field(description="Agora's id of the agent (NCS product 17's agent_id)")
    adopted: bool = Field(description="the start's answer was lost and the agent was found in Agora's list")
    bot_uid: int


class AgentRunning(AgentDetail):
    DETAIL_TYPE: ClassVar[str] = "Agent Running"

    agora_agent_id: str | None = None
    started_at: str | None = Field(default=None, description="when it was first seen in the channel")


class AgentStopped(AgentDetail):
    DETAIL_TYPE: ClassVar[str] = "Agent Stopped"

    agora_agent_id: str | None = None
    reason: str | None = Field(
        default=None, description="api, max_duration, Agora's leave reason, or the reconciler's (reconciler: ...)"
    )
    started_at: str | None = None
    ended_at: str | None = None
    uptime_seconds: int = Field(description="0 when it never ran")
    history_turns: int = Field(description="turns of the conversation saved (0: none)")


class AgentFailed(AgentDetail):
    DETAIL_TYPE: ClassVar[str] = "Agent Failed"

    agora_agent_id: str | None = None
    reason: str | None = None
    error_step: str | None = Field(default=None, description="where it went wrong (start, agora, ...)")
    error_reason: str | None = None
    http_status: int | None = None
    error_code: int | None = Field(default=None, description="Agora's NCS error code, when Agora reported one")
    ended_at: str | None = None


class AgentHistorySaved(AgentDetail):
    DETAIL_TYPE: ClassVar[str] = "Agent History Saved"

    history_key: str = Field(description="the conversation's JSON object in the history bucket")
    turns: int
    previous_turns: int


# ---------------------------------------------------------------------------------------------- transcriptions


class TranscriptionDetail(Detail):
    SOURCE: ClassVar[str] = TRANSCRIPTIONS_SOURCE

    transcription_id: str
    channel: str
    recording_id: str | None = Field(default=None, description="the recording whose folder holds the files, if any")


class TranscriptionRequested(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Requested"

    languages: list[str]
    translate: dict[str, list[str]]
    bot_uid: int
    created_at: str | None = None


class TranscriptionStarted(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Started"

    agent_id: str = Field(description="Agora's id of the Real-Time STT agent (NCS product 20's sid)")
    generation: int
    started_at: str | None = None


class TranscriptionRunning(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Running"

    agent_id: str | None = None
    generation: int


class TranscriptionRestarted(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Restarted"

    agent_id: str = Field(description="the new generation's agent")
    previous_agent_id: str | None = Field(default=None, description="the agent it replaces (it leaves after)")
    generation: int
    started_at: str | None = None


class TranscriptionStopped(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Stopped"

    agent_id: str | None = None
    reason: str | None = Field(default=None, description="the API's reason, or Agora's when its agent ended")
    generation: int
    agents: int = Field(description="how many agents (generations) it had")
    ended_at: str | None = None


class TranscriptionFailed(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Failed"

    agent_id: str | None = None
    reason: str | None = None
    error: str | None = None
    generation: int
    ended_at: str | None = None


class TranscriptionFilesReady(TranscriptionDetail):
    DETAIL_TYPE: ClassVar[str] = "Transcription Files Ready"

    files: list[str] = Field(description="the keys this notice added (transcripts and WebVTT captions)")
    captions: list[str] = Field(description="the WebVTT files among them")
    total_files: int


#: every detail-type, in the order docs/events.md lists them
DETAILS: tuple[type[Detail], ...] = (
    RecordingRequested, RecordingStarted, RecordingStopped, RecordingFailed, RecordingFilesReady,
    RecordingIntegrityChecked, RecordingDurationComputed, RecordingPostponedResult, RecordingCdnStatusChanged,
    UserJoinedChannel, UserLeftChannel, ChannelClosed, KickingRuleCreated, KickingRuleLifted, CertificateRotated,
    AgentRequested, AgentStarted, AgentRunning, AgentStopped, AgentFailed, AgentHistorySaved,
    TranscriptionRequested, TranscriptionStarted, TranscriptionRunning, TranscriptionRestarted, TranscriptionStopped,
    TranscriptionFailed, TranscriptionFilesReady,
)  # fmt: skip


def event_id(table: str, key: str, sequence: str, detail_type: str, part: str = "") -> str:
    """The de-duplication id of one fact: the same inputs (a redelivery) give the same id."""
    text = "\x1f".join((table, key, sequence, detail_type, part))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def iso_ms(value: object) -> str | None:
    """Epoch milliseconds (as stored) -> ISO 8601 UTC; None stays None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        moment = datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_s(value: object) -> str | None:
    """Epoch seconds -> ISO 8601 UTC."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return iso_ms(int(str(value)) * 1000)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Source:
    """Where a stream record comes from: enough to name its facts (``event_id``) and order them."""

    table: str
    key: str
    sequence: str
    occurred_at: str | None

    def common(self, detail_type: str, ordering_key: str, part: str = "") -> dict[str, Any]:
        return {
            "event_id": event_id(self.table, self.key, self.sequence, detail_type, part),
            "ordering_key": ordering_key,
            "sequence": self.sequence,
            "occurred_at": self.occurred_at,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One event for the bus."""

    detail: Detail

    @property
    def detail_type(self) -> str:
        return self.detail.DETAIL_TYPE

    @property
    def source(self) -> str:
        return self.detail.SOURCE

    def detail_json(self) -> str:
        return json.dumps(self.detail.model_dump(mode="json"), separators=(",", ":"), sort_keys=True)

    def entry(self, bus_name: str) -> dict[str, str]:
        """A PutEvents entry."""
        return {
            "EventBusName": bus_name,
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": self.detail_json(),
        }
