"""A small AWS client for the JSON-protocol calls on our hot paths, without botocore.

Why: botocore costs 350-600 ms on a cold start here (its import, then the first client: ~400 service
directories listed, the endpoint and service models parsed), more than everything else a handler loads.
DynamoDB, Secrets Manager and Step Functions speak a plain JSON protocol: one signed POST whose body IS
the request's parameters. For the operations in :data:`OPERATIONS` (the ones our code calls on hot paths)
this module signs the request itself (SigV4, stdlib ``hmac``/``hashlib``) and returns what botocore would
return: the same dict (``B``/``BS`` attribute values as bytes, timestamps as ``datetime``, a
``ResponseMetadata``), and the same ``botocore.exceptions.ClientError`` on an AWS error (botocore is
imported only then). Every other attribute (paginators, waiters, ``exceptions``, other operations) is
served by the botocore client, created on first use, so callers never see a missing method.

Behaviour kept from botocore's default ("legacy") retry mode: DynamoDB retries throttling, 5xx,
connection errors and CRC32 mismatches up to 10 attempts (25 ms doubling), the others up to 5 attempts
(random backoff doubling from 1 s, capped at 20 s); 60 s connect and read timeouts.

It is used only when it can be exact (:func:`available`): credentials in the environment (as Lambda
provides them), the standard partitions, no proxy, no FIPS or dual-stack endpoint (``AWS_CA_BUNDLE`` is honoured);
otherwise the factory hands out the botocore client. The deployed functions and the local stack turn it
on (``AGORA_AWS_FAST_CLIENT=1``); tests compare it with botocore call by call against a moto server that
verifies signatures (tests/integration/test_awsfast.py). docs/decisions.md has the measurement.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

#: service -> (signing name, JSON version, X-Amz-Target prefix)
SERVICES: dict[str, tuple[str, str, str]] = {
    "dynamodb": ("dynamodb", "1.0", "DynamoDB_20120810"),
    "secretsmanager": ("secretsmanager", "1.1", "secretsmanager"),
    "stepfunctions": ("states", "1.0", "AWSStepFunctions"),
}
#: service -> {python method name: (operation, output timestamp fields, output blob fields)}
OPERATIONS: dict[str, dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]] = {
    "dynamodb": {
        "get_item": ("GetItem", (), ()),
        "put_item": ("PutItem", (), ()),
        "update_item": ("UpdateItem", (), ()),
        "delete_item": ("DeleteItem", (), ()),
        "query": ("Query", (), ()),
        "transact_write_items": ("TransactWriteItems", (), ()),
        "transact_get_items": ("TransactGetItems", (), ()),
        "batch_get_item": ("BatchGetItem", (), ()),
        "batch_write_item": ("BatchWriteItem", (), ()),
    },
    "secretsmanager": {
        "get_secret_value": ("GetSecretValue", ("CreatedDate",), ("SecretBinary",)),
    },
    "stepfunctions": {
        "start_execution": ("StartExecution", ("startDate",), ()),
        "send_task_success": ("SendTaskSuccess", (), ()),
        "send_task_failure": ("SendTaskFailure", (), ()),
        "send_task_heartbeat": ("SendTaskHeartbeat", (), ()),
    },
}
#: error codes botocore's legacy mode retries (besides any 5xx and connection errors)
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TIMEOUT_SECONDS = 60.0
#: regions in partitions whose endpoints this module knows (others go to botocore)
_PARTITION_SUFFIX = (("cn-", "amazonaws.com.cn"), ("us-gov-", "amazonaws.com"), ("", "amazonaws.com"))
_UNSUPPORTED_REGION_PREFIXES = ("us-iso", "eu-isoe", "us-isof")
#: environment that changes how botocore connects; with any of it set we use botocore itself
_BOTOCORE_ONLY_ENV = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)

#: observers of every call (service, operation, parameters), before it is sent, as botocore's
#: ``before-parameter-build`` event: tests count calls with it, or raise from it to inject an AWS failure
CALL_OBSERVERS: list[Callable[[str, str, dict[str, Any]], None]] = []


class Unsupported(Exception):
    """This call cannot be made exactly without botocore (the caller falls back to botocore)."""


def available(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``service`` can be reached exactly without botocore in this environment."""
    env = os.environ if environ is None else environ
    if service not in SERVICES or not env.get("AWS_ACCESS_KEY_ID") or not env.get("AWS_SECRET_ACCESS_KEY"):
        return False
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    if not region or region.startswith(_UNSUPPORTED_REGION_PREFIXES):
        return False
    if any(env.get(name) for name in _BOTOCORE_ONLY_ENV):
        return False
    # AWS's public endpoints only from inside Lambda: elsewhere (a test under moto's in-process mock, which
    # patches botocore) an explicit endpoint is required, so nothing meant for a mock ever reaches AWS
    explicit = env.get("AWS_ENDPOINT_URL") or env.get(f"AWS_ENDPOINT_URL_{service.upper()}")
    return bool(explicit) or env.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")


