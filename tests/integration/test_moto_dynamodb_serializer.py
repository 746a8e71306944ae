"""``local.patches.moto_dynamodb_results_fast`` against moto's own serializer: the same answers (DynamoDB's item
operations, and DynamoDB Streams' ``GetRecords``).

Seeded random item operations (every attribute type, every ``ReturnValues`` and ``ReturnConsumedCapacity``,
projections, pages, an index, missing items) run with ``AGORA_MOTO_SERIALIZER_CHECK=1``: moto's serializer answers
each request as well, and a difference in status, headers or the JSON document fails the request. Binary values
are among them: JSON refuses bytes, so those answers take moto's path, and are checked there by moto's own tests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from local.patches import _FAST_DYNAMODB_OPERATIONS, SERIALIZER_CHECK, fast_answers

TABLE = "serializer"
SEED = 20261207
OPERATIONS = 400


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv(SERIALIZER_CHECK, "1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            }],
        )  # fmt: skip
        yield client


def _value(rng: random.Random, depth: int = 0) -> dict[str, Any]:  # noqa: PLR0911 - one return per type
    kinds = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"] + (["M", "L"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": rng.choice(["", "plain", "üñí €", "null", 'quote"d', "x" * rng.randint(1, 40)])}
    if kind == "N":
        return {"N": str(rng.choice([0, -1, 7, 10**30, Decimal("3.14"), Decimal("-0.001"), rng.randint(-9999, 9999)]))}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "SS":
        return {"SS": sorted({f"s{rng.randint(0, 9)}" for _ in range(rng.randint(1, 4))})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randint(0, 99)) for _ in range(rng.randint(1, 4))})}
    if kind == "BS":
        return {"BS": list({bytes([rng.randrange(256)]) for _ in range(rng.randint(1, 3))})}
    if kind == "M":
        return {"M": {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 3))}}
    return {"L": [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]}


def _key(rng: random.Random) -> dict[str, Any]:
    return {"pk": {"S": f"p{rng.randint(0, 3)}"}, "sk": {"S": f"s{rng.randint(0, 11):02d}"}}


def _item(rng: random.Random) -> dict[str, Any]:
    item = {**_key(rng), **{f"a{i}": _value(rng) for i in range(rng.randint(0, 4))}}
    if rng.random() < 0.7:
        item["gk"] = {"S": f"g{rng.randint(0, 2)}"}
    return item


def _capacity(rng: random.Random) -> dict[str, str]:
    return {"ReturnConsumedCapacity": rng.choice(["NONE", "TOTAL", "INDEXES"])}


def _operation(client: Any, rng: random.Random) -> None:  # noqa: PLR0911 - one branch per operation
    op = rng.choice(["put", "update", "delete", "get", "query", "query_index", "scan", "batch_get", "transact_get"])
    if op == "put":
        client.put_item(TableName=TABLE, Item=_item(rng), ReturnValues=rng.choice(["NONE", "ALL_OLD"]),
                        ReturnItemCollectionMetrics=rng.choice(["NONE", "SIZE"]), **_capacity(rng))  # fmt: skip
        return
    if op == "update":
        client.update_item(
            TableName=TABLE, Key=_key(rng), UpdateExpression="SET #a = :v ADD #n :one",
            ExpressionAttributeNames={"#a": f"a{rng.randint(0, 3)}", "#n": "hits"},
            ExpressionAttributeValues={":v": _value(rng), ":one": {"N": "1"}},
            ReturnValues=rng.choice(["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]), **_capacity(rng),
        )  # fmt: skip
        return
    if op == "delete":
        client.delete_item(TableName=TABLE, Key=_key(rng), ReturnValues=rng.choice(["NONE", "ALL_OLD"]),
                           **_capacity(rng))  # fmt: skip
        return
    if op == "get":
        extra = {"ProjectionExpression": "pk, a0, hits"} if rng.random() < 0.3 else {}
        client.get_item(TableName=TABLE, Key=_key(rng), ConsistentRead=rng.random() < 0.5, **extra, **_capacity(rng))
        return
    if op in ("query", "query_index"):
        index = op == "query_index"
        name, value = ("gk", f"g{rng.randint(0, 2)}") if index else ("pk", f"p{rng.randint(0, 3)}")
        args: dict[str, Any] = {
            "TableName": TABLE, "KeyConditionExpression": "#h = :h", "ExpressionAttributeNames": {"#h": name},
            "ExpressionAttributeValues": {":h": {"S": value}}, "ScanIndexForward": rng.random() < 0.5,
            **({"IndexName": "by-g"} if index else {}), **_capacity(rng),
        }  # fmt: skip
        if rng.random() < 0.5:
            args["Limit"] = rng.randint(1, 4)
        if rng.random() < 0.2:
            args["Select"] = "COUNT"
        page = client.query(**args)
        if "LastEvaluatedKey" in page:  # the next page, from where this one stopped
            client.query(**args, ExclusiveStartKey=page["LastEvaluatedKey"])
        return
    if op == "scan":
        args = {"TableName": TABLE, **_capacity(rng)}
        if rng.random() < 0.5:
            args["Limit"] = rng.randint(1, 5)
        if rng.random() < 0.3:
            args["FilterExpression"] = "attribute_exists(a1)"
        client.scan(**args)
        return
    keys = list({tuple(sorted((k, v["S"]) for k, v in _key(rng).items())) for _ in range(rng.randint(1, 4))})
    wanted = [{k: {"S": v} for k, v in key} for key in keys]
    if op == "batch_get":
        client.batch_get_item(RequestItems={TABLE: {"Keys": wanted}}, **_capacity(rng))
        return
    client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}} for key in wanted],
                              **_capacity(rng))  # fmt: skip


def _stream_pages(rng: random.Random) -> int:
    """Every record of the table's stream, read in pages of random sizes (as a stream pump reads them)."""
    import boto3

    from local.pumps import streams_client

    streams = streams_client(boto3.session.Session(region_name="us-east-1"))
    arn = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    position, read = iterator["ShardIterator"], 0
    while True:
        page = streams.get_records(ShardIterator=position, Limit=rng.randint(1, 50))
        read += len(page["Records"])
        if not page["Records"]:
            return read
        position = page["NextShardIterator"]


