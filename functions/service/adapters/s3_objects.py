"""The recordings bucket through S3: the ``RecordingObjects`` port of ``service.recordings.playback``.

Lists a recording's objects, reads a playlist (bounded), and presigns ``GetObject`` URLs with SigV4.
"""

from __future__ import annotations

import posixpath
from typing import Any

from service.adapters.aws import LazyClient
from service.errors import NotFound, PayloadTooLarge


class S3RecordingObjects:
    """The recordings bucket through the shared botocore client (``service.adapters.aws``)."""

    client = LazyClient("s3")

    def __init__(self, bucket: str, *, client: Any = None):
        self.bucket = bucket
        self._client = client
        self._presigner: Any = client  # an injected client presigns as it is (tests)

    def list(self, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self.client.list_objects_v2(**request)
            for entry in page.get("Contents") or []:
                found[str(entry["Key"])] = int(entry.get("Size") or 0)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found
            request["ContinuationToken"] = token

    def read(self, key: str, max_bytes: int) -> bytes:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
                raise NotFound(f"playlist {posixpath.basename(key)!r} is not in the bucket") from None
            raise
        body = answer["Body"]
        try:
            if int(answer.get("ContentLength") or 0) > max_bytes:
                raise PayloadTooLarge(f"the playlist is larger than {max_bytes} bytes")
            return bytes(body.read())
        finally:
            body.close()

    def presign(self, key: str, seconds: int) -> str:
        return str(
            self._signer().generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
            )
        )

    def _signer(self) -> Any:
        """A SigV4 client (botocore's default presigns S3 with SigV2, which new regions refuse); presigning
        makes no call, so it costs nothing beyond the client."""
        if self._presigner is None:
            from botocore.config import Config

            from service.adapters.aws import session

            self._presigner = session().create_client("s3", config=Config(signature_version="s3v4"))
        return self._presigner
