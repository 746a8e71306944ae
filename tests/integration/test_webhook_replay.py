"""Replay: thousands of NCS events, each delivered 3 times, in random order, with DynamoDB throttling.

Pipeline under test, on moto: intake handler -> InboxTable (conditional put) -> the inbox's stream
(read from moto's in-memory shard) -> processor.process_batch in batches, with Lambda's stream semantics
(ReportBatchItemFailures: the batch is re-delivered from the lowest failed sequence number) -> PresenceTable.

Checks: every accepted event is in the inbox exactly once; the final presence equals the result of
applying the base events once, in order (and the simulator's ground truth of who is in each channel);
no presence effect (channel, uid, clientSeq) was applied twice; throttled records were reported and retried.

Over 400 lines on purpose: the replay scenario (generator, pump and checks) is one experiment and reads best in one
place.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from agorakit.ncs.signature import signature_headers
from botocore.exceptions import ClientError
from moto import mock_aws

#: distinct events, each delivered 3 times. ``make test`` replays a seeded sample of 300 (900 deliveries: every
#: event type, duplicate, reordering and throttled retry occurs in it); ``make replay`` the long search
#: (REPLAY_BASE_EVENTS=3000, any REPLAY_SEED). The checks are the same at every size.
BASE_EVENTS = int(os.environ.get("REPLAY_BASE_EVENTS", "300"))
DELIVERIES_PER_EVENT = 3
THROTTLE_RATE = 0.05
BATCH_SIZE = 50
SEED = int(os.environ.get("REPLAY_SEED", "20240611"))
#: throttled presence writes the run must meet: about 5% of them are throttled, so a run of N events meets
#: about N/25; asking for N/60 (at least 5) fails only if the throttling stopped reaching the pump
MIN_THROTTLED = max(5, BASE_EVENTS // 60)
#: (productId, eventType) of everything the simulator emits: RTC channel/host/audience/communication/role events,
#: an undocumented RTC event, a recording event and another product's
EVENT_KINDS = {(1, t) for t in (101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112)} | {(3, 40), (5, 1)}

RTC_SECRET = "replay-rtc-secret"
REC_SECRET = "replay-rec-secret"
INBOX = "replay-inbox"
PRESENCE = "replay-presence"
REFERENCE = "replay-presence-in-order"
SECRET_NAME = "replay/ncs"
BOOKKEEPING = {"updatedAt", "noticeId", "expiresAt"}

CONTEXT = SimpleNamespace(
    function_name="fn",
    function_version="$LATEST",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
    aws_request_id="req",
)


# ---------------------------------------------------------------------------------------------- simulator


@dataclass
class Channel:
    name: str
    live: bool  # live broadcasting (103-106, 111/112) or communication (107/108)
    members: dict[int, str] = field(default_factory=dict)  # uid -> role


@dataclass
class Simulator:
    """Generates a realistic RTC + recording event history and keeps the ground truth."""

    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)
    ts: int = 1_700_000_000
    seq: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    joined_at: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.channels = [Channel(f"room-{i}", live=i % 3 != 0) for i in range(12)]
        self.users = [self.rng.randint(1_000, 3_999_999_999) for _ in range(60)]
        self.users += [2_845_863_044, 3_999_999_999]  # uids above 2^31 are normal
        self.bots = [4_000_000_000 + i for i in range(4)]

    def _emit(self, product: int, event_type: int, payload: dict[str, Any], sid: str | None = None) -> None:
        self.ts += self.rng.randint(1, 3)  # strictly increasing: channel events have second resolution
        event: dict[str, Any] = {
            "noticeId": f"{self.rng.getrandbits(64):016x}:{len(self.events)}",
            "productId": product,
            "eventType": event_type,
            "notifyMs": self.ts * 1000,
            "payload": payload,
        }
        if sid:
            event["sid"] = sid
        if "ts" in payload:
            payload["ts"] = self.ts
        self.events.append(event)

    def _next_seq(self, uid: int) -> int:
        self.seq[uid] += self.rng.randint(1, 5)
        return 1_625_051_030_000 + self.seq[uid]

    def _where(self, uid: int) -> Channel | None:
        return next((c for c in self.channels if uid in c.members), None)

    def join(self, channel: Channel, uid: int, *, bot: bool = False) -> None:
        if not channel.members:
            self._emit(1, 101, {"channelName": channel.name, "ts": 0})
        role = "host" if (bot or not channel.live or self.rng.random() < 0.3) else "audience"
        if not channel.live:
            role = "communication"
        event_type = {"host": 103, "audience": 105, "communication": 107}[role]
        payload: dict[str, Any] = {
            "channelName": channel.name,
            "uid": uid,
            "platform": 6 if bot else self.rng.choice([1, 2, 5, 7, 8]),
            "clientSeq": self._next_seq(uid),
            "ts": 0,
        }
        if bot:
            payload["clientType"] = 10
        if channel.live:
            payload["account"] = f"user-{uid}"
        self._emit(1, event_type, payload)
        channel.members[uid] = role
        self.joined_at[(channel.name, uid)] = self.ts

    def leave(self, channel: Channel, uid: int) -> None:
        role = channel.members.pop(uid)
        event_type = {"host": 104, "audience": 106, "communication": 108}[role]
        payload: dict[str, Any] = {
            "channelName": channel.name,
            "uid": uid,
            "platform": 6 if uid in self.bots else 7,
            "clientSeq": self._next_seq(uid),
            "reason": self.rng.choice([1, 1, 1, 2, 3, 5, 10, 999]),
            "ts": 0,
        }
        if uid in self.bots:
            payload["clientType"] = 10
        self._emit(1, event_type, payload)
        self.events[-1]["payload"]["duration"] = self.ts - self.joined_at.pop((channel.name, uid))
        if not channel.members:
            self._emit(1, 102, {"channelName": channel.name, "ts": 0, "lastUid": uid})

    def switch_role(self, channel: Channel, uid: int) -> None:
        to_host = channel.members[uid] == "audience"
        payload = {"channelName": channel.name, "uid": uid, "clientSeq": self._next_seq(uid), "ts": 0}
        self._emit(1, 111 if to_host else 112, payload)
        channel.members[uid] = "host" if to_host else "audience"

    def recording_event(self) -> None:
        sid = f"{self.rng.getrandbits(128):032x}"
        payload = {
            "cname": self.rng.choice(self.channels).name,
            "uid": "4000000001",
            "sid": sid,
            "sequence": 0,
            "sendts": self.ts * 1000,
            "serviceType": 1,
            "details": {"msgName": "recorder_started", "status": 0},
        }
        self._emit(3, 40, payload, sid=sid)

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.02:
            self.recording_event()
            return
        if roll < 0.03:  # things we store but do not act on: an undocumented RTC event, another product
            self._emit(1, 109, {"channelName": "room-0", "uid": 5, "ts": 0})
            self._emit(5, 1, {"rtmpUrl": "rtmp://example/live"})
            return
        if roll < 0.06:
            bot = self.rng.choice(self.bots)
            where = self._where(bot)
            if where:
                self.leave(where, bot)
            else:
                self.join(self.rng.choice([c for c in self.channels if c.live]), bot, bot=True)
            return
        uid = self.rng.choice(self.users)
        where = self._where(uid)
        if where is None:
            self.join(self.rng.choice(self.channels), uid)
        elif where.live and self.rng.random() < 0.3:
            self.switch_role(where, uid)
        else:
            self.leave(where, uid)

    def run(self, count: int) -> list[dict[str, Any]]:
        while len(self.events) < count:
            self.step()
        return self.events


# ---------------------------------------------------------------------------------------------- fixtures


def _table(ddb: Any, name: str, keys: list[tuple[str, str]], stream: bool = False) -> None:
    kwargs: dict[str, Any] = {}
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        BillingMode="PAY_PER_REQUEST",
        **kwargs,
    )


@pytest.fixture
def stack(monkeypatch, caplog):
    with mock_aws():
        monkeypatch.setenv("INBOX_TABLE", INBOX)
        monkeypatch.setenv("NCS_SECRET_NAME", SECRET_NAME)
        monkeypatch.setenv("PRESENCE_TABLE", PRESENCE)
        ddb = boto3.client("dynamodb")
        _table(ddb, INBOX, [("noticeId", "HASH")], stream=True)
        for name in (PRESENCE, REFERENCE):
            _table(ddb, name, [("channel", "HASH"), ("uid", "RANGE")])
        boto3.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"1": RTC_SECRET, "3": REC_SECRET, "default": REC_SECRET})
        )
        from service.adapters import aws as aws_adapter

        aws_adapter.reset_clients()
        from service.webhooks import intake, processor
        from service.webhooks.settings import ProcessorSettings

        intake.reset()  # a new environment: the first call builds the app from this test's variables
        # 9000 deliveries: keep the logs out of the timing. On the service's logger, put back after the test
        # (caplog): POWERTOOLS_LOG_LEVEL is read when the handlers' module-level Logger is made, so setting it here
        # made every later test of this process log at ERROR when this one imported them first
        caplog.set_level(logging.ERROR, logger=intake.logger.name)
        yield SimpleNamespace(
            ddb=ddb,
            intake=intake,
            processor=processor,
            settings=ProcessorSettings.from_env(),
            client=aws_adapter.client("dynamodb"),
        )
        intake.reset()
        aws_adapter.reset_clients()


def _deliver(stack: Any, event: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(event, separators=(",", ":")).encode()
    secret = RTC_SECRET if event["productId"] == 1 else REC_SECRET
    headers = {k.lower(): v for k, v in signature_headers(secret, body).items()}
    request = {"headers": headers, "body": body.decode(), "isBase64Encoded": False, "requestContext": {"http": {}}}
    return stack.intake.handler(request, CONTEXT)


def _stream_records() -> list[dict[str, Any]]:
    """The inbox's stream as Lambda would get it (moto's shard, JSON-safe)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[INBOX]
    records = []
    assert table.stream_shard is not None
    for record in table.stream_shard.items:
        data = json.loads(json.dumps(record.to_json(), default=str))
        data["eventSourceARN"] = f"arn:aws:dynamodb:us-east-1:123456789012:table/{INBOX}/stream/x"
        data["dynamodb"]["ApproximateCreationDateTime"] = 1_700_000_000
        records.append(data)
    return records


