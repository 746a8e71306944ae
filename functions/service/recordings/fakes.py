"""In-memory twins of the ports in ``ports.py`` (and of ``SecretStore``), for use-case tests and simulations.

Each fake keeps the promises of the adapter it stands for, conditions included, and nothing more:
``tests/contract/test_<port>_contract.py`` runs the same cases against the fake and the real adapter (moto,
or the emulator on loopback), so a fake that drifts fails there first. Time comes from a ``FakeClock``, so a
test runs hours of resource TTL, resolve windows or postponed deadlines in no time.

- ``FakeClock``: the ``Clock`` port; moves only with ``advance``.
- ``InMemoryRecordingStore``: ``RecordingStore`` (``repository.RecordingsRepository``). It keeps items as the
  table does (plain values through ``service.adapters.dynamodb``'s conversions) and evaluates, per intent
  method, the same condition the repository sends to DynamoDB.
- ``FakeWorkflowControl``: ``WorkflowControl`` (Step Functions): executions by name, task tokens that can be
  completed once.
- ``FakeSecretStore``: ``SecretStore`` (Secrets Manager): JSON values, a plain string as ``{"value": ...}``.

- ``FakeRecordingAgora``: ``RecordingAgora``, the calls recordings make, answered as the emulator answers them.

Over 400 lines on purpose: one module holds every fake of the recording ports, so the store fake's conditions sit
in one place to compare, method by method, with ``repository.py``'s condition expressions.
"""

from __future__ import annotations

import contextlib
import copy
import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from agorakit.agora.ratelimit import Lane, current_lane

from service.adapters.dynamodb import from_attr, to_attr
from service.recordings import logic
from service.recordings.record import AgoraErrorRecord, CdnOutput, EventEntry, Recording, Resolution, StartResolution
from service.recordings.repository import (
    CLEANUP,
    IDEMPOTENCY_TTL_SECONDS,
    TRANSACTION_RETRIES,
    Admission,
    ConditionFailed,
    CreateOutcome,
    admission_form,
    agora_error_attr,
    cdn_output_attr,
    event_entry_attr,
    from_item,
    resolution_attr,
    start_resolution_attr,
    status_of_key,
    to_item,
)

if TYPE_CHECKING:
    from agorakit.agora.models import QueryResult, StartResult, StopResult, StorageConfig

Item = dict[str, Any]


