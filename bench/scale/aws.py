"""AWS in virtual time, with the published limits (``docs/scale.md``'s sources):

- ``SimClock``: the event loop's time plus the running invocation's own elapsed time (its waits in the
  limiter, its backoff, its calls), so a step's writes and Agora calls carry the moment they happen;
- ``TokenBucket``: Step Functions' API buckets (StartExecution 1,300 / 300 s^-1, SendTaskSuccess 3,000 / 500,
  DescribeExecution 300 / 15 in us-east-1);
- ``LambdaPool``: the account's concurrent executions; an invocation holds a slot for its modelled duration,
  one past the limit is throttled (``Lambda.TooManyRequestsException``); GB-seconds and requests per function;
- ``SimStore``: ``service.recordings.fakes.InMemoryRecordingStore`` (the repository's conditions) that also
  counts write units per partition key per second, base table and each GSI as the table is deployed
  (``infra/constructs/recording.py``: bySid INCLUDE recordingId, byChannel and byStatus ALL), and read units.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import greenlet
from service.recordings import logic
from service.recordings.fakes import InMemoryRecordingStore
from service.recordings.record import Recording
from service.recordings.repository import CreateOutcome, from_item, status_key, status_of_key

T = TypeVar("T")

#: the recordings table's GSIs as deployed: name -> (partition key attribute, projected attributes; None = ALL)
RECORDINGS_GSIS: dict[str, tuple[str, frozenset[str] | None]] = {
    "bySid": ("sid", frozenset({"recordingId"})),
    # KEYS_ONLY (infra/constructs/recording.py): an update that keeps the key writes no index entry
    "byChannel": ("channel", frozenset()),
    # KEYS_ONLY and write-sharded: the partition is ``repository.status_key`` (``RECORDING#7``, ``QUEUED``)
    "byStatus": ("activeStatus", frozenset()),
}
#: DynamoDB's per-partition write throughput (WCU per second)
PARTITION_WCU = 1000


class Loop:
    """Virtual time and the event loop. Each Lambda invocation runs as a greenlet: ``sleep`` inside one (the
    limiter's wait, the client's backoff, a call's latency) switches back to the loop, which resumes it when
    virtual time reaches the wake-up. Our code's blocking waits thus interleave with every other invocation in
    time order, deterministically, with no thread. Callable like ``time.time``."""

    def __init__(self, start: float):
        self.now = float(start)
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        #: scheduled events that keep the run going (timers and periodic work do not)
        self.pending = 0
        self._main = greenlet.getcurrent()

    def __call__(self) -> float:
        return self.now

    def at(self, when: float, fn: Callable[[], None], *, background: bool = False) -> None:
        self._seq += 1
        if background:
            heapq.heappush(self._heap, (when, self._seq, fn))
            return
        self.pending += 1

        def counted() -> None:
            self.pending -= 1
            fn()

        heapq.heappush(self._heap, (when, self._seq, counted))

    def step(self, horizon: float) -> bool:
        """Run the next event; False when there is none before ``horizon``."""
        if not self._heap or self._heap[0][0] > horizon:
            return False
        when, _, fn = heapq.heappop(self._heap)
        self.now = max(self.now, when)
        fn()
        return True

    def sleep(self, seconds: float) -> None:
        current = greenlet.getcurrent()
        if current is self._main:
            raise RuntimeError("sleep outside an invocation: the loop itself never waits")
        self.at(self.now + max(0.0, seconds), current.switch)
        self._main.switch()

    def spawn(self, body: Callable[[], None]) -> None:
        """Run ``body`` (which must not raise) now, as its own greenlet; returns when it ends or sleeps."""
        greenlet.greenlet(body, parent=self._main).switch()


@dataclass
class TokenBucket:
    """A Step Functions API bucket: ``capacity`` tokens, ``rate`` refilled per second; ``take`` False = throttled."""

    capacity: float
    rate: float
    clock: Callable[[], float]
    tokens: float = -1.0
    stamp: float = 0.0
    throttled: int = 0
    calls: int = 0

    def take(self) -> bool:
        now = self.clock()
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        self.calls += 1
        if self.tokens < 1:
            self.throttled += 1
            return False
        self.tokens -= 1
        return True


class LambdaThrottled(Exception):
    """Lambda refused the invocation: the account's concurrency is in use."""


class LambdaTimedOut(Exception):
    """The invocation ran past its function's timeout."""


@dataclass(frozen=True)
class Function:
    name: str
    memory_mb: int
    timeout_s: float
    #: the handler's own time around the modelled calls (warm start, parsing, logging)
    overhead_s: float = 0.03
    #: reserved concurrency: its own slots, taken out of the account's pool
    reserved: int | None = None


@dataclass
class LambdaPool:
    """The account's concurrency: ``invoke`` starts ``body`` now in its own thread, holding a slot until it ends,
    then calls ``done(result)`` or ``failed(error)`` at that moment (a refused invocation fails at once)."""

    loop: Loop
    limit: int
    #: the functions with reserved concurrency: their slots are not the others'
    reserved: tuple[Function, ...] = ()
    running: int = 0
    by_function: Counter[str] = field(default_factory=Counter)
    peaks: Counter[str] = field(default_factory=Counter)
    peak: int = 0
    throttles: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    gb_seconds: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    #: slots held by invocations counted in bulk (the media path's batches), averaged over a tick
    background: float = 0.0

    def in_use(self) -> int:
        return self.running + math.ceil(self.background)

    def _refused(self, fn: Function) -> bool:
        if fn.reserved is not None:
            return self.by_function[fn.name] >= fn.reserved
        unreserved = self.limit - sum(f.reserved or 0 for f in self.reserved)
        in_reserved = sum(self.by_function[f.name] for f in self.reserved)
        return self.in_use() - in_reserved >= unreserved

    def invoke(
        self,
        fn: Function,
        body: Callable[[], T],
        done: Callable[[T], None] | None = None,
        failed: Callable[[Exception], None] | None = None,
    ) -> None:
        self.loop.at(self.loop.now, lambda: self._start(fn, body, done, failed))

    def _start(
        self,
        fn: Function,
        body: Callable[[], T],
        done: Callable[[T], None] | None,
        failed: Callable[[Exception], None] | None,
    ) -> None:
        if self._refused(fn):
            self.throttles[fn.name] += 1
            if failed is not None:
                failed(LambdaThrottled(f"Rate Exceeded: {fn.name}"))
            return
        self.running += 1
        self.by_function[fn.name] += 1
        self.peaks[fn.name] = max(self.peaks[fn.name], self.by_function[fn.name])
        self.peak = max(self.peak, self.in_use())
        self.requests[fn.name] += 1
        began = self.loop.now

        def run() -> None:
            error: Exception | None = None
            result: Any = None
            try:
                self.loop.sleep(fn.overhead_s)
                result = body()
            except Exception as exc:
                error = exc
            self.running -= 1
            self.by_function[fn.name] -= 1
            duration = self.loop.now - began
            billed = math.ceil(min(duration, fn.timeout_s) * 1000) / 1000
            self.seconds[fn.name] += billed
            self.gb_seconds[fn.name] += billed * fn.memory_mb / 1024
            if error is None and duration > fn.timeout_s:
                error = LambdaTimedOut(f"{fn.name} ran {duration:.1f}s, past its {fn.timeout_s:g}s timeout")
            try:
                if error is not None:
                    if failed is not None:
                        failed(error)
                elif done is not None:
                    done(result)
            except Exception:  # a bug in the simulation's own callbacks: stop loudly
                import traceback

                traceback.print_exc()
                raise

        self.loop.spawn(run)


def _kb(item: Mapping[str, Any] | None, unit: int = 1024) -> int:
    if not item:
        return 1
    return max(1, math.ceil(len(json.dumps(item, default=str, separators=(",", ":"))) / unit))


@dataclass
class Writes:
    """Write units per (partition key, second), and totals by table part."""

    per_second: dict[tuple[str, int], float] = field(default_factory=lambda: defaultdict(float))
    units: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)

    def write(self, part: str, key: str, units: float, at: float) -> None:
        self.per_second[(f"{part}:{key}", int(at))] += units
        self.units[part] += units

    def hottest(self) -> tuple[str, float]:
        if not self.per_second:
            return "", 0.0
        (key, _), units = max(self.per_second.items(), key=lambda kv: kv[1])
        return key, units

    def over(self, limit: float = PARTITION_WCU) -> int:
        """Partition-seconds that asked for more than ``limit`` write units."""
        return sum(1 for units in self.per_second.values() if units > limit)


