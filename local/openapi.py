"""``make openapi``: docs/openapi.json, generated from the code, never written by hand.

The synthesized template says which functions serve which routes; each API function's Powertools
resolver describes its operations (request/response models, validation errors); routes served by a
function without a resolver (the NCS webhook) get a description here. The JWT authorizer becomes a
bearer security scheme on the routes that have it.

``python -m local.openapi --write`` rewrites the file; ``--check`` exits 1 when it is stale.
Generation imports the handlers with the stack's environment, so run it in its own process.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_PATH = ROOT / "docs" / "openapi.json"
#: the copy the deployed API serves when ``apiDocs`` is on (``service.apidocs``: it must be in the code asset)
SERVED_COPY = ROOT / "functions" / "service" / "apidocs" / "openapi.json"
TITLE = "agora-serverless API"
DESCRIPTION = (
    "Agora tokens, cloud recording, NCS webhooks, recording durations and channel moderation. "
    "Every route except the webhook needs an ID token from the user pool (Authorization: Bearer ...). "
    'Locally (`make run`) get one with POST /local/token {"username": "host-1"}.'
)
_PARAM = re.compile(r"\{[^}]+\}")

WEBHOOK_OPERATION: dict[str, Any] = {
    "summary": "Agora Notifications (NCS) webhook receiver",
    "description": (
        "Called by Agora's Notification Center Service, not by users. The body is verified with the "
        "Agora-Signature-V2 (HMAC-SHA256) or Agora-Signature (HMAC-SHA1) header over the exact bytes, stored "
        "once per productId + noticeId and answered with 200 quickly; processing happens asynchronously."
    ),
    "tags": ["webhooks"],
    "parameters": [
        {"name": "Agora-Signature-V2", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "hex HMAC-SHA256 of the raw body with the NCS secret"},
        {"name": "Agora-Signature", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "hex HMAC-SHA1 of the raw body with the NCS secret"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["noticeId", "productId", "eventType", "payload"],
        "properties": {
            "noticeId": {"type": "string"}, "productId": {"type": "integer", "examples": [1, 3]},
            "eventType": {"type": "integer", "examples": [101, 103, 40, 41, 31]},
            "notifyMs": {"type": "integer"}, "sid": {"type": "string"}, "payload": {"type": "object"},
        }}}}},
    "responses": {
        "200": {"description": "accepted (also for a duplicate delivery)", "content": {"application/json": {
            "schema": {"type": "object", "required": ["ok"], "properties": {
                "ok": {"type": "boolean"}, "duplicate": {"type": "boolean"}}}}}},
        "400": {"description": "not an NCS envelope (or not JSON, or an integer beyond 4300 digits)"},
        "401": {"description": "missing or wrong signature, or a secret not configured for the productId"},
        "413": {"description": "the body is above the intake's limit, or the notice could never be stored "
                               "(code notice_too_large: DynamoDB's 400 KB item limit); NCS should not retry"},
        "503": {"description": "the NCS secret or the inbox is unavailable; NCS retries"},
    },
}  # fmt: skip

#: the groups of routes in Swagger UI, one per capability
TAGS: list[dict[str, str]] = [
    {"name": "tokens", "description": "RTC and RTM tokens for the signed-in user"},
    {"name": "recordings", "description": "Cloud recording: start, list, stop, update (admins)"},
    {"name": "channels", "description": "Online channels and their users (admins)"},
    {"name": "kicking rules", "description": "Ban a uid or an IP from a channel (admins)"},
    {"name": "projects", "description": "Agora projects, usage and App Certificate rotation (owners)"},
    {"name": "webhooks", "description": "Agora's Notification Center Service (NCS) posts events here"},
]


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def _norm(path: str) -> str:
    return _PARAM.sub("{}", path.rstrip("/") or "/")


def _resolvers(module: Any) -> list[Any]:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    return [v for v in vars(module).values() if isinstance(v, ApiGatewayResolver)]


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def generate(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged OpenAPI document (imports the API handlers: call in a dedicated process)."""
    from local.provision import dry_routes, synth_template

    template = template if template is not None else synth_template()
    functions, routes = dry_routes(template)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    by_name = {f.name: f for f in functions.values()}
    descriptions = {
        f.name: str((template["Resources"][lid].get("Properties") or {}).get("Description", ""))
        for lid, f in functions.items()
    }
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    covered: set[tuple[str, str]] = set()
    for fn_name in sorted({r.function for r in routes}):
        spec = by_name[fn_name]
        fn_routes = {(r.method, _norm(r.path)): r for r in routes if r.function == fn_name}
        module = importlib.import_module(spec.handler.rpartition(".")[0])
        for resolver in _resolvers(module):
            doc = json.loads(resolver.get_openapi_json_schema(title=TITLE, version=_version()))
            renames: dict[str, str] = {}
            for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
                if name in schemas and schemas[name] != schema:
                    renames[name] = f"{spec.handler.split('.')[1].title()}{name}"
            doc = _rename_refs(doc, renames)
            for name, schema in (doc.get("components", {}).get("schemas") or {}).items():
                schemas[renames.get(name, name)] = schema
            for path, item in (doc.get("paths") or {}).items():
                for method, operation in item.items():
                    route = fn_routes.get((method.upper(), _norm(path))) or fn_routes.get(("ANY", _norm(path)))
                    if route is None:
                        continue  # a resolver route the API does not expose
                    covered.add((route.method, _norm(route.path)))
                    paths.setdefault(path, {})[method] = _with_errors(_secure(operation, route), doc)
    for route in routes:
        if (route.method, _norm(route.path)) in covered:
            continue
        method = "post" if route.method == "ANY" else route.method.lower()
        if route.path.endswith("/webhooks/agora"):
            operation = copy.deepcopy(WEBHOOK_OPERATION)
        else:
            operation = {"summary": descriptions.get(route.function) or route.route_key,
                         "responses": {"200": {"description": "OK"}}}  # fmt: skip
        operation["operationId"] = re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{route.path}").strip("_")
        paths.setdefault(route.path, {})[method] = _with_errors(_secure(operation, route), {})
    schemas = _prune(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": _version(), "description": DESCRIPTION},
        "tags": TAGS,
        "paths": {p: dict(sorted(paths[p].items())) for p in sorted(paths)},
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "ID token of the user pool (or of the local issuer)",
                }
            },
        },
    }


