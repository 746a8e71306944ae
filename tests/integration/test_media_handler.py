"""The media function against moto S3 + DynamoDB: exact durations, event order, duplicates, bad playlists."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

os.environ.setdefault("MEDIA_TABLE", "media-test")

from service.adapters.aws import reset_clients
from service.media import handler, logic
from service.media.repository import MediaRepository, S3Objects
from service.media.settings import MediaSettings

TABLE = "media-test"
BUCKET = "recordings-test"
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
PREFIX = "recordings/room42/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
MIX_KEY = f"{PREFIX}/{SID}_room42.m3u8"


def playlist(*durations: str, ended: bool = True) -> bytes:
    """Slices 15 s apart from 2024-03-01 12:00:00 UTC, whatever their durations."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:16"]
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    for i, d in enumerate(durations):
        stamp = (start + timedelta(seconds=15 * i)).strftime("%Y%m%d%H%M%S") + "000"
        lines += [f"#EXTINF:{d}", f"{SID}_room42_{stamp}.ts"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


def s3_message(key: str, *, etag: str | None, sequencer: str | None, size: int = 0, event_time: str | None = None):
    obj: dict[str, Any] = {"key": quote_plus(key), "size": size}
    if etag is not None:
        obj["eTag"] = etag
    if sequencer is not None:
        obj["sequencer"] = sequencer
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time or "2024-03-01T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:media",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


class Env:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.repo = MediaRepository(TABLE)
        self.deps = handler.MediaDependencies(store=self.repo, objects=S3Objects(chunk_size=16 * 1024))
        self.settings = MediaSettings(media_table=TABLE)
        self.app = handler.create_app(self.settings, self.deps)

    def put(self, key: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')

    def run(self, *bodies: str) -> dict[str, Any]:
        return self.app(sqs_event(*bodies))

    def file(self, key: str, sid: str = SID) -> dict[str, Any]:
        items = {i["key"]: i for i in self.repo.file_items(sid)}
        return items[key]


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


def test_uploaded_playlist_gets_its_exact_duration(env):
    durations = ["15.016", "14.984", "0.1", "0.1", "0.1", "9.999999"]
    body = playlist(*durations)
    etag = env.put(MIX_KEY, body)
    assert env.run(s3_message(MIX_KEY, etag=etag, sequencer="0055AED6DCD90281E5", size=len(body))) == {
        "batchItemFailures": []
    }
    exact = sum(map(Decimal, durations))
    item = env.file(MIX_KEY)
    assert item["status"] == "ok"
    assert item["duration_us"] == int(exact * 1_000_000)
    assert item["duration_seconds"] == f"{exact:.6f}" == "40.299999"
    assert (item["segments"], item["ended"], item["mode"], item["stream"]) == (6, True, "mix", "mix")
    assert item["sequencer"] == "0055AED6DCD90281E5".rjust(64, "0")
    assert (item["etag"], item["size"], item["byte_size"]) == (etag, len(body), len(body))
    assert item["prefix"] == PREFIX.split("/")
    totals = env.repo.totals_for_sid(SID)
    assert totals is not None
    assert totals["sid"] == SID
    assert totals["duration_seconds"] == "40.299999"
    assert totals["duration_us"] == 40_299_999
    assert totals["segments"] == 6
    assert totals["ended"] is True
    assert totals["mode"] == "mix"
    assert totals["streams"]["mix"]["playlists"] == [MIX_KEY]
    assert totals["streams"]["mix"]["wall_clock_span_us"] == 75_000_000 + 9_999_999
    assert "revision" not in totals


def test_totals_for_an_unknown_sid_is_none(env):
    assert env.repo.totals_for_sid("nothing-here") is None


def test_out_of_order_events_never_let_a_stale_version_win(env):
    v1 = playlist("10.0", ended=False)
    v2 = playlist("10.0", "10.0", "5.5")
    e1 = env.put(MIX_KEY, v1)
    e2 = env.put(MIX_KEY, v2)  # the object is now v2
    newer = s3_message(MIX_KEY, etag=e2, sequencer="0100")  # longer, and numerically larger than "FF"
    older = s3_message(MIX_KEY, etag=e1, sequencer="FF")
    env.run(newer)
    env.run(older)
    item = env.file(MIX_KEY)
    assert item["duration_us"] == 25_500_000
    assert item["sequencer"].endswith("0100")
    assert env.repo.totals_for_sid(SID)["duration_us"] == 25_500_000


def test_an_old_event_read_after_a_rewrite_is_stale_not_misattributed(env):
    e1 = env.put(MIX_KEY, playlist("10.0", ended=False))
    env.put(MIX_KEY, playlist("10.0", "20.0"))
    deps = env.deps
    results = handler.process_record(
        handler.SQSRecord(sqs_event(s3_message(MIX_KEY, etag=e1, sequencer="0A"))["Records"][0]),
        deps=deps,
        config=env.settings,
        latest={},
    )
    assert [r.outcome for r in results] == ["stale"]  # If-Match on the event's ETag failed: v1 is gone
    assert env.repo.file_items(SID) == []


def test_duplicate_events_are_idempotent(env):
    etag = env.put(MIX_KEY, playlist("3.5", "4.5"))
    message = s3_message(MIX_KEY, etag=etag, sequencer="1F")
    env.run(message)
    first_file = env.file(MIX_KEY)
    first_totals = env.repo.totals_for_sid(SID)
    env.run(message)
    env.run(message, message)
    assert env.file(MIX_KEY) == first_file
    again = env.repo.totals_for_sid(SID)
    assert {k: v for k, v in again.items() if k != "updated_at"} == {
        k: v for k, v in first_totals.items() if k != "updated_at"
    }


def test_a_bad_playlist_is_recorded_and_the_message_consumed(env):
    bad = b"#EXTM3U\n#EXTINF:10.0\na.ts\n#EXTINF:ten\nb.ts\n"
    etag = env.put(MIX_KEY, bad)
    assert env.run(s3_message(MIX_KEY, etag=etag, sequencer="10")) == {"batchItemFailures": []}
    item = env.file(MIX_KEY)
    assert item["status"] == "error"
    assert item["error_line"] == 4
    assert "'ten'" in item["error"]
    assert "duration_us" not in item
    totals = env.repo.totals_for_sid(SID)
    assert totals["duration_us"] == 0
    assert totals["errors"] == [{"key": MIX_KEY, "error": item["error"], "line": 4}]
    # Agora's next rewrite fixes it.
    etag = env.put(MIX_KEY, playlist("10.0", "2.0"))
    env.run(s3_message(MIX_KEY, etag=etag, sequencer="11"))
    assert env.file(MIX_KEY)["status"] == "ok"
    fixed = env.repo.totals_for_sid(SID)
    assert (fixed["duration_us"], fixed["errors"]) == (12_000_000, [])


def test_binary_object_named_m3u8_is_an_error_not_a_crash(env):
    etag = env.put(MIX_KEY, b"\x47\x40\x00\x10" * 1000)
    assert env.run(s3_message(MIX_KEY, etag=etag, sequencer="01")) == {"batchItemFailures": []}
    assert "binary data" in env.file(MIX_KEY)["error"]


def test_url_encoded_keys(env):
    key = f"{PREFIX}/{SID}_Team -1- Q-A +x.m3u8"
    etag = env.put(key, playlist("7.25"))
    message = s3_message(key, etag=etag, sequencer="01")
    assert "Team+-1-+Q-A+%2Bx.m3u8" in message  # as S3 sends it
    env.run(message)
    item = env.file(key)
    assert item["channel"] == "Team -1- Q-A +x"
    assert item["duration_us"] == 7_250_000


def test_unknown_recording_is_kept_under_its_sid(env):
    """No recording knows this sid (it may land before the workflow records it): still found by sid later."""
    other_sid = "ffffeeeeddddccccbbbbaaaa99998888"
    key = f"recordings/unknown/{other_sid}_lobby.m3u8"
    etag = env.put(key, playlist("1.5"))
    env.run(s3_message(key, etag=etag, sequencer="01"))
    assert env.repo.totals_for_sid(other_sid)["duration_us"] == 1_500_000


def test_unparseable_names_are_kept_but_not_totalled(env):
    key = "recordings/manual/upload.m3u8"
    etag = env.put(key, playlist("4.0"))
    assert env.run(s3_message(key, etag=etag, sequencer="01")) == {"batchItemFailures": []}
    item = env.file(key, sid=logic.UNPARSED_SID)
    assert item["duration_us"] == 4_000_000
    assert env.repo.totals_for_sid(logic.UNPARSED_SID) is None


def test_keys_outside_the_prefix_and_other_files_are_ignored(env):
    etag = env.put("elsewhere/x.m3u8", playlist("1"))
    results = handler.process_record(
        handler.SQSRecord(sqs_event(s3_message("elsewhere/x.m3u8", etag=etag, sequencer="1"))["Records"][0]),
        deps=env.deps,
        config=env.settings,
        latest={},
    )
    assert [r.outcome for r in results] == ["ignored"]


def test_invalid_messages_and_test_events_are_consumed(env):
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    bad_sequencer = s3_message(MIX_KEY, etag="x", sequencer="not-hex")
    assert env.run("not json", "[]", test_event, bad_sequencer) == {"batchItemFailures": []}
    assert env.repo.file_items(SID) == []


def test_deleted_object_is_consumed(env):
    assert env.run(s3_message(MIX_KEY, etag="abc", sequencer="01")) == {"batchItemFailures": []}
    assert env.repo.file_items(SID) == []


def test_transient_failures_are_reported_for_redelivery(env):
    etag = env.put(MIX_KEY, playlist("1"))
    good = s3_message(MIX_KEY, etag=etag, sequencer="01")
    missing_bucket = json.loads(s3_message(MIX_KEY, etag=etag, sequencer="02"))
    missing_bucket["Records"][0]["s3"]["bucket"]["name"] = "no-such-bucket"
    event = sqs_event(good, json.dumps(missing_bucket))
    answer = env.app(event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert env.file(MIX_KEY)["duration_us"] == 1_000_000


def test_older_events_of_a_key_in_one_batch_are_skipped(env, monkeypatch):
    e1 = env.put(MIX_KEY, playlist("1", ended=False))
    e2 = env.put(MIX_KEY, playlist("1", "2"))
    reads = []
    chunks = S3Objects.chunks

    def spy(self, bucket, key, **kw):
        reads.append(kw["etag"])
        return chunks(self, bucket, key, **kw)

    monkeypatch.setattr(S3Objects, "chunks", spy)
    env.run(s3_message(MIX_KEY, etag=e1, sequencer="0A"), s3_message(MIX_KEY, etag=e2, sequencer="0B"))
    assert reads == [e2]
    assert env.file(MIX_KEY)["duration_us"] == 3_000_000


def test_individual_mode_totals_per_uid_track_failover_and_backup_copies(env):
    base = f"{PREFIX}/{SID}_room42__uid_s_"
    files = {
        f"{base}111__uid_e_audio.m3u8": playlist("10", "10"),
        f"{base}111__uid_e_video.m3u8": playlist("10", "9"),
        # HA failover: the recording went on in bak0_ files; their durations add up
        f"{PREFIX}/bak0_{SID}_room42__uid_s_111__uid_e_audio.m3u8": playlist("5"),
        # Cloud Backup copies of uid 222's audio: the newest copy vs the plain one, the longer counts
        f"{base}222__uid_e_audio.m3u8": playlist("3"),
        f"{base}222__uid_e_audio_22194679897_0.m3u8": playlist("3", "3", "3"),
        f"{base}222__uid_e_audio_22194679897_1.m3u8": playlist("3", "3"),
    }
    for i, (key, body) in enumerate(files.items()):
        etag = env.put(key, body)
        env.run(s3_message(key, etag=etag, sequencer=f"{i + 1:02X}"))
    totals = env.repo.totals_for_sid(SID)
    streams = totals["streams"]
    assert streams["111:audio"]["duration_us"] == 25_000_000
    assert streams["111:audio"]["parts"] == 2
    assert streams["111:video"]["duration_us"] == 19_000_000
    # highest-index copy (6 s) vs the plain file (3 s): 6 s; the older copy index 0 (9 s) is not a candidate
    assert streams["222:audio"]["duration_us"] == 6_000_000
    assert streams["222:audio"]["playlists"] == [f"{base}222__uid_e_audio_22194679897_1.m3u8"]
    assert totals["uids"] == {
        "111": {"duration_us": 25_000_000, "tracks": {"audio": 25_000_000, "video": 19_000_000}},
        "222": {"duration_us": 6_000_000, "tracks": {"audio": 6_000_000}},
    }
    assert totals["duration_us"] == 50_000_000
    assert totals["duration_seconds"] == "50.000000"
    assert totals["longest_stream_us"] == 25_000_000
    assert totals["mode"] == "individual"
    assert totals["playlists"] == 6


def test_concurrent_refreshes_leave_complete_totals(env):
    """A refresh that raced with another event's file write loses its totals write to the later one."""
    audio = f"{PREFIX}/{SID}_room42__uid_s_1__uid_e_audio.m3u8"
    video = f"{PREFIX}/{SID}_room42__uid_s_1__uid_e_video.m3u8"
    e_audio = env.put(audio, playlist("4"))
    e_video = env.put(video, playlist("6"))
    repo = env.repo
    original = repo.file_items
    injected = []

    def racing_file_items(sid):
        items = original(sid)
        if not injected:  # while the audio event computes, the video event runs to completion
            injected.append(True)
            env.run(s3_message(video, etag=e_video, sequencer="02"))
        return items

    repo.file_items = racing_file_items  # type: ignore[method-assign]
    env.run(s3_message(audio, etag=e_audio, sequencer="01"))
    repo.file_items = original  # type: ignore[method-assign]
    totals = env.repo.totals_for_sid(SID)
    assert totals["duration_us"] == 10_000_000
    assert set(totals["streams"]) == {"1:audio", "1:video"}


def test_real_s3_notifications_through_sqs(env):
    """moto's own S3 -> SQS notification (URL-encoded key, no sequencer) through the handler."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="media")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "recordings/"},
                                {"Name": "suffix", "Value": ".m3u8"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    key = f"{PREFIX}/{SID}_room 42.m3u8"

    def deliver() -> dict[str, Any]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        bodies = [m["Body"] for m in messages if '"Records"' in m["Body"]]
        return env.run(*bodies) if bodies else {"batchItemFailures": []}

    env.put(key, playlist("5.0", ended=False))
    env.put(f"{PREFIX}/{SID}_room42_20240301120000000.ts", b"\x47" * 188)  # filtered out by the suffix
    assert deliver() == {"batchItemFailures": []}
    assert env.file(key)["duration_us"] == 5_000_000
    time.sleep(0.005)  # moto's events carry millisecond event times and no sequencer
    env.put(key, playlist("5.0", "5.0"))
    deliver()
    assert env.file(key)["duration_us"] == 10_000_000
    assert env.repo.totals_for_sid(SID)["ended"] is True


def test_handler_entry_point(env, monkeypatch):
    etag = env.put(MIX_KEY, playlist("2"))
    monkeypatch.setenv("MEDIA_TABLE", TABLE)
    handler.reset()  # a cold start: the handler builds its app from the environment

    class Context:
        function_name = "media"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:media"
        aws_request_id = "req-1"

    try:
        answer = handler.handler(sqs_event(s3_message(MIX_KEY, etag=etag, sequencer="01")), Context())
    finally:
        handler.reset()
    assert answer == {"batchItemFailures": []}
    assert env.repo.totals_for_sid(SID)["duration_us"] == 2_000_000


def test_the_file_write_itself_refuses_older_versions(env):
    """The condition on the write, not only the read-before, keeps order (two events racing on one key)."""
    item = {"sid": SID, "key": MIX_KEY, "status": "ok", "duration_us": 2, "event_time": "2024-03-01T12:00:01.000Z"}
    newer = {**item, "sequencer": logic.normalize_sequencer("0100")}
    older = {**item, "sequencer": logic.normalize_sequencer("FF"), "duration_us": 1}
    assert env.repo.put_file(newer) is True
    assert env.repo.put_file(older) is False
    assert env.repo.put_file(newer) is False  # the same event again
    # equal sequencers (moto sends none): the later event time wins, an earlier one does not
    later = {**newer, "event_time": "2024-03-01T12:00:02.000Z", "duration_us": 3}
    assert env.repo.put_file(later) is True
    assert env.repo.put_file({**newer, "duration_us": 4}) is False
    assert env.file(MIX_KEY)["duration_us"] == 3


def test_sequencers_compare_as_left_padded_hex():
    assert logic.normalize_sequencer("ff") == logic.normalize_sequencer("0FF")
    assert logic.normalize_sequencer("100") > logic.normalize_sequencer("FF")
    assert logic.normalize_sequencer(None) == "0" * 64
    with pytest.raises(logic.InvalidMessage):
        logic.normalize_sequencer("12G4")
    with pytest.raises(logic.InvalidMessage):
        logic.normalize_sequencer("1" * 65)
