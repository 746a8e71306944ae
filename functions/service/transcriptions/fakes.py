"""In-memory twins of the transcription ports, for unit tests in virtual time. ``tests/contract`` proves each
behaves like its adapter (``test_transcription_store_contract``, ``test_stt_agora_contract``).

``FakeStt`` follows the emulator's Real-Time STT (emulator/stt.py): a running name is 409, ``sequenceId`` must
increase, a stopped agent is 404 for leave and update; ``script`` makes the next calls fail (``"504_after"``: the
join took effect and the answer is lost, as on Agora).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from agorakit.agora.errors import AgoraNotFoundError, AgoraParameterError, AgoraServerError
from agorakit.agora.stt import STATES, SttAgent, SttJoin, SttNameConflict

from service.transcriptions import logic
from service.transcriptions.ports import AtCapacity, ChannelBusy, ConditionFailed
from service.transcriptions.record import Transcription


class InMemoryTranscriptionStore:
    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.items: dict[str, Transcription] = {}
        self.locks: dict[str, str] = {}
        self.agents: dict[str, str] = {}
        #: the ids holding a running place (the table's ``counted``)
        self.counted: set[str] = set()

    def running(self) -> int:
        return len(self.counted)

    def create(self, transcription: Transcription, *, max_running: int | None = None) -> None:
        if transcription.id in self.items:
            raise ConditionFailed(self.items[transcription.id])
        holder = self.locks.get(transcription.channel)
        if holder is not None and holder != transcription.id:
            raise ChannelBusy(holder)
        if max_running is not None and len(self.counted) >= max_running:
            raise AtCapacity(max_running)
        self.items[transcription.id] = transcription
        self.locks[transcription.channel] = transcription.id
        self.counted.add(transcription.id)

    def get(self, transcription_id: str) -> Transcription | None:
        return self.items.get(transcription_id)

    def by_agent(self, agent_id: str) -> Transcription | None:
        owner = self.agents.get(agent_id)
        return self.items.get(owner) if owner else None

    def list(
        self, *, channel: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Transcription], str | None]:
        ordered = sorted(self.items.values(), key=lambda t: (-t.created_at_ms, t.id))
        if channel is not None:
            ordered = [t for t in ordered if t.channel == channel]
        if cursor is not None:
            ids = [t.id for t in ordered]
            ordered = ordered[ids.index(cursor) + 1 :] if cursor in ids else []
        page = ordered[:limit]
        return page, (page[-1].id if len(ordered) > limit else None)

    def _need(self, transcription_id: str) -> Transcription:
        item = self.items.get(transcription_id)
        if item is None:
            raise ConditionFailed(None)
        return item

    def active(self) -> tuple[Transcription, ...]:
        live = (t for t in self.items.values() if t.status in logic.ACTIVE)
        return tuple(sorted(live, key=lambda t: (t.created_at_ms, t.id)))

    def attach_agent(
        self, transcription_id: str, agent_id: str, generation: int, at_ms: int, token_expires_ms: int | None = None
    ) -> Transcription:
        item = self._need(transcription_id)
        if item.status in logic.TERMINAL or item.generation > generation:
            raise ConditionFailed(item)
        self.agents[agent_id] = transcription_id
        if agent_id in item.agents:  # attached already (by a notice): only the current agent's token expiry
            if token_expires_ms is not None and item.agent_id == agent_id:
                item = replace(item, token_expires_ms=token_expires_ms)
                self.items[transcription_id] = item
            return item
        status = logic.STARTING if item.status == logic.REQUESTED else item.status
        agents = (*item.agents, agent_id)
        started = item.started_at_ms if generation == item.generation and item.started_at_ms else at_ms
        status_at = at_ms if status != item.status else item.status_at_ms
        updated = replace(item, agent_id=agent_id, generation=generation, agents=agents, status=status,
                          status_at_ms=status_at, started_at_ms=started,
                          token_expires_ms=token_expires_ms)  # fmt: skip
        self.items[transcription_id] = updated
        self.agents[agent_id] = transcription_id
        return updated

    def move(
        self,
        transcription_id: str,
        source: str,
        target: str,
        at_ms: int,
        *,
        reason: str | None = None,
        error: str | None = None,
    ) -> Transcription:
        item = self._need(transcription_id)
        if item.status != source:
            raise ConditionFailed(item)
        ended = target in logic.TERMINAL
        updated = replace(
            item,
            status=target,
            status_at_ms=at_ms,
            ended_at_ms=at_ms if ended else item.ended_at_ms,
            stop_reason=reason if reason is not None else item.stop_reason,
            last_error=error if error is not None else item.last_error,
        )
        self.items[transcription_id] = updated
        if ended:
            self.counted.discard(transcription_id)  # the running place, given back once
        if ended and self.locks.get(item.channel) == transcription_id:
            del self.locks[item.channel]
        return updated

    def next_sequence(self, transcription_id: str) -> int:
        item = self._need(transcription_id)
        if item.status not in logic.UPDATABLE:
            raise ConditionFailed(item)
        self.items[transcription_id] = replace(item, sequence_id=item.sequence_id + 1)
        return item.sequence_id + 1

    def save_config(
        self,
        transcription_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> bool:
        item = self._need(transcription_id)
        if item.applied_sequence >= sequence_id:
            return False
        self.items[transcription_id] = replace(
            item,
            applied_sequence=sequence_id,
            languages=tuple(languages) if languages is not None else item.languages,
            subscribe_uids=tuple(subscribe_uids) if subscribe_uids is not None else item.subscribe_uids,
            translate={k: tuple(v) for k, v in translate.items()} if translate is not None else item.translate,
        )
        return True

    def add_files(self, transcription_id: str, keys: Iterable[str]) -> None:
        item = self._need(transcription_id)
        self.items[transcription_id] = replace(item, files=tuple(sorted({*item.files, *keys})))


class FakeStt:
    """Agora's Real-Time STT v7 in memory: agents start ``STARTING`` and are ``RUNNING`` once ``run`` is called
    (or at once with ``auto_run``); ``script`` lists faults for the next calls (``"504"``, ``"504_after"``,
    ``"fail"``: the join answers 200 and the agent fails)."""

    def __init__(self, clock: Callable[[], float], *, auto_run: bool = True):
        self._clock = clock
        self.auto_run = auto_run
        self.agents: dict[str, dict[str, object]] = {}
        self.script: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def _fault(self, op: str) -> str | None:
        if self.script:
            kind = self.script.pop(0)
            if kind == "504":
                raise AgoraServerError(f"Agora stt.{op} failed", http_status=504, reason="timeout")
            return kind
        return None

    def _agent(self, agent_id: str) -> dict[str, object]:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise AgoraNotFoundError("Agora stt.get failed", http_status=404, reason="task not found")
        return agent

    @staticmethod
    def _view(agent: Mapping[str, object]) -> SttAgent:
        return SttAgent(agent_id=str(agent["agent_id"]), status=str(agent["status"]),
                        create_ts=int(str(agent["create_ts"])), name=str(agent["name"]),
                        channel=str(agent["channel"]))  # fmt: skip

    def join(self, request: SttJoin) -> SttAgent:
        self.calls.append(("join", request.name))
        fault = self._fault("join")
        for other in self.agents.values():
            if other["name"] == request.name and other["status"] not in ("STOPPED", "FAILED"):
                raise SttNameConflict("Agora stt.join failed", http_status=409, reason="task conflict")
        agent_id = f"FAKEAGENT{next(self._ids):06d}"
        agent: dict[str, object] = {
            "agent_id": agent_id,
            "name": request.name,
            "channel": request.channel,
            "status": "FAILED" if fault == "fail" else ("RUNNING" if self.auto_run else "STARTING"),
            "create_ts": int(self._clock()),
            "sequence": -1,
            "request": copy.deepcopy(request.to_agora()),
        }
        self.agents[agent_id] = agent
        if fault == "504_after":
            raise AgoraServerError("Agora stt.join failed", http_status=504, reason="timeout")
        return replace(self._view(agent), status="STARTING")

    def run(self, agent_id: str, status: str = "RUNNING") -> None:
        self._agent(agent_id)["status"] = status

    def get(self, agent_id: str) -> SttAgent:
        self.calls.append(("get", agent_id))
        self._fault("get")
        return self._view(self._agent(agent_id))

    def leave(self, agent_id: str) -> bool:
        self.calls.append(("leave", agent_id))
        self._fault("leave")
        agent = self.agents.get(agent_id)
        if agent is None or agent["status"] in ("STOPPED", "FAILED"):
            return False
        agent["status"] = "STOPPED"
        return True

    def update(
        self,
        agent_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> SttAgent:
        self.calls.append(("update", agent_id))
        self._fault("update")
        agent = self._agent(agent_id)
        if agent["status"] in ("STOPPED", "FAILED"):
            raise AgoraNotFoundError("Agora stt.update failed", http_status=404, reason="task not found")
        if languages is None and subscribe_uids is None and translate is None:
            raise AgoraParameterError("update changes nothing")
        if sequence_id <= int(str(agent["sequence"])):
            raise AgoraParameterError("Agora stt.update failed", http_status=400, reason="sequenceId is not greater")
        agent["sequence"] = sequence_id
        return self._view(agent)

    def list_agents(self, *, channel: str | None = None, state: str = "RUNNING", limit: int = 100) -> list[SttAgent]:
        self.calls.append(("list", channel or ""))
        if state not in STATES:
            raise AgoraParameterError(f"state must be one of {STATES}")
        return [
            self._view(a)
            for a in self.agents.values()
            if a["status"] == state and (channel is None or a["channel"] == channel)
        ]

    def find_running(self, name: str, channel: str) -> SttAgent | None:
        for state in ("RUNNING", "STARTING", "IDLE", "RECOVERING"):
            for agent in self.list_agents(channel=channel, state=state):
                if agent.name == name:
                    return agent
        return None
