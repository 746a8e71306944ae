"""What Lambda's pollers and EventBridge do on AWS, done locally: moto records events but runs no poller.

- ``StreamPump``: reads a DynamoDB stream (``dynamodbstreams`` get_records) and calls the mapped handler
  with ``{"Records": [...]}`` shaped as Lambda delivers them; honours ``batchItemFailures`` (checkpoint
  before the first failed sequence number), retries, filters and the on-failure destination.
- ``QueuePump``: receives from an SQS queue and calls the handler; deletes what succeeded, returns
  failures to the queue (its redrive policy then applies, as on AWS).
- ``SchedulePump``: fires ``rate(...)``/``cron(...)`` rules at their times (or on demand).

Each pump is a daemon thread that stops promptly on ``stop()``. The record shapes and filters are in
``local.event_filter``, schedule expressions in ``local.schedules``; the three pumps share one base class
and stay together here (a little over 400 lines).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from local.event_filter import failed_ids, filter_view, matches, sqs_record, stream_record
from local.resources import EventSourceSpec, LocalStack, ScheduleSpec
from local.runtime import Dispatcher, FunctionError
from local.schedules import Cron, rate_seconds, scheduled_event

log = logging.getLogger("local.pumps")


# ------------------------------------------------------------------------------------------------
# stream records: a wake-up instead of polling
# ------------------------------------------------------------------------------------------------
class _StreamSignal:
    """Counts the stream records moto appended in this process, per table, and wakes whoever waits for the next
    one of its table.

    The stream pumps used to poll every stream every 0.2 s: a local stack with eight streams made 40
    ``GetRecords`` calls a second through the moto server, idle or not (a fifth of a core, profiled in the API
    fuzz). moto's ``StreamShard.add`` is patched while pumps run (``install``) to count; an idle stream pump
    sleeps until its table's count moves, and polls at ``StreamPump.idle_poll`` seconds only as a safety net."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._counts: dict[str, int] = {}
        self._users = 0
        self._original: Any = None

    def generation(self, table: str) -> int:
        with self._cond:
            return self._counts.get(table, 0)

    def bump(self, table: str) -> None:
        """A record appended to ``table`` (or its pump stopping: the same wake-up)."""
        with self._cond:
            self._counts[table] = self._counts.get(table, 0) + 1
            self._cond.notify_all()

    def wait(self, table: str, seen: int, timeout: float) -> None:
        """Until ``table`` has a record newer than generation ``seen`` (or a ``bump()``), at most ``timeout`` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._counts.get(table, 0) != seen, timeout)

    def install(self) -> None:
        from moto.dynamodb.models.table import StreamShard

        with self._cond:
            self._users += 1
            if self._users > 1:
                return
            original = self._original = StreamShard.add
            signal = self

            def add(shard: Any, old: Any, new: Any) -> None:
                try:
                    original(shard, old, new)
                finally:
                    signal.bump(str(shard.table.name))

            StreamShard.add = add  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.dynamodb.models.table import StreamShard

        with self._cond:
            self._users -= 1
            if self._users == 0 and self._original is not None:
                StreamShard.add = self._original  # type: ignore[method-assign]
                self._original = None


STREAM_SIGNAL = _StreamSignal()


# ------------------------------------------------------------------------------------------------
# pumps
# ------------------------------------------------------------------------------------------------
class _Pump(threading.Thread):
    def __init__(self, name: str, *, poll_interval: float):
        super().__init__(name=name, daemon=True)
        self.poll_interval = poll_interval
        self._stop_event = threading.Event()
        self.batches = 0
        self.errors = 0

    def stop(self) -> None:
        self._stop_event.set()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def run(self) -> None:
        while not self.stopping:
            mark = self.mark()
            try:
                worked = self.step()
            except Exception:
                self.errors += 1
                log.exception("%s: polling failed", self.name)
                worked = False
            if not worked:
                self.idle(mark)

    def mark(self) -> int:
        """Taken before each step; ``idle`` receives it (what the source looked like before the step looked)."""
        return 0

    def idle(self, mark: int) -> None:
        """Nothing to do: wait before the next step (or until stopped)."""
        self._stop_event.wait(self.poll_interval)

    def step(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class StreamPump(_Pump):
    """One DynamoDB stream -> one function (an event source mapping). Idle, it waits for moto's next stream
    record in this process (``STREAM_SIGNAL``), polling every ``idle_poll`` seconds as a safety net."""

    #: the longest an idle stream pump waits without a signal (records written by another process's moto)
    idle_poll = 5.0

    @property
    def table(self) -> str:
        """The table of the stream (``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>``)."""
        return self.spec.source_arn.split(":table/", 1)[-1].split("/stream/", 1)[0]

    def mark(self) -> int:
        return STREAM_SIGNAL.generation(self.table)  # before polling: a record appended after it ends the wait

    def idle(self, mark: int) -> None:
        if self._pending or self._iterator is None:  # held back or no shard yet: the plain interval
            super().idle(mark)
        else:
            STREAM_SIGNAL.wait(self.table, mark, self.idle_poll)

    def stop(self) -> None:
        super().stop()
        STREAM_SIGNAL.bump(self.table)  # wake it (another pump of the same table polls once and sleeps again)

    def __init__(
        self,
        spec: EventSourceSpec,
        dispatcher: Dispatcher,
        client: Any,
        *,
        region: str,
        poll_interval: float = 0.2,
        retry_limit: int = 5,
        on_failure: Callable[[str, dict[str, Any]], None] | None = None,
        from_latest: bool = False,
    ):
        """``from_latest``: start after the records already in the stream whatever the mapping's starting
        position (the local stack restored saved data: its handlers processed it before it was saved)."""
        super().__init__(f"stream:{spec.logical_id}", poll_interval=poll_interval)
        self.from_latest = from_latest
        self.spec, self.dispatcher, self.client, self.region = spec, dispatcher, client, region
        # Lambda retries a failing stream batch until the record expires (-1); locally that would block
        # the shard for a day, so an unbounded setting is capped at ``retry_limit``.
        self.max_retries = spec.maximum_retry_attempts if spec.maximum_retry_attempts >= 0 else retry_limit
        self.on_failure = on_failure
        self._iterator: str | None = None
        self._pending: list[dict[str, Any]] = []
        self._attempts = 0

    def _open(self) -> None:
        desc = self.client.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]
        shards = desc.get("Shards") or []
        if not shards:
            return
        kind = "LATEST" if self.spec.starting_position == "LATEST" or self.from_latest else "TRIM_HORIZON"
        self._iterator = self.client.get_shard_iterator(
            StreamArn=self.spec.source_arn, ShardId=shards[0]["ShardId"], ShardIteratorType=kind
        )["ShardIterator"]

    def open(self) -> None:
        """Position the iterator now (``LATEST`` means: from the moment the pump was created)."""
        if self._iterator is None:
            self._open()

    def step(self) -> bool:
        if self._iterator is None:
            self._open()
            if self._iterator is None:
                return False
        if len(self._pending) < self.spec.batch_size:
            resp = self.client.get_records(ShardIterator=self._iterator, Limit=1000)
            self._iterator = resp.get("NextShardIterator") or self._iterator
            for record in resp.get("Records") or []:
                rec = stream_record(record, stream_arn=self.spec.source_arn, region=self.region)
                if not self.spec.filters or any(matches(p, rec) for p in self.spec.filters):
                    self._pending.append(rec)
        if not self._pending:
            return False
        batch = self._pending[: self.spec.batch_size]
        return self._deliver(batch)

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        self.batches += 1
        try:
            result = self.dispatcher.invoke(
                self.spec.function, {"Records": batch}, source=f"stream:{self.spec.logical_id}"
            )
        except FunctionError as exc:
            return self._failed(batch, 0, str(exc))
        failed = failed_ids(result) if self.spec.report_batch_item_failures else None
        if failed:
            seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
            # an identifier that is not in the batch fails the whole batch, as on AWS
            first = min((seqs.index(f) for f in failed if f in seqs), default=0)
            return self._failed(batch, first, f"batchItemFailures: {failed}")
        del self._pending[: len(batch)]
        self._attempts = 0
        return True

    def _failed(self, batch: list[dict[str, Any]], first_failed: int, reason: str) -> bool:
        self.errors += 1
        del self._pending[:first_failed]  # records before the first failure are checkpointed
        self._attempts += 1
        if self._attempts <= self.max_retries:
            log.warning("%s: retry %d/%d (%s)", self.name, self._attempts, self.max_retries, reason)
            self._stop_event.wait(min(0.2 * 2**self._attempts, 5.0))
            return True
        rest = batch[first_failed:]
        log.error("%s: dropping %d record(s) after %d retries (%s)", self.name, len(rest), self.max_retries, reason)
        if self.on_failure and self.spec.on_failure_arn:
            self.on_failure(self.spec.on_failure_arn, self._failure_record(rest, reason))
        del self._pending[: len(rest)]
        self._attempts = 0
        return True

    def _failure_record(self, records: list[dict[str, Any]], reason: str) -> dict[str, Any]:
        seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
        return {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.spec.function,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": self.max_retries + 1},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": reason},
            "version": "1.0",
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "DDBStreamBatchInfo": {"shardId": "shardId-local", "startSequenceNumber": seqs[0],
                                   "endSequenceNumber": seqs[-1], "batchSize": len(records),
                                   "streamArn": self.spec.source_arn},
        }  # fmt: skip


class QueuePump(_Pump):
    """One SQS queue -> one function (an event source mapping)."""

    def __init__(
        self,
        spec: EventSourceSpec,
        dispatcher: Dispatcher,
        client: Any,
        queue_url: str,
        *,
        region: str,
        poll_interval: float = 0.2,
        wait_seconds: int = 1,
        retry_delay: float | None = 2.0,
    ):
        super().__init__(f"queue:{spec.logical_id}", poll_interval=poll_interval)
        self.spec, self.dispatcher, self.client, self.queue_url, self.region = (
            spec,
            dispatcher,
            client,
            queue_url,
            region,
        )
        self.wait_seconds = wait_seconds
        # None: failed messages reappear after the queue's visibility timeout (AWS behaviour);
        # a number: they reappear after min(that, visibility timeout), to keep local retries quick.
        self.retry_delay = retry_delay

    def step(self) -> bool:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.spec.batch_size and not self.stopping:
            resp = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.spec.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else self.wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = resp.get("Messages") or []
            messages.extend(got)
            if not got:
                break
        if not messages:
            return False
        records = [sqs_record(m, queue_arn=self.spec.source_arn, region=self.region) for m in messages]
        if self.spec.filters:
            dropped = [r for r in records if not any(matches(p, filter_view(r)) for p in self.spec.filters)]
            self._delete_records(dropped)  # filtered-out messages are deleted, as on AWS
            records = [r for r in records if r not in dropped]
            if not records:
                return True
        self.batches += 1
        try:
            result = self.dispatcher.invoke(
                self.spec.function, {"Records": records}, source=f"queue:{self.spec.logical_id}"
            )
        except FunctionError as exc:
            log.warning("%s: batch of %d failed (%s); messages return to the queue", self.name, len(records), exc)
            self.errors += 1
            self._retry_later(records)
            return True
        failed = set(failed_ids(result) or []) if self.spec.report_batch_item_failures else set()
        ok = [r for r in records if r["messageId"] not in failed]
        if failed:
            self.errors += 1
            known = {r["messageId"] for r in records}
            if not failed <= known:  # an unknown identifier fails the whole batch, as on AWS
                ok = []
            self._retry_later([r for r in records if r not in ok])
        self._delete_records(ok)
        return True

    def _delete_records(self, records: list[dict[str, Any]]) -> None:
        for i in range(0, len(records), 10):
            chunk = records[i : i + 10]
            if chunk:
                self.client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(n), "ReceiptHandle": r["receiptHandle"]} for n, r in enumerate(chunk)],
                )

    def _retry_later(self, records: list[dict[str, Any]]) -> None:
        if self.retry_delay is None:
            return
        for r in records:
            try:
                self.client.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=r["receiptHandle"], VisibilityTimeout=int(self.retry_delay)
                )
            except Exception:  # the message may have moved to the DLQ meanwhile
                log.debug("could not shorten the visibility of %s", r["messageId"], exc_info=True)


class SchedulePump(_Pump):
    """Fires every schedule at its times; ``fire(name)`` runs one now (for the local API and tests)."""

    def __init__(
        self,
        stack: LocalStack,
        dispatcher: Dispatcher,
        *,
        start_execution: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
        tick: float = 1.0,
    ):
        super().__init__("schedules", poll_interval=tick)
        self.stack, self.dispatcher, self.start_execution, self.clock = stack, dispatcher, start_execution, clock
        now = clock()
        self._next: dict[str, float] = {}
        for spec in stack.schedules:
            if spec.enabled:
                nxt = self._next_time(spec, now)
                if nxt is not None:
                    self._next[spec.logical_id] = nxt
        self.fired: list[str] = []

    @staticmethod
    def _next_time(spec: ScheduleSpec, after: float) -> float | None:
        seconds = rate_seconds(spec.expression)
        if seconds is not None:
            return after + seconds
        if spec.expression.startswith("cron("):
            try:
                nxt = Cron(spec.expression).next_after(dt.datetime.fromtimestamp(after, dt.UTC))
            except ValueError as exc:
                log.warning("schedule %s: %s; it will only run on demand", spec.logical_id, exc)
                return None
            return nxt.timestamp() if nxt else None
        if spec.expression.startswith("at("):
            try:
                when = dt.datetime.fromisoformat(spec.expression[3:-1]).replace(tzinfo=dt.UTC).timestamp()
            except ValueError:
                return None
            return when if when > after else None
        log.warning("schedule %s: unsupported expression %r", spec.logical_id, spec.expression)
        return None

    def step(self) -> bool:
        now = self.clock()
        for spec in self.stack.schedules:
            due = self._next.get(spec.logical_id)
            if due is not None and due <= now:
                nxt = self._next_time(spec, now)
                if nxt is None:
                    self._next.pop(spec.logical_id, None)
                else:
                    self._next[spec.logical_id] = nxt
                self.fire(spec.logical_id)
        return False

    def fire(self, name: str) -> int:
        """Run the targets of the schedule whose logical id or name starts with ``name``; returns how many ran."""
        specs = [s for s in self.stack.schedules if s.logical_id.startswith(name) or s.name.startswith(name)]
        if not specs:
            raise KeyError(f"no schedule named {name!r}")
        ran = 0
        for spec in specs:
            self.fired.append(spec.logical_id)
            for target in spec.targets:
                payload = target.input if target.input is not None else json.dumps(scheduled_event(spec, self.stack))
                if self.stack.function(target.arn) is not None:
                    self.dispatcher.invoke_async(target.arn, payload, source=f"schedule:{spec.logical_id}")
                    ran += 1
                elif ":states:" in target.arn and self.start_execution is not None:
                    self.start_execution(target.arn, payload)
                    ran += 1
                else:
                    log.warning("schedule %s: target %s is not runnable locally", spec.logical_id, target.arn)
        return ran


def streams_client(session: Any) -> Any:
    """A DynamoDB Streams client that reaches moto.

    botocore >= 1.40 derives an account-based endpoint (``{account}.streams-ddb.{region}...``) from the
    stream ARN, which moto's in-process interception does not recognise; pin the classic endpoint unless
    an explicit endpoint (the moto server) is configured.
    """
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODBSTREAMS") or os.environ.get("AWS_ENDPOINT_URL"):
        return session.client("dynamodbstreams")
    region = session.region_name or "us-east-1"
    return session.client("dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com")


# ------------------------------------------------------------------------------------------------
# all pumps of a stack
# ------------------------------------------------------------------------------------------------
class Pumps:
    """Starts one pump per event source mapping, plus the schedules."""

    def __init__(
        self,
        stack: LocalStack,
        dispatcher: Dispatcher,
        session: Any,
        *,
        poll_interval: float = 0.2,
        sqs_retry_delay: float | None = 2.0,
        schedules: bool = True,
        skip_existing: bool = False,
    ):
        """``skip_existing``: stream pumps start after the records already in their streams (restored data)."""
        self.stack, self.dispatcher = stack, dispatcher
        self.pumps: list[_Pump] = []
        self._signalled = False
        sqs = session.client("sqs")
        streams = streams_client(session)
        sfn = session.client("stepfunctions")

        def send_failure(destination: str, record: dict[str, Any]) -> None:
            if ":sqs:" in destination:
                sqs.send_message(QueueUrl=self._queue_url(sqs, destination), MessageBody=json.dumps(record))
            elif ":sns:" in destination:
                session.client("sns").publish(TopicArn=destination, Message=json.dumps(record))

        for spec in stack.event_sources:
            if not spec.enabled:
                continue
            if spec.kind == "dynamodb":
                pump: _Pump = StreamPump(
                    spec, dispatcher, streams, region=stack.region, poll_interval=poll_interval,
                    on_failure=send_failure, from_latest=skip_existing,
                )  # fmt: skip
                pump.open()  # type: ignore[attr-defined]
            elif spec.kind == "sqs":
                pump = QueuePump(
                    spec, dispatcher, sqs, self._queue_url(sqs, spec.source_arn), region=stack.region,
                    poll_interval=poll_interval, retry_delay=sqs_retry_delay,
                )  # fmt: skip
            else:
                log.warning("event source %s (%s) is not pumped locally", spec.logical_id, spec.kind)
                continue
            self.pumps.append(pump)

        def start_execution(arn: str, payload: str) -> None:
            sfn.start_execution(stateMachineArn=arn, name=f"schedule-{uuid.uuid4().hex[:12]}", input=payload)

        self.schedules = SchedulePump(stack, dispatcher, start_execution=start_execution) if schedules else None
        if self.schedules is not None:
            self.pumps.append(self.schedules)

    def _queue_url(self, sqs: Any, arn: str) -> str:
        for res in self.stack.by_type("AWS::SQS::Queue"):
            if res.attrs.get("Arn") == arn:
                return str(res.ref)
        return str(sqs.get_queue_url(QueueName=arn.rsplit(":", maxsplit=1)[-1])["QueueUrl"])

    def start(self) -> None:
        STREAM_SIGNAL.install()
        self._signalled = True
        for pump in self.pumps:
            pump.start()

    def signal_stop(self) -> None:
        """Tell every pump to stop without waiting for it (``stop`` waits)."""
        for pump in self.pumps:
            pump.stop()

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        deadline = time.monotonic() + timeout
        for pump in self.pumps:
            if pump.is_alive():
                pump.join(max(0.0, deadline - time.monotonic()))
        if self._signalled:
            self._signalled = False
            STREAM_SIGNAL.uninstall()

    def describe(self) -> list[str]:
        return [p.name for p in self.pumps]