class FakeClock:
    """Seconds since the epoch that move only when told (``advance``); callable like ``time.time``."""

    def __init__(self, start: float = 1_760_000_000.0):
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go back")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        """A ``sleep`` for code that waits: the wait passes at once, in virtual time."""
        self.advance(max(0.0, seconds))


def _stored(value: object) -> Any:
    """A value as the table gives it back (ints stay ints, floats become Decimals, tuples lists, ...)."""
    return from_attr(to_attr(value))


class InMemoryRecordingStore:
    """``RecordingStore`` in a dict, with the repository's conditions (see ``repository.RecordingsRepository``)."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.items: dict[str, Item] = {}
        self.locks: dict[str, Item] = {}
        self.idempotency: dict[str, Item] = {}
        #: the admission counters (``repository.ADMISSION_KEY``): slots held, recordings queued
        self.counters: dict[str, int] = {"running": 0, "queued": 0}

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- reads ------------------------------------------------------------------------------------
    def get(self, recording_id: str, *, consistent: bool = True) -> Recording | None:
        item = self.items.get(recording_id)
        return from_item(copy.deepcopy(item)) if item is not None else None

    def lock_holder(self, channel: str) -> str | None:
        lock = self.locks.get(channel)
        return str(lock["recordingId"]) if lock else None

    def _idempotency(self, scope: str) -> Item | None:
        stored = self.idempotency.get(scope)
        if stored is not None and int(stored["expiresAt"]) < self._clock():
            return None
        return stored

    def by_sid(self, sid: str) -> Recording | None:
        for recording_id, item in self.items.items():
            if item.get("sid") == sid:
                return self.get(recording_id)
        return None

    def list_by_channel(
        self, channel: str, *, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[Recording], dict[str, Any] | None]:
        ordered = sorted(
            (i for i in self.items.values() if i.get("channel") == channel),
            key=lambda i: (int(i["createdAt"]), "REC#" + str(i["recordingId"])),
            reverse=True,
        )
        if start_key:
            after = (int(start_key["createdAt"]["N"]), str(start_key["pk"]["S"]))
            ordered = [i for i in ordered if (int(i["createdAt"]), "REC#" + str(i["recordingId"])) < after]
        page = ordered[:limit]
        last = None
        if len(ordered) > limit:
            tail = page[-1]
            last = {
                "pk": {"S": "REC#" + str(tail["recordingId"])},
                "channel": {"S": channel},
                "createdAt": {"N": str(tail["createdAt"])},
            }
        return [from_item(copy.deepcopy(i)) for i in page], last

    def list_active(
        self, statuses: Iterable[str] = logic.ACTIVE_STATUSES, *, part: tuple[int, int] = (0, 1)
    ) -> list[Recording]:
        index, count = part
        if not 0 <= index < count:
            raise ValueError(f"part {index} of {count}: need 0 <= part < parts")
        wanted = list(statuses)
        return [
            from_item(copy.deepcopy(i))
            for s in wanted
            for i in self.items.values()
            if status_of_key(str(i.get("activeStatus"))) == s
            and zlib.crc32(str(i["recordingId"]).encode()) % count == index
        ]

    # -- creation ---------------------------------------------------------------------------------
    def create(
        self,
        recording: Recording,
        *,
        idempotency_scope: str | None = None,
        fingerprint: str | None = None,
        response: Mapping[str, Any] | None = None,
        admission: Admission | None = None,
    ) -> CreateOutcome:
        queued = False
        while True:
            candidate = recording
            if admission is not None:
                candidate = admission_form(recording, queued=queued, now=self.now_ms())
            body = dict(response or {})
            if queued and body:
                body["status"] = logic.QUEUED
            outcome = self._create(
                candidate, idempotency_scope=idempotency_scope, fingerprint=fingerprint, response=body,
                counter=None if admission is None else self._counter_take(admission, queued=queued),
            )  # fmt: skip
            if outcome.kind != "full":
                return CreateOutcome("queued") if queued and outcome.kind == "created" else outcome
            if queued:
                return outcome
            queued = True

    def _counter_take(self, admission: Admission, *, queued: bool) -> Callable[[], bool]:
        """The admission counter's condition and update, applied only if every other condition held."""

        def take() -> bool:
            if queued:
                if self.counters["queued"] >= admission.queue_cap:
                    return False
                self.counters["queued"] += 1
                return True
            if self.counters["running"] >= admission.max_tasks or self.counters["queued"] > 0:
                return False
            self.counters["running"] += 1
            return True

        return take

    def _create(
        self,
        recording: Recording,
        *,
        idempotency_scope: str | None,
        fingerprint: str | None,
        response: Mapping[str, Any],
        counter: Callable[[], bool] | None,
    ) -> CreateOutcome:
        channel, recording_id = recording.channel, recording.recording_id
        for _ in range(TRANSACTION_RETRIES):
            now = self.now_ms()
            key_free = idempotency_scope is None or self._idempotency(idempotency_scope) is None
            lock_free = channel not in self.locks
            if key_free and lock_free and recording_id not in self.items:
                if counter is not None and not counter():
                    return CreateOutcome("full")
                if idempotency_scope:
                    self.idempotency[idempotency_scope] = {
                        "fingerprint": fingerprint,
                        "recordingId": recording_id,
                        "response": _stored(dict(response or {})),
                        "createdAt": now,
                        "expiresAt": int(now / 1000) + IDEMPOTENCY_TTL_SECONDS,
                    }
                self.locks[channel] = {"recordingId": recording_id, "createdAt": now}
                self.items[recording_id] = _stored(to_item(recording))
                return CreateOutcome("created")
            if idempotency_scope:
                stored = self._idempotency(idempotency_scope)
                if stored is not None:
                    if stored.get("fingerprint") != fingerprint:
                        return CreateOutcome("mismatch")
                    return CreateOutcome("replay", response=copy.deepcopy(dict(stored.get("response") or {})))
            if not lock_free:
                holder = self.lock_holder(channel)
                if holder is None:
                    continue
                held = self.items.get(holder)
                if held is None or (logic.is_terminal(held.get("status")) and not held.get("recorderUnconfirmed")):
                    self.release_lock(channel, holder)
                    continue
                return CreateOutcome("busy", active_recording_id=holder)
        return CreateOutcome("busy", active_recording_id=self.lock_holder(channel))

    # -- admission (the repository's transactions, one condition set at a time) ------------------------
    def admission_counts(self) -> tuple[int, int]:
        return self.counters["running"], self.counters["queued"]

    def _queued(self) -> list[Item]:
        waiting = (i for i in self.items.values() if i.get("activeStatus") == logic.QUEUED)
        return sorted(waiting, key=lambda i: (int(i["createdAt"]), str(i["recordingId"])))

    def queue(self, limit: int) -> list[Recording]:
        return [from_item(copy.deepcopy(i)) for i in self._queued()[:limit]]

    def queue_position(self, recording: Recording) -> int:
        mine = (recording.created_at, recording.recording_id)
        return 1 + sum(1 for i in self._queued() if (int(i["createdAt"]), str(i["recordingId"])) < mine)

    def admit(self, recording_id: str, max_tasks: int) -> Recording | None:
        item = self.items.get(recording_id)
        if item is None or item.get("status") != logic.QUEUED:
            raise ConditionFailed(self.get(recording_id))
        if self.counters["running"] >= max_tasks:
            return None
        self.counters["running"] += 1
        self.counters["queued"] -= 1
        now = self.now_ms()
        item.update(status=logic.REQUESTED, activeStatus=logic.REQUESTED, slotHeld=True, admittedAt=now, updatedAt=now)
        return self.get(recording_id)

    def cancel_queued(self, recording_id: str, reason: str) -> Recording | None:
        item = self.items.get(recording_id)
        if item is None or item.get("status") != logic.QUEUED:
            return None
        self.counters["queued"] -= 1
        now = self.now_ms()
        item.update(status=logic.STOPPED, stopReason=reason, stopRequested=reason, stopRequestedAt=now,
                    stoppedAt=now, outcome=logic.OUTCOME_NOT_STARTED, updatedAt=now)  # fmt: skip
        item.pop("activeStatus", None)
        return self.get(recording_id)

    def release_slot(self, recording_id: str) -> bool:
        item = self.items.get(recording_id)
        if item is None or item.get("slotHeld") is not True:
            return False
        del item["slotHeld"]
        self.counters["running"] -= 1
        return True

    def release_lock(self, channel: str, recording_id: str) -> bool:
        lock = self.locks.get(channel)
        if lock is None or lock.get("recordingId") != recording_id:
            return False
        del self.locks[channel]
        return True

    def delete_idempotency(self, scope: str, recording_id: str) -> None:
        stored = self.idempotency.get(scope)
        if stored is not None and stored.get("recordingId") == recording_id:
            del self.idempotency[scope]

    # -- updates ----------------------------------------------------------------------------------
    def _update(
        self,
        recording_id: str,
        *,
        set_: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, Any] | None = None,
        condition: Callable[[Item], bool] | None = None,
        touch: bool = True,
    ) -> Recording:
        """One UpdateItem (``touch``: also ``updatedAt`` = now): the item must exist and ``condition`` hold, else
        ConditionFailed (the item as it was)."""
        current = self.items.get(recording_id)
        if current is None:
            raise ConditionFailed(None)
        if condition is not None and not condition(current):
            raise ConditionFailed(from_item(copy.deepcopy(current)))
        updated = copy.deepcopy(current)
        for path, value in {**({"updatedAt": self.now_ms()} if touch else {}), **(set_ or {})}.items():
            *parents, last = path.split(".")
            target = updated
            for part in parents:
                if not isinstance(target.get(part), dict):
                    raise ValueError(f"the document path {path} is invalid for update")
                target = target[part]
            if value is None:
                raise TypeError("a NULL value is not how this store removes an attribute")
            target[last] = _stored(value)
        for path in remove:
            *parents, last = path.split(".")
            target = updated
            for part in parents:
                target = target.get(part) or {}
            target.pop(last, None)
        for name, value in (add or {}).items():
            to_attr(value)  # an empty set is refused, as DynamoDB refuses it
            existing = updated.get(name)
            if isinstance(value, set | frozenset):
                updated[name] = _stored(set(existing or set()) | set(value))
            else:
                updated[name] = _stored((existing or 0) + value)
        self.items[recording_id] = updated
        return from_item(copy.deepcopy(updated))

    def transition(
        self,
        recording_id: str,
        target: str,
        *,
        set_: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, Any] | None = None,
        sources: Iterable[str] | None = None,
    ) -> Recording:
        allowed = tuple(sources) if sources is not None else logic.sources_of(target)
        if not allowed:
            raise ValueError(f"nothing may move to {target}")
        fields: dict[str, Any] = {"status": target, **(set_ or {})}
        removals = list(remove)
        if logic.is_active(target):
            fields["activeStatus"] = target
        else:
            removals.append("activeStatus")
        return self._update(
            recording_id, set_=fields, remove=removals, add=add, condition=lambda i: i.get("status") in allowed
        )

    @staticmethod
    def _active(item: Item) -> bool:
        return item.get("status") in logic.ACTIVE_STATUSES

    def request_stop(self, recording_id: str, reason: str) -> tuple[Recording | None, bool]:
        try:
            item = self._update(
                recording_id,
                set_={"stopRequested": reason, "stopRequestedAt": self.now_ms()},
                condition=lambda i: "stopRequested" not in i and self._active(i),
            )
        except ConditionFailed as lost:
            return lost.item, False
        return item, True

    def park_wait(self, recording_id: str, task_token: str) -> Recording:
        return self._update(
            recording_id, set_={"taskToken": task_token, "waitingSince": self.now_ms()}, condition=self._active
        )

    def record_error(self, recording_id: str, error: AgoraErrorRecord) -> None:
        self._update(recording_id, set_={"lastError": agora_error_attr(error)})

    def link_transcription(self, recording_id: str, transcription_id: str | None, error: str | None) -> None:
        fields = {"transcriptionId": transcription_id, "transcriptionError": error}
        self._update(
            recording_id, set_={k: v for k, v in fields.items() if v is not None},
            remove=[] if error else ["transcriptionError"],
        )  # fmt: skip

    def keep_sid(self, recording_id: str, sid: str, started_at: int) -> None:
        self._update(recording_id, set_={"sid": sid, "startedAt": started_at})

    def mark_start_unknown(self, recording_id: str, state: StartResolution) -> None:
        with contextlib.suppress(ConditionFailed):
            self._update(
                recording_id,
                set_={"startResolution": start_resolution_attr(state)},
                condition=lambda i: i.get("status") == logic.STARTING and "startResolution" not in i,
            )

    def update_start_resolution(self, recording_id: str, state: StartResolution) -> None:
        self._update(recording_id, set_={"startResolution": start_resolution_attr(state)})

    def finish_start_resolution(self, recording_id: str, resolutions: Iterable[Resolution]) -> None:
        self._update(
            recording_id,
            set_={"resolutions": [resolution_attr(r) for r in resolutions]},
            remove=["startResolution", "candidateSid"],
        )

    def adopt(self, recording_id: str, sid: str, resolutions: Iterable[Resolution]) -> Recording:
        now = self.now_ms()
        return self.transition(
            recording_id,
            logic.RECORDING,
            set_={
                "sid": sid,
                "startedAt": now,
                "lastSeenAt": now,
                "resolutions": [resolution_attr(r) for r in resolutions],
            },
            remove=["startResolution", "candidateSid", "lastError"],
            sources=(logic.STARTING,),
        )

    def offer_candidate_sid(self, channel: str, uid: int, sid: str) -> bool:
        holder = self.lock_holder(channel)
        if holder is None:
            return False
        try:
            self._update(
                holder,
                set_={"candidateSid": sid},
                condition=lambda i: (
                    i.get("status") == logic.STARTING and i.get("recorderUid") == uid and "sid" not in i
                ),
            )
        except ConditionFailed:
            return False
        return True

    def mark_cleanup(self, recording_id: str, reason: str) -> None:
        self._update(recording_id, set_={"recorderUnconfirmed": reason, "activeStatus": CLEANUP})

    def end_cleanup(self, recording_id: str, how: str) -> None:
        self._update(recording_id, set_={"recorderGone": how}, remove=["recorderUnconfirmed", "activeStatus"])

    def set_if_newer(self, recording_id: str, seq_attr: str, sequence: int | None, fields: Mapping[str, Any]) -> bool:
        if sequence is None:
            updates = dict(fields)

            def fresh(i: Item) -> bool:
                return seq_attr not in i
        else:
            updates = {**fields, seq_attr: sequence}

            def fresh(i: Item) -> bool:
                return seq_attr not in i or i[seq_attr] < sequence

        try:
            self._update(recording_id, set_=updates, condition=fresh)
        except ConditionFailed:
            return False
        return True

    def add_file_names(self, recording_id: str, names: Iterable[str]) -> None:
        self._update(recording_id, add={"fileNames": set(names)})

    def add_postponed_files(self, recording_id: str, names: Iterable[str]) -> None:
        self._update(recording_id, add={"postponedFiles": set(names)})

    def add_snapshot(self, recording_id: str, name: str, *, max_files: int) -> bool:
        def room(i: Item) -> bool:
            files = i.get("snapshotFiles")
            return files is None or len(files) < max_files or name in files

        try:
            self._update(recording_id, add={"snapshotFiles": {name}}, condition=room)
        except ConditionFailed:
            self._update(recording_id, set_={"snapshotsTruncated": True})
            return False
        return True

    def put_event_entry(
        self,
        recording_id: str,
        kind: Literal["agoraErrors", "agoraWarnings"],
        key: str,
        entry: EventEntry,
        *,
        max_entries: int,
    ) -> bool:
        def room(i: Item) -> bool:
            entries = i.get(kind)
            return isinstance(entries, dict) and (key in entries or len(entries) < max_entries)

        try:
            self._update(recording_id, set_={f"{kind}.{key}": event_entry_attr(entry)}, condition=room)
        except ConditionFailed:
            return False
        return True

    def take_op_lock(self, recording_id: str, owner: str, seconds: int) -> Recording:
        now = self.now_ms()

        def available(i: Item) -> bool:
            free = "opLock" not in i or i.get("opLockUntil", 0) < now
            return i.get("status") == logic.RECORDING and "sid" in i and free

        return self._update(
            recording_id, set_={"opLock": owner, "opLockUntil": now + seconds * 1000}, condition=available
        )

    def release_op_lock(self, recording_id: str, owner: str) -> bool:
        try:
            self._update(recording_id, remove=["opLock", "opLockUntil"], condition=lambda i: i.get("opLock") == owner)
        except ConditionFailed:
            return False
        return True

    def mark_checked(self, recording_id: str, *, seen: bool = False, execution_running: bool = False) -> bool:
        now = self.now_ms()
        fields: dict[str, Any] = {"reconciledAt": now}
        if seen:
            fields["lastSeenAt"] = now
        if execution_running:
            fields["executionSeenAt"] = now
        try:
            self._update(recording_id, set_=fields, condition=lambda i: "activeStatus" in i, touch=False)
        except ConditionFailed:
            return False
        return True

    def set_cdn_urls(self, recording_id: str, urls: Iterable[str]) -> None:
        self._update(recording_id, set_={"cdnUrls": list(urls)}, condition=lambda i: "cdnUrls" in i)

    def set_cdn_status(
        self, recording_id: str, key: str, output: CdnOutput, sequence: int | None, *, max_entries: int
    ) -> bool:
        def fresh(i: Item) -> bool:
            outputs = i.get("cdnOutputs")
            if not isinstance(outputs, dict) or (key not in outputs and len(outputs) >= max_entries):
                return False
            if sequence is None:
                return key not in outputs
            seen = outputs.get(key, {}).get("seq")
            return seen is None or seen < sequence

        written = output if sequence is None else replace(output, seq=sequence)
        try:
            self._update(recording_id, set_={f"cdnOutputs.{key}": cdn_output_attr(written)}, condition=fresh)
        except ConditionFailed:
            return False
        return True


