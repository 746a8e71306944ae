"""The media function's integrity re-checks against moto S3 + DynamoDB + SQS, as deployed: the bucket notifies
``.m3u8`` only (the construct's filter), the function sends its delayed re-check to the same queue
(``SqsRecheckQueue``), and the queue delivers it back. A segment that lands late (no notification) turns the
recording ``complete`` at the re-check; a segment's own ObjectCreated, should one still arrive, does nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from service.adapters.aws import reset_clients
from service.media import handler
from service.media.integrity import Recheck
from service.media.recheck_queue import SqsRecheckQueue
from service.media.repository import MediaRepository, S3Objects
from service.media.settings import MediaSettings

from tests.integration.test_media_handler import BUCKET, PREFIX, SID, TABLE, playlist, s3_message, sqs_event

KEY = f"{PREFIX}/{SID}_room42.m3u8"
SEGMENTS = [f"{PREFIX}/{SID}_room42_20240301120000000.ts", f"{PREFIX}/{SID}_room42_20240301120015000.ts"]


class Env:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.url = self.sqs.create_queue(QueueName="media")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rules = [{"Name": "prefix", "Value": "recordings/"}, {"Name": "suffix", "Value": ".m3u8"}]
        self.s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": rules}}}
            ]},
        )  # fmt: skip
        assert ["s3:TestEvent" in m["Body"] for m in self.messages()] == [True]  # S3's test event, consumed
        self.repo = MediaRepository(TABLE)
        objects = S3Objects(chunk_size=16 * 1024)
        self.settings = MediaSettings(media_table=TABLE, media_queue_url=self.url, recheck_first_delay_seconds=1)
        self.deps = handler.MediaDependencies(
            store=self.repo, objects=objects, listing=objects, rechecks=SqsRecheckQueue(self.url, client=self.sqs)
        )
        self.app = handler.create_app(self.settings, self.deps)

    def messages(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages") or []
        for m in got:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return got

    def deliver(self, *, wait_for: str | None = None, timeout: float = 10.0) -> list[str]:
        """Receive what the queue has (waiting until a body containing ``wait_for`` shows up) and run it."""
        deadline = time.monotonic() + timeout
        while True:
            bodies = [m["Body"] for m in self.messages()]
            if wait_for is None or any(wait_for in b for b in bodies) or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling the queue for the delayed message (an event, not a fixed wait)
        if bodies:
            assert self.app(sqs_event(*bodies)) == {"batchItemFailures": []}
        return bodies

    def integrity(self) -> dict[str, Any]:
        item = self.repo.integrity(SID)
        assert item is not None
        return item


@pytest.fixture
def env() -> Iterator[Env]:
    with mock_aws():
        reset_clients()
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "sid", "KeyType": "HASH"}, {"AttributeName": "key", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "sid", "AttributeType": "S"},
                {"AttributeName": "key", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Env()
    reset_clients()


def test_a_late_segment_turns_the_recording_complete_at_the_delayed_recheck(env: Env) -> None:
    env.s3.put_object(Bucket=BUCKET, Key=SEGMENTS[0], Body=b"\x47" * 188)
    env.s3.put_object(Bucket=BUCKET, Key=KEY, Body=playlist("15.0", "15.0"))  # final: both slices referenced
    assert len(env.deliver()) == 1  # the playlist's notification; the segment's is filtered out
    first = env.integrity()
    assert first["status"] == "incomplete" and first["missing_count"] == 1 and first["recheck"] == "scheduled"
    assert first["next_recheck_at"] == first["checked_at"] + 1000  # recheckFirstDelaySeconds=1

    env.s3.put_object(Bucket=BUCKET, Key=SEGMENTS[1], Body=b"\x47" * 188)  # the late upload: no message at all
    assert env.messages() == []  # only the re-check, still held by its delay

    bodies = env.deliver(wait_for="mediaRecheck")
    assert [Recheck.parse(b) is not None for b in bodies] == [True]
    done = env.integrity()
    assert done["status"] == "complete" and done["missing_count"] == 0 and done["segments"] == 2
    assert "next_recheck_at" not in done and done["rechecks"] == 1
    assert env.deliver(timeout=0) == []  # nothing else scheduled


def test_a_recheck_that_still_finds_it_incomplete_schedules_the_next_with_a_longer_wait(env: Env) -> None:
    env.s3.put_object(Bucket=BUCKET, Key=KEY, Body=playlist("15.0"))
    env.deliver()
    first = env.integrity()
    assert first["recheck"] == "scheduled" and first["rechecks"] == 0
    env.deliver(wait_for="mediaRecheck")
    again = env.integrity()
    assert again["status"] == "incomplete" and again["rechecks"] == 1
    assert again["next_recheck_at"] == again["checked_at"] + 2000  # doubled
    assert again["incomplete_since"] == first["incomplete_since"] == first["checked_at"]


def test_a_segment_event_does_nothing(env: Env) -> None:
    """A bucket deployed before this change still notifies segments: they are consumed and ignored."""
    env.s3.put_object(Bucket=BUCKET, Key=SEGMENTS[0], Body=b"\x47" * 188)
    results = handler.process_record(
        handler.SQSRecord(sqs_event(s3_message(SEGMENTS[0], etag=None, sequencer="1"))["Records"][0]),
        deps=env.deps,
        config=env.settings,
        latest={},
    )
    assert [r.outcome for r in results] == ["ignored"] and env.repo.integrity(SID) is None
