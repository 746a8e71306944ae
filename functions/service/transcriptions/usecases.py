"""The transcription use cases: start, get, list, update, stop, apply an NCS product-20 notice, restart.

Start: the record is written first (``REQUESTED``, the channel's lock taken), then Agora is asked to join an
agent under a name unique to (transcription, generation). A 409 means an earlier attempt of ours started it; an
ambiguous failure (504, timeout) may have; both are resolved by listing the channel's agents and adopting the
one with our name, so a retried start never leaves two agents nor an orphan. Update takes the next
``sequenceId`` from the table (one atomic increment), so concurrent updates reach Agora with distinct increasing
numbers; the one Agora refuses as older is a 409 for its caller. Restart (the 72-hour limit): the next
generation joins before the current agent is told to leave, so captions never stop.
"""

from __future__ import annotations

import contextlib
import random
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agorakit.agora.errors import AgoraError, AgoraNotFoundError, AgoraParameterError
from agorakit.agora.models import StorageConfig
from agorakit.agora.ratelimit import Lane, lane
from agorakit.agora.stt import SttAgent, SttJoin, SttNameConflict

from service.channeltasks import schedule, starting
from service.errors import BadRequest, Conflict, NotFound, TooManyRequests, UpstreamUnavailable
from service.transcriptions import logic
from service.transcriptions.ports import (
    AtCapacity,
    CaptionObjects,
    ChannelBusy,
    ConditionFailed,
    SttAgora,
    TranscriptionStore,
)
from service.transcriptions.record import Transcription

#: the states read after an ambiguous start: the live ones (adopt) and the ended ones (it ran already)
LISTED_STATES = ("RUNNING", "STARTING", "IDLE", "RECOVERING", "STOPPING", "STOPPED")
#: NCS product 20 notices the emulator sends (docs/transcriptions.md): a state change, and the uploaded files
EVENT_STATE, EVENT_FILES = 1, 2
#: Retry-After of a start refused for capacity (ours or Agora's): no queue, a person is waiting for captions
CAPACITY_RETRY_SECONDS = 30
#: the live states of Agora's list (``GET /agents?state=``): what runs, or may yet
LIVE_STATES = ("IDLE", "STARTING", "RUNNING", "RECOVERING")
#: the reconciler judges nothing younger (a start being resolved, a restart between join and attach)
RECONCILE_GRACE_MS = 120_000


@dataclass(frozen=True)
class StartCommand:
    channel: str
    languages: Sequence[str]
    uid_languages: Mapping[int, Sequence[str]] | None = None
    translate: Mapping[str, Sequence[str]] | None = None
    subscribe_uids: Sequence[int] | None = None
    max_idle_seconds: int = 30
    recording_id: str | None = None
    #: a chosen id (32 lowercase hex): a start repeated with the same id finds the first one's record and joins
    #: (or adopts, by the agent's name) its agent instead of starting a second (the recording workflow's step)
    transcription_id: str | None = None