class ExecutionAlreadyExists(Exception):
    """Step Functions refuses a second execution of a name with another input."""


@dataclass
class FakeExecution:
    name: str
    state_machine_arn: str
    payload: dict[str, Any]
    status: str = "RUNNING"


@dataclass
class FakeWorkflowControl:
    """``WorkflowControl`` (Step Functions): executions by name (a second start of a name is refused, as
    ``ExecutionAlreadyExists``); ``park`` hands out a task token that ``complete_wait`` completes once."""

    executions: dict[str, FakeExecution] = field(default_factory=dict)
    #: token -> the reason it was completed with (None while it waits)
    tokens: dict[str, str | None] = field(default_factory=dict)
    #: the next ``start`` raises this (a Step Functions outage)
    fail_next_start: Exception | None = None

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> None:
        """Idempotent for the same name and input while it runs; another input is ``ExecutionAlreadyExists``."""
        if self.fail_next_start is not None:
            error, self.fail_next_start = self.fail_next_start, None
            raise error
        stored = json.loads(json.dumps(payload))
        existing = self.executions.get(name)
        if existing is not None:
            if existing.status == "RUNNING" and existing.payload == stored:
                return
            raise ExecutionAlreadyExists(f"ExecutionAlreadyExists: {name}")
        self.executions[name] = FakeExecution(name, state_machine_arn, stored)

    def end(self, name: str, status: str) -> None:
        """The execution ends outside the use cases (an operator aborts it, a state fails)."""
        self.executions[name].status = status

    def park(self, token: str) -> str:
        """A task waits for its token (what the state machine's ``waitForTaskToken`` does)."""
        self.tokens[token] = None
        return token

    def complete_wait(self, task_token: str, reason: str) -> bool:
        """False for a token already completed or never handed out (Step Functions: InvalidToken)."""
        if task_token not in self.tokens or self.tokens[task_token] is not None:
            return False
        self.tokens[task_token] = reason
        return True

    def execution_status(self, execution_arn: str) -> str:
        name = execution_arn.rsplit(":", 1)[-1]
        execution = self.executions.get(name)
        return execution.status if execution is not None else "MISSING"


