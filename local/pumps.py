"""What Lambda's pollers and EventBridge do on AWS, done locally: moto records events but runs no poller.

- ``StreamPump``: reads a DynamoDB stream (``dynamodbstreams`` get_records) and calls the mapped handler
  with ``{"Records": [...]}`` shaped as Lambda delivers them; honours ``batchItemFailures`` (checkpoint
  before the first failed sequence number), retries, filters and the on-failure destination.
- ``QueuePump``: receives from an SQS queue and calls the handler; deletes what succeeded, returns
  failures to the queue (its redrive policy then applies, as on AWS).
- ``SchedulePump``: fires ``rate(...)``/``cron(...)`` rules at their times (or on demand).

Each pump is a daemon thread that stops promptly on ``stop()``.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from local.provision import Dispatcher, EventSourceSpec, FunctionError, LocalStack, ScheduleSpec

log = logging.getLogger("local.pumps")


# ------------------------------------------------------------------------------------------------
# event filtering (the subset of EventBridge patterns that Lambda's FilterCriteria accept)
# ------------------------------------------------------------------------------------------------
def matches(pattern: Any, event: Any) -> bool:
    """True if ``event`` satisfies the EventBridge-style ``pattern`` (as Lambda event filtering applies it)."""
    if not isinstance(pattern, dict):
        return False
    if not isinstance(event, dict):
        event = {}
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(p, event) for p in expected):
                return False
            continue
        present = key in event
        value = event.get(key)
        if isinstance(expected, dict):
            if not present or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not _match_values(expected, value, present):
                return False
        else:
            return False
    return True


def _match_values(rules: list[Any], value: Any, present: bool) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, dict):
            if "exists" in rule:
                if bool(rule["exists"]) == present:
                    return True
                continue
            if present and any(_match_rule(rule, v) for v in values):
                return True
        elif present and any(_equal(rule, v) for v in values):
            return True
    return False


def _equal(rule: Any, value: Any) -> bool:
    if isinstance(rule, bool) or isinstance(value, bool):
        return rule is value
    if isinstance(rule, int | float) and isinstance(value, int | float):
        return float(rule) == float(value)
    return rule == value


def _match_rule(rule: dict[str, Any], value: Any) -> bool:  # noqa: PLR0911 - one return per operator
    if "prefix" in rule:
        return isinstance(value, str) and value.startswith(str(rule["prefix"]))
    if "suffix" in rule:
        return isinstance(value, str) and value.endswith(str(rule["suffix"]))
    if "equals-ignore-case" in rule:
        return isinstance(value, str) and value.lower() == str(rule["equals-ignore-case"]).lower()
    if "anything-but" in rule:
        excluded = rule["anything-but"]
        if isinstance(excluded, dict):
            return not _match_rule(excluded, value)
        excluded = excluded if isinstance(excluded, list) else [excluded]
        return not any(_equal(e, value) for e in excluded)
    if "numeric" in rule:
        if not isinstance(value, int | float) or isinstance(value, bool):
            try:
                value = float(value)
            except (TypeError, ValueError):
                return False
        ops = rule["numeric"]
        checks: dict[str, Callable[[float, float], bool]] = {
            "=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }  # fmt: skip
        pairs = [(ops[i], ops[i + 1]) for i in range(0, len(ops) - 1, 2)]
        return bool(pairs) and all(checks[op](float(value), float(n)) for op, n in pairs)
    return False


# ------------------------------------------------------------------------------------------------
# event shapes
# ------------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """boto3's parsed values back to the JSON Lambda puts in events (bytes -> base64, datetime -> epoch)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def stream_record(record: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    out = _plain(record)
    out["eventVersion"] = "1.1"
    out["eventSource"] = "aws:dynamodb"
    out["awsRegion"] = region
    out["eventSourceARN"] = stream_arn
    return out


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
    message_attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {"dataType": attr.get("DataType"), "stringListValues": [], "binaryListValues": []}
        if "StringValue" in attr:
            entry["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            entry["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
        message_attributes[name] = entry
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What a filter pattern sees: SQS bodies are matched as JSON when they are JSON, as on AWS."""
    if record.get("eventSource") == "aws:sqs":
        view = dict(record)
        with contextlib.suppress(ValueError):
            view["body"] = json.loads(record.get("body", ""))
        return view
    return record


def _failed_ids(result: Any) -> list[str] | None:
    """The ``itemIdentifier``s a handler reported; None when the response is not a partial-failure report."""
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return None
    failures = result.get("batchItemFailures") or []
    return [str(f.get("itemIdentifier")) for f in failures if isinstance(f, dict)]


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
            try:
                worked = self.step()
            except Exception:
                self.errors += 1
                log.exception("%s: polling failed", self.name)
                worked = False
            if not worked:
                self._stop_event.wait(self.poll_interval)

    def step(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class StreamPump(_Pump):
    """One DynamoDB stream -> one function (an event source mapping)."""

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
    ):
        super().__init__(f"stream:{spec.logical_id}", poll_interval=poll_interval)
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
        kind = "LATEST" if self.spec.starting_position == "LATEST" else "TRIM_HORIZON"
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
        failed = _failed_ids(result) if self.spec.report_batch_item_failures else None
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
            dropped = [r for r in records if not any(matches(p, _filter_view(r)) for p in self.spec.filters)]
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
        failed = set(_failed_ids(result) or []) if self.spec.report_batch_item_failures else set()
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


# ------------------------------------------------------------------------------------------------
# schedules
# ------------------------------------------------------------------------------------------------
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


def rate_seconds(expression: str) -> int | None:
    m = _RATE.match(expression.strip())
    if not m:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[m.group(2).rstrip("s")]
    return int(m.group(1)) * unit


def _cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    out: set[int] = set()
    for item in text.split(","):
        step = 1
        part = item
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _cron_value(a, names), _cron_value(b, names)
        else:
            start = _cron_value(part, names)
            end = high if "/" in text else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field {text!r} out of range {low}-{high}")
        out.update(range(start, end + 1, step))
    return out


def _cron_value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"unsupported cron value {text!r} (L, W and # are not supported locally)")
    return int(text)


class Cron:
    """EventBridge ``cron(min hour day-of-month month day-of-week year)`` in UTC."""

    def __init__(self, expression: str):
        body = expression.strip()
        if not (body.startswith("cron(") and body.endswith(")")):
            raise ValueError(f"not a cron expression: {expression!r}")
        fields = body[5:-1].split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields, got {len(fields)}: {expression!r}")
        self.minutes = _cron_field(fields[0], 0, 59)
        self.hours = _cron_field(fields[1], 0, 23)
        self.dom_any = fields[2] in ("*", "?")
        self.days = _cron_field(fields[2], 1, 31)
        self.months = _cron_field(fields[3], 1, 12, _MONTHS)
        self.dow_any = fields[4] in ("*", "?")
        self.weekdays = _cron_field(fields[4], 1, 7, _DAYS)
        self.years = _cron_field(fields[5], 1970, 2199)

    def matches(self, when: dt.datetime) -> bool:
        weekday = (when.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
        day_ok = (self.dom_any or when.day in self.days) and (self.dow_any or weekday in self.weekdays)
        return (
            when.minute in self.minutes and when.hour in self.hours and when.month in self.months
            and when.year in self.years and day_ok
        )  # fmt: skip

    def next_after(self, when: dt.datetime) -> dt.datetime | None:
        t = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(t):
                return t
            t += dt.timedelta(minutes=1)
        return None


def scheduled_event(spec: ScheduleSpec, stack: LocalStack) -> dict[str, Any]:
    arn = str(stack.resolver.get_att(spec.logical_id, "Arn")) if spec.logical_id in stack.resources else spec.name
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": stack.account, "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region, "resources": [arn], "detail": {},
    }  # fmt: skip


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
    ):
        self.stack, self.dispatcher = stack, dispatcher
        self.pumps: list[_Pump] = []
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
                    spec, dispatcher, streams, region=stack.region, poll_interval=poll_interval, on_failure=send_failure
                )
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
        for pump in self.pumps:
            pump.start()

    def stop(self, timeout: float = 5.0) -> None:
        for pump in self.pumps:
            pump.stop()
        deadline = time.monotonic() + timeout
        for pump in self.pumps:
            if pump.is_alive():
                pump.join(max(0.0, deadline - time.monotonic()))

    def describe(self) -> list[str]:
        return [p.name for p in self.pumps]
