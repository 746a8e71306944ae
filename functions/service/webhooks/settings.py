"""Settings of the webhook intake and processor functions, read once at cold start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.presence.settings import PresenceSettings
from service.settings import FunctionSettings

DAY = 86_400


class IntakeSettings(FunctionSettings):
    inbox_table: str
    ncs_secret_name: str
    #: bodies above this are refused with 413 before any HMAC is computed (Agora's events are a few KiB)
    ncs_max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=380 * 1024)
    #: how long an accepted event stays in the inbox (dedupe window and audit trail)
    ncs_event_ttl_seconds: int = Field(default=30 * DAY, ge=3600)
    #: upload-progress events (productId 3, eventType 33) arrive every minute per task: keep them briefly
    ncs_progress_ttl_seconds: int = Field(default=DAY, ge=600)
    ncs_secret_cache_seconds: float = Field(default=300, ge=0)


class ProcessorSettings(PresenceSettings):
    """The processor writes presence (``service.presence``); recording events need RECORDINGS_TABLE,
    read by ``service.recordings.settings.RecordingEventSettings``."""

    #: what a leave with reason 999 (Agora: "abnormal user", e.g. the same uid kicking itself out from two
    #: devices) triggers: nothing, or Agora's advice, a one-time kick of that uid from the channel (needs the
    #: Agora REST access of ``service.adapters.agora``: the stack grants it only when this is "kick")
    abnormal_leave_action: Literal["none", "kick"] = "none"
    #: set when the agents are deployed: NCS product 17 is applied to them (service.agents)
    agents_table: str | None = None
