"""The events publisher's settings: the bus and the tables whose streams feed it (by name)."""

from __future__ import annotations

from service.settings import FunctionSettings


class PublisherSettings(FunctionSettings):
    event_bus_name: str
    recordings_table: str
    presence_table: str = ""
    media_table: str = ""
    kicking_rules_table: str = ""
    agents_table: str = ""
    transcriptions_table: str = ""
