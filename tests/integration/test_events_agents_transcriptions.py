"""The agents' and the transcriptions' facts on the bus, end to end on moto: the real use cases (against the
hostile emulator's Conversational AI and Real-Time STT) write through the real repositories into tables with
streams (NEW_AND_OLD_IMAGES) -> the stream records, shaped as Lambda delivers them -> the publisher
(``create_app(settings, deps)``) -> PutEvents on a moto bus -> a rule -> an SQS queue, read back as an app
would. Every envelope read back is validated against its schema (docs/events/); no request path publishes."""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from agorakit.agora.convoai import ConvoAIClient
from agorakit.agora.stt import SttClient
from moto import mock_aws
from service.agents import usecases
from service.agents.fakes import InMemoryHistory, RecordedEvents
from service.agents.profiles import parse_profiles
from service.agents.repository import TABLE_KEYS, AgentsRepository
from service.channeltasks import lifecycle
from service.errors import ServiceError
from service.events.bus import EventBridgeBus
from service.events.publisher import PublisherDependencies, RecordingsBySid, create_app
from service.events.settings import PublisherSettings
from service.transcriptions import logic
from service.transcriptions.repository import TranscriptionsRepository, create_table
from service.transcriptions.usecases import StartCommand, TranscriptionService, apply_notice

from emulator import Emulator
from local.event_filter import stream_record
from tests.integration._emulator_fixtures import make_client, make_emulator, storage, wait_until
from tests.integration.test_agents_usecases import PROFILES, SECRET, Secrets
from tests.integration.test_emulator_convoai import CERT, token
from tests.support.event_contracts import assert_valid

REGION = "us-east-1"
BUS = "Test-events"
AGENTS, TRANSCRIPTIONS = "Agents", "Transcriptions"
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


