"""Untrusted JSON gets the same answer on every Python: 3.11 and 3.13 differ on deep nesting and long numbers."""

from __future__ import annotations

import json

import pytest
from agorakit import jsondoc


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [jsondoc.MAX_DEPTH + 1, 5_000, 100_000])
def test_nesting_past_the_limit_is_a_json_error(depth):
    with pytest.raises(json.JSONDecodeError, match="nested more than 64 levels"):
        jsondoc.loads(_nested(depth))


def test_nesting_at_the_limit_parses():
    document = jsondoc.loads(_nested(jsondoc.MAX_DEPTH))
    for _ in range(jsondoc.MAX_DEPTH - 1):
        document = document["a"]
    assert document == {"a": 1}


def test_lists_count_as_levels_too():
    with pytest.raises(json.JSONDecodeError):
        jsondoc.loads("[" * 65 + "]" * 65)
    assert jsondoc.loads("[" * 64 + "]" * 64)


def test_an_integer_past_pythons_digit_limit_is_a_json_error():
    with pytest.raises(json.JSONDecodeError, match="too many digits"):
        jsondoc.loads('{"ttl": ' + "9" * 5_000 + "}")


@pytest.mark.parametrize("raw", [b"\xff\xfe{", "{", "", "nul"])
def test_other_failures_stay_json_errors(raw):
    with pytest.raises(json.JSONDecodeError):
        jsondoc.loads(raw)


def test_scalars_and_wide_documents_pass():
    assert jsondoc.loads("3") == 3
    wide = {f"k{i}": [i, {"x": i}] for i in range(2_000)}
    assert jsondoc.loads(json.dumps(wide)) == wide


@pytest.mark.parametrize(
    ("text", "value"),
    [("60.0", 60), ("6e1", 60), ("-0.0", 0), ("1E2", 100), ("60.5", 60.5), ("1e30", 1e30), ("1e-3", 0.001)],
)
def test_a_whole_number_with_a_fraction_is_the_integer_json_schema_says(text: str, value: float) -> None:
    read = jsondoc.loads(f'{{"n": {text}}}', parse_float=jsondoc.whole_number)["n"]
    assert read == value and type(read) is type(value)


def test_a_huge_exponent_stays_a_float_and_builds_no_huge_integer() -> None:
    assert jsondoc.loads("[1e999999999]", parse_float=jsondoc.whole_number) == [float("inf")]
    assert type(jsondoc.loads("[123456789012345678901234567890.0]", parse_float=jsondoc.whole_number)[0]) is float
