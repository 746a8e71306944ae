"""In-memory twins of the agent ports, with the same conditions as the real ones (tests/contract checks that)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from service.agents.ports import AtCapacity, SlotTaken, StaleRecord
from service.agents.record import AgentRecord
from service.channeltasks import lifecycle


class InMemoryAgentStore:
    def __init__(self, clock: Any = None):
        self._records: dict[str, AgentRecord] = {}
        self._slots: dict[tuple[str, str], str] = {}
        self._by_agora: dict[str, str] = {}
        self._running = 0
        self._lock = threading.Lock()
        self._clock = clock or (lambda: 1_700_000_000.0)

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def running(self) -> int:
        return self._running

    def create(self, record: AgentRecord, *, max_running: int | None = None) -> None:
        with self._lock:
            if record.agent_id in self._records:
                raise StaleRecord(self._records[record.agent_id])
            slot = (record.channel, record.profile)
            if record.exclusive:
                holder = self._slots.get(slot)
                if holder is not None:
                    held = self._records.get(holder)
                    if held is not None and not lifecycle.is_terminal(held.state):
                        raise SlotTaken(holder)
            if max_running is not None and self._running >= max_running:
                raise AtCapacity(max_running)
            if record.exclusive:
                self._slots[slot] = record.agent_id
            self._running += 1
            self._records[record.agent_id] = record.with_(version=0, counted=True)

    def get(self, agent_id: str) -> AgentRecord | None:
        return self._records.get(agent_id)

    def by_agora_id(self, agora_agent_id: str) -> AgentRecord | None:
        agent_id = self._by_agora.get(agora_agent_id)
        return self._records.get(agent_id) if agent_id else None

    def save(self, record: AgentRecord) -> AgentRecord:
        with self._lock:
            current = self._records.get(record.agent_id)
            if current is None or current.version != record.version:
                raise StaleRecord(current)
            ending = lifecycle.is_terminal(record.state)
            saved = record.with_(version=record.version + 1, counted=record.counted and not ending)
            if ending and record.counted:
                self._running -= 1
            self._records[record.agent_id] = saved
            if record.agora_agent_id:
                self._by_agora[record.agora_agent_id] = record.agent_id
            slot = (record.channel, record.profile)
            if lifecycle.is_terminal(record.state) and self._slots.get(slot) == record.agent_id:
                del self._slots[slot]
            return saved

    def list(self, *, channel: str | None = None, active_only: bool = False) -> list[AgentRecord]:
        found = [
            r
            for r in self._records.values()
            if (channel is None or r.channel == channel) and (not active_only or lifecycle.is_active(r.state))
        ]
        return sorted(found, key=lambda r: (r.created_ms, r.agent_id))


class InMemoryHistory:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    def put_json(self, key: str, document: Mapping[str, Any]) -> None:
        self.objects[key] = dict(document)


class RecordedEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        self.published.append((detail_type, dict(detail)))

    def types(self) -> list[str]:
        return [t for t, _ in self.published]
