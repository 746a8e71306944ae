"""The one DynamoDB adapter: attribute values <-> plain Python, and reading DynamoDB's errors.

Every repository talks to the low-level botocore client (``service.adapters.aws``), so no boto3
resource layer is loaded. Values convert the same way everywhere:

- write: str, bool, int, float, Decimal, None, list/tuple, dict, set of str (SS) or of numbers (NS);
  ``None`` at the top of an item or inside a map means "absent" and is left out; a float is stored
  through its shortest decimal text (never NaN or infinity);
- read: a number is an ``int`` when it is integral, else an exact ``Decimal`` (never a float, which
  could not give back what was stored); SS/NS become sets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
#: the cancellation reason of one transaction item whose condition failed
ITEM_CONDITION_FAILED = "ConditionalCheckFailed"


# ---------------------------------------------------------------------------------------------- values


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"DynamoDB cannot store {value}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"DynamoDB cannot store {value}")
    return str(value)


def _set_attr(value: set[Any] | frozenset[Any]) -> dict[str, Any]:
    if value and all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)}
    if value and all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in value):
        return {"NS": sorted(_number_text(v) for v in value)}
    raise TypeError("a DynamoDB set must be non-empty and all strings or all numbers")


def to_attr(value: Any) -> dict[str, Any]:  # noqa: PLR0911 - one return per DynamoDB type
    """One AttributeValue."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number_text(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items() if v is not None}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, set | frozenset):
        return _set_attr(value)
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def to_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or key) in DynamoDB's format; ``None`` attributes are left out."""
    return {k: to_attr(v) for k, v in item.items() if v is not None}


def _number(text: str) -> int | Decimal:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else number


_DECODERS: dict[str, Any] = {
    "S": lambda v: v,
    "N": _number,
    "BOOL": bool,
    "NULL": lambda _: None,
    "L": lambda v: [from_attr(x) for x in v],
    "M": lambda v: {k: from_attr(x) for k, x in v.items()},
    "SS": set,
    "NS": lambda v: {_number(x) for x in v},
    "B": lambda v: v,
}


def from_attr(attr: Mapping[str, Any]) -> Any:
    for tag, value in attr.items():
        decoder = _DECODERS.get(tag)
        if decoder is not None:
            return decoder(value)
    raise TypeError(f"unsupported attribute {sorted(attr)}")


def from_item(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A plain dict, or None for a missing (or empty) item."""
    if not item:
        return None
    return {k: from_attr(v) for k, v in item.items()}


def from_items(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [plain for plain in (from_item(i) for i in items) if plain is not None]


# ---------------------------------------------------------------------------------------------- errors


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_condition_failed(exc: BaseException) -> bool:
    """A conditional write (PutItem/UpdateItem/DeleteItem) lost its condition."""
    return error_code(exc) == CONDITION_FAILED


def cancellation_reasons(exc: BaseException) -> list[str] | None:
    """Per-item reason codes of a cancelled transaction, or None when ``exc`` is not a cancellation."""
    if error_code(exc) != TRANSACTION_CANCELED:
        return None
    response = getattr(exc, "response", None) or {}
    return [str(r.get("Code") or "None") for r in response.get("CancellationReasons", [])]


def old_item(exc: BaseException) -> dict[str, Any] | None:
    """The item as it was, from a failed condition with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``."""
    response = getattr(exc, "response", None) or {}
    return from_item(response.get("Item"))