class RecordingPresence:
    """Wraps the real presence store to observe which effects were applied (write returned True)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.applied: Counter[tuple[str, int, int]] = Counter()

    def put_user(self, channel: str, uid: int, *, seq: int, **kwargs: Any) -> bool:
        write = self.inner.put_user(channel, uid, seq=seq, **kwargs)
        if write.applied:
            self.applied[(channel, uid, seq)] += 1
        return write

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _pump(stack: Any, deps: Any, records: list[dict[str, Any]], rng: random.Random) -> dict[str, int]:
    """Lambda's stream poller with ReportBatchItemFailures: resume from the lowest failed sequence number."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    stats: Counter[str] = Counter()
    position = 0
    while position < len(records):
        size = rng.randint(1, BATCH_SIZE)
        batch = records[position : position + size]
        stats["invocations"] += 1
        try:
            answer = stack.processor.create_app(stack.settings, deps)({"Records": batch}, CONTEXT)
            failed = [int(f["itemIdentifier"]) for f in answer.get("batchItemFailures", [])]
        except BatchProcessingError:
            failed = [int(r["dynamodb"]["SequenceNumber"]) for r in batch]  # a function error: whole batch again
            stats["whole_batch_failures"] += 1
        if failed:
            stats["failed_records"] += len(failed)
            first = min(failed)
            position += next(i for i, r in enumerate(batch) if int(r["dynamodb"]["SequenceNumber"]) == first)
        else:
            position += len(batch)
    return stats


