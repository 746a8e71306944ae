"""Cost per 1,000 recordings and per 1M webhook deliveries, at list prices, from counts measured here.

Everything is counted, not assumed, on the synthesized stack provisioned into moto with the real handlers
(tests/workflow/recording_env.py): state transitions (``*StateEntered`` history events), Lambda invocations
per function (the in-process dispatcher's record) and their GB-seconds (each function's configured memory x
the measured duration on this machine, a proxy for Lambda's billed duration), DynamoDB read and write
request units (every botocore call a handler makes while it runs: 1 unit per KB written, transactions x2,
strongly consistent reads 1 per 4 KB), SQS messages and Secrets Manager calls.

- Recordings: ``RECORDINGS`` recordings started and stopped through the API (2 HTTP requests each).
- Webhooks: ``DELIVERIES`` signed NCS notices posted to the intake function (each notice twice, as Agora
  resends), then the inbox's new items handed to the processor in stream batches of 100, as Lambda does.
- Events: the recordings and presence tables' stream records those two runs wrote (read from moto's streams),
  handed to the events publisher in batches of 100; its PutEvents entries are the events counted. The
  cost per 1M events: EventBridge custom events ($1.00 per million), the publisher's requests and
  GB-seconds, its reads (the media events' sid lookup), and the stream reads (one GetRecords per batch
  counted; free when Lambda's trigger makes them, DynamoDB's pricing).

The peer is the polling workflow of bench_workflow (``Wait 2 min -> Query -> Choice``), run in the same moto
for a 1-hour recording: same Lambda and DynamoDB counts as ours (its Agora polls are stand-ins), its own
transitions. Prices: us-east-1 list prices for arm64 (``PRICES``); free tiers ignored.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.bench_workflow import _entered, _environment, _quiet_handlers, measure_naive, naive_definition

RECORDINGS = 5
DELIVERIES = 400  # 200 distinct notices, each delivered twice
STREAM_BATCH = 100
PRICES = {
    "transition": 0.025 / 1_000,  # Step Functions Standard
    "lambda_request": 0.20 / 1_000_000,
    "gb_second": 0.0000133334,  # Lambda arm64
    "wru": 0.625 / 1_000_000,  # DynamoDB on-demand write request unit
    "rru": 0.125 / 1_000_000,  # DynamoDB on-demand read request unit
    "api_request": 1.00 / 1_000_000,  # API Gateway HTTP API, first 300M
    "sqs_request": 0.40 / 1_000_000,
    "secrets_call": 0.05 / 10_000,
    "custom_event": 1.00 / 1_000_000,  # EventBridge PutEvents, per 64 KB chunk of an entry
    "stream_read_lambda": 0.0,  # GetRecords by a Lambda trigger: not charged (other readers: $0.02 per 100,000)
}
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
READS = {"GetItem", "Query", "Scan"}


class Meter:
    """Counts the AWS calls made while a handler runs (the dispatcher marks those threads)."""

    def __init__(self, dispatcher: Any):
        self.dispatcher = dispatcher
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def record(self, operation: str, params: dict[str, Any]) -> None:
        if not getattr(self.dispatcher.current, "active", False):
            return
        units = Counter[str]()
        if operation in WRITES:
            units["wru"] += _kb_units(params.get("Item") or params.get("Key") or {}, 1024)
        elif operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                (body,) = item.values()
                units["wru"] += 2 * _kb_units(body.get("Item") or body.get("Key") or {}, 1024)
        elif operation in READS:
            consistent = params.get("ConsistentRead", False)
            units["rru"] += 1 if consistent else 0.5
        elif operation in ("SendMessage", "SendMessageBatch"):
            units["sqs"] += len(params.get("Entries", [None]))
        elif operation in ("GetSecretValue", "DescribeSecret"):
            units["secrets"] += 1
        elif operation == "PutEvents":
            units["events"] += sum(max(1, math.ceil(len(json.dumps(e)) / 65_536)) for e in params.get("Entries", []))
        with self.lock:
            self.counts.update(units)
            self.counts[f"call:{operation}"] += 1

    def snapshot(self) -> tuple[Counter[str], int]:
        with self.lock:
            return Counter(self.counts), len(self.dispatcher.invocations)


def _kb_units(item: dict[str, Any], size: int) -> int:
    return max(1, math.ceil(len(json.dumps(item)) / size))


@contextmanager
def metered(dispatcher: Any) -> Iterator[Meter]:
    from botocore.client import BaseClient

    meter = Meter(dispatcher)
    original = BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        meter.record(operation_name, api_params)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def lambda_usage(rs: Any, since: int) -> tuple[Counter[str], float]:
    calls: Counter[str] = Counter()
    gb_seconds = 0.0
    for inv in rs.dispatcher.invocations[since:]:
        spec = rs.stack.function(inv.function)
        calls[spec.logical_id.rstrip("0123456789ABCDEF") if spec else inv.function] += 1
        gb_seconds += (spec.memory_size if spec else 128) / 1024 * max(inv.duration_ms, 1.0) / 1000
    return calls, gb_seconds


def measure_recordings(rs: Any, meter: Meter) -> dict[str, Any]:
    before, first = meter.snapshot()
    transitions = 0
    for _ in range(RECORDINGS):
        channel = "cost" + uuid.uuid4().hex[:8]
        rs.emulator.join(channel, 1001, role="host")
        status, body = rs.api("POST", "/recordings", body={"channel": channel})
        assert status == 202, body
        recording_id = body["recording_id"]
        rs.wait_status(recording_id, "RECORDING")
        time.sleep(0.5)
        rs.api("POST", f"/recordings/{recording_id}/stop")
        described = rs.wait_execution(recording_id, timeout=60)
        assert described["status"] == "SUCCEEDED", described["status"]
        transitions += _entered(rs.history(recording_id))
    rs.dispatcher.drain()
    after, _ = meter.snapshot()
    calls, gb_seconds = lambda_usage(rs, first)
    return {
        "n": RECORDINGS,
        "transitions": transitions,
        "lambda": calls,
        "gb_seconds": gb_seconds,
        "units": after - before,
        "api_requests": 2 * RECORDINGS,
    }


def _webhook_events(secrets: dict[str, str]) -> list[dict[str, Any]]:
    from agorakit.ncs.signature import signature_headers

    base = {
        "noticeId": "n",
        "productId": 1,
        "eventType": 103,
        "notifyMs": 1,
        "payload": {"channelName": "costc", "uid": 12121212, "platform": 1, "clientSeq": 1, "ts": 1},
    }
    events = []
    for i in range(DELIVERIES // 2):
        notice = copy.deepcopy(base)
        notice["noticeId"] = f"cost-{i}"
        notice["eventType"] = 103 if i % 2 == 0 else 104  # joins and leaves
        notice["payload"]["uid"] = 1000 + i // 2
        notice["payload"]["clientSeq"] = i
        for attempt in range(2):
            notice["notifyMs"] = 1_700_000_000_000 + i * 10 + attempt
            body = json.dumps(notice, separators=(",", ":"))
            headers = {k.lower(): v for k, v in signature_headers(secrets["1"], body.encode()).items()}
            headers["content-type"] = "application/json"
            events.append(
                {
                    "version": "2.0",
                    "routeKey": "POST /webhooks/agora",
                    "rawPath": "/webhooks/agora",
                    "rawQueryString": "",
                    "headers": headers,
                    "body": body,
                    "isBase64Encoded": False,
                    "requestContext": {
                        "http": {"method": "POST", "path": "/webhooks/agora", "sourceIp": "203.0.113.5"},
                        "stage": "$default",
                        "routeKey": "POST /webhooks/agora",
                    },
                }
            )
    return events


def measure_webhooks(rs: Any, meter: Meter) -> dict[str, Any]:
    import boto3

    env = rs.stack.environment()
    secrets = {"1": "cost-rtc-secret", "3": "cost-recording-secret"}
    boto3.client("secretsmanager").create_secret(Name=env["NCS_SECRET_NAME"], SecretString=json.dumps(secrets))
    intake = rs.stack.function("WebhooksIntakeFunction")
    processor = rs.stack.function("WebhooksProcessorFunction")
    assert intake is not None and processor is not None
    before, first = meter.snapshot()
    statuses = Counter(rs.dispatcher.invoke(intake.name, e)["statusCode"] for e in _webhook_events(secrets))
    assert set(statuses) == {200}, statuses
    ddb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    page: dict[str, Any] = {"LastEvaluatedKey": None}
    while "LastEvaluatedKey" in page:
        kwargs = {"TableName": env["INBOX_TABLE"]}
        if page["LastEvaluatedKey"]:
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
    assert len(items) == DELIVERIES // 2, len(items)
    records = [
        {
            "eventID": str(i),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{env['INBOX_TABLE']}/stream/x",
            "dynamodb": {
                "Keys": {"noticeId": item["noticeId"]},
                "NewImage": item,
                "SequenceNumber": str(100 + i),
                "SizeBytes": len(json.dumps(item)),
                "StreamViewType": "NEW_IMAGE",
                "ApproximateCreationDateTime": 1_700_000_000,
            },
        }
        for i, item in enumerate(sorted(items, key=lambda it: it["noticeId"]["S"]))
    ]
    for start in range(0, len(records), STREAM_BATCH):
        result = rs.dispatcher.invoke(processor.name, {"Records": records[start : start + STREAM_BATCH]})
        assert not (result or {}).get("batchItemFailures"), result
    after, _ = meter.snapshot()
    calls, gb_seconds = lambda_usage(rs, first)
    return {
        "n": DELIVERIES,
        "transitions": 0,
        "lambda": calls,
        "gb_seconds": gb_seconds,
        "units": after - before,
        "api_requests": DELIVERIES,
    }


def measure_events(rs: Any, meter: Meter) -> dict[str, Any]:
    """The publisher over the recordings and presence streams of the runs above (see the module docstring)."""
    import boto3

    from local.event_filter import stream_record
    from local.pumps import streams_client

    env = rs.stack.environment()
    boto3.client("events").create_event_bus(Name=env["EVENT_BUS_NAME"])
    publisher = rs.stack.function("EventsPublisherFunction")
    assert publisher is not None
    streams = streams_client(boto3.session.Session())
    before, first = meter.snapshot()
    batches = 0
    for table in (env["RECORDINGS_TABLE"], env["PRESENCE_TABLE"]):
        arn = rs.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = [stream_record(r, stream_arn=arn, region="us-east-1")
                   for r in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]  # fmt: skip
        for start in range(0, len(records), STREAM_BATCH):
            result = rs.dispatcher.invoke(publisher.name, {"Records": records[start : start + STREAM_BATCH]})
            assert not (result or {}).get("batchItemFailures"), result
            batches += 1
    after, _ = meter.snapshot()
    calls, gb_seconds = lambda_usage(rs, first)
    units = after - before
    units["stream_reads"] = batches
    return {"n": units["events"], "transitions": 0, "lambda": calls, "gb_seconds": gb_seconds, "units": units,
            "api_requests": 0}  # fmt: skip


def dollars(m: dict[str, Any], per: int, extra_transitions: int = 0) -> dict[str, float]:
    scale = per / m["n"]
    units = m["units"]
    extra = {}
    if units["events"]:
        extra = {
            "EventBridge events": units["events"] * scale * PRICES["custom_event"],
            "Stream reads (Lambda trigger)": units["stream_reads"] * scale * PRICES["stream_read_lambda"],
        }
    return {
        **extra,
        "Step Functions": (m["transitions"] + extra_transitions) * scale * PRICES["transition"],
        "Lambda requests": sum(m["lambda"].values()) * scale * PRICES["lambda_request"],
        "Lambda GB-s": m["gb_seconds"] * scale * PRICES["gb_second"],
        "DynamoDB writes": units["wru"] * scale * PRICES["wru"],
        "DynamoDB reads": units["rru"] * scale * PRICES["rru"],
        "API Gateway": m["api_requests"] * scale * PRICES["api_request"],
        "SQS": units["sqs"] * scale * PRICES["sqs_request"],
        "Secrets Manager": units["secrets"] * scale * PRICES["secrets_call"],
    }


def report(title: str, m: dict[str, Any], per: int, per_label: str) -> float:
    scale = per / m["n"]
    print(f"\n{title}: measured on {m['n']}, per {per_label}")
    print(f"  state transitions        {m['transitions'] * scale:>14,.0f}")
    for fn, n in sorted(m["lambda"].items()):
        print(f"  invocations {fn:<28} {n * scale:>12,.0f}")
    print(f"  Lambda GB-seconds        {m['gb_seconds'] * scale:>14,.1f}")
    print(
        f"  DynamoDB write units     {m['units']['wru'] * scale:>14,.0f}   read units {m['units']['rru'] * scale:,.0f}"
    )
    print(
        f"  SQS messages             {m['units']['sqs'] * scale:>14,.0f}   Secrets Manager calls "
        f"{m['units']['secrets'] * scale:,.0f}"
    )
    costs = dollars(m, per)
    for item, usd in costs.items():
        print(f"  ${usd:>12,.4f}  {item}")
    total = sum(costs.values())
    print(f"  ${total:>12,.4f}  total per {per_label}")
    return total


def main() -> int:
    _environment()
    from tests.workflow.recording_env import recording_stack

    print("building the stack (synth + provision into moto) ...", flush=True)
    with recording_stack() as rs:
        _quiet_handlers()
        with metered(rs.dispatcher) as meter:
            recordings = measure_recordings(rs, meter)
            webhooks = measure_webhooks(rs, meter)
            events = measure_events(rs, meter)
        naive_arn = rs.sfn.create_state_machine(
            name="CostPollingPeer",
            definition=naive_definition(),
            roleArn="arn:aws:iam::123456789012:role/agora-serverless-local-lambda",
        )["stateMachineArn"]
        peer_transitions = measure_naive(rs.sfn, naive_arn, 3600)

    ours = report("Recordings", recordings, 1_000, "1,000 recordings (any length)")
    report("Webhook deliveries", webhooks, 1_000_000, "1M deliveries")
    report("Events published", events, 1_000_000, "1M events")
    print(f"  (stream batches read: {events['units']['stream_reads'] * 1_000_000 / events['n']:,.0f} per 1M events)")
    ours_sfn = recordings["transitions"] / recordings["n"]
    peer_extra = (peer_transitions - ours_sfn) * recordings["n"]
    peer = sum(dollars(recordings, 1_000, extra_transitions=round(peer_extra)).values())
    print(f"\npeer: polling workflow, 1-hour recordings: {peer_transitions} transitions each (ours {ours_sfn:.0f})")
    print(f"  per 1,000 recordings: peer ${peer:,.4f}  ours ${ours:,.4f}  ratio peer/ours {peer / ours:5.2f}x")
    if recordings["transitions"] == 0 or sum(webhooks["lambda"].values()) == 0 or events["n"] == 0:
        print("ERROR: nothing was measured", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
