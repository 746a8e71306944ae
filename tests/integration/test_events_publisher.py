"""The events publisher against moto, one source at a time: a real write through the capability's own
repository -> the table's stream record (NEW_AND_OLD_IMAGES, as moto records it, shaped as Lambda delivers
it) -> the publisher (``create_app(settings, deps)``) -> PutEvents on a moto bus -> a rule -> an SQS queue, read
back as an app would.
Every event read back is validated against its schema. PutEvents partial failures use botocore's Stubber
(moto never refuses an entry): refused entries are retried, and a record whose events stay refused is
reported, with every record before it published exactly once."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from service.channels.repository import DynamoDBKickingRules, KickingRule
from service.events.bus import EventBridgeBus
from service.events.publisher import PublisherDependencies, RecordingsBySid, create_app
from service.events.settings import PublisherSettings
from service.media.repository import MediaRepository
from service.presence.repository import DynamoDBPresence
from service.recordings.repository import RecordingsRepository
from service.recordings.repository import from_item as recording

from local.event_filter import stream_record
from tests.support.event_contracts import assert_valid

REGION = "us-east-1"
BUS = "Test-events"
TABLES = {"recordings": "Recordings", "presence": "Presence", "media": "Media", "rules": "KickingRules"}


def _table(ddb: Any, name: str, keys: list[tuple[str, str, str]], **extra: Any) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys]
        + extra.pop("more_attributes", []),
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        **extra,
    )


class World:
    def __init__(self) -> None:
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.streams = boto3.client(
            "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
        )
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        _table(
            self.ddb, TABLES["recordings"], [("pk", "S", "HASH")],
            more_attributes=[{"AttributeName": "sid", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "bySid", "KeySchema": [{"AttributeName": "sid", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}],
        )  # fmt: skip
        _table(self.ddb, TABLES["presence"], [("channel", "S", "HASH"), ("uid", "S", "RANGE")])
        _table(self.ddb, TABLES["media"], [("sid", "S", "HASH"), ("key", "S", "RANGE")])
        _table(self.ddb, TABLES["rules"], [("id", "N", "HASH")])
        self.iterators: dict[str, str] = {}
        for name in TABLES.values():
            arn = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
            shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self.iterators[name] = self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        self.events.create_event_bus(Name=BUS)
        self.queue = self.sqs.create_queue(QueueName="app-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = json.dumps({"source": [{"prefix": "agora-serverless."}]})
        self.events.put_rule(Name="app", EventBusName=BUS, EventPattern=pattern)
        self.events.put_targets(Rule="app", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        settings = PublisherSettings(
            event_bus_name=BUS, recordings_table=TABLES["recordings"], presence_table=TABLES["presence"],
            media_table=TABLES["media"], kicking_rules_table=TABLES["rules"],
        )  # fmt: skip
        self.settings = settings
        self.deps = PublisherDependencies(
            bus=EventBridgeBus(client=self.events, sleep=lambda _s: None),
            recording_of_sid=RecordingsBySid(TABLES["recordings"], client=self.ddb),
        )

    def records(self, table: str) -> list[dict[str, Any]]:
        """The new stream records of ``table``, as Lambda hands them to the function."""
        answer = self.streams.get_records(ShardIterator=self.iterators[table])
        self.iterators[table] = answer["NextShardIterator"]
        arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        return [stream_record(r, stream_arn=arn, region=REGION) for r in answer["Records"]]

    def publish(self, table: str) -> dict[str, Any]:
        return create_app(self.settings, self.deps)({"Records": self.records(table)})

    def received(self) -> list[dict[str, Any]]:
        """Every envelope the app's queue got so far, each validated against its schema."""
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages") or []
            if not got:
                return out
            for message in got:
                envelope = json.loads(message["Body"])
                assert_valid(envelope)
                out.append(envelope)
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield World()


def _types(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in envelopes]