def _scan(ddb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    from service.adapters.dynamodb import from_item

    items: dict[tuple[str, str], dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for raw in page["Items"]:
            item = from_item(raw)
            items[(item["channel"], item["uid"])] = {k: v for k, v in item.items() if k not in BOOKKEEPING}
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---------------------------------------------------------------------------------------------- the test


def test_replay_with_duplicates_reordering_and_throttling(stack):
    rng = random.Random(SEED)
    simulator = Simulator(rng)
    events = simulator.run(BASE_EVENTS)
    assert len(events) >= BASE_EVENTS
    # the sample holds every kind of event the simulator makes, bots' included, whatever its size
    kinds = {(e["productId"], e["eventType"]) for e in events}
    assert kinds == EVENT_KINDS, f"not a representative sample: raise REPLAY_BASE_EVENTS ({EVENT_KINDS - kinds})"
    assert any(e["payload"].get("clientType") == 10 for e in events)

    # 1. intake: every event 3 times, all deliveries shuffled
    deliveries = [e for e in events for _ in range(DELIVERIES_PER_EVENT)]
    rng.shuffle(deliveries)
    answers: Counter[str] = Counter()
    for event in deliveries:
        response = _deliver(stack, event)
        assert response["statusCode"] == 200, response
        answers["duplicate" if json.loads(response["body"]).get("duplicate") else "stored"] += 1
    assert answers == {"stored": len(events), "duplicate": len(events) * (DELIVERIES_PER_EVENT - 1)}

    by_id = {e["noticeId"]: e for e in events}
    stored = {}
    kwargs: dict[str, Any] = {"TableName": INBOX, "ConsistentRead": True}
    while True:
        page = stack.ddb.scan(**kwargs)
        stored.update({i["ncsNoticeId"]["S"]: json.loads(i["body"]["S"]) for i in page["Items"]})
        if not page.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert len(stored) == len(events)
    assert stored == by_id  # every accepted event, once, verbatim

    records = _stream_records()
    assert len(records) == len(events)
    assert {r["eventName"] for r in records} == {"INSERT"}

    # 2. processing with throttled presence writes
    throttled: Counter[str] = Counter()

    def throttle(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == PRESENCE and rng.random() < THROTTLE_RATE:
            throttled["count"] += 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}}, "UpdateItem"
            )

    from service.presence.repository import DynamoDBPresence
    from service.webhooks.processor import ProcessorDependencies

    observed = RecordingPresence(DynamoDBPresence(PRESENCE, client=stack.client))
    # recordings=None: this replay checks presence; product 3 events are stored and skipped here
    deps = ProcessorDependencies(presence=observed, recordings=None)
    stack.client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", throttle)
    try:
        stats = _pump(stack, deps, records, rng)
    finally:
        stack.client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", throttle)
    assert throttled["count"] >= MIN_THROTTLED, "the run must actually meet throttling"
    # every throttled write made exactly its record fail (reported, then delivered again)
    assert stats["failed_records"] == throttled["count"]
    assert stats["invocations"] > len(records) / BATCH_SIZE

    # no effect applied twice
    assert observed.applied, "presence effects were applied"
    assert max(observed.applied.values()) == 1

    # 3. reference: the base events once, in order, no faults
    reference = DynamoDBPresence(REFERENCE, client=stack.client)
    in_order = [
        {"eventName": "INSERT", "eventSource": "aws:dynamodb",
         "dynamodb": {"SequenceNumber": str(i + 1), "NewImage": {"noticeId": {"S": e["noticeId"]},
                      "body": {"S": json.dumps(e, separators=(",", ":"))}}}}
        for i, e in enumerate(events)
    ]  # fmt: skip
    app = stack.processor.create_app(stack.settings, ProcessorDependencies(presence=reference, recordings=None))
    answer = app({"Records": in_order}, CONTEXT)
    assert answer == {"batchItemFailures": []}

    final, expected = _scan(stack.ddb, PRESENCE), _scan(stack.ddb, REFERENCE)
    assert final.keys() == expected.keys()
    mismatches = {k: (final[k], expected[k]) for k in final if final[k] != expected[k]}
    assert not mismatches, list(mismatches.items())[:3]

    # 4. ground truth: who is in each channel now, with which role; bots flagged
    for channel in simulator.channels:
        present = {
            int(uid): item["presence"]["role"]
            for (name, uid), item in final.items()
            if name == channel.name and uid != "#channel" and item["presence"]["state"] == "in"
        }
        assert present == channel.members, channel.name
        bots = {
            int(uid)
            for (name, uid), item in final.items()
            if name == channel.name and item.get("session", {}).get("bot")
        }
        assert bots <= set(simulator.bots)
        meta = final.get((channel.name, "#channel"))
        if meta is not None:
            assert meta["presence"]["state"] == ("live" if channel.members else "destroyed")
    seen_bots = {int(uid) for (_, uid), item in final.items() if item.get("session", {}).get("bot")}
    assert seen_bots, "the recorder bots were seen and flagged"


