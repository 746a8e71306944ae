"""What the agent use cases need from the outside, as small Protocols.

``AgentStore``: the agents table (``repository.AgentsRepository``; ``fakes.InMemoryAgentStore`` is its twin and
tests/contract/test_agent_store_contract.py runs the same cases against both). ``AgentAgora``: the part of
``agorakit.agora.convoai.ConvoAIClient`` the use cases call. ``HistoryStore``: where conversations are kept (S3).
``AgentEvents``: the use cases' trace of their facts (a log line); apps get theirs from the agents table's stream
(``service.events.agents``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agorakit.agora.convoai import AgentHistory, AgentInfo, JoinRequest, JoinResult

    from service.agents.record import AgentRecord


class SlotTaken(Exception):
    """The (channel, profile) slot is held by another active agent."""

    def __init__(self, holder: str | None):
        super().__init__(f"the slot is held by {holder}")
        self.holder = holder


class AtCapacity(Exception):
    """The stack already runs its maximum of agents (``agentsMaxRunning``): nothing was written."""

    def __init__(self, limit: int):
        super().__init__(f"{limit} agents are active, the most this stack runs at once")
        self.limit = limit


class StaleRecord(Exception):
    """A save lost its condition: the record changed since it was read (``current``: as it is now)."""

    def __init__(self, current: AgentRecord | None):
        super().__init__("the agent record changed")
        self.current = current


class AgentStore(Protocol):
    def now_ms(self) -> int: ...

    def create(self, record: AgentRecord, *, max_running: int | None = None) -> None:
        """Store a new record (version 0) holding one of the stack's running places (``counted``); raise
        ``SlotTaken`` if it is exclusive and its slot is held, ``AtCapacity`` if ``max_running`` places are held.
        The save that ends the record gives its place back, once."""

    def running(self) -> int:
        """How many running places are held (agents created and not yet ended)."""

    def get(self, agent_id: str) -> AgentRecord | None: ...

    def by_agora_id(self, agora_agent_id: str) -> AgentRecord | None: ...

    def save(self, record: AgentRecord) -> AgentRecord:
        """Write ``record`` if the stored version is ``record.version``; returns it with version + 1. Entering a
        terminal state releases the slot; a new ``agora_agent_id`` is indexed. Raises ``StaleRecord``."""

    def list(self, *, channel: str | None = None, active_only: bool = False) -> list[AgentRecord]: ...


class AgentAgora(Protocol):
    def join(self, request: JoinRequest) -> JoinResult: ...

    def leave(self, agent_id: str) -> bool: ...

    def update_token(self, agent_id: str, token: str) -> None: ...

    def speak(self, agent_id: str, text: str, priority: Any = ..., *, interruptable: bool = ...) -> None: ...

    def interrupt(self, agent_id: str) -> None: ...

    def query(self, agent_id: str) -> AgentInfo: ...

    def history(self, agent_id: str) -> AgentHistory: ...

    def list_all(self, *, max_pages: int = ..., **filters: Any) -> Iterator[AgentInfo]: ...


class HistoryStore(Protocol):
    def put_json(self, key: str, document: Mapping[str, Any]) -> None: ...


class AgentEvents(Protocol):
    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...


class TokenMinter(Protocol):
    def __call__(self, channel: str, uid: int, seconds: int) -> str: ...


class SecretReader(Protocol):
    def get_json(self, name: str) -> dict[str, Any]: ...
