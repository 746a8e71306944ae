"""A small AWS client for the JSON-protocol calls on our hot paths, without botocore.

Why: botocore costs 350-600 ms on a cold start here (its import, then the first client: ~400 service
directories listed, the endpoint and service models parsed), more than everything else a handler loads.
DynamoDB, Secrets Manager and Step Functions speak a plain JSON protocol: one signed POST whose body IS
the request's parameters. For the operations in :data:`OPERATIONS` (the ones our code calls on hot paths)
this module signs the request itself (SigV4, stdlib ``hmac``/``hashlib``) and returns what botocore would
return: the same dict (``B``/``BS`` attribute values as bytes, timestamps as ``datetime``, a
``ResponseMetadata``). An AWS error is parsed by botocore itself (imported only then) and raised as the
botocore client's modeled exception (``except client.exceptions.ConditionalCheckFailedException`` matches).
Every other attribute (paginators, waiters, ``exceptions``, other operations), and any call whose parameters
botocore would transform or refuse (``None`` values, ``B``/``BS`` given as bytes or str), is served by the
botocore client, created on first use, so callers never see a missing method or a different answer.

Behaviour copied from the pinned botocore (1.44, ``retries/standard.py``, ``retries/quota.py``), whose
default retry mode is **standard**: at most 3 attempts (DynamoDB 4; ``AWS_MAX_ATTEMPTS`` overrides);
retried: the throttling codes, ``RequestTimeout``/``RequestTimeoutException``/``PriorRequestNotComplete``,
HTTP 500/502/503/504, a 429 whose code is not one of the operation's modeled errors, modeled retryable
errors (``ReplicatedWriteConflictException``), connection errors and DynamoDB CRC32 mismatches; backoff
``random() * min(scale * 2 ** (attempt - 1), 20)`` with scale 1 s for throttling and 50 ms otherwise (25 ms for
DynamoDB), raised to ``x-amz-retry-after`` (at most 5 s more); a retry quota per client (500, 14 per retry,
5 per throttling retry, given back on success, 1 more for a success without retry). Idempotency tokens
(``ClientRequestToken``) are generated once per call and reused on every retry. 60 s connect and read
timeouts; a kept-alive connection the server closed meanwhile is replaced before use, without a retry.
Neither botocore 1.44 nor this module corrects clock skew.

It is used only when it can be exact (:func:`available`): credentials in the environment (as Lambda
provides them), a region of the ``aws`` partition (others go to botocore), no proxy, no FIPS or dual-stack
endpoint, no shared config file, the standard retry mode (``AWS_RETRY_MODE`` legacy or adaptive go to
botocore); ``AWS_CA_BUNDLE`` and the ``AWS_ENDPOINT_URL*`` variables are honoured under botocore's names.
``service.adapters.aws.client()`` turns it on (``AGORA_AWS_FAST_CLIENT=1``, set on every deployed function and
by the local stack). README.md beside this file says how it is checked.

Over 400 lines on purpose: the client, botocore's retry rules and the model tables they need stay in one
module, so a cold start opens one file (tests/unit/test_awsfast_model.py checks the tables against botocore).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

#: service -> (signing name, JSON version, X-Amz-Target prefix, endpoint host, botocore's endpoint variable suffix)
SERVICES: dict[str, tuple[str, str, str, str, str]] = {
    "dynamodb": ("dynamodb", "1.0", "DynamoDB_20120810", "dynamodb", "DYNAMODB"),
    "secretsmanager": ("secretsmanager", "1.1", "secretsmanager", "secretsmanager", "SECRETS_MANAGER"),
    "stepfunctions": ("states", "1.0", "AWSStepFunctions", "states", "SFN"),
}
#: botocore's ``AWS_ENDPOINT_URL_<SERVICE ID>`` suffix for S3 (awsfast.s3)
S3_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_S3"
#: DescribeSecret's top-level dates (a replica's nested LastAccessedDate stays a number: nothing reads it)
SECRET_DATES = ("CreatedDate", "LastChangedDate", "LastAccessedDate", "LastRotatedDate", "DeletedDate",
                "NextRotationDate")  # fmt: skip
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
        # the certificate's signers confirm its version on their hot path (service.adapters.secrets)
        "describe_secret": ("DescribeSecret", SECRET_DATES, ()),
    },
    "stepfunctions": {
        "start_execution": ("StartExecution", ("startDate",), ()),
        "send_task_success": ("SendTaskSuccess", (), ()),
        "send_task_failure": ("SendTaskFailure", (), ()),
        "send_task_heartbeat": ("SendTaskHeartbeat", (), ()),
    },
}
#: operation -> its ``idempotencyToken`` members (botocore's ``generate_idempotent_uuid``); checked against
#: the service models in tests/unit/test_awsfast_model.py
IDEMPOTENCY_TOKENS: dict[str, tuple[str, ...]] = {"TransactWriteItems": ("ClientRequestToken",)}

_DDB_COMMON = ("ProvisionedThroughputExceededException", "ResourceNotFoundException", "RequestLimitExceeded",
               "InternalServerError", "ThrottlingException")  # fmt: skip
_DDB_WRITE = (*_DDB_COMMON, "ConditionalCheckFailedException", "ItemCollectionSizeLimitExceededException",
              "TransactionConflictException", "ReplicatedWriteConflictException")  # fmt: skip
_SFN_TASK = ("TaskDoesNotExist", "InvalidToken", "TaskTimedOut", "KmsAccessDeniedException",
             "KmsInvalidStateException", "KmsThrottlingException")  # fmt: skip
#: operation -> the error codes its model lists (a 429 with one of these is the model's to retry, not the
#: status code's: botocore's ``ThrottlingStatusCodeChecker``); checked against the models in the unit tests
MODELED_ERRORS: dict[str, frozenset[str]] = {
    "GetItem": frozenset(_DDB_COMMON),
    "PutItem": frozenset(_DDB_WRITE),
    "UpdateItem": frozenset(_DDB_WRITE),
    "DeleteItem": frozenset(_DDB_WRITE),
    "Query": frozenset(_DDB_COMMON),
    "TransactWriteItems": frozenset(
        (
            *_DDB_COMMON,
            "TransactionCanceledException",
            "TransactionInProgressException",
            "IdempotentParameterMismatchException",
        )
    ),
    "TransactGetItems": frozenset((*_DDB_COMMON, "TransactionCanceledException")),
    "BatchGetItem": frozenset(_DDB_COMMON),
    "BatchWriteItem": frozenset(
        (*_DDB_COMMON, "ItemCollectionSizeLimitExceededException", "ReplicatedWriteConflictException")
    ),
    "GetSecretValue": frozenset(
        (
            "ResourceNotFoundException",
            "InvalidParameterException",
            "InvalidRequestException",
            "DecryptionFailure",
            "InternalServiceError",
        )
    ),
    "DescribeSecret": frozenset(("ResourceNotFoundException", "InternalServiceError", "InvalidParameterException")),
    "StartExecution": frozenset(
        (
            "ExecutionLimitExceeded",
            "ExecutionAlreadyExists",
            "InvalidArn",
            "InvalidExecutionInput",
            "InvalidName",
            "StateMachineDoesNotExist",
            "StateMachineDeleting",
            "ValidationException",
            "KmsAccessDeniedException",
            "KmsInvalidStateException",
            "KmsThrottlingException",
        )
    ),
    "SendTaskSuccess": frozenset((*_SFN_TASK, "InvalidOutput")),
    "SendTaskFailure": frozenset(_SFN_TASK),
    "SendTaskHeartbeat": frozenset(_SFN_TASK[:3]),
    "GetObject": frozenset(("NoSuchKey", "InvalidObjectState")),
}
#: operation -> modeled errors marked ``retryable`` (none of ours is a throttling one)
MODELED_RETRYABLE: dict[str, frozenset[str]] = {
    op: frozenset({"ReplicatedWriteConflictException"})
    for op in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
}

# ------------------------------------------------------------- botocore 1.44's standard retry mode
#: error codes the standard mode retries as throttling (``ThrottledRetryableChecker``)
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
#: ``TransientRetryableChecker``: these codes, these statuses, and connection errors
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
DEFAULT_MAX_ATTEMPTS = 3
SERVICE_MAX_ATTEMPTS = {"dynamodb": 4}
MAX_BACKOFF = 20.0
THROTTLING_BASE = 1.0
NON_THROTTLING_BASE = {"dynamodb": 0.025}
DEFAULT_NON_THROTTLING_BASE = 0.05
RETRY_AFTER_MAX_ADDITIONAL = 5.0
QUOTA_CAPACITY = 500
RETRY_COST = 14
THROTTLING_RETRY_COST = 5
NO_RETRY_INCREMENT = 1

TIMEOUT_SECONDS = 60.0
#: the one partition served (botocore's partitions.json ``aws`` regionRegex; tests compare the endpoints with
#: botocore's for each of its regions); any other partition (aws-cn, aws-us-gov, aws-eusc, the iso ones) and
#: any region listed in another partition go to botocore
AWS_REGION_PATTERN = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$")
#: environment that changes how botocore connects or retries; with any of it set we use botocore itself
_BOTOCORE_ONLY_ENV = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_DEFAULTS_MODE",
    "AWS_CONFIG_FILE",
)

#: observers of every call (service, operation, parameters), before it is sent, as botocore's
#: ``before-parameter-build`` event: tests count calls with it, or raise from it to inject an AWS failure
CALL_OBSERVERS: list[Callable[[str, str, dict[str, Any]], None]] = []


class Unsupported(Exception):
    """This call cannot be made exactly without botocore (the caller falls back to botocore)."""


def region_of(environ: Mapping[str, str]) -> str:
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""


def max_attempts(service: str, environ: Mapping[str, str]) -> int | None:
    """botocore's total attempts for ``service`` (``AWS_MAX_ATTEMPTS``, else the standard mode's default);
    None when botocore would refuse the value (it is then botocore's to raise)."""
    configured = environ.get("AWS_MAX_ATTEMPTS")
    if configured is None:
        return SERVICE_MAX_ATTEMPTS.get(service, DEFAULT_MAX_ATTEMPTS)
    try:
        value = int(configured)
    except ValueError:
        return None
    return value if value >= 1 else None


def _shared_config_present(env: Mapping[str, str]) -> bool:
    """botocore reads ``~/.aws/config`` (retry mode, endpoints, ...); with one present, botocore decides."""
    home = env.get("HOME") or os.path.expanduser("~")
    return os.path.exists(os.path.join(home, ".aws", "config"))


def available(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether :class:`FastClient` can serve ``service`` exactly in this environment (S3: ``awsfast.s3``)."""
    return service in SERVICES and environment_fits(service, os.environ if environ is None else environ)


def environment_fits(service: str, env: Mapping[str, str]) -> bool:
    """Whether this environment lets us be exact for ``service`` (one of :data:`SERVICES` or ``s3``)."""
    if not env.get("AWS_ACCESS_KEY_ID") or not env.get("AWS_SECRET_ACCESS_KEY"):
        return False
    if not AWS_REGION_PATTERN.match(region_of(env)):
        return False
    if any(env.get(name) for name in _BOTOCORE_ONLY_ENV) or _shared_config_present(env):
        return False
    if (env.get("AWS_RETRY_MODE") or "standard") != "standard" or max_attempts(service, env) is None:
        return False  # legacy and adaptive modes are botocore's
    # AWS's public endpoints only from inside Lambda: elsewhere (a test under moto's in-process mock, which
    # patches botocore) an explicit endpoint is required, so nothing meant for a mock ever reaches AWS
    return bool(configured_endpoint(service, env)) or env.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_")


def configured_endpoint(service: str, environ: Mapping[str, str]) -> str | None:
    """botocore's ``ConfiguredEndpointProvider`` from the environment: ``AWS_ENDPOINT_URL_<SERVICE ID>``
    (``DYNAMODB``, ``SECRETS_MANAGER``, ``SFN``, ``S3``), then ``AWS_ENDPOINT_URL``; none when
    ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true."""
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    variable = S3_ENDPOINT_VARIABLE if service == "s3" else f"AWS_ENDPOINT_URL_{SERVICES[service][4]}"
    return environ.get(variable) or environ.get("AWS_ENDPOINT_URL") or None


def endpoint_for(service: str, region: str, environ: Mapping[str, str]) -> str:
    """The configured endpoint (:func:`configured_endpoint`), else the regional public endpoint."""
    specific = configured_endpoint(service, environ)
    if specific:
        return specific.rstrip("/")
    return f"https://{SERVICES[service][3]}.{region}.amazonaws.com"


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


class RetryQuota:
    """botocore's ``RetryQuota`` (one per client): retries spend capacity, successes give it back."""

    def __init__(self, capacity: int = QUOTA_CAPACITY):
        self.max_capacity = capacity
        self.available = capacity
        self._lock = threading.Lock()

    def acquire(self, amount: int) -> bool:
        with self._lock:
            if amount > self.available:
                return False
            self.available -= amount
            return True

    def release(self, amount: int) -> None:
        with self._lock:
            self.available += min(self.max_capacity - self.available, amount)


class Attempt:
    """One attempt's outcome: an HTTP answer (``status``, ``headers``, ``data``) or a connection error."""

    __slots__ = ("crc_mismatch", "data", "error", "flags", "headers", "parsed", "status")

    def __init__(self, status: int = 0, headers: dict[str, str] | None = None, data: bytes = b""):
        self.status = status
        self.headers = headers or {}
        self.data = data
        self.error: BaseException | None = None
        self.parsed: Any = None
        self.crc_mismatch = False
        #: what botocore's retry handler adds to ``ResponseMetadata`` (MaxAttemptsReached, RetryQuotaReached)
        self.flags: dict[str, bool] = {}

    def code(self) -> str | None:
        """The error code as botocore's retry checks see it (None for a success or a connection error)."""
        if self.error is not None or self.status < 300:
            return None
        parsed = self.parsed if isinstance(self.parsed, dict) else {}
        code = str(parsed.get("__type") or parsed.get("code") or self.headers.get("x-amzn-errortype", ""))
        return code.rsplit("#", 1)[-1].split(":", 1)[0] or str(self.status)


def retry_decision(service: str, operation: str, attempt: Attempt) -> tuple[bool, bool]:
    """(retryable, throttling) as botocore's standard mode decides, attempts and quota aside."""
    code = attempt.code()
    modeled = code is not None and code in MODELED_ERRORS.get(operation, frozenset())
    throttling = code in THROTTLING or (attempt.status == 429 and not modeled)
    retryable = (
        throttling
        or attempt.error is not None
        or code in TRANSIENT_CODES
        or attempt.status in TRANSIENT_STATUS
        or code in MODELED_RETRYABLE.get(operation, frozenset())
        or (service == "dynamodb" and attempt.crc_mismatch)
    )
    return retryable, throttling


def backoff(service: str, attempt_number: int, throttling: bool, headers: Mapping[str, str], rand: float) -> float:
    """botocore's ``ExponentialBackoff.delay_amount`` for the attempt that just failed (1-based)."""
    scale = THROTTLING_BASE if throttling else NON_THROTTLING_BASE.get(service, DEFAULT_NON_THROTTLING_BASE)
    delay = rand * min(scale * 2 ** (attempt_number - 1), MAX_BACKOFF)
    raw = headers.get("x-amz-retry-after")
    if raw is not None:
        try:
            after = int(raw) / 1000.0
        except (ValueError, OverflowError):
            return delay
        if after >= 0:
            return max(delay, min(after, RETRY_AFTER_MAX_ADDITIONAL + delay))
    return delay


class Retrier:
    """The standard mode's loop around ``attempt()``: decisions, quota, backoff (shared by awsfast.s3)."""

    def __init__(
        self,
        service: str,
        attempts: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ):
        self.service = service
        self.max_attempts = attempts
        self.quota = RetryQuota()
        self._sleep = sleep
        self._rand = rand

    def run(self, operation: str, attempt: Callable[[int], Attempt]) -> tuple[Attempt, int]:
        """The final attempt (a success, or the failure botocore would surface) and its 1-based number."""
        number = 0
        acquired: int | None = None
        while True:
            number += 1
            outcome = attempt(number)
            if number >= self.max_attempts:  # botocore checks this first, for every answer, a success too
                outcome.flags["MaxAttemptsReached"] = True
            if outcome.error is None and outcome.status < 300 and not outcome.crc_mismatch:
                self.quota.release(acquired if acquired is not None else NO_RETRY_INCREMENT)
                return outcome, number
            retryable, throttling = retry_decision(self.service, operation, outcome)
            if not retryable or number >= self.max_attempts:
                if outcome.error is None and outcome.status < 300:  # a CRC mismatch on the last attempt
                    self.quota.release(acquired if acquired is not None else NO_RETRY_INCREMENT)
                return outcome, number
            cost = THROTTLING_RETRY_COST if throttling else RETRY_COST
            if not self.quota.acquire(cost):
                outcome.flags["RetryQuotaReached"] = True
                return outcome, number
            acquired = cost
            self._sleep(backoff(self.service, number, throttling, outcome.headers, self._rand()))


def _has_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_none(inner) for inner in value.values())
    if isinstance(value, list):
        return any(_has_none(inner) for inner in value)
    return False


def _has_text_blob(value: Any) -> bool:
    """A ``B``/``BS`` attribute value given as str: botocore base64-encodes it (we leave it to botocore)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if (key == "B" and isinstance(inner, str)) or (key == "BS" and isinstance(inner, list)):
                return True
            if _has_text_blob(inner):
                return True
    elif isinstance(value, list):
        return any(_has_text_blob(inner) for inner in value)
    return False


def request_body(params: Mapping[str, Any], *, dynamodb: bool) -> bytes | None:
    """The JSON-protocol body for ``params``, or None when botocore must serialize (or refuse) them: bytes,
    datetimes and other non-JSON values, ``None`` anywhere (botocore's ``ParamValidationError``), and for
    DynamoDB a ``B``/``BS`` attribute given as text (botocore base64-encodes it)."""
    if _has_none(params) or (dynamodb and _has_text_blob(params)):
        return None
    try:
        return json.dumps(params, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):
        return None


def request_path(endpoint_url: str) -> str:
    """The JSON protocol's request path: the endpoint's own path, then the operation's ``/`` (botocore joins
    ``https://host/custom`` and ``/`` into ``/custom/``)."""
    return urlsplit(endpoint_url).path.rstrip("/") + "/"


def json_headers(json_version: str, target_prefix: str, operation: str) -> dict[str, str]:
    """The JSON protocol's two headers besides host, date and signature."""
    return {"content-type": f"application/x-amz-json-{json_version}", "x-amz-target": f"{target_prefix}.{operation}"}


class FastClient:
    """A botocore-compatible client for :data:`OPERATIONS` of one service (see the module docstring)."""

    def __init__(
        self,
        service: str,
        fallback: Callable[[], Any],
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ):
        self.service = service
        self._fallback_factory = fallback
        self._fallback: Any = None
        self._environ = os.environ if environ is None else environ
        self._signing_name, self._json_version, self._target_prefix, _, _ = SERVICES[service]
        self._region = region_of(self._environ)
        self._url = endpoint_for(service, self._region, self._environ)
        parts = urlsplit(self._url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._netloc = parts.netloc
        self._path = request_path(self._url)
        self._local = threading.local()
        self.retrier = Retrier(
            service, max_attempts(service, self._environ) or DEFAULT_MAX_ATTEMPTS, sleep=sleep, rand=rand
        )

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
    def exceptions(self) -> Any:
        """The botocore client's modeled exceptions: the classes our errors are raised as."""
        return self.botocore_client.exceptions

    @property
    def botocore_client(self) -> Any:
        """The botocore client for everything this one does not do itself (created on first use)."""
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    # --------------------------------------------------------------------------------------- internals

    def _call(self, method: str, spec: tuple[str, tuple[str, ...], tuple[str, ...]], params: dict[str, Any]) -> Any:
        operation, timestamps, blobs = spec
        body = request_body(params, dynamodb=self.service == "dynamodb")
        if body is None:
            return getattr(self.botocore_client, method)(**params)
        for observer in list(CALL_OBSERVERS):
            observer(self.service, operation, params)
        tokens = [name for name in IDEMPOTENCY_TOKENS.get(operation, ()) if name not in params]
        if tokens:  # once per call, the same on every retry: DynamoDB then answers a retried commit as done
            import uuid  # botocore's generate_idempotent_uuid: uuid4 (os.urandom, so safe after a snapshot restore)

            params = {**params, **{name: str(uuid.uuid4()) for name in tokens}}
            body = json.dumps(params, separators=(",", ":")).encode()
        outcome, number = self.retrier.run(operation, lambda n: self._attempt(operation, body))
        if outcome.error is not None:
            raise _connection_error(self._url, outcome.error) from outcome.error
        metadata = {
            "RequestId": outcome.headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": outcome.status,
            "HTTPHeaders": outcome.headers,
            "RetryAttempts": number - 1,
            **outcome.flags,
        }
        if outcome.status >= 300:
            raise botocore_error(self.botocore_client, operation, outcome, number)
        parsed = outcome.parsed if isinstance(outcome.parsed, dict) else {}
        if b"null" in outcome.data:  # botocore drops a structure's null members
            parsed = {key: value for key, value in parsed.items() if value is not None}
        _decode(parsed, timestamps, blobs, self.service == "dynamodb" and b'"B' in outcome.data)
        parsed["ResponseMetadata"] = metadata
        return parsed

    def _attempt(self, operation: str, body: bytes) -> Attempt:
        env = self._environ
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {
            **json_headers(self._json_version, self._target_prefix, operation),
            "host": self._netloc if self._port else self._host,
            "x-amz-date": amz_date,
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
            failed = Attempt()
            failed.error = exc
            return failed
        outcome = Attempt(status, response_headers, data)
        crc = response_headers.get("x-amz-crc32")
        if crc is not None and crc.isdigit() and zlib.crc32(data) & 0xFFFFFFFF != int(crc):
            outcome.crc_mismatch = True
        try:
            outcome.parsed = json.loads(data) if data else {}
        except ValueError:
            outcome.parsed = None
        return outcome

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and _dropped(conn):
            # closed by the server while idle (e.g. while the function was frozen): urllib3 replaces such a
            # connection before use, so botocore spends no retry on it; neither do we
            self._drop_connection()
            conn = None
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


def _dropped(conn: Any) -> bool:
    """urllib3's ``is_connection_dropped``: an idle kept-alive socket that is readable has been closed (or
    sent something unasked), so it must not carry the next request."""
    sock = getattr(conn, "sock", None)
    if sock is None:
        return False
    import select

    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def botocore_error(client: Any, operation: str, outcome: Attempt, attempts: int) -> Exception:
    """botocore's own parse of an error answer (its parser for the protocol, then the modeled fields of the
    error shape, as its endpoint does: ``message``, bytes for blobs, XML entities decoded), raised as the
    botocore client's modeled exception class (``client.exceptions.X``)."""
    from botocore.awsrequest import HeadersDict
    from botocore.parsers import create_parser

    model = client.meta.service_model.operation_model(operation)
    parser = create_parser(model.service_model.resolved_protocol)
    response = {"headers": HeadersDict(outcome.headers), "status_code": outcome.status, "body": outcome.data,
                "context": {"operation_name": operation}}  # fmt: skip
    parsed = parser.parse(response, model.output_shape)
    code = parsed.get("Error", {}).get("Code")
    shape = model.service_model.shape_for_error_code(code) if code else None
    if shape is not None:
        parsed.update(parser.parse(response, shape))
    parsed.setdefault("ResponseMetadata", {}).update({"RetryAttempts": attempts - 1, **outcome.flags})
    return client.exceptions.from_code(code)(parsed, operation)  # type: ignore[no-any-return]


def _client_error(response: dict[str, Any], operation: str) -> Exception:
    from botocore.exceptions import ClientError  # only on an error: the hot path never imports botocore

    return ClientError(response, operation)  # type: ignore[arg-type]


def _connection_error(url: str, cause: BaseException | None) -> Exception:
    """botocore's exception for a connection that failed on every attempt."""
    import socket

    from botocore import exceptions

    if isinstance(cause, (socket.timeout, TimeoutError)):
        return exceptions.ReadTimeoutError(endpoint_url=url, error=cause)
    if isinstance(cause, (ConnectionRefusedError, socket.gaierror)):
        return exceptions.EndpointConnectionError(endpoint_url=url, error=cause)
    return exceptions.ConnectionClosedError(endpoint_url=url, error=cause)


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