def endpoint_for(service: str, region: str, environ: Mapping[str, str]) -> str:
    """``AWS_ENDPOINT_URL_<SERVICE>``, then ``AWS_ENDPOINT_URL``, then the regional public endpoint."""
    specific = environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or environ.get("AWS_ENDPOINT_URL")
    if specific:
        return specific.rstrip("/")
    host = SERVICES[service][0]
    suffix = next(s for prefix, s in _PARTITION_SUFFIX if region.startswith(prefix))
    return f"https://{host}.{region}.{suffix}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    service: str,
    region: str,
    access_key: str,
    secret_key: str,
    amz_date: str,
    query: str = "",
    payload_hash: str | None = None,
) -> str:
    """The SigV4 ``Authorization`` header for a request whose ``headers`` (lower-case names, ``host``
    included) are all signed; ``amz_date`` is ``YYYYMMDDTHHMMSSZ``; ``url``'s path already percent-encoded
    (used as is, as S3 requires); ``query`` already canonical (sorted, encoded)."""
    path = urlsplit(url).path or "/"
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{' '.join(str(headers[name]).split())}\n" for name in names)
    signed_headers = ";".join(names)
    digest = payload_hash or hashlib.sha256(body).hexdigest()
    canonical = "\n".join((method, path, query, canonical_headers, signed_headers, digest))
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()))
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), amz_date[:8]), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"


class _Retry(Exception):
    def __init__(self, cause: BaseException | None, response: dict[str, Any] | None = None):
        super().__init__(str(cause))
        self.cause = cause
        self.response = response


