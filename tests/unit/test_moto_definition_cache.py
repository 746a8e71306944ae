"""``local.patches.moto_definitions_validated_once``: moto accepts and refuses the same definitions, with the same
errors, as without it, and parses a definition that passed only once."""

from __future__ import annotations

import json
from typing import Any

import pytest

VALID = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
#: a state type the grammar does not know
INVALID = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Bogus"}}})
#: not JSON
GARBLED = '{"StartAt": "A", "States": '
#: moto's parser backend (the one that validates and executes), as every local stack configures it
PARSER = {"stepfunctions": {"execute_state_machine": True}}


def _created(definition: str, name: str) -> Any:
    import boto3

    return boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
        name=name, definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
    )


def _outcome(definition: str, name: str) -> str:
    try:
        _created(definition, name)
    except Exception as exc:  # the error moto answers is the outcome compared
        return f"{type(exc).__name__}: {exc}"
    return "created"


def test_the_same_definitions_are_accepted_and_refused_and_a_valid_one_is_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto import mock_aws
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from local.patches import moto_definitions_validated_once

    with mock_aws(config=PARSER):
        before = [_outcome(d, f"before-{i}") for i, d in enumerate((VALID, INVALID, GARBLED))]
    assert before[0] == "created" and before[1] != "created" and before[2] != "created", before

    parsed: list[str] = []
    parse = AmazonStateLanguageParser.parse
    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(lambda d: parsed.append(d) or parse(d)))
    moto_definitions_validated_once()
    moto_definitions_validated_once()  # idempotent: one wrapper, not two
    with mock_aws(config=PARSER):
        after = [_outcome(d, f"after-{i}") for i, d in enumerate((VALID, INVALID, GARBLED))]
        again = [_outcome(d, f"again-{i}") for i, d in enumerate((VALID, INVALID, GARBLED))]
    assert after == before and again == before
    assert parsed.count(VALID) == 1  # validated once, then remembered
    assert parsed.count(INVALID) == 2  # a refused definition is parsed (and refused) every time
