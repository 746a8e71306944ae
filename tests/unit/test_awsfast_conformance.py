"""The fast client against test suites nobody here wrote (issue 22): AWS's SigV4 test suite and botocore's
JSON / JSON 1.0 protocol cases (whose JSON 1.0 cases are Smithy's awsJson1_0 protocol tests), vendored under
tests/fixtures/aws-conformance/ (README.md there: source, version, licence, and the cases that do not apply).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import quote

import awsfast
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aws-conformance"
SUITE = FIXTURES / "aws4_testsuite"
#: SigV4 cases whose request our clients never make (README.md says why)
SIGV4_NOT_APPLICABLE = {
    "get-header-key-duplicate": "a header name repeated: our requests carry each header once",
    "get-header-value-multiline": "a folded header value: our requests have none",
    "get-header-value-order": "a header name repeated: our requests carry each header once",
    "normalize-path": "path normalization ('/./', '/../', '//'): our paths are '/' or an S3 key, never normalized",
    "post-sts-header-after": "a security token added after signing: we sign it, as botocore does",
}


#: botocore's own test reads this case's token from its canonical request; our clients add the header so
SESSION_TOKEN = {"get-vanilla-with-session-token": "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}


def _cases() -> list[Path]:
    return sorted(path.parent for path in SUITE.rglob("*.req"))


def _parse(request: str) -> tuple[str, str, str, dict[str, str], bytes]:
    head, _, body = request.partition("\n\n")
    lines = [line for line in head.split("\n") if line]
    method = lines[0].split(" ", 1)[0]
    target = lines[0][len(method) + 1 : lines[0].rindex(" HTTP/1.1")]
    path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.lower()] = value
    return method, path, query, headers, body.encode()


def _canonical_query(query: str) -> str:
    """SigV4's canonical query (our one query, S3's ``versionId``, is built so by awsfast.s3)."""
    from urllib.parse import unquote

    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


@pytest.mark.parametrize("case", _cases(), ids=lambda path: str(path.relative_to(SUITE)))
def test_sigv4_suite(case: Path):
    name = case.name
    group = case.relative_to(SUITE).parts[0]
    if name in SIGV4_NOT_APPLICABLE or group in SIGV4_NOT_APPLICABLE:
        pytest.skip(SIGV4_NOT_APPLICABLE.get(name) or SIGV4_NOT_APPLICABLE[group])
    method, path, query, headers, body = _parse((case / f"{name}.req").read_text())
    if name in SESSION_TOKEN:
        headers["x-amz-security-token"] = SESSION_TOKEN[name]
    authorization = awsfast.sign(
        method=method,
        url="https://" + headers["host"] + quote(path, safe="/~"),
        headers=headers,
        body=body,
        service="service",
        region="us-east-1",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        amz_date=headers["x-amz-date"],
        query=_canonical_query(query),
    )
    assert authorization == (case / f"{name}.authz").read_text().strip()


def test_the_sigv4_suite_is_all_there():
    cases = _cases()
    applicable = [c for c in cases if not {c.name, c.relative_to(SUITE).parts[0]} & set(SIGV4_NOT_APPLICABLE)]
    assert (len(cases), len(applicable)) == (34, 22)


# ------------------------------------------------------------------------------------ protocol cases


def _protocol_cases(kind: str) -> list[tuple[str, dict, dict]]:
    found = []
    for name in ("json.json", "json_1_0.json"):
        for suite in json.loads((FIXTURES / "protocols" / kind / name).read_text()):
            for index, case in enumerate(suite["cases"]):
                found.append((f"{name}:{case.get('id') or suite['description']}:{index}", suite, case))
    return found


def _has(value: object, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, kinds):
        return True
    if isinstance(value, dict):
        return any(_has(v, kinds) for v in value.values())
    if isinstance(value, list):
        return any(_has(v, kinds) for v in value)
    return False


def _shape_uses(suite: dict, shape_name: str | None, types: set[str], seen: set[str] | None = None) -> bool:
    """Whether the shape (transitively) has a member of one of ``types`` (blob, timestamp, ...)."""
    if not shape_name:
        return False
    seen = seen if seen is not None else set()
    if shape_name in seen:
        return False
    seen.add(shape_name)
    shape = suite["shapes"][shape_name]
    if shape["type"] in types or ("union" in types and shape.get("union")):
        return True
    inner = [m["shape"] for m in shape.get("members", {}).values()]
    inner += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
    return any(_shape_uses(suite, name, types, seen) for name in inner)


def _value_uses(suite: dict, shape_name: str | None, value: object, types: set[str]) -> bool:
    """Whether ``value`` puts something at a member of one of ``types`` (walked along its shape)."""
    if not shape_name or value is None:
        return False
    shape = suite["shapes"][shape_name]
    kind = shape["type"]
    if kind in types:
        return True
    if kind == "structure" and isinstance(value, dict):
        members = shape.get("members", {})
        return any(_value_uses(suite, members[k]["shape"], v, types) for k, v in value.items() if k in members)
    if kind == "list" and isinstance(value, list):
        return any(_value_uses(suite, shape["member"]["shape"], v, types) for v in value)
    if kind == "map" and isinstance(value, dict):
        return any(_value_uses(suite, shape["value"]["shape"], v, types) for v in value.values())
    return False


#: input cases whose serialization needs the model, which our client leaves to botocore or never meets
MODEL_DRIVEN_INPUT = ("blob", "timestamp")


@pytest.mark.parametrize("case_id,suite,case", _protocol_cases("input"), ids=lambda v: v if isinstance(v, str) else "")
def test_json_protocol_input(case_id, suite, case):
    params = case["params"]
    body = awsfast.request_body(params, dynamodb=False)
    input_shape = case["given"].get("input", {}).get("shape")
    model_driven = _value_uses(suite, input_shape, params, set(MODEL_DRIVEN_INPUT))
    if body is None:
        # left to botocore: it must be because botocore has to transform or refuse something
        assert _has(params, (bytes, bytearray)) or _has(params, (type(None),)) or model_driven or _has_nan(params)
        return
    if model_driven or _uses_idempotency_token(suite, input_shape):
        pytest.skip("serialization depends on the model (blob/timestamp member, idempotency token): see README")
    given = case["given"]
    if "endpoint" in given:
        pytest.skip("an endpoint trait (host prefix): none of our operations has one (README)")
    if "requestcompression" in given:
        pytest.skip("request compression: none of our operations has the trait (README)")
    expected = case["serialized"]
    headers = awsfast.json_headers(suite["metadata"]["jsonVersion"], suite["metadata"]["targetPrefix"], given["name"])
    wanted = {k.lower(): v for k, v in expected.get("headers", {}).items()}
    assert {k: v for k, v in headers.items() if k in wanted} == {k: wanted[k] for k in headers if k in wanted}
    endpoint = suite.get("clientEndpoint", "https://example.com")
    assert awsfast.request_path(endpoint) == expected.get("uri", "/") and expected.get("method", "POST") == "POST"
    if "body" not in expected:
        return
    if expected["body"] == "" and not input_shape:
        pytest.skip("an operation without input: we always send a body (all ours have input)")
    assert json.loads(body) == json.loads(expected["body"] or "{}")


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value) or math.isinf(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


def _uses_idempotency_token(suite: dict, shape_name: str | None) -> bool:
    if not shape_name:
        return False
    members = suite["shapes"][shape_name].get("members", {})
    return any(member.get("idempotencyToken") for member in members.values())


@pytest.mark.parametrize("case_id,suite,case", _protocol_cases("output"), ids=lambda v: v if isinstance(v, str) else "")
def test_json_protocol_output(case_id, suite, case):
    response = case["response"]
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    data = response.get("body", "").encode()
    attempt = awsfast.Attempt(response["status_code"], headers, data)
    try:
        attempt.parsed = json.loads(data) if data else {}
    except ValueError:
        attempt.parsed = None
    if "errorCode" in case:
        # the code our retry decisions read (the raised error itself is botocore's own parse)
        assert attempt.code() == case["errorCode"]
        return
    output_shape = case["given"].get("output", {}).get("shape")
    if (
        _value_uses(suite, output_shape, attempt.parsed, {"blob", "timestamp"})
        or _shape_uses(suite, output_shape, {"union"})
        or b"Infinity" in data
        or b"NaN" in data
    ):
        pytest.skip("parsing depends on the model (a blob or timestamp value, a union, NaN/Infinity): see README")
    parsed = {k: v for k, v in (attempt.parsed or {}).items() if v is not None}  # as FastClient._call
    expected = case["result"]
    assert {k: v for k, v in parsed.items() if k in expected or not _unmodeled(suite, output_shape, k)} == expected


def _unmodeled(suite: dict, shape_name: str | None, key: str) -> bool:
    """botocore drops keys its output shape does not model; we return them (README: not applicable)."""
    if not shape_name:
        return True
    return key not in suite["shapes"][shape_name].get("members", {})