class World:
    """The two tables with their streams, the bus, and an app's queue subscribed to every event."""

    def __init__(self) -> None:
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.streams = boto3.client(
            "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
        )
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.ddb.create_table(TableName=AGENTS, BillingMode="PAY_PER_REQUEST", StreamSpecification=STREAM,
                              **TABLE_KEYS)  # fmt: skip
        create_table(self.ddb, TRANSCRIPTIONS)  # as the construct declares it, then its stream as the construct adds it
        self.ddb.update_table(TableName=TRANSCRIPTIONS, StreamSpecification=STREAM)
        self.iterators: dict[str, str] = {}
        for name in (AGENTS, TRANSCRIPTIONS):
            arn = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
            shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self.iterators[name] = self.streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        self.events.create_event_bus(Name=BUS)
        self.queue = self.sqs.create_queue(QueueName="app-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name="app", EventBusName=BUS,
                             EventPattern=json.dumps({"source": [{"prefix": "agora-serverless."}]}))  # fmt: skip
        self.events.put_targets(Rule="app", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        self.settings = PublisherSettings(
            event_bus_name=BUS, recordings_table="Recordings", agents_table=AGENTS, transcriptions_table=TRANSCRIPTIONS
        )
        self.deps = PublisherDependencies(
            bus=EventBridgeBus(client=self.events, sleep=lambda _s: None),
            recording_of_sid=RecordingsBySid("Recordings", client=self.ddb),
        )

    def records(self, table: str) -> list[dict[str, Any]]:
        answer = self.streams.get_records(ShardIterator=self.iterators[table])
        self.iterators[table] = answer["NextShardIterator"]
        arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        return [stream_record(r, stream_arn=arn, region=REGION) for r in answer["Records"]]

    def publish(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return create_app(self.settings, self.deps)({"Records": records})

    def received(self) -> list[dict[str, Any]]:
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


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=50, app_certificate=CERT) as emulator:
        yield emulator


def _types(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in envelopes]


def _in_sequence_order(envelopes: list[dict[str, Any]]) -> None:
    sequences = [int(e["detail"]["sequence"]) for e in envelopes]
    assert sequences == sorted(sequences)


# ---------------------------------------------------------------------------------------------- agents


@pytest.fixture
def agent_deps(world: World, emu: Emulator) -> Iterator[usecases.AgentDeps]:
    with make_client([emu.url]) as agora:
        yield usecases.AgentDeps(
            store=AgentsRepository(AGENTS, client=world.ddb), agora=ConvoAIClient(agora), history=InMemoryHistory(),
            events=RecordedEvents(), profiles=parse_profiles(PROFILES), mint_token=token, secrets=Secrets(),
            rng=random.Random(25), sleep=lambda s: None,
        )  # fmt: skip


def _apply_ncs_17(emu: Emulator, deps: usecases.AgentDeps) -> None:
    for envelope in emu.events():
        if envelope["productId"] == 17:
            usecases.apply_event(envelope, deps)


def test_an_agent_from_request_to_its_saved_conversation(world: World, emu: Emulator, agent_deps: usecases.AgentDeps):
    emu.join("room", 1001)
    request = usecases.parse_start({"channel": "room", "profile": "tutor", "remoteUids": [1001]},
                                   requested_by="admin-1", deps=agent_deps)  # fmt: skip
    record = usecases.start_agent(request, agent_deps)
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    _apply_ncs_17(emu, agent_deps)
    usecases.speak(record.agent_id, {"text": "Welcome"}, agent_deps)
    assert usecases.leave_agent(record.agent_id, agent_deps).state == lifecycle.STOPPING
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "STOPPED")
    _apply_ncs_17(emu, agent_deps)  # every notice again (101 twice now): duplicates write nothing new
    ended = usecases.get_agent(record.agent_id, agent_deps)
    assert ended.state == lifecycle.STOPPED and ended.history_turns > 0

    records = world.records(AGENTS)
    assert world.publish(records) == {"batchItemFailures": []}
    received = world.received()
    types = _types(received)
    assert types[:3] == ["Agent Requested", "Agent Started", "Agent Running"], types
    assert [t for t in types if t != "Agent History Saved"] == [
        "Agent Requested", "Agent Started", "Agent Running", "Agent Stopped",
    ]  # fmt: skip
    saved = [e["detail"] for e in received if e["detail-type"] == "Agent History Saved"]
    assert saved and saved[0]["previous_turns"] == 0 and saved[-1]["turns"] == ended.history_turns
    assert [s["turns"] for s in saved] == sorted({s["turns"] for s in saved})  # each save has more turns
    details = [e["detail"] for e in received]
    assert {d["ordering_key"] for d in details} == {f"agent:{record.agent_id}"}
    _in_sequence_order(received)
    assert all(e["source"] == "agora-serverless.agents" for e in received)
    assert details[0]["requested_by"] == "admin-1" and details[0]["remote_uids"] == [1001]
    assert details[1]["agora_agent_id"] == ended.agora_agent_id and details[1]["adopted"] is False
    stopped = next(e["detail"] for e in received if e["detail-type"] == "Agent Stopped")
    assert stopped["reason"] == "api" and stopped["history_turns"] == ended.history_turns
    text = json.dumps(received)
    assert SECRET["llm_key"] not in text and SECRET["tts_key"] not in text  # the profile's secrets never travel
    # the same batch delivered again (a retried stream batch): the same facts, the same event ids
    assert world.publish(records) == {"batchItemFailures": []}
    again = world.received()
    assert [e["detail"]["event_id"] for e in again] == [e["detail"]["event_id"] for e in received]
    assert len({e["detail"]["event_id"] for e in received}) == len(received)


def test_an_agent_agora_refuses_is_requested_then_failed(world: World, emu: Emulator, agent_deps: usecases.AgentDeps):
    emu.join("room", 1001)
    emu.configure_agents(max_agents=0)  # Agora's quota: 422
    body = {"channel": "room", "profile": "tutor", "remoteUids": [1001]}
    request = usecases.parse_start(body, requested_by="admin-1", deps=agent_deps)
    with contextlib.suppress(ServiceError):  # the answer to the caller is the API's business; the record FAILED
        usecases.start_agent(request, agent_deps)
    assert world.publish(world.records(AGENTS)) == {"batchItemFailures": []}
    received = world.received()
    assert _types(received) == ["Agent Requested", "Agent Failed"]
    failed = received[1]["detail"]
    assert failed["http_status"] == 422 and failed["error_step"] and failed["agora_agent_id"] is None


