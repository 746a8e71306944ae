"""S3 ``GetObject`` without botocore: the media function's one S3 read on its hot path.

Same reasons and rules as :mod:`awsfast` (read it first): botocore is the larger part of a
cold start. ``get_object`` here accepts ``Bucket``, ``Key``, ``VersionId``, ``IfMatch`` and ``Range`` and
answers with ``Body`` (a streaming body with botocore's ``read``, ``iter_chunks``, ``iter_lines`` and
``close``, which checks the length it received), ``ContentLength``, ``ContentType``, ``ETag``,
``LastModified``, ``VersionId`` (when S3 sends one), ``ContentRange`` (for a range), ``Metadata`` and
``ResponseMetadata``; errors are botocore's ``ClientError`` with S3's code (``NoSuchKey``,
``PreconditionFailed``, ...). Any other parameter, any other operation, and any redirect (a bucket in
another region) go to botocore. Requests are path-style on an explicit endpoint (moto, the local stack) and
virtual-hosted on AWS, as botocore addresses them.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
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
    """:func:`awsfast.available` for S3 (``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL``)."""
    return awsfast.available("s3", environ)


class StreamingBody:
    """botocore's ``StreamingBody`` for what callers use: read, iter_chunks, iter_lines, close; a short
    read (the connection closed before ``Content-Length`` bytes) raises botocore's ``IncompleteReadError``."""

    def __init__(self, response: Any, connection: Any, length: int | None):
        self._response = response
        self._connection = connection
        self._length = length
        self._received = 0

    def read(self, amt: int | None = None) -> bytes:
        import http.client

        try:
            data = self._response.read() if amt is None else self._response.read(amt)
        except http.client.IncompleteRead as short:
            self._received += len(short.partial)
            self._short()
        self._received += len(data)
        if (amt is None or (amt and not data)) and self._length is not None and self._received != self._length:
            self._short()
        return bytes(data)

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
        self._connection.close()

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
        token = env.get("AWS_SESSION_TOKEN")
        if token:
            headers["x-amz-security-token"] = token
        headers["authorization"] = awsfast.sign(
            method="GET", url=url, headers=headers, body=b"", service="s3", region=self._region,
            access_key=env.get("AWS_ACCESS_KEY_ID", ""), secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
            amz_date=amz_date, query=query, payload_hash=EMPTY_SHA256,
        )  # fmt: skip
        parts = urlsplit(url)
        if parts.scheme == "https":
            import ssl

            context = ssl.create_default_context(cafile=env.get("AWS_CA_BUNDLE") or None)
            conn: Any = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=awsfast.TIMEOUT_SECONDS, context=context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=awsfast.TIMEOUT_SECONDS)
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
            result: dict[str, Any] = {
                "Body": StreamingBody(response, conn, length),
                "ContentLength": length,
                "ContentType": got.get("content-type"),
                "ETag": got.get("etag"),
                "LastModified": parsedate_to_datetime(got["last-modified"]) if got.get("last-modified") else None,
                "Metadata": {k[len("x-amz-meta-") :]: v for k, v in got.items() if k.startswith("x-amz-meta-")},
                "ResponseMetadata": metadata,
            }
            for header, field in (("x-amz-version-id", "VersionId"), ("content-range", "ContentRange")):
                if got.get(header):
                    result[field] = got[header]
            done = awsfast.Attempt(status, got)
            done.parsed = {k: v for k, v in result.items() if v is not None}
            return done
        data = response.read()
        conn.close()
        outcome = awsfast.Attempt(status, got, data)
        if 300 <= status < 400 and status != 304:
            outcome.status = 200  # not an error: a redirect botocore follows (parsed None)
            return outcome
        # the code, for the retry decision only: botocore parses the error that is raised (awsfast.botocore_error)
        fields = {name.decode(): value.decode(errors="replace") for name, value in _XML_FIELD.findall(data)}
        outcome.parsed = {"code": fields.get("Code") or str(status)}
        return outcome
