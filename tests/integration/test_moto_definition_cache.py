"""``local.patches.moto_definitions_validated_once``: moto accepts and refuses the same definitions, with the same
errors, as without it, and parses a definition that passed only once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

#: a state type the grammar does not know
INVALID = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Bogus"}}})
#: not JSON
GARBLED = '{"StartAt": "A", "States": '


def _verdict(validate: Callable[..., None], definition: str) -> str:
    try:
        validate(definition=definition)
    except Exception as exc:  # the error moto raises is the verdict compared
        return f"{type(exc).__name__}: {exc}"
    return "valid"


def test_the_same_definitions_are_accepted_and_refused_and_a_valid_one_is_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from local.patches import moto_definitions_validated_once

    # a definition this process has never validated (a local stack may have patched and used it already)
    valid = json.dumps({"Comment": str(uuid.uuid4()), "StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    current = StepFunctionsParserBackend._validate_definition
    motos = getattr(current, "_moto", current)
    expected = [_verdict(motos, d) for d in (valid, INVALID, GARBLED)]
    assert expected[0] == "valid" and "ASLParserException" in expected[1] and expected[2] != "valid", expected

    moto_definitions_validated_once()
    moto_definitions_validated_once()  # idempotent: one wrapper, not two
    patched = StepFunctionsParserBackend._validate_definition
    assert getattr(patched, "_moto", None) is motos
    parsed: list[str] = []
    parse = AmazonStateLanguageParser.parse
    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(lambda d: parsed.append(d) or parse(d)))
    for _ in range(2):
        assert [_verdict(patched, d) for d in (valid, INVALID, GARBLED)] == expected
    assert parsed.count(valid) == 1  # validated once, then remembered
    assert parsed.count(INVALID) == 2  # a refused definition is parsed (and refused) every time


def test_create_state_machine_still_refuses_an_invalid_definition() -> None:
    import boto3
    from moto import mock_aws

    from local.patches import moto_definitions_validated_once

    moto_definitions_validated_once()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # moto's parser backend, as a stack's
        client = boto3.client("stepfunctions", region_name="us-east-1")
        with pytest.raises(client.exceptions.ClientError, match="ASLParserException"):
            client.create_state_machine(name="bogus", definition=INVALID, roleArn="arn:aws:iam::123456789012:role/x")