# ---------------------------------------------------------------------------------------------- transcriptions


@pytest.fixture
def service(world: World, emu: Emulator) -> Iterator[TranscriptionService]:
    with make_client([emu.url]) as client:
        store = TranscriptionsRepository(TRANSCRIPTIONS, client=world.ddb)
        yield TranscriptionService(
            store, SttClient(client), time.time, rng=random.Random(25),
            caption_storage=lambda record: storage(["transcripts", "txroom", record.id]),
        )  # fmt: skip


def _apply_ncs_20(emu: Emulator, service: TranscriptionService) -> None:
    for envelope in emu.events():
        if envelope.get("productId") == 20:
            apply_notice(service.store, envelope)


def test_a_transcription_restarted_stopped_and_its_files(world: World, emu: Emulator, service: TranscriptionService):
    emu.join("tx-room", 2001)
    t = service.start(StartCommand("tx-room", ["en-US"], translate={"en-US": ["de-DE"]}))
    assert wait_until(lambda: service.settle(t.id).status == logic.RUNNING)
    restarted = service.restart(t.id)  # what the 72-hour workflow does, early
    assert restarted.generation == 1
    assert service.stop(t.id).status in (logic.STOPPING, logic.STOPPED)
    assert wait_until(lambda: service.settle(t.id).status == logic.STOPPED)
    assert wait_until(lambda: len([e for e in emu.events() if e.get("productId") == 20 and e["eventType"] == 2]) == 2)
    _apply_ncs_20(emu, service)
    _apply_ncs_20(emu, service)  # every notice twice: a repeated files notice adds no key
    final = service.get(t.id)
    assert final.files

    records = world.records(TRANSCRIPTIONS)
    assert world.publish(records) == {"batchItemFailures": []}
    received = world.received()
    types = _types(received)
    assert [t for t in types if t != "Transcription Files Ready"] == [
        "Transcription Requested", "Transcription Started", "Transcription Running", "Transcription Restarted",
        "Transcription Stopped",
    ], types  # fmt: skip
    details = [e["detail"] for e in received]
    assert {d["ordering_key"] for d in details} == {f"transcription:{t.id}"}
    _in_sequence_order(received)
    assert all(e["source"] == "agora-serverless.transcriptions" for e in received)
    by_type = {e["detail-type"]: e["detail"] for e in received}
    assert by_type["Transcription Requested"]["translate"] == {"en-US": ["de-DE"]}
    assert by_type["Transcription Started"]["agent_id"] == t.agent_id
    assert by_type["Transcription Restarted"]["previous_agent_id"] == t.agent_id
    assert by_type["Transcription Restarted"]["agent_id"] == final.agent_id
    assert by_type["Transcription Stopped"]["agents"] == 2
    files = [key for d in details if "files" in d for key in d["files"]]
    assert sorted(files) == sorted(final.files)  # each key announced once, whatever the notices' repeats
    captions = [key for d in details if "captions" in d for key in d["captions"]]
    assert captions and all(key.endswith(".vtt") for key in captions)


def test_a_transcription_whose_agent_fails_after_its_200(world: World, emu: Emulator, service: TranscriptionService):
    emu.stt_configure(fail_rate=1.0)  # Agora accepts the join, then the agent fails
    t = service.start(StartCommand("tx-room-2", ["en-US"]))
    assert wait_until(lambda: service.settle(t.id).status == logic.FAILED)
    assert world.publish(world.records(TRANSCRIPTIONS)) == {"batchItemFailures": []}
    received = world.received()
    # a settle may see the agent RUNNING for a moment before it fails (the emulator's timing): Running is optional
    kinds = _types(received)
    assert [k for k in kinds if k != "Transcription Running"] == [
        "Transcription Requested",
        "Transcription Started",
        "Transcription Failed",
    ], kinds
    assert kinds.count("Transcription Running") <= 1
    failed = received[kinds.index("Transcription Failed")]
    assert failed["detail"]["agent_id"] == t.agent_id and failed["detail"]["ended_at"]
