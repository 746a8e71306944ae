# ruff: noqa: E501 - record fixtures read best on one line
"""Event filtering and schedule expressions of the local pumps (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from local.event_filter import failed_ids, matches, sqs_record, stream_record
from local.schedules import Cron, rate_seconds


def test_filter_exact_prefix_numeric_exists_anything_but() -> None:
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"pk": {"S": "REC#1"}, "n": {"N": "5"}}}}
    assert matches({"eventName": ["INSERT", "MODIFY"]}, record)
    assert not matches({"eventName": ["REMOVE"]}, record)
    assert matches({"dynamodb": {"NewImage": {"pk": {"S": [{"prefix": "REC#"}]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"pk": {"S": [{"prefix": "LOCK#"}]}}}}, record)
    assert matches({"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 1, "<=", 5]}]}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 5]}]}}}}, record)
    assert matches({"dynamodb": {"OldImage": [{"exists": False}]}}, record)
    assert not matches({"dynamodb": {"NewImage": [{"exists": False}]}}, record)
    assert matches({"eventName": [{"anything-but": ["REMOVE"]}]}, record)
    assert not matches({"eventName": [{"anything-but": "INSERT"}]}, record)
    assert matches({"$or": [{"eventName": ["REMOVE"]}, {"eventName": [{"suffix": "ERT"}]}]}, record)
    assert matches({"eventName": [{"equals-ignore-case": "insert"}]}, record)


def test_filter_matches_any_element_of_an_array() -> None:
    assert matches({"tags": ["b"]}, {"tags": ["a", "b"]})
    assert not matches({"tags": ["c"]}, {"tags": ["a", "b"]})
    assert not matches({"missing": ["x"]}, {})


def test_rates_and_cron() -> None:
    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 * * * ? *)") is None
    cron = Cron("cron(15 10 ? * MON-FRI *)")
    friday = dt.datetime(2026, 1, 2, 10, 15, tzinfo=dt.UTC)  # a Friday
    assert cron.matches(friday) and not cron.matches(friday + dt.timedelta(days=1))
    assert cron.next_after(friday) == dt.datetime(2026, 1, 5, 10, 15, tzinfo=dt.UTC)  # Monday
    every5 = Cron("cron(0/5 * * * ? *)")
    assert every5.next_after(dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)) == dt.datetime(
        2026, 1, 1, 0, 5, tzinfo=dt.UTC
    )
    with pytest.raises(ValueError, match="6 fields"):
        Cron("cron(* * * *)")
    with pytest.raises(ValueError, match="not supported"):
        Cron("cron(0 0 L * ? *)")


def test_record_shapes_match_lambda_events() -> None:
    rec = stream_record(
        {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.0", "awsRegion": "us-east-1",
         "dynamodb": {"ApproximateCreationDateTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "SequenceNumber": "7",
                      "Keys": {"pk": {"S": "a"}}, "NewImage": {"b": {"B": b"\x00\x01"}}}},
        stream_arn="arn:stream", region="eu-west-1",
    )  # fmt: skip
    assert rec["eventSourceARN"] == "arn:stream" and rec["awsRegion"] == "eu-west-1" and rec["eventVersion"] == "1.1"
    assert rec["dynamodb"]["ApproximateCreationDateTime"] == 1767225600
    assert rec["dynamodb"]["NewImage"]["b"]["B"] == "AAE="
    msg = sqs_record(
        {"MessageId": "m", "ReceiptHandle": "r", "Body": "{}", "MD5OfBody": "x", "Attributes": {"ApproximateReceiveCount": "1"},
         "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        queue_arn="arn:q", region="us-east-1",
    )  # fmt: skip
    assert msg["eventSource"] == "aws:sqs" and msg["messageAttributes"]["k"]["stringValue"] == "v"
    assert msg["attributes"] == {"ApproximateReceiveCount": "1"}


def test_batch_item_failures_parsing() -> None:
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "2"}]}) == ["2"]
    assert failed_ids({"batchItemFailures": []}) == []
    assert failed_ids(None) is None and failed_ids({"ok": 1}) is None