def test_recordings_stream_a_recording_from_request_to_files(world: World):
    repo = RecordingsRepository(TABLES["recordings"], client=world.ddb)
    outcome = repo.create(recording({"recordingId": "r1", "channel": "c1", "mode": "mix", "status": "REQUESTED",
                           "createdAt": 1_796_600_000_000, "requestedBy": "admin-1"}))  # fmt: skip
    assert outcome.kind == "created"
    repo.transition("r1", "STARTING")
    repo.transition("r1", "RECORDING", set_={"sid": "sid-1", "startedAt": 1_796_600_001_000, "taskToken": "T0KEN"})
    repo.transition("r1", "STOPPING", set_={"stopReason": "api"})
    repo.transition("r1", "STOPPED", set_={"stoppedAt": 1_796_600_060_000, "outcome": "stopped"})
    repo.set_if_newer("r1", "uploadSeq", 4, {"uploadingStatus": "uploaded"})
    repo.set_if_newer("r1", "uploadSeq", 4, {"uploadingStatus": "uploaded"})  # a duplicate NCS 31: no write
    assert world.publish(TABLES["recordings"]) == {"batchItemFailures": []}
    received = world.received()
    assert _types(received) == [
        "Recording Requested", "Recording Started", "Recording Stopped", "Recording Files Ready",
    ]  # fmt: skip
    details = [e["detail"] for e in received]
    assert {d["ordering_key"] for d in details} == {"recording:r1"}
    assert [int(d["sequence"]) for d in details] == sorted(int(d["sequence"]) for d in details)
    assert details[2]["reason"] == "api" and details[1]["sid"] == "sid-1"
    assert "T0KEN" not in json.dumps(received)
    assert all(e["source"] == "agora-serverless.recordings" for e in received)


def test_a_redelivered_batch_carries_the_same_event_ids(world: World):
    repo = RecordingsRepository(TABLES["recordings"], client=world.ddb)
    repo.create(recording({"recordingId": "r2", "channel": "c2", "mode": "mix", "status": "REQUESTED", "createdAt": 1}))
    records = world.records(TABLES["recordings"])
    create_app(world.settings, world.deps)({"Records": records})
    create_app(world.settings, world.deps)({"Records": records})  # Lambda delivers the same batch again
    first, second = world.received()
    assert first["detail"]["event_id"] == second["detail"]["event_id"]
    assert first["id"] != second["id"]  # EventBridge's own id differs: de-duplicate on detail.event_id


def test_media_stream_integrity_and_duration_name_their_recording(world: World):
    RecordingsRepository(TABLES["recordings"], client=world.ddb).create(
        recording(
            {"recordingId": "r3", "channel": "c3", "mode": "mix", "status": "REQUESTED", "createdAt": 1, "sid": "sid-3"}
        )
    )
    media = MediaRepository(TABLES["media"], client=world.ddb)
    media.put_integrity("sid-3", {"sid": "sid-3", "status": "pending", "missing_count": 0, "segments": 2,
                                  "checked_at": 1_796_600_000_000})  # fmt: skip
    media.put_integrity("sid-3", {"sid": "sid-3", "status": "complete", "missing_count": 0, "segments": 3,
                                  "missing": [], "checked_at": 1_796_600_001_000})  # fmt: skip
    revision = media.bump_revision("sid-3")
    totals = {"sid": "sid-3", "duration_us": 6_000_000, "duration_seconds": "6.000000", "ended": True,
              "segments": 3, "longest_stream_us": 6_000_000, "streams": {"mix": {}}}  # fmt: skip
    assert media.put_totals("sid-3", totals, revision)
    assert world.publish(TABLES["media"]) == {"batchItemFailures": []}
    received = world.received()
    assert sorted(_types(received)) == ["Recording Duration Computed", "Recording Integrity Checked"]
    assert {e["detail"]["recording_id"] for e in received} == {"r3"}


def test_presence_stream_join_leave_and_close(world: World):
    presence = DynamoDBPresence(TABLES["presence"], client=world.ddb)
    stamp = {"updatedAt": 1, "noticeId": "n1"}
    session = {"platform": 1, "bot": False, "joinedTs": 100}
    presence.put_channel("c4", ts=99, presence={"state": "live", "createdTs": 99}, stamp=stamp)
    presence.put_user("c4", 7, seq=1, presence={"state": "in", "role": "broadcaster", "eventTs": 100},
                      session=session, stamp=stamp)  # fmt: skip
    presence.put_user("c4", 7, seq=1, presence={"state": "in", "role": "broadcaster", "eventTs": 100},
                      session=session, stamp=stamp)  # a duplicate NCS event: refused, no stream record  # fmt: skip
    presence.put_user("c4", 7, seq=2, presence={"state": "in", "role": "audience", "eventTs": 101},
                      session=None, stamp=stamp)  # a role change: no event  # fmt: skip
    presence.put_user("c4", 7, seq=3, presence={"state": "left", "leaveReason": 1, "leaveReasonName": "quit",
                      "leftTs": 160, "sessionDuration": 60}, session=session, stamp=stamp)  # fmt: skip
    presence.put_channel("c4", ts=170, presence={"state": "destroyed", "destroyedTs": 170, "lastUid": 7}, stamp=stamp)
    assert world.publish(TABLES["presence"]) == {"batchItemFailures": []}
    received = world.received()
    assert _types(received) == ["User Joined Channel", "User Left Channel", "Channel Closed"]
    assert received[1]["detail"]["reason_name"] == "quit" and received[1]["detail"]["session_seconds"] == 60
    assert all(e["source"] == "agora-serverless.channels" for e in received)