# ---------------------------------------------------------------------------------------------- recordings

RECORDINGS = "replay-recordings"
RECORDINGS_REFERENCE = "replay-recordings-in-order"
#: written with the wall clock by the recording code: when, not what
RECORDING_BOOKKEEPING = {"updatedAt", "stopRequestedAt"}
RECORDING_TASKS = 2


def _recordings_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sid", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "bySid", "KeySchema": [{"AttributeName": "sid", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}},
        ],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip


def _recording_history(rng: random.Random, sid: str, cname: str) -> list[dict[str, Any]]:
    """One task's NCS history (doc 4.4), with Agora's own resends under new noticeIds."""
    details: list[tuple[int, int, dict[str, Any]]] = [(40, 1, {"msgName": "recorder_started", "status": 0})]
    for _ in range(4):
        details.append((43, 1, {"msgName": "recorder_audio_stream_state_changed", "streamUid": "1001",
                                "state": rng.randint(0, 1), "UtcMs": rng.randint(1, 10**12)}))  # fmt: skip
    details.append((42, 1, {"msgName": "recorder_slice_start", "startUtcMs": 1, "mixedAllUser": True}))
    details.append((4, 0, {"msgName": "cloud_recording_file_infos", "fileList": f"{sid}_{cname}.m3u8"}))
    for i in range(rng.randint(2, 5)):
        details.append((1, 0, {"msgName": "cloud_recording_error", "module": 1, "errorLevel": 3,
                               "errorCode": 47 + i, "errorMsg": "upload failed"}))  # fmt: skip
        details.append((2, 0, {"msgName": "cloud_recording_warning", "module": 1, "warnCode": 31}))
    for uid in (4_000_000_101, 4_000_000_102):
        details.append((12, 0, {"msgName": "session_failover", "newUid": uid}))
    for progress in range(0, 10_001, 2_500):
        details.append((33, 2, {"msgName": "uploading_progress", "progress": progress}))
    details.append((41, 1, {"msgName": "recorder_leave", "leaveCode": 4 | 16}))
    details.append((11, 0, {"msgName": "session_exit", "exitStatus": 0}))
    files = [{"fileName": f"{sid}_{cname}_{i}.ts", "trackType": "audio_and_video", "uid": "0", "mixedAllUser": True,
              "isPlayable": True, "sliceStartTime": 1} for i in range(3)]  # fmt: skip
    details.append((31, 2, {"msgName": "uploaded", "status": 0, "fileList": files[:2]}))
    details.append((32, 2, {"msgName": "backuped", "status": 0, "fileList": files[1:]}))
    events = []
    for sequence, (event_type, service_type, detail) in enumerate(details):
        payload = {"cname": cname, "uid": "4000000100", "sid": sid, "sequence": sequence,
                   "sendts": 1_700_000_000_000 + sequence, "serviceType": service_type, "details": detail}  # fmt: skip
        event = {"noticeId": f"{rng.getrandbits(128):032x}", "productId": 3, "eventType": event_type,
                 "notifyMs": 1_700_000_000_000 + sequence, "sid": sid, "payload": payload}  # fmt: skip
        events.append(event)
        if event_type in (4, 31, 11):  # "4 arrives twice", redundant 31/11: same content, another noticeId
            events.append({**event, "noticeId": f"{rng.getrandbits(128):032x}"})
    return events


