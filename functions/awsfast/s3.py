"""S3 ``GetObject`` without botocore: the media function's one S3 read on its hot path.

Same reasons and rules as :mod:`awsfast` (read it first): botocore is the larger part of a
cold start. ``get_object`` here accepts ``Bucket``, ``Key``, ``VersionId``, ``IfMatch`` and ``Range`` and
answers with ``Body`` (a streaming body with botocore's ``read``, ``iter_chunks``, ``iter_lines`` and
``close``, which checks the length it received and, as botocore's default ``when_supported`` does, the
object's CRC32/SHA-1/SHA-256/SHA-512 checksum when S3 sends one), ``ContentLength``, ``ContentType``,
``ETag``, ``LastModified``, ``VersionId`` (when S3 sends one), ``ContentRange`` (for a range), the
``Checksum*`` fields, ``Metadata`` and ``ResponseMetadata``; errors are parsed by botocore and raised as its
modeled exceptions (``NoSuchKey``, or ``ClientError`` with S3's code: ``PreconditionFailed``, ...). Retries
are :class:`awsfast.Retrier`'s (botocore's standard mode). A body read to its end gives its kept-alive
connection back for the next call. Any other parameter, any other operation, and any redirect (a bucket in
another region) go to botocore. Requests are path-style on an explicit endpoint (moto, the local stack) and
virtual-hosted on AWS, as botocore addresses them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import awsfast

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
PARAMETERS = frozenset({"Bucket", "Key", "VersionId", "IfMatch", "Range"})
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_XML_FIELD = re.compile(rb"<(Code|Message)>(.*?)</\1>", re.DOTALL)


def available(environ: Mapping[str, str] | None = None) -> bool:
    """:func:`awsfast.available` for S3 (``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL``), with botocore's
    response checksum settings we reproduce (``when_supported``, ``when_required``) and no awscrt (with it,
    botocore validates CRC32C and CRC64NVME too)."""
    import importlib.util

    env = os.environ if environ is None else environ
    if env.get("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported") not in ("when_supported", "when_required"):
        return False
    return awsfast.environment_fits("s3", env) and importlib.util.find_spec("awscrt") is None


#: the response checksums botocore 1.44 validates without awscrt, in its priority order (httpchecksum's
#: ``_ALGORITHMS_PRIORITY_LIST`` filtered by ``_CHECKSUM_CLS``); with awscrt installed, botocore does S3
CHECKSUM_ALGORITHMS = ("crc32", "sha1", "sha256", "sha512")
#: GetObject's checksum output members (header, field)
_CHECKSUM_NAMES = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
CHECKSUM_FIELDS = (
    *((f"x-amz-checksum-{name.lower()}", f"Checksum{name}") for name in _CHECKSUM_NAMES),
    ("x-amz-checksum-type", "ChecksumType"),
)


def response_checksum(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(algorithm, expected) botocore validates: the first of its algorithms S3 sent, not a composite one."""
    for name in CHECKSUM_ALGORITHMS:
        value = headers.get(f"x-amz-checksum-{name}")
        if value is not None and "-" not in value:
            return name, value
    return None


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return (self._value & 0xFFFFFFFF).to_bytes(4, "big")


def _checksum(algorithm: str) -> Any:
    return _Crc32() if algorithm == "crc32" else hashlib.new(algorithm)