def test_every_item_operation_answers_as_motos_serializer_does(ddb: Any) -> None:
    rng = random.Random(SEED)
    before = fast_answers.copy()
    for _ in range(OPERATIONS):
        _operation(ddb, rng)  # a difference fails the request (SERIALIZER_CHECK)
    assert _stream_pages(rng) > OPERATIONS / 4  # the writes' records, old and new images, every attribute type
    taken = fast_answers - before
    assert set(taken) == {*_FAST_DYNAMODB_OPERATIONS, "GetRecords"}, taken  # the fast paths answered every kind


def test_what_the_fast_path_leaves_to_moto() -> None:
    from datetime import UTC, datetime

    from local.patches import fast_dynamodb_result

    members = ("Item", "ConsumedCapacity")
    assert (
        fast_dynamodb_result({"Item": {"a": {"S": "x"}}, "Extra": 1}, "GetItem", members)
        == '{"Item": {"a": {"S": "x"}}}'
    )
    assert fast_dynamodb_result({"Item": {"a": {"B": b"\x00"}}}, "GetItem", members) is None  # bytes: base64 by moto
    assert fast_dynamodb_result({"Item": {"t": datetime.now(UTC)}}, "GetItem", members) is None
    assert fast_dynamodb_result({"Item": None}, "GetItem", members) is None  # moto's serializer leaves it out
    assert fast_dynamodb_result({"Item": {"n": float("nan")}}, "GetItem", members) is None
    assert fast_dynamodb_result({"TableNames": []}, "ListTables", ("TableNames",)) is None  # not an item operation
