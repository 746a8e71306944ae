"""Uploads of recorded files to S3 (or moto), in a background thread, in the order they were produced.

boto3 is imported lazily here only, so the rest of the emulator and agorakit never pay for it.
Uploads use the storage keys the recording was started with, as Agora does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

logger = logging.getLogger("emulator.uploader")


@cache
def _data_loader() -> Any:
    """botocore's model loader shared by every uploader of this process: each emulator (a local stack, a test
    module) made a new session, which parsed S3's model again."""
    from botocore.loaders import create_loader

    return create_loader()


@dataclass(frozen=True)
class Upload:
    task: str  # sid
    bucket: str
    key: str
    body: bytes
    content_type: str
    access_key: str
    secret_key: str
    region: str


class S3Uploader:
    def __init__(self, endpoint_url: str):
        self.endpoint_url = endpoint_url
        self._queue: queue.Queue[Upload | None] = queue.Queue()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._pending: dict[str, int] = defaultdict(int)
        self._failed: dict[str, int] = defaultdict(int)
        self.stats = {"uploaded": 0, "failed": 0, "bytes": 0}
        self.keys: list[str] = []
        self._thread = threading.Thread(target=self._run, name="emulator-uploader", daemon=True)
        self._thread.start()

    def put(self, upload: Upload) -> None:
        with self._lock:
            self._pending[upload.task] += 1
        self._queue.put(upload)

    def pending(self, task: str) -> int:
        with self._lock:
            return self._pending.get(task, 0)

    def failed(self, task: str) -> int:
        with self._lock:
            return self._failed.get(task, 0)

    def wait_task(self, task: str, timeout: float = 20.0) -> bool:
        """Block until every upload queued for ``task`` is done (a synchronous stop waits like this)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending.get(task, 0) == 0:
                    return True
            time.sleep(0.005)
        return False

    def drain(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _client(self, upload: Upload) -> Any:
        key = (upload.access_key, upload.secret_key, upload.region)
        client = self._clients.get(key)
        if client is None:
            import boto3
            import botocore.session
            from botocore.config import Config

            core = botocore.session.get_session()
            core.register_component("data_loader", _data_loader())  # S3's model parsed once per process
            client = boto3.session.Session(botocore_session=core).client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=upload.region,
                aws_access_key_id=upload.access_key or "emulator",
                aws_secret_access_key=upload.secret_key or "emulator",
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}),
            )
            self._clients[key] = client
        return client

    def _run(self) -> None:
        while True:
            upload = self._queue.get()
            try:
                if upload is None:
                    return
                self._do(upload)
            finally:
                self._queue.task_done()

    def _do(self, upload: Upload) -> None:
        try:
            self._client(upload).put_object(
                Bucket=upload.bucket, Key=upload.key, Body=upload.body, ContentType=upload.content_type
            )
        except Exception as exc:
            logger.warning("upload of %s to bucket %s failed: %s", upload.key, upload.bucket, exc)
            with self._lock:
                self.stats["failed"] += 1
                self._failed[upload.task] += 1
        else:
            with self._lock:
                self.stats["uploaded"] += 1
                self.stats["bytes"] += len(upload.body)
                self.keys.append(upload.key)
        finally:
            with self._lock:
                self._pending[upload.task] -= 1