class StreamingBody:
    """botocore's ``StreamingBody`` for what callers use: read, iter_chunks, iter_lines, close; a short
    read (the connection closed before ``Content-Length`` bytes) raises botocore's ``IncompleteReadError``;
    with a response checksum, the end of the body is checked as botocore's ``StreamingChecksumBody`` does
    (``FlexibleChecksumError``). A body read to its end gives its connection back for the next call."""

    def __init__(
        self,
        response: Any,
        connection: Any,
        length: int | None,
        checksum: tuple[str, str] | None = None,
        release: Callable[[Any], None] | None = None,
    ):
        self._response = response
        self._connection = connection
        self._length = length
        self._received = 0
        self._expected = checksum[1] if checksum else None
        self._checksum = _checksum(checksum[0]) if checksum else None
        self._release = release
        self._done = False

    def read(self, amt: int | None = None) -> bytes:
        import http.client

        try:
            data = self._response.read() if amt is None else self._response.read(amt)
        except http.client.IncompleteRead as short:
            self._received += len(short.partial)
            self._short()
        self._received += len(data)
        if self._checksum is not None:
            self._checksum.update(data)
        if amt is None or (amt and not data):
            if self._length is not None and self._received != self._length:
                self._short()
            self._finish()
        return bytes(data)

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._checksum is not None and self._checksum.digest() != base64.b64decode(self._expected or ""):
            from botocore.exceptions import FlexibleChecksumError

            calculated = base64.b64encode(self._checksum.digest()).decode()
            raise FlexibleChecksumError(
                error_msg=f"Expected checksum {self._expected} did not match calculated checksum: {calculated}"
            )
        if self._release is not None and not self._response.will_close:
            self._release(self._connection)
            self._connection = None

    def _short(self) -> None:
        from botocore.exceptions import IncompleteReadError

        raise IncompleteReadError(actual_bytes=self._received, expected_bytes=self._length)

    def iter_chunks(self, chunk_size: int = 1024) -> Iterator[bytes]:
        while True:
            chunk = self.read(chunk_size)
            if not chunk:
                return
            yield chunk

    def iter_lines(self, chunk_size: int = 1024, keepends: bool = False) -> Iterator[bytes]:
        pending = b""
        for chunk in self.iter_chunks(chunk_size):
            lines = (pending + chunk).splitlines(True)
            for line in lines[:-1]:
                yield line.splitlines(keepends)[0] if not keepends else line
            pending = lines[-1]
        if pending:
            yield pending.splitlines(keepends)[0] if not keepends else pending

    def close(self) -> None:
        self._response.close()
        if self._connection is not None:  # not read to its end: the connection cannot carry another request
            self._connection.close()
            self._connection = None

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks(1024)