class FakeSecretStore:
    """``SecretStore`` (Secrets Manager): a JSON object as it is, any other string as ``{"value": ...}``."""

    def __init__(self, secrets: Mapping[str, str] | None = None):
        self.secrets = dict(secrets or {})

    def get_json(self, name: str) -> dict[str, Any]:
        if name not in self.secrets:
            raise KeyError(f"ResourceNotFoundException: secret {name} not found")
        raw = self.secrets[name]
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        return value if isinstance(value, dict) else {"value": raw}


@dataclass
class _FakeResource:
    id: str
    cname: str
    uid: int
    scene: int
    acquired_at: float
    sid: str | None = None


@dataclass
class _FakeTask:
    sid: str
    resource_id: str
    cname: str
    uid: int
    mode: str
    #: set by ``record``: the task uploaded something, so stop answers "stopped" (else 206/435, "empty")
    files: list[str] = field(default_factory=list)
    exited: bool = False


class FakeRecordingAgora:
    """``RecordingAgora`` in memory, answering as the emulator (and Agora) do for the calls recordings make:

    - acquire: a new resource ID per call, valid ``resource_ttl`` seconds of the injected clock;
    - start: a sid; the same resource again is 201/7 (``AgoraAlreadyStartedError``); an unknown resource
      1001 and an expired one 433 (``AgoraResourceExpiredError``); a running task of the same channel and uid
      53 (``AgoraConflictError``); the recorder joins the channel (not in web mode);
    - query: the running task, 404 (``AgoraNotFoundError``) once it exited or for another sid;
    - stop: "stopped" with its files, "empty" (206/435) when it uploaded nothing, "gone" when already over;
    - kicking rules take the recorder out of the channel and end its task, as Agora does.

    ``fail(operation, error)`` makes the next call of ``operation`` raise ``error`` (Agora's odd codes, timeouts).
    """

    def __init__(self, clock: Callable[[], float], *, resource_ttl: float = 300.0, max_tasks: int | None = None):
        self._clock = clock
        self.resource_ttl = resource_ttl
        #: the App ID's concurrent-task limit: acquire and start answer 406 ``vendor_over_load`` past it
        self.max_tasks = max_tasks
        #: the most tasks that ever ran at once (what admission control keeps within ``max_tasks``)
        self.peak_tasks = 0
        self.resources: dict[str, _FakeResource] = {}
        self.tasks: dict[str, _FakeTask] = {}
        #: channel -> uids in it
        self.channels: dict[str, set[int]] = {}
        #: rule id -> (channel, uid)
        self.rules: dict[int, tuple[str | None, int | None]] = {}
        self.calls: list[str] = []
        #: (operation, the limiter lane it was called in: ``agorakit.agora.ratelimit.current_lane``)
        self.lanes: list[tuple[str, Lane | None]] = []
        self._faults: dict[str, list[Exception]] = {}
        self._next = 0

    # -- test controls --------------------------------------------------------------------------
    def fail(self, operation: str, error: Exception, times: int = 1) -> None:
        self._faults.setdefault(operation, []).extend([error] * times)

    def join(self, cname: str, uid: int) -> None:
        """A user joins ``cname`` (a host the recorder records)."""
        self.channels.setdefault(cname, set()).add(uid)

    def record(self, sid: str, *names: str) -> None:
        """The task ``sid`` uploads ``names`` (what NCS 31 would report)."""
        self.tasks[sid].files.extend(names)

    def exit(self, sid: str) -> None:
        """The task ends by itself (idle timeout, an error): what NCS 11 reports."""
        task = self.tasks[sid]
        task.exited = True
        self.channels.get(task.cname, set()).discard(task.uid)

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        self.lanes.append((operation, current_lane()))
        queued = self._faults.get(operation)
        if queued:
            raise queued.pop(0)

    def running_tasks(self) -> int:
        return sum(1 for t in self.tasks.values() if not t.exited)

    def _check_capacity(self) -> None:
        from agorakit.agora.errors import AgoraCapacityError

        if self.max_tasks is not None and self.running_tasks() >= self.max_tasks:
            raise AgoraCapacityError("vendor_over_load", code=406, http_status=400, reason="vendor_over_load")

    def _id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}{self._next:08d}"

    # -- RecordingAgora --------------------------------------------------------------------------
    def acquire(
        self,
        cname: str,
        uid: int | str,
        *,
        scene: int = 0,
        resource_expired_hour: int = 72,
        start_parameter: dict[str, Any] | None = None,
        region: str | None = None,
        exclude_resource_ids: Sequence[str] | None = None,
    ) -> str:
        self._enter("acquire")
        self._check_capacity()
        resource = _FakeResource(self._id("resource-"), cname, int(uid), scene, self._clock())
        self.resources[resource.id] = resource
        return resource.id

    def start(
        self,
        resource_id: str,
        cname: str,
        uid: int | str,
        mode: str,
        *,
        token: str | None,
        recording_config: dict[str, Any] | None = None,
        storage_config: StorageConfig | dict[str, Any],
        recording_file_config: dict[str, Any] | None = None,
        snapshot_config: dict[str, Any] | None = None,
        extension_service_config: dict[str, Any] | None = None,
        app_extra: dict[str, Any] | None = None,
    ) -> StartResult:
        from agorakit.agora.errors import (
            AgoraAlreadyStartedError,
            AgoraConflictError,
            AgoraParameterError,
            AgoraResourceExpiredError,
        )
        from agorakit.agora.models import StartResult

        self._enter("start")
        resource = self.resources.get(resource_id)
        if resource is None:
            raise AgoraResourceExpiredError("failed to parse resource id", code=1001, http_status=400)
        if resource.sid is not None:
            raise AgoraAlreadyStartedError("The recording has already been started", code=7, http_status=201)
        if self._clock() - resource.acquired_at > self.resource_ttl:
            raise AgoraResourceExpiredError("resource expired", code=433, http_status=400)
        if cname != resource.cname or int(uid) != resource.uid or (resource.scene == 1) != (mode == "web"):
            raise AgoraParameterError("the cname, uid or mode do not match the resource id", code=432)
        if any(not t.exited and t.cname == cname and t.uid == int(uid) for t in self.tasks.values()):
            raise AgoraConflictError("a task with the same cname and uid already exists", code=53, http_status=400)
        self._check_capacity()
        task = _FakeTask(self._id("sid-"), resource_id, cname, int(uid), mode)
        resource.sid = task.sid
        self.tasks[task.sid] = task
        self.peak_tasks = max(self.peak_tasks, self.running_tasks())
        if mode != "web":
            self.join(cname, int(uid))
        return StartResult(resource_id=resource_id, sid=task.sid)

    def _task(self, resource_id: str, sid: str, mode: str) -> _FakeTask:
        from agorakit.agora.errors import AgoraNotFoundError, AgoraResourceExpiredError

        task = self.tasks.get(sid)
        if task is None or task.resource_id != resource_id or task.mode != mode:
            if resource_id not in self.resources:
                raise AgoraResourceExpiredError("failed to parse resource id", code=1001, http_status=400)
            raise AgoraNotFoundError("failed to find worker", code=404, http_status=404)
        if task.exited:
            raise AgoraNotFoundError("failed to find worker", code=404, http_status=404)
        return task

    def query(self, resource_id: str, sid: str, mode: str) -> QueryResult:
        from agorakit.agora.models import QueryResult

        self._enter("query")
        task = self._task(resource_id, sid, mode)
        files = [{"fileName": name} for name in task.files]
        server = {"status": 5, "fileList": files, "fileListMode": "json"}
        raw = {"resourceId": resource_id, "sid": sid, "serverResponse": server}
        return QueryResult(status=5, file_list=files, file_list_mode="json", raw=raw)

    def stop(
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, *, async_stop: bool = True
    ) -> StopResult:
        from agorakit.agora.errors import AgoraNotFoundError
        from agorakit.agora.models import StopResult

        self._enter("stop")
        try:
            task = self._task(resource_id, sid, mode)
        except AgoraNotFoundError:
            return StopResult(outcome="gone", file_list=[], uploading_status=None, raw={})
        self.exit(sid)
        if not task.files:
            return StopResult(outcome="empty", file_list=[], uploading_status="uploaded", raw={"code": 435})
        files = [{"fileName": name} for name in task.files]
        return StopResult(outcome="stopped", file_list=files, uploading_status="uploaded", raw={})

    def update(  # noqa: PLR0917 - the client's positional order
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, client_request: dict[str, Any]
    ) -> dict[str, Any]:
        self._enter("update")
        self._task(resource_id, sid, mode)
        return {"resourceId": resource_id, "sid": sid}

    def update_layout(  # noqa: PLR0917 - the client's positional order
        self, resource_id: str, sid: str, cname: str, uid: int | str, mode: str, client_request: dict[str, Any]
    ) -> dict[str, Any]:
        from agorakit.agora.errors import AgoraParameterError

        self._enter("update_layout")
        if mode != "mix":
            raise AgoraParameterError("updateLayout applies to mix mode only", code=2, http_status=400)
        self._task(resource_id, sid, mode)
        return {"resourceId": resource_id, "sid": sid}

    def create_kicking_rule(
        self,
        cname: str | None,
        *,
        uid: int | None = None,
        ip: str | None = None,
        seconds: int,
        privileges: Sequence[str] = ("join_channel",),
    ) -> int:
        self._enter("create_kicking_rule")
        self._next += 1
        self.rules[self._next] = (cname, uid)
        for task in self.tasks.values():  # a kicked recorder's task ends
            if not task.exited and (cname is None or task.cname == cname) and (uid is None or task.uid == uid):
                self.exit(task.sid)
        for channel, uids in self.channels.items():
            if cname is None or channel == cname:
                uids.discard(uid) if uid is not None else uids.clear()
        return self._next

    def delete_kicking_rule(self, rule_id: int) -> None:
        self._enter("delete_kicking_rule")
        self.rules.pop(rule_id, None)

    def user_status(self, cname: str, uid: int) -> dict[str, Any]:
        self._enter("user_status")
        if uid in self.channels.get(cname, set()):
            return {"in_channel": True, "role": 2, "join": int(self._clock()), "platform": 6}
        return {"in_channel": False, "role": None, "join": None, "platform": None}