class ConditionalCheckFailed(Exception):
    """What botocore raises for a lost condition (``service.adapters.dynamodb.is_condition_failed`` reads it)."""

    def __init__(self, item: dict[str, Any] | None):
        super().__init__("ConditionalCheckFailedException")
        self.response = {"Error": {"Code": "ConditionalCheckFailedException"}, **({"Item": item} if item else {})}


class LimiterTable:
    """The rate-limit table as ``service.adapters.agora.DynamoDBTokenBucket`` uses it: its two conditional
    UpdateItems, applied as DynamoDB applies them. Every call is a write unit on the bucket's item (a lost
    condition too), counted in ``writes``."""

    def __init__(self, clock: Callable[[], float], writes: Writes):
        self._clock = clock
        self.writes = writes
        self.tat: dict[str, float] = {}
        self.conflicts = 0

    def update_item(self, **call: Any) -> dict[str, Any]:
        key = call["Key"]["pk"]["S"]
        values = {k: float(v["N"]) for k, v in call["ExpressionAttributeValues"].items()}
        self.writes.write("rate-limit", key, 1, self._clock())
        tat = self.tat.get(key)
        if call["UpdateExpression"].startswith("SET tat = tat + :step"):
            ok = tat is not None and tat > values[":now"] and (":limit" not in values or tat <= values[":limit"])
            new = (tat or 0.0) + values[":step"]
        else:
            ok = tat is None or tat <= values[":now"]
            new = values[":next"]
        if not ok:
            self.conflicts += 1
            raise ConditionalCheckFailed({"tat": {"N": f"{tat:.6f}"}} if tat is not None else None)
        self.tat[key] = round(new, 6)
        return {"Attributes": {"tat": {"N": f"{self.tat[key]:.6f}"}}}