class FastS3Client:
    """``get_object`` without botocore (see the module docstring); everything else is botocore's."""

    def __init__(
        self,
        fallback: Callable[[], Any],
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ):
        self._fallback_factory = fallback
        self._fallback: Any = None
        self._environ = os.environ if environ is None else environ
        self._region = awsfast.region_of(self._environ)
        self._endpoint = awsfast.configured_endpoint("s3", self._environ)
        attempts = awsfast.max_attempts("s3", self._environ) or awsfast.DEFAULT_MAX_ATTEMPTS
        self.retrier = awsfast.Retrier("s3", attempts, sleep=sleep, rand=rand)
        #: botocore's default ``when_supported`` asks S3 for the object's checksum and validates it
        self._validate = self._environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported") == "when_supported"
        self._local = threading.local()  # one idle kept-alive connection per thread and host

    def _take_connection(self, scheme: str, hostname: str, port: int | None) -> Any:
        import http.client

        idle = getattr(self._local, "idle", None)
        self._local.idle = None
        if idle is not None and idle[0] == (scheme, hostname, port) and not awsfast._dropped(idle[1]):
            return idle[1]
        if idle is not None:
            idle[1].close()
        if scheme == "https":
            import ssl

            context = ssl.create_default_context(cafile=self._environ.get("AWS_CA_BUNDLE") or None)
            return http.client.HTTPSConnection(hostname, port, timeout=awsfast.TIMEOUT_SECONDS, context=context)
        return http.client.HTTPConnection(hostname, port, timeout=awsfast.TIMEOUT_SECONDS)

    def _give_back(self, key: tuple[str, str, int | None]) -> Callable[[Any], None]:
        def release(conn: Any) -> None:
            idle = getattr(self._local, "idle", None)
            if idle is not None:
                idle[1].close()
            self._local.idle = (key, conn)

        return release

    @property
    def botocore_client(self) -> Any:
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    def __getattr__(self, name: str) -> Any:
        return getattr(self.botocore_client, name)

    def get_object(self, **params: Any) -> dict[str, Any]:
        if set(params) - PARAMETERS or not {"Bucket", "Key"} <= set(params):
            return self.botocore_client.get_object(**params)
        for observer in list(awsfast.CALL_OBSERVERS):
            observer("s3", "GetObject", params)
        url, host = self._address(str(params["Bucket"]), str(params["Key"]))
        query = f"versionId={quote(str(params['VersionId']), safe='-_.~')}" if params.get("VersionId") else ""
        outcome, number = self.retrier.run("GetObject", lambda n: self._attempt(url, host, query, params, n))
        if outcome.error is not None:
            raise awsfast._connection_error(url, outcome.error) from outcome.error
        if outcome.status >= 300:
            raise awsfast.botocore_error(self.botocore_client, "GetObject", outcome, number)
        if outcome.parsed is None:  # a redirect: botocore follows it (another region), we do not
            return self.botocore_client.get_object(**params)
        outcome.parsed["ResponseMetadata"].update(outcome.flags)
        return outcome.parsed  # type: ignore[no-any-return]

    def _address(self, bucket: str, key: str) -> tuple[str, str]:
        path_key = quote(key, safe="/~")
        if self._endpoint:
            base = self._endpoint.rstrip("/")
            return f"{base}/{quote(bucket, safe='')}/{path_key}", urlsplit(base).netloc
        suffix = "amazonaws.com"  # the aws partition only (awsfast.available)
        if _DNS_BUCKET.match(bucket):
            host = f"{bucket}.s3.{self._region}.{suffix}"
            return f"https://{host}/{path_key}", host
        host = f"s3.{self._region}.{suffix}"
        return f"https://{host}/{quote(bucket, safe='')}/{path_key}", host

    def _attempt(self, url: str, host: str, query: str, params: dict[str, Any], attempt: int) -> awsfast.Attempt:
        import http.client

        env = self._environ
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
        if params.get("IfMatch"):
            headers["if-match"] = str(params["IfMatch"])
        if params.get("Range"):
            headers["range"] = str(params["Range"])
        if self._validate:
            headers["x-amz-checksum-mode"] = "ENABLED"  # botocore's ChecksumMode, set by when_supported
        token = env.get("AWS_SESSION_TOKEN")
        if token:
            headers["x-amz-security-token"] = token
        headers["authorization"] = awsfast.sign(
            method="GET", url=url, headers=headers, body=b"", service="s3", region=self._region,
            access_key=env.get("AWS_ACCESS_KEY_ID", ""), secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
            amz_date=amz_date, query=query, payload_hash=EMPTY_SHA256,
        )  # fmt: skip
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        conn = self._take_connection(*key)
        try:
            conn.request("GET", parts.path + (f"?{query}" if query else ""), headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            failed = awsfast.Attempt()
            failed.error = exc
            return failed
        status = response.status
        got = {k.lower(): v for k, v in response.getheaders()}
        metadata = {"RequestId": got.get("x-amz-request-id", ""), "HostId": got.get("x-amz-id-2", ""),
                    "HTTPStatusCode": status, "HTTPHeaders": got, "RetryAttempts": attempt - 1}  # fmt: skip
        if status in (200, 206):
            length = int(got["content-length"]) if got.get("content-length", "").isdigit() else None
            checksum = response_checksum(got) if self._validate else None
            if checksum is not None:
                metadata["ChecksumAlgorithm"] = checksum[0]
            result: dict[str, Any] = {
                "Body": StreamingBody(response, conn, length, checksum, self._give_back(key)),
                "ContentLength": length,
                "ContentType": got.get("content-type"),
                "ETag": got.get("etag"),
                "LastModified": parsedate_to_datetime(got["last-modified"]) if got.get("last-modified") else None,
                "Metadata": {k[len("x-amz-meta-") :]: v for k, v in got.items() if k.startswith("x-amz-meta-")},
                "ResponseMetadata": metadata,
            }
            for header, field in (
                ("x-amz-version-id", "VersionId"),
                ("content-range", "ContentRange"),
                *CHECKSUM_FIELDS,
            ):
                if got.get(header):
                    result[field] = got[header]
            done = awsfast.Attempt(status, got)
            done.parsed = {k: v for k, v in result.items() if v is not None}
            return done
        data = response.read()
        if response.will_close:
            conn.close()
        else:
            self._give_back(key)(conn)
        outcome = awsfast.Attempt(status, got, data)
        if 300 <= status < 400 and status != 304:
            outcome.status = 200  # not an error: a redirect botocore follows (parsed None)
            return outcome
        # the code, for the retry decision only: botocore parses the error that is raised (awsfast.botocore_error)
        fields = {name.decode(): value.decode(errors="replace") for name, value in _XML_FIELD.findall(data)}
        outcome.parsed = {"code": fields.get("Code") or str(status)}
        return outcome