class FastClient:
    """A botocore-compatible client for :data:`OPERATIONS` of one service (see the module docstring)."""

    def __init__(
        self,
        service: str,
        fallback: Callable[[], Any],
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.service = service
        self._fallback_factory = fallback
        self._fallback: Any = None
        self._environ = os.environ if environ is None else environ
        self._signing_name, json_version, self._target_prefix = SERVICES[service]
        self._content_type = f"application/x-amz-json-{json_version}"
        self._region = self._environ.get("AWS_REGION") or self._environ.get("AWS_DEFAULT_REGION") or ""
        self._url = endpoint_for(service, self._region, self._environ)
        parts = urlsplit(self._url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._netloc = parts.netloc
        self._path = parts.path or "/"
        self._local = threading.local()
        self._sleep = sleep
        self._max_attempts = 10 if service == "dynamodb" else 5

    # ------------------------------------------------------------------------------------------- API

    def __getattr__(self, name: str) -> Any:
        spec = OPERATIONS[self.service].get(name)
        if spec is None:
            return getattr(self.botocore_client, name)

        def call(**params: Any) -> dict[str, Any]:
            return self._call(name, spec, params)

        call.__name__ = name
        return call

    @property
    def botocore_client(self) -> Any:
        """The botocore client for everything this one does not do itself (created on first use)."""
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    # --------------------------------------------------------------------------------------- internals

    def _call(self, method: str, spec: tuple[str, tuple[str, ...], tuple[str, ...]], params: dict[str, Any]) -> Any:
        operation, timestamps, blobs = spec
        try:
            body = json.dumps(params, separators=(",", ":")).encode()
        except (TypeError, ValueError):  # bytes (B/BS) or other values botocore serializes itself
            return getattr(self.botocore_client, method)(**params)
        for observer in list(CALL_OBSERVERS):
            observer(self.service, operation, params)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(operation, body, attempt, timestamps, blobs)
            except _Retry as retry:
                if attempt >= self._max_attempts:
                    if retry.response is not None:
                        raise _client_error(retry.response, operation) from None
                    raise _connection_error(self._url, retry.cause) from retry.cause
                self._sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        if self.service == "dynamodb":
            return float(min(0.025 * 2 ** (attempt - 1), 20.0))
        return float(min(random.random() * 2 ** (attempt - 1), 20.0))

    def _attempt(
        self, operation: str, body: bytes, attempt: int, timestamps: tuple[str, ...], blobs: tuple[str, ...]
    ) -> Any:
        env = self._environ
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {
            "content-type": self._content_type,
            "host": self._netloc if self._port else self._host,
            "x-amz-date": amz_date,
            "x-amz-target": f"{self._target_prefix}.{operation}",
        }
        token = env.get("AWS_SESSION_TOKEN")
        if token:
            headers["x-amz-security-token"] = token
        headers["authorization"] = sign(
            method="POST",
            url=self._url,
            headers=headers,
            body=body,
            service=self._signing_name,
            region=self._region,
            access_key=env.get("AWS_ACCESS_KEY_ID", ""),
            secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
            amz_date=amz_date,
        )
        try:
            status, response_headers, data = self._send(body, headers)
        except OSError as exc:  # refused, reset, timed out, TLS: botocore retries these too
            self._drop_connection()
            raise _Retry(exc) from exc
        metadata = {
            "RequestId": response_headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": status,
            "HTTPHeaders": response_headers,
            "RetryAttempts": attempt - 1,
        }
        crc = response_headers.get("x-amz-crc32")
        if crc is not None and crc.isdigit() and zlib.crc32(data) != int(crc):
            raise _Retry(OSError("CRC32 mismatch"))
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
            if status < 300:
                raise _Retry(OSError(f"unparseable response ({status})")) from None
        if status >= 300:
            error = _error_response(parsed, status, metadata)
            if status >= 500 or error["Error"]["Code"] in THROTTLING:
                raise _Retry(None, error)
            raise _client_error(error, operation)
        _decode(parsed, timestamps, blobs, self.service == "dynamodb" and b'"B' in data)
        parsed["ResponseMetadata"] = metadata
        return parsed

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            import http.client

            if self._https:
                import ssl

                bundle = self._environ.get("AWS_CA_BUNDLE") or None  # as botocore: this bundle instead of the system's
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context(cafile=bundle)
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _send(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        conn = self._connection()
        try:
            conn.request("POST", self._path, body, headers)
            response = conn.getresponse()
            data = response.read()
        except OSError:
            raise
        except Exception as exc:  # http.client's protocol errors (a kept-alive connection closed by the peer)
            raise OSError(str(exc)) from exc
        if response.will_close:
            self._drop_connection()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def _error_response(parsed: Any, status: int, metadata: dict[str, Any]) -> dict[str, Any]:
    parsed = parsed if isinstance(parsed, dict) else {}
    code = str(parsed.get("__type") or parsed.get("code") or metadata["HTTPHeaders"].get("x-amzn-errortype", ""))
    code = code.rsplit("#", 1)[-1].split(":", 1)[0] or str(status)
    message = parsed.get("message", parsed.get("Message", ""))
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata}
    for key, value in parsed.items():  # e.g. CancellationReasons, Item (ReturnValuesOnConditionCheckFailure)
        if key not in ("__type", "message", "Message", "code"):
            response[key] = value
    if "Item" in response:
        _decode(response, (), (), True)
    return response


def _client_error(response: dict[str, Any], operation: str) -> Exception:
    from botocore.exceptions import ClientError  # only on an error: the hot path never imports botocore

    return ClientError(response, operation)  # type: ignore[arg-type]


def _connection_error(url: str, cause: BaseException | None) -> Exception:
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url=url, error=cause)


def _decode(parsed: dict[str, Any], timestamps: tuple[str, ...], blobs: tuple[str, ...], attributes: bool) -> None:
    for name in timestamps:
        if isinstance(parsed.get(name), (int, float)):
            parsed[name] = _timestamp(parsed[name])
    for name in blobs:
        if isinstance(parsed.get(name), str):
            parsed[name] = base64.b64decode(parsed[name])
    if attributes:
        _decode_binary(parsed)


def _timestamp(value: float) -> datetime:
    """An aware datetime equal to botocore's (botocore attaches dateutil's ``tzlocal()``, which would cost an
    import; the instant is the same, and Lambda's local zone is UTC)."""
    return datetime.fromtimestamp(value, UTC)


def _decode_binary(value: Any) -> None:
    """DynamoDB ``B`` and ``BS`` attribute values arrive base64-encoded; botocore hands out bytes."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "B" and isinstance(inner, str) and len(value) == 1:
                value[key] = base64.b64decode(inner)
            elif key == "BS" and isinstance(inner, list) and len(value) == 1:
                value[key] = [base64.b64decode(x) for x in inner]
            else:
                _decode_binary(inner)
    elif isinstance(value, list):
        for inner in value:
            _decode_binary(inner)
