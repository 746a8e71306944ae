"""``local.patches.transact_write_items`` against moto's own: the same transactions, the same outcome.

The local stack (``serialized_dynamodb``) replaces moto's ``transact_write_items`` with one that snapshots only the
items a transaction names instead of deep-copying whole tables (items and stream records). Seeded random
transactions (Put, Update, Delete, ConditionCheck; conditions that hold and fail; the same item twice; an operation
moto refuses) run on two identical pairs of tables, one through moto's method and one through ours, over boto3:
the error (type, cancellation reasons), every item after, and the stream records after must be equal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from local.patches import serialized_dynamodb

KEYS = ["a", "b", "c"]
SORTS = ["1", "2"]


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def _tables(ddb: Any) -> tuple[str, str]:
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    simple, ranged = f"s-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=simple, BillingMode="PAY_PER_REQUEST", StreamSpecification=stream,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )  # fmt: skip
    ddb.create_table(
        TableName=ranged, BillingMode="PAY_PER_REQUEST", StreamSpecification=stream,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )  # fmt: skip
    return simple, ranged


def _key(ranged: bool, pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}} if ranged else {"pk": {"S": pk}}


operation = st.fixed_dictionaries({
    "kind": st.sampled_from(["Put", "Update", "Delete", "ConditionCheck", "BadPut"]),
    "ranged": st.booleans(),
    "pk": st.sampled_from(KEYS),
    "sk": st.sampled_from(SORTS),
    "n": st.integers(0, 3),
    "condition": st.sampled_from([None, "exists", "absent", "n_below", "n_equals"]),
    "all_old": st.booleans(),
})  # fmt: skip
scenario = st.fixed_dictionaries({
    "seed": st.lists(st.tuples(st.booleans(), st.sampled_from(KEYS), st.sampled_from(SORTS), st.integers(0, 3)),
                     max_size=6),
    "ops": st.lists(operation, min_size=1, max_size=5),
})  # fmt: skip


def _transaction(ops: list[dict[str, Any]], simple: str, ranged: str) -> list[dict[str, Any]]:
    items = []
    for op in ops:
        table = ranged if op["ranged"] else simple
        key = _key(op["ranged"], op["pk"], op["sk"])
        body: dict[str, Any] = {"TableName": table}
        condition = {
            "exists": ("attribute_exists(pk)", {}),
            "absent": ("attribute_not_exists(pk)", {}),
            "n_below": ("n < :n", {":n": {"N": str(op["n"])}}),
            "n_equals": ("n = :n", {":n": {"N": str(op["n"])}}),
        }.get(op["condition"] or "")
        if condition:
            body["ConditionExpression"] = condition[0]
            if condition[1]:
                body["ExpressionAttributeValues"] = dict(condition[1])
            if op["all_old"]:
                body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        kind = op["kind"]
        if kind in ("Put", "BadPut"):
            body["Item"] = {**key, "n": {"N": str(op["n"])}, "v": {"S": uuid.uuid5(uuid.NAMESPACE_OID, str(op)).hex}}
            if kind == "BadPut":
                body["Item"].pop("pk")  # moto refuses it (a validation error: the whole call fails)
            items.append({"Put": body})
            continue
        body["Key"] = key
        if kind == "Update":
            body["UpdateExpression"] = "SET m = :m"
            body.setdefault("ExpressionAttributeValues", {})[":m"] = {"N": str(op["n"])}
        if kind == "ConditionCheck" and "ConditionExpression" not in body:
            body["ConditionExpression"] = "attribute_exists(pk)"
        items.append({kind: body})
    return items


def _state(ddb: Any, simple: str, ranged: str) -> Any:
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    out = []
    for name in (simple, ranged):
        rows = sorted(ddb.scan(TableName=name)["Items"], key=lambda i: (i["pk"]["S"], i.get("sk", {}).get("S", "")))
        records = [
            (r.record["eventName"], r.record["dynamodb"].get("Keys"), r.record["dynamodb"].get("NewImage"),
             r.record["dynamodb"].get("OldImage"))
            for r in backend.tables[name].stream_shard.items
        ]  # fmt: skip
        out.append((rows, records))
    return out


def _run(ddb: Any, transaction: list[dict[str, Any]]) -> Any:
    try:
        ddb.transact_write_items(TransactItems=transaction)
    except ClientError as exc:
        error = exc.response["Error"]
        return error["Code"], error.get("Message"), exc.response.get("CancellationReasons")
    return None


def _rename(transaction: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {kind: {**body, "TableName": names[body["TableName"]]}} for item in transaction for kind, body in item.items()
    ]


@settings(max_examples=60, deadline=None)
@given(case=scenario)
def test_our_transactions_end_as_motos_do(ddb: Any, case: dict[str, Any]) -> None:
    theirs, ours = _tables(ddb), _tables(ddb)
    for tables in (theirs, ours):
        for is_ranged, pk, sk, n in case["seed"]:
            ddb.put_item(
                TableName=tables[1] if is_ranged else tables[0], Item={**_key(is_ranged, pk, sk), "n": {"N": str(n)}}
            )
    transaction = _transaction(case["ops"], *theirs)
    expected_error = _run(ddb, transaction)
    with serialized_dynamodb():
        got_error = _run(ddb, _rename(transaction, dict(zip(theirs, ours, strict=True))))
    assert got_error == expected_error
    assert _state(ddb, *ours) == _state(ddb, *theirs)


def test_a_failed_transaction_puts_back_its_items_and_keeps_the_others_writes(ddb: Any) -> None:
    """A cancelled transaction leaves what it touched as it was; another item written since stays written."""
    simple, _ = _tables(ddb)
    ddb.put_item(TableName=simple, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    with serialized_dynamodb():
        with pytest.raises(ClientError, match="TransactionCanceled"):
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": simple, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :n",
                            "ExpressionAttributeValues": {":n": {"N": "2"}}}},
                {"ConditionCheck": {"TableName": simple, "Key": {"pk": {"S": "b"}},
                                    "ConditionExpression": "attribute_exists(pk)"}},
            ])  # fmt: skip
        ddb.put_item(TableName=simple, Item={"pk": {"S": "c"}})
    assert ddb.get_item(TableName=simple, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}
    assert "Item" in ddb.get_item(TableName=simple, Key={"pk": {"S": "c"}})
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    assert [r.record["eventName"] for r in backend.tables[simple].stream_shard.items] == ["INSERT", "INSERT"]