_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
#: Powertools' own validation-error schemas: our error mapping answers ErrorResponse instead
_POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _with_errors(operation: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx carries the one error schema (``service.errors.error_body``); Powertools' automatic 422
    is dropped where the route has no body (a bad query, header or path value is a 400 here); a request
    body's schema example becomes the media type's example, which is what Swagger UI pre-fills."""
    responses = dict(operation.get("responses") or {})
    if "requestBody" not in operation:
        responses.pop("422", None)
    if "204" in responses:  # No Content: Powertools would describe the return annotation's body
        responses["204"] = {k: v for k, v in responses["204"].items() if k != "content"}
    for status, response in list(responses.items()):
        if status[0] in "45":
            content = (response.get("content") or {}).get("application/json", {}).get("schema")
            if content is None or content.get("$ref", "").rsplit("/", 1)[-1] in _POWERTOOLS_SCHEMAS:
                responses[status] = {**response, "content": _ERROR_CONTENT}
    operation["responses"] = dict(sorted(responses.items()))
    media = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
    if media is not None:
        ref = (media.get("schema") or {}).get("$ref", "").rsplit("/", 1)[-1]
        examples = ((doc.get("components") or {}).get("schemas") or {}).get(ref, {}).get("examples")
        if examples:
            media["example"] = examples[0]
    return operation


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _prune(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """Only the schemas the paths reach (directly or through other schemas)."""
    wanted: set[str] = set()
    todo = _refs(paths)
    while todo:
        name = todo.pop()
        if name in wanted or name not in schemas:
            continue
        wanted.add(name)
        todo |= _refs(schemas[name])
    return {name: schemas[name] for name in wanted}


def _secure(operation: dict[str, Any], route: Any) -> dict[str, Any]:
    operation = dict(operation)
    if route.authorizer is not None:
        operation["security"] = [{"jwt": list(route.scopes)}]
        responses = dict(operation.get("responses") or {})
        responses.setdefault("401", {"description": "missing, invalid or expired token"})
        operation["responses"] = responses
    else:
        operation["security"] = []
    return operation


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.openapi", description="docs/openapi.json from the handlers")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite docs/openapi.json")
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    mode.add_argument("--print", action="store_true", help="print the document")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.print:
        sys.stdout.write(text)
        return 0
    targets = (OPENAPI_PATH, SERVED_COPY)
    stale = [p for p in targets if (p.read_text() if p.exists() else "") != text]
    if args.check:
        if stale:
            names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
            print(f"{names} stale: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{OPENAPI_PATH.relative_to(ROOT)} is up to date")
        return 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)} ({len(json.loads(text)['paths'])} paths)")
    if not stale:
        print(f"{OPENAPI_PATH.relative_to(ROOT)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
