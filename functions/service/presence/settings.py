"""How long presence items live (the webhook processor's settings extend this)."""

from __future__ import annotations

from pydantic import Field

from service.settings import FunctionSettings

DAY = 86_400


class PresenceSettings(FunctionSettings):
    presence_table: str
    #: a user who left is kept this long, so that late (older) events for them are recognised as stale
    presence_left_ttl_seconds: int = Field(default=DAY, ge=60)
    #: safety net for users whose leave event never came and whose channel was never destroyed
    presence_ttl_seconds: int = Field(default=30 * DAY, ge=3600)