class SimStore(InMemoryRecordingStore):
    """The in-memory recordings table with DynamoDB's write accounting and a bySid index (the fake scans)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        gsis: Mapping[str, tuple[str, frozenset[str] | None]] = RECORDINGS_GSIS,
        on_status: Callable[[Recording], None] | None = None,
    ):
        super().__init__(clock)
        self.gsis = dict(gsis)
        self.writes = Writes()
        self.queued_max = 0
        self._sids: dict[str, str] = {}
        self._on_status = on_status

    # -- accounting -------------------------------------------------------------------------------
    def _count(self, recording_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        now = self._clock()
        size = _kb(new or old)
        self.writes.write("recordings", f"REC#{recording_id}", size, now)
        for index, (key, projected) in self.gsis.items():
            old_key, new_key = (old or {}).get(key), (new or {}).get(key)
            if key == "activeStatus":  # the in-memory store keeps the bare status; the table keeps its shard
                old_key = None if old_key is None else status_key(status_of_key(str(old_key)), recording_id)
                new_key = None if new_key is None else status_key(status_of_key(str(new_key)), recording_id)
            if old_key is None and new_key is None:
                continue
            unchanged = projected is not None and all((old or {}).get(a) == (new or {}).get(a) for a in projected)
            if old_key == new_key and unchanged:
                continue  # an INCLUDE index whose attributes did not change is not written
            if old_key is not None and old_key != new_key:
                self.writes.write(index, str(old_key), 1, now)  # the old index entry is deleted
            if new_key is not None:
                self.writes.write(index, str(new_key), size if projected is None else 1, now)

    def _update(self, recording_id: str, **kwargs: Any) -> Recording:
        old = self.items.get(recording_id)
        result = super()._update(recording_id, **kwargs)
        self._count(recording_id, old, self.items.get(recording_id))
        if result.sid:
            self._sids[result.sid] = recording_id
        return result

    def create(self, recording: Recording, **kwargs: Any) -> CreateOutcome:
        outcome = super().create(recording, **kwargs)
        now = self._clock()
        if kwargs.get("admission") is not None:  # the admission counters' item is in the same transaction
            self.writes.write("recordings", "ADMISSION", 2, now)
            self.queued_max = max(self.queued_max, self.counters["queued"])
        # TransactWriteItems: two units per KB for each item it writes (the idempotency record when keyed)
        self.writes.write("recordings", f"LOCK#{recording.channel}", 2, now)
        if outcome.kind == "created":
            self.writes.units["transactions"] += 1
            self._count(recording.recording_id, None, self.items[recording.recording_id])
            self.writes.write("recordings", f"REC#{recording.recording_id}", 1, now)  # the transaction's x2
        return outcome

    def release_lock(self, channel: str, recording_id: str) -> bool:
        self.writes.write("recordings", f"LOCK#{channel}", 1, self._clock())
        return super().release_lock(channel, recording_id)

    # -- admission: each a transaction of the counters' item and the recording -----------------------
    def _admission_write(self, recording_id: str, old: Mapping[str, Any] | None) -> None:
        self.writes.write("recordings", "ADMISSION", 2, self._clock())
        self._count(recording_id, old, self.items.get(recording_id))

    def admit(self, recording_id: str, max_tasks: int) -> Recording | None:
        old = dict(self.items.get(recording_id) or {})
        admitted = super().admit(recording_id, max_tasks)
        if admitted is not None:
            self._admission_write(recording_id, old)
        return admitted

    def release_slot(self, recording_id: str) -> bool:
        old = dict(self.items.get(recording_id) or {})
        released = super().release_slot(recording_id)
        if released:
            self._admission_write(recording_id, old)
        return released

    def cancel_queued(self, recording_id: str, reason: str) -> Recording | None:
        old = dict(self.items.get(recording_id) or {})
        ended = super().cancel_queued(recording_id, reason)
        if ended is not None:
            self._admission_write(recording_id, old)
            if self._on_status is not None:
                self._on_status(ended)
        return ended

    def transition(self, recording_id: str, target: str, **kwargs: Any) -> Recording:
        result = super().transition(recording_id, target, **kwargs)
        if self._on_status is not None:
            self._on_status(result)
        return result

    # -- reads ------------------------------------------------------------------------------------
    def get(self, recording_id: str, *, consistent: bool = True) -> Recording | None:
        """The fake's ``get`` without its deep copy: a stored item is replaced on every update, never changed in
        place (``_update`` copies first), so sharing it with a frozen ``Recording`` is safe and much faster."""
        item = self.items.get(recording_id)
        self.writes.reads["recordings"] += _kb(item, 4096) * (1 if consistent else 0.5) if item else 1
        return from_item(dict(item)) if item is not None else None

    def by_sid(self, sid: str) -> Recording | None:
        self.writes.reads["bySid"] += 0.5
        recording_id = self._sids.get(sid)
        return self.get(recording_id) if recording_id is not None else None

    def list_active(
        self, statuses: Iterable[str] = logic.ACTIVE_STATUSES, *, part: tuple[int, int] = (0, 1)
    ) -> list[Recording]:
        found = super().list_active(statuses, part=part)
        # keys-only Queries (about 100 bytes a key, eventually consistent), then BatchGetItem of the rows
        self.writes.reads["byStatus"] += max(1, math.ceil(len(found) * 0.1 / 4)) * 0.5
        self.writes.reads["recordings"] += sum(max(1, math.ceil(_kb(self.items[r.recording_id]) / 4)) * 0.5
                                               for r in found if r.recording_id in self.items)  # fmt: skip
        return found
