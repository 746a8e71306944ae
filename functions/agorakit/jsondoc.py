"""One JSON reader for untrusted bodies: the same answer on every Python version.

``json.loads`` alone differs between interpreters on hostile input: 5,000 levels of nesting raise
RecursionError on 3.11 but parse on 3.13 (its C scanner has its own, higher limit), and an integer of more
than 4,300 digits raises a plain ValueError. Bodies from clients and from Agora go through ``loads``, which
refuses both the same way everywhere, as a ``json.JSONDecodeError`` that callers already map to "not valid
JSON".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: deeper than any request or notification this service reads, far below any interpreter's own limit
MAX_DEPTH = 64
#: the messages of the two refusals ``json.loads`` alone would not make (callers may word them for their users)
TOO_DEEP = "the JSON is nested more than {max_depth} levels deep"
TOO_MANY_DIGITS = "a number in the JSON has too many digits"


def whole_number(text: str) -> float | int:
    """A JSON number with a fraction or exponent (``60.0``, ``6e1``): the integer when its value is whole, as
    JSON Schema reads it (``"type": "integer"`` matches ``60.0``); a float otherwise. Up to 18 digits: a
    larger value stays a float (no bound of ours reaches it), so no huge integer is ever built."""
    from decimal import Decimal  # here: only bodies with a fraction or an exponent pay for it

    value = Decimal(text)
    if value.is_finite() and value.adjusted() < 18 and value == value.to_integral_value():
        return int(value)
    return float(text)


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, parse_float: Callable[[str], Any] | None = None) -> Any:
    """Parse ``text``; raise ``json.JSONDecodeError`` for anything that is not a JSON document we accept.
    ``parse_float``: as ``json.loads`` (``whole_number`` reads ``60.0`` as the integer 60)."""
    shown = text[:64] if isinstance(text, str) else text[:64].decode("utf-8", "replace")
    try:
        document = json.loads(text, parse_float=parse_float)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError(TOO_DEEP.format(max_depth=max_depth), shown, 0) from None
    except UnicodeDecodeError:
        raise json.JSONDecodeError("the JSON is not UTF-8 text", shown, 0) from None
    except ValueError:  # int('9' * 4301): Python's limit on integer digits
        raise json.JSONDecodeError(TOO_MANY_DIGITS, shown, 0) from None
    if isinstance(document, (dict, list)) and _deeper_than(document, max_depth):
        raise json.JSONDecodeError(TOO_DEEP.format(max_depth=max_depth), shown, 0)
    return document


def _deeper_than(document: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