def test_kicking_rules_stream_created_and_lifted(world: World):
    rules = DynamoDBKickingRules(TABLES["rules"], client=world.ddb)
    rule = KickingRule(id=42, cname="c5", uid=9, ip=None, privileges=("join_channel",), duration_seconds=60,
                       created_at=1_796_600_000, expires_at=1_796_600_060, created_by="admin-1")  # fmt: skip
    rules.put(rule, purge_at=1_796_700_000)
    rules.update_expiry(42, duration_seconds=120, expires_at=1_796_600_120, updated_at=1, purge_at=1_796_700_000)
    assert rules.delete(42)
    assert world.publish(TABLES["rules"]) == {"batchItemFailures": []}
    received = world.received()
    assert _types(received) == ["Kicking Rule Created", "Kicking Rule Lifted"]
    assert received[0]["detail"]["rule_id"] == 42 and received[0]["detail"]["created_by"] == "admin-1"


# ---------------------------------------------------------------------------------------------- failures


def _records(world: World, n: int) -> list[dict[str, Any]]:
    repo = RecordingsRepository(TABLES["recordings"], client=world.ddb)
    for i in range(n):
        repo.create(
            recording(
                {"recordingId": f"f{i}", "channel": f"fc{i}", "mode": "mix", "status": "REQUESTED", "createdAt": i}
            )
        )
    return world.records(TABLES["recordings"])


def test_refused_entries_are_sent_again_and_only_they(world: World):
    records = _records(world, 3)
    client = boto3.client("events", region_name=REGION)
    stub = Stubber(client)
    throttled = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
    stub.add_response(
        "put_events", {"FailedEntryCount": 1, "Entries": [{"EventId": "e0"}, throttled, {"EventId": "e2"}]}
    )
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}]})
    calls: list[list[str]] = []
    client.meta.events.register(
        "provide-client-params.events.PutEvents",
        lambda params, **_: calls.append([json.loads(e["Detail"])["recording_id"] for e in params["Entries"]]),
    )
    deps = PublisherDependencies(
        bus=EventBridgeBus(client=client, sleep=lambda _s: None, rng=random.Random(1)),
        recording_of_sid=world.deps.recording_of_sid,
    )  # fmt: skip
    with stub:
        assert create_app(world.settings, deps)({"Records": records}) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    assert calls == [["f0", "f1", "f2"], ["f1"]]


def test_entries_refused_every_time_report_their_record(world: World):
    records = _records(world, 3)
    client = boto3.client("events", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
        {"EventId": "e0"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"}, {"EventId": "e2"}]})  # fmt: skip
    for _ in range(3):
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]})
    deps = PublisherDependencies(
        bus=EventBridgeBus(client=client, sleep=lambda _s: None, attempts=4),
        recording_of_sid=world.deps.recording_of_sid,
    )  # fmt: skip
    with stub:
        answer = create_app(world.settings, deps)({"Records": records})
        stub.assert_no_pending_responses()
    (owner,) = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == "REC#f1"]  # (locks are items too)
    assert answer == {"batchItemFailures": [{"itemIdentifier": owner["dynamodb"]["SequenceNumber"]}]}


def test_an_unreadable_record_is_reported_and_the_ones_before_it_published(world: World):
    records = [r for r in _records(world, 2) if r["dynamodb"]["Keys"]["pk"]["S"].startswith("REC#")]
    broken = json.loads(json.dumps(records[1]))
    broken["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:123456789012:table/Unknown/stream/x"
    answer = create_app(world.settings, world.deps)({"Records": [records[0], broken]})
    assert answer == {"batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    assert [e["detail"]["recording_id"] for e in world.received()] == ["f0"]