@dataclass
class TranscriptionService:
    """The use cases with their ports. ``bot_token(channel, uid, issued_at_s, seconds)`` mints the bot's RTC token
    valid ``seconds`` from ``issued_at_s`` (None without an App Certificate); ``caption_storage(record)`` says
    where Agora writes the transcript and caption files."""

    store: TranscriptionStore
    agora: SttAgora
    clock: Callable[[], float]
    bot_token: Callable[[str, int, int, int], str | None] = lambda channel, uid, issued_at_s, seconds: None
    caption_storage: Callable[[Transcription], StorageConfig | None] = lambda record: None
    channel_uids: Callable[[str], Sequence[int]] = lambda channel: ()
    rng: random.Random | None = None
    #: the restart workflow's start (Step Functions waits until ``restart_due_ms``); None: no restart
    schedule_restart: Callable[[Transcription, int], None] | None = None
    lifetime_ms: int = logic.LIFETIME_MS
    restart_margin_ms: int = logic.RESTART_MARGIN_MS
    #: the most transcriptions active at once in the stack (``transcriptionsMaxRunning``); None: Agora's limit only
    max_running: int | None = None
    #: the bot's token lifetime (Agora's maximum: 24 h); the restart comes ``restart_margin_ms`` before it ends
    bot_token_seconds: int = schedule.MAX_TOKEN_SECONDS
    #: the recordings bucket, where Agora writes the files (None: not configured; captions answer 503)
    caption_objects: CaptionObjects | None = None
    caption_url_seconds: int = 900

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- start ------------------------------------------------------------------------------------
    def start(self, command: StartCommand) -> Transcription:
        try:
            spec = logic.check_start(
                command.channel,
                command.languages,
                uid_languages=command.uid_languages,
                translate=command.translate,
                subscribe_uids=command.subscribe_uids,
                max_idle_seconds=command.max_idle_seconds,
            )
        except logic.RuleError as exc:
            raise BadRequest(str(exc)) from None
        now = self._now_ms()
        record = Transcription(
            id=command.transcription_id or uuid.uuid4().hex,
            channel=spec.channel,
            status=logic.REQUESTED,
            languages=spec.languages,
            bot_uid=logic.pick_bot_uid(self.rng or random.SystemRandom(), self.channel_uids(spec.channel)),
            created_at_ms=now,
            status_at_ms=now,
            uid_languages=spec.uid_languages,
            translate=spec.translate,
            subscribe_uids=spec.subscribe_uids,
            max_idle_seconds=spec.max_idle_seconds,
            recording_id=command.recording_id,
        )
        try:
            self.store.create(record, max_running=self.max_running)
        except ChannelBusy as exc:
            raise Conflict(
                f"channel {spec.channel!r} is already transcribed", details={"transcription_id": exc.holder}
            ) from None
        except AtCapacity as full:
            raise TooManyRequests(
                f"this stack runs at most {full.limit} transcriptions at once and all are active; try again when "
                "one ends",
                details={"max_running": full.limit},
                headers={"Retry-After": str(CAPACITY_RETRY_SECONDS)},
            ) from None
        except ConditionFailed as exc:  # this id exists: the same start again (``transcription_id``)
            if exc.item is None:
                raise
            if exc.item.status not in logic.ACTIVE or exc.item.agent_id is not None:
                return exc.item
            record = exc.item  # created, never joined: join (a 409 on its name adopts the first attempt's agent)
        started = self.join_generation(record, record.generation)
        due = self.restart_due_ms(started.id)
        if self.schedule_restart is not None and due is not None:
            self.schedule_restart(started, due)
        return started

    def _join_request(self, record: Transcription, generation: int, token: str | None) -> SttJoin:
        return SttJoin(
            name=logic.agent_name(record.id, generation),
            channel=record.channel,
            languages=record.languages,
            bot_uid=record.bot_uid,
            bot_token=token,
            max_idle_seconds=record.max_idle_seconds,
            uid_languages=dict(record.uid_languages),
            subscribe_uids=record.subscribe_uids,
            translate=dict(record.translate),
            caption_storage=self.caption_storage(record),
        )

    def join_generation(self, record: Transcription, generation: int) -> Transcription:
        """Join (or adopt) the agent of ``generation`` with a fresh bot token; the record's ``agent_id`` becomes
        it and ``token_expires_ms`` that token's end (an adopted agent carries the token of the attempt that
        started it, minted seconds earlier: ``restart_margin_ms`` covers the difference)."""
        issued_s = self._now_ms() // 1000
        token = self.bot_token(record.channel, record.bot_uid, issued_s, self.bot_token_seconds)
        expires_ms = (issued_s + self.bot_token_seconds) * 1000 if token else None
        request = self._join_request(record, generation, token)
        agent: SttAgent | None
        try:
            agent = self.agora.join(request)
        except AgoraParameterError as exc:
            if exc.http_status == 422:  # Agora's quota / resource limit: nothing started; later may work
                failed = self._fail(record, f"Agora's concurrent-agent quota is reached (Agora 422): {exc}")
                raise TooManyRequests(
                    f"Agora refused the transcription: the App ID's concurrent-agent quota is reached ({exc})",
                    details={"transcription_id": failed.id, "agora_http_status": 422},
                    headers={"Retry-After": str(CAPACITY_RETRY_SECONDS)},
                ) from None
            if not isinstance(exc, SttNameConflict):
                return self._fail(record, f"Agora refused the join: {exc}", raise_as=BadRequest)
            agent = self._resolve_start(record, request.name, exc)
        except AgoraError as exc:
            agent = self._resolve_start(record, request.name, exc)
        if agent is None:  # it ran and already ended: nothing to adopt
            return self._fail(record, "the agent of this name ended before it could be adopted")
        try:
            return self.store.attach_agent(record.id, agent.agent_id, generation, self._now_ms(), expires_ms)
        except ConditionFailed as exc:  # stopped meanwhile: the agent we just started must not run on
            self.agora.leave(agent.agent_id)
            if exc.item is None:
                raise NotFound(f"transcription {record.id} not found") from None
            return exc.item

    def _resolve_start(self, record: Transcription, name: str, exc: AgoraError) -> SttAgent | None:
        """After a 409 or an ambiguous failure: read the channel's agents and decide with
        ``channeltasks.starting.resolve_start`` (adopt ours; it ended; nothing started). An API request does not
        start again under the same name: the record fails, the channel is free and the caller may POST again."""
        outcome = starting.classify_start_error(exc.http_status if exc.http_status else None)
        listed: list[starting.Listed] | None = None
        looks = 0
        while True:
            decision = starting.resolve_start(name, outcome, listed, looks=looks)
            if decision.action == "adopt" and decision.task is not None:
                return SttAgent(agent_id=decision.task.task_id, status=decision.task.state, name=name,
                                channel=record.channel)  # fmt: skip
            if decision.action == "ended":
                return None
            if decision.action != "look_again":  # fail / start_again: Agora's error is the answer (502/503)
                self._fail(record, f"Agora did not start the agent ({decision.reason}): {exc}")
                raise exc
            listed = [
                starting.Listed(a.agent_id, a.name, a.status, (a.create_ts or 0) * 1000)
                for state in LISTED_STATES
                for a in self.agora.list_agents(channel=record.channel, state=state)
            ]
            looks += 1

    def _fail(self, record: Transcription, message: str, raise_as: type[Exception] | None = None) -> Transcription:
        """The record fails (if this join was its last hope) and frees the channel; ``raise_as`` raises after."""
        current = self.store.get(record.id) or record
        if current.status in logic.ACTIVE and current.generation == record.generation and current.agent_id is None:
            current = self.store.move(record.id, current.status, logic.FAILED, self._now_ms(), error=message)
        if raise_as is not None:
            raise raise_as(message)
        return current

    # -- reads ------------------------------------------------------------------------------------
    def get(self, transcription_id: str) -> Transcription:
        record = self.store.get(transcription_id)
        if record is None:
            raise NotFound(f"transcription {transcription_id} not found")
        return record

    def list(
        self, *, channel: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Transcription], str | None]:
        try:
            return self.store.list(channel=channel, limit=limit, cursor=cursor)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def captions(self, transcription_id: str, expires_in: int | None = None) -> dict[str, Any]:
        """The transcription's WebVTT tracks and transcripts, presigned (``captions.captions``)."""
        record = self.get(transcription_id)
        if self.caption_objects is None:
            raise UpstreamUnavailable("captions need the recordings bucket (RECORDINGS_BUCKET is not set)")
        from service.transcriptions.captions import captions

        return captions(record, objects=self.caption_objects, url_seconds=self.caption_url_seconds,
                        expires_in=expires_in)  # fmt: skip

    # -- update -----------------------------------------------------------------------------------
    def update(
        self,
        transcription_id: str,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> Transcription:
        record = self.get(transcription_id)
        if languages is None and subscribe_uids is None and translate is None:
            raise BadRequest("nothing to update: give languages, subscribe_uids or translate")
        try:
            logic.check_start(
                record.channel,
                languages if languages is not None else record.languages,
                uid_languages=record.uid_languages,
                translate=translate if translate is not None else record.translate,
                subscribe_uids=subscribe_uids,
            )
        except logic.RuleError as exc:
            raise BadRequest(str(exc)) from None
        if record.agent_id is None or record.status not in logic.UPDATABLE:
            raise Conflict(f"transcription {transcription_id} is {record.status}: it cannot be updated")
        try:
            sequence = self.store.next_sequence(transcription_id)
        except ConditionFailed as exc:
            state = exc.item.status if exc.item else "gone"
            raise Conflict(f"transcription {transcription_id} is {state}: it cannot be updated") from None
        try:
            self.agora.update(record.agent_id, sequence, languages=languages, subscribe_uids=subscribe_uids,
                              translate=translate)  # fmt: skip
        except AgoraNotFoundError:
            raise Conflict(f"transcription {transcription_id}'s agent has ended") from None
        except AgoraParameterError as exc:
            raise Conflict(f"Agora refused update {sequence} (a later one was applied first?): {exc}") from None
        self.store.save_config(transcription_id, sequence, languages=languages, subscribe_uids=subscribe_uids,
                               translate=translate)  # fmt: skip
        return self.get(transcription_id)

    # -- stop -------------------------------------------------------------------------------------
    def stop(self, transcription_id: str, reason: str = "stopped by the API") -> Transcription:
        record = self.get(transcription_id)
        if record.status in logic.TERMINAL:
            return record
        if record.status != logic.STOPPING:
            try:
                record = self.store.move(transcription_id, record.status, logic.STOPPING, self._now_ms(), reason=reason)
            except ConditionFailed as exc:
                if exc.item is None:
                    raise NotFound(f"transcription {transcription_id} not found") from None
                if exc.item.status in logic.TERMINAL:
                    return exc.item
                record = exc.item
        if record.agent_id is not None:
            self.agora.leave(record.agent_id)  # Agora failing: its error is the answer; DELETE again to retry
        else:  # never joined: nothing runs
            return self.store.move(transcription_id, logic.STOPPING, logic.STOPPED, self._now_ms(), reason=reason)
        return self.settle(transcription_id)

    def settle(self, transcription_id: str) -> Transcription:
        """Ask Agora for the current agent's state and apply it (the poll that makes NCS advisory)."""
        record = self.get(transcription_id)
        if record.agent_id is None or record.status in logic.TERMINAL:
            return record
        try:
            agent = self.agora.get(record.agent_id)
            state = logic.FROM_REMOTE.get(agent.status, logic.STARTING)
        except AgoraNotFoundError:
            state = logic.STOPPED
        return self._report(record, record.agent_id, state, self._now_ms(), reason=None)

    # -- NCS product 20 ---------------------------------------------------------------------------
    def apply_notice(self, envelope: Mapping[str, Any]) -> Transcription | None:
        return apply_notice(self.store, envelope)

    def _report(
        self, record: Transcription, agent_id: str, state: str, at_ms: int, *, reason: str | None
    ) -> Transcription:
        return report(self.store, record, agent_id, state, at_ms, reason=reason)

    # -- the 72-hour limit and the bot token's 24 hours -------------------------------------------
    def restart(self, transcription_id: str) -> Transcription:
        """Join the next generation's agent, then let the current one leave: captions continue across
        Agora's 72-hour end of a task. Repeating it (a retried workflow step) adopts, never doubles."""
        record = self.get(transcription_id)
        if record.status not in (logic.RUNNING, logic.RECOVERING, logic.STARTING) or record.agent_id is None:
            return record
        previous = record.agent_id
        with lane(Lane.START):  # the workflow's join (and its resolution): a start nobody waits for
            joined = self.join_generation(record, record.generation + 1)
        if joined.agent_id != previous and previous is not None:
            # the old agent's leave: a stop (both agents are billed until it leaves)
            with contextlib.suppress(AgoraError), lane(Lane.STOP):  # it ends at 72 hours anyway
                self.agora.leave(previous)
        return joined

    def restart_due_ms(self, transcription_id: str) -> int | None:
        record = self.get(transcription_id)
        if record.started_at_ms is None or record.status in logic.TERMINAL:
            return None
        return logic.restart_due_ms(record.started_at_ms, self.restart_margin_ms, self.lifetime_ms,
                                    record.token_expires_ms)  # fmt: skip

    def restart_step(self, transcription_id: str) -> dict[str, Any]:
        """One wake-up of the restart workflow: restart if due (a repeated or early wake-up restarts nothing
        twice), and say when to wake next, or that the transcription has ended (``done``)."""
        due = self.restart_due_ms(transcription_id)
        if due is None:
            return {"transcriptionId": transcription_id, "done": True}
        if self._now_ms() >= due:
            record = self.restart(transcription_id)
            due = self.restart_due_ms(record.id)
            if due is None or record.status in logic.TERMINAL:
                return {"transcriptionId": transcription_id, "done": True}
        return {"transcriptionId": transcription_id, "done": False, "restartAt": iso_ms(due),
                "generation": self.get(transcription_id).generation}  # fmt: skip

    # -- the reconciler ---------------------------------------------------------------------------
    def reconcile(self, grace_ms: int = RECONCILE_GRACE_MS) -> ReconcileReport:
        """Agora's list of live STT agents against the table. A transcription we think runs whose agent Agora
        does not list is settled by ``GET /agents/{id}`` (ended there or unknown: it ends here; a start that never
        got an agent fails and frees the channel). An agent that runs under our name (``tx-<id>[-g<n>]``) that
        is no active transcription's current agent (an orphan: a lost answer, an old generation whose leave
        failed, a record deleted) is told to leave. Agents whose names are not ours are never touched; nothing
        younger than ``grace_ms`` is judged (a start or a restart in flight)."""
        report = ReconcileReport()
        now = self._now_ms()
        remote = {a.agent_id: a for state in LIVE_STATES for a in self.agora.list_agents(state=state)}
        for record in self.store.active():
            if record.agent_id in remote or now - record.status_at_ms < grace_ms:
                report.kept += 1
                continue
            if record.agent_id is None:  # never joined and not in flight any more: nothing runs at Agora
                with contextlib.suppress(ConditionFailed):
                    self.store.move(record.id, record.status, logic.FAILED, now,
                                    error="reconciler: the start never completed")  # fmt: skip
                report.ended.append(record.id)
                continue
            try:
                settled = self.settle(record.id)  # Agora's own word on the agent, not only its list
            except AgoraError:  # Agora failing now: judged again at the next run, the others still are
                report.errors += 1
                continue
            if settled.status in logic.TERMINAL:
                report.ended.append(record.id)
            else:
                report.kept += 1
        for agent in remote.values():
            match = _NAME.match(agent.name or "")
            if match is None:
                report.foreign += 1
                continue  # not ours by name: another system's agent on the same App ID
            if agent.create_ts is not None and now - agent.create_ts * 1000 < grace_ms:
                continue
            current = self.store.get(match.group(1))
            if current is not None and current.status in logic.ACTIVE and current.agent_id == agent.agent_id:
                continue
            try:
                self.agora.leave(agent.agent_id)
            except AgoraNotFoundError:  # it ended meanwhile
                pass
            except AgoraError:
                report.errors += 1
                continue
            report.stopped.append(agent.agent_id)
        return report


@dataclass
class ReconcileReport:
    ended: list[str] = field(default_factory=list)  # transcription ids ended here: Agora no longer runs them
    stopped: list[str] = field(default_factory=list)  # Agora agent ids told to leave: ours by name, unknown here
    kept: int = 0
    foreign: int = 0  # live agents whose names are not ours (left alone)
    errors: int = 0  # Agora failed on one record or agent: judged again at the next run


def apply_notice(store: TranscriptionStore, envelope: Mapping[str, Any]) -> Transcription | None:
    """Apply one NCS product-20 notice (advisory: late, repeated or out of order ones change nothing wrongly).
    None when it is not ours (another product, an unknown agent)."""
    if envelope.get("productId") != 20:
        return None
    agent_id = envelope.get("sid")
    payload = envelope.get("payload")
    if not isinstance(agent_id, str) or not isinstance(payload, dict):
        return None
    at = payload.get("ts") if isinstance(payload.get("ts"), int) else envelope.get("notifyMs")
    record = store.by_agent(agent_id) or _by_name(store, payload.get("name"), agent_id, at)
    if record is None:
        return None
    if envelope.get("eventType") == EVENT_FILES:
        files = payload.get("fileList")
        if isinstance(files, list):
            store.add_files(record.id, [str(f) for f in files])
        return store.get(record.id)
    status = payload.get("status")
    if not isinstance(status, str) or status not in logic.FROM_REMOTE or not isinstance(at, int):
        return record
    reason = payload.get("reason") if isinstance(payload.get("reason"), str) else None
    return report(store, record, agent_id, logic.FROM_REMOTE[status], at, reason=reason)


_NAME = re.compile(r"^tx-([0-9a-f]{32})(?:-g([0-9]{1,6}))?$")


def _by_name(store: TranscriptionStore, name: Any, agent_id: str, at: Any) -> Transcription | None:
    """A notice that arrives before the join's answer was stored (Agora reports RUNNING within a second; an
    ambiguous join is resolved later): the agent's name (``logic.agent_name``) says whose it is, and the agent is
    attached from the notice itself, as the join would (``attach_agent`` is idempotent)."""
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        return None
    record = store.get(match.group(1))
    generation = int(match.group(2) or 0)
    if record is None or record.status in logic.TERMINAL or generation < record.generation:
        return record if record is not None and agent_id in record.agents else None
    try:
        return store.attach_agent(record.id, agent_id, generation, at if isinstance(at, int) else record.status_at_ms)
    except ConditionFailed as exc:
        return exc.item


def report(
    store: TranscriptionStore, record: Transcription, agent_id: str, state: str, at_ms: int, *, reason: str | None
) -> Transcription:
    """Move ``record`` by a report of its agent's ``state`` (forward only; a lost race is read again)."""
    for _ in range(5):
        if agent_id != record.agent_id:  # an earlier generation's agent: its end is the restart's, not ours
            return record
        target = logic.next_state(record.status, record.status_at_ms, state, at_ms)
        if target is None:
            return record
        try:
            return store.move(record.id, record.status, target, max(at_ms, record.status_at_ms),
                              reason=reason if target in logic.TERMINAL else None)  # fmt: skip
        except ConditionFailed as exc:
            if exc.item is None:
                return record
            record = exc.item
    return record


def iso_ms(epoch_ms: int) -> str:
    """An RFC 3339 UTC timestamp (Step Functions' ``TimestampPath`` format)."""
    import datetime as dt

    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