def test_recording_events_replay(stack):
    from service.adapters.dynamodb import from_item as plain_item
    from service.presence.repository import DynamoDBPresence
    from service.recordings.events import apply_recording_event
    from service.recordings.repository import RecordingsRepository, from_item, rec_key
    from service.webhooks.processor import ProcessorDependencies

    rng = random.Random(SEED + 1)
    for table in (RECORDINGS, RECORDINGS_REFERENCE):
        _recordings_table(stack.ddb, table)
    recordings = []
    for i in range(RECORDING_TASKS):
        sid, cname, recording_id = f"{rng.getrandbits(128):032x}", f"show-{i}", f"rec{i}"
        item = {"recordingId": recording_id, "channel": cname, "sid": sid, "status": "RECORDING",
                "activeStatus": "RECORDING", "createdAt": 1, "agoraErrors": {}, "agoraWarnings": {}}  # fmt: skip
        for table in (RECORDINGS, RECORDINGS_REFERENCE):
            assert RecordingsRepository(table, client=stack.client).create(from_item(item)).kind == "created"
        recordings.append(_recording_history(rng, sid, cname))
    events = [e for history in recordings for e in history]

    deliveries = [e for e in events for _ in range(DELIVERIES_PER_EVENT)]
    rng.shuffle(deliveries)
    for event in deliveries:
        assert _deliver(stack, event)["statusCode"] == 200
    records = _stream_records()
    assert len(records) == len(events)

    def applier(table: str) -> Any:
        repo = RecordingsRepository(table, client=stack.client)
        return lambda notice: apply_recording_event(notice, repo=repo, workflow=object())  # no task token: no SFN call

    throttled: Counter[str] = Counter()

    def throttle(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == RECORDINGS and rng.random() < THROTTLE_RATE * 2:
            throttled["count"] += 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}}, "UpdateItem"
            )

    presence = DynamoDBPresence(PRESENCE, client=stack.client)
    deps = ProcessorDependencies(presence=presence, recordings=applier(RECORDINGS))
    stack.client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", throttle)
    try:
        stats = _pump(stack, deps, records, rng)
    finally:
        stack.client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", throttle)
    assert throttled["count"] > 5
    assert stats["failed_records"] == throttled["count"]

    in_order = [
        {"eventName": "INSERT", "eventSource": "aws:dynamodb",
         "dynamodb": {"SequenceNumber": str(i + 1), "NewImage": {"noticeId": {"S": e["noticeId"]},
                      "body": {"S": json.dumps(e, separators=(",", ":"))}}}}
        for i, e in enumerate(events)
    ]  # fmt: skip
    reference = ProcessorDependencies(presence=presence, recordings=applier(RECORDINGS_REFERENCE))
    assert stack.processor.create_app(stack.settings, reference)({"Records": in_order}, CONTEXT) == {
        "batchItemFailures": []
    }

    def state(table: str) -> dict[str, Any]:
        out = {}
        for i in range(RECORDING_TASKS):
            raw = stack.client.get_item(TableName=table, Key={"pk": {"S": rec_key(f"rec{i}")}}, ConsistentRead=True)
            item = plain_item(raw.get("Item"))  # the stored item itself: every attribute the events wrote
            assert item is not None
            out[f"rec{i}"] = {k: v for k, v in item.items() if k not in RECORDING_BOOKKEEPING}
        return out

    final, expected = state(RECORDINGS), state(RECORDINGS_REFERENCE)
    assert final == expected
    # and the in-order result is what the history says
    for i, item in enumerate(final.values()):
        sid = recordings[i][0]["sid"]
        assert item["fileNames"] == {f"{sid}_show-{i}.m3u8", *(f"{sid}_show-{i}_{n}.ts" for n in range(3))}
        assert item["botUid"] == 4_000_000_102  # the later failover wins
        assert item["exitStatus"] == 0
        assert item["uploadingStatus"] == "backuped"  # 32 has the higher sequence
        assert set(item["leaveReasons"]) == {"idle_timeout", "stopped"}
        assert item["stopRequested"] == "recorder_exited"
        assert len(item["agoraErrors"]) == len(item["agoraWarnings"]) >= 2
