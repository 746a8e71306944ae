"""The events' contracts: docs/events/*.json are what the detail models say (regenerate with
``make event-schemas``), each example passes its own schema, and docs/events.md lists every detail-type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate
from service.events.model import DETAILS
from service.events.schemas import documents

from tests.support.event_contracts import assert_valid

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "events"


def test_the_committed_schemas_are_the_generated_ones():
    generated = documents()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert sorted(committed) == sorted(generated), "run `make event-schemas`"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run `make event-schemas`"


@pytest.mark.parametrize("name", sorted(documents()))
def test_each_example_passes_its_schema_and_a_bad_detail_does_not(name):
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    (example,) = schema["examples"]
    validate(event=example, schema=schema)
    with pytest.raises(SchemaValidationError):
        validate(event={**example, "unexpected": 1}, schema=schema)
    with pytest.raises(SchemaValidationError):
        validate(event={k: v for k, v in example.items() if k != "event_id"}, schema=schema)
    # the tests' own check (a compiled schema per detail-type) answers as Powertools' validate does
    detail_type = schema["x-detail-type"]
    assert assert_valid({"detail-type": detail_type, "detail": example}) == example
    for bad in ({**example, "unexpected": 1}, {k: v for k, v in example.items() if k != "event_id"}):
        with pytest.raises(AssertionError, match=detail_type):
            assert_valid({"detail-type": detail_type, "detail": bad})


def test_every_detail_type_is_documented_with_its_file():
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    for model in DETAILS:
        assert f"| `{model.DETAIL_TYPE}` |" in text, model.DETAIL_TYPE
        assert (SCHEMAS / f"{model.schema_name()}.v1.json").exists()
