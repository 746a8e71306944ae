"""docs/openapi.json as committed: well formed, and every request body with an example its schema accepts.

That it is what the handlers generate (a stale file fails: run `make openapi`) is checked in the infra tier
(tests/infra/test_openapi_current.py): generation reads the synthesized template.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_document_is_well_formed() -> None:
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert doc["openapi"].startswith("3.")
    assert doc["paths"], "no paths: run `make openapi`"
    assert "jwt" in doc["components"]["securitySchemes"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "security" in operation, f"{method.upper()} {path} has no security declaration"


def test_every_request_body_has_an_example_that_its_schema_accepts() -> None:
    """Swagger UI pre-fills a body with the media type's example; without one it builds a sample from the
    schema (minimum values, "string" for every text, every optional field set), which the API refuses or,
    for POST /tokens, answers with a 1-second token. The webhook's body needs an NCS signature: not pasteable."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    registry = Registry().with_resource("urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012))
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            media = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
            if media is None or path == "/webhooks/agora":
                continue
            route = f"{method.upper()} {path}"
            assert "example" in media, f"{route}: no request example for Swagger UI"
            schema = {"$ref": "urn:doc" + media["schema"]["$ref"]}
            errors = list(Draft202012Validator(schema, registry=registry).iter_errors(media["example"]))
            assert not errors, f"{route}: its example breaks its schema: {errors[0].message}"
            if path == "/tokens":
                ttl = media["example"].get("ttl")
                assert ttl is None or ttl >= 600, f"{route}: the example mints a {ttl}-second token"
