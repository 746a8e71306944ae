"""``service.adapters.dynamodb``: the one conversion between DynamoDB attribute values and plain Python."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from service.adapters.dynamodb import (
    cancellation_reasons,
    error_code,
    from_attr,
    from_item,
    is_condition_failed,
    old_item,
    to_attr,
    to_item,
)


def test_round_trip_keeps_types_and_exact_numbers() -> None:
    value = {
        "s": "text",
        "i": 4_294_967_295,
        "neg": -7,
        "f": 0.1,
        "d": Decimal("12.50"),
        "b": True,
        "l": [1, "two", {"three": 3}],
        "ss": {"a", "b"},
        "ns": {1, 2},
        "nested": {"keep": 1, "absent": None},
    }
    back = from_item(to_item(value))
    assert back == {**value, "f": Decimal("0.1"), "nested": {"keep": 1}}
    assert type(back["i"]) is int and type(back["d"]) is Decimal  # integral -> int; else exact Decimal, never float


def test_none_is_absent_in_items_and_maps_but_null_alone() -> None:
    assert to_item({"a": None, "b": 1}) == {"b": {"N": "1"}}
    assert to_attr(None) == {"NULL": True} and from_attr({"NULL": True}) is None
    assert from_item({}) is None and from_item(None) is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), set(), {"a", 1}, object()])
def test_values_dynamodb_cannot_hold_are_refused(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        to_attr(bad)


def _client_error(code: str, **extra: object) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, **extra}, "UpdateItem")  # type: ignore[arg-type]


def test_reading_errors() -> None:
    lost = _client_error("ConditionalCheckFailedException", Item={"pk": {"S": "x"}, "n": {"N": "2"}})
    assert is_condition_failed(lost) and error_code(lost) == "ConditionalCheckFailedException"
    assert old_item(lost) == {"pk": "x", "n": 2}
    assert not is_condition_failed(_client_error("ProvisionedThroughputExceededException"))
    assert not is_condition_failed(ValueError("not an AWS error")) and error_code(ValueError()) == ""
    cancelled = _client_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]
    )
    assert cancellation_reasons(cancelled) == ["None", "ConditionalCheckFailed"]
    assert cancellation_reasons(lost) is None
