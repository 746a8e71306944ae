"""Helpers for tests that run the Agora emulator over real loopback HTTP (owned by the Agora client tests).

Import the helpers you need; nothing here is a pytest plugin, so other test modules are unaffected.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agorakit.agora import AgoraClient, StorageConfig

from emulator import Emulator
from tests.support.servers import serving
from tests.support.waits import wait_until as wait_until  # noqa: PLC0414 - re-exported: the emulator tests import it here

APP_ID = "5f0e9a3c1b2d4e6f8a7b9c0d1e2f3a4b"
CUSTOMER_ID = "it-customer"
CUSTOMER_SECRET = "it-Secret-5a1c9e0b7d"  # distinctive, so tests can prove it never leaks
RECORDER_UID = 4_000_000_001


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


def make_emulator(**kw: Any) -> Emulator:
    options: dict[str, Any] = {"app_id": APP_ID, "customer_id": CUSTOMER_ID, "customer_secret": CUSTOMER_SECRET,
                               "seed": 7}  # fmt: skip
    options.update(kw)
    return Emulator("127.0.0.1", 0, **options)


class Sleeps:
    """An injected ``sleep`` that records the delays instead of waiting (retries are counted, not timed)."""

    def __init__(self, real_fraction: float = 0.0):
        self.delays: list[float] = []
        self.real_fraction = real_fraction

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.real_fraction:
            time.sleep(seconds * self.real_fraction)


def make_client(urls: list[str], **kw: Any) -> AgoraClient:
    options: dict[str, Any] = {"app_id": APP_ID, "customer_id": CUSTOMER_ID, "customer_secret": CUSTOMER_SECRET,
                               "base_urls": urls, "timeout": 5.0, "sleep": Sleeps(), "rng": lambda: 0.5}  # fmt: skip
    options.update(kw)
    return AgoraClient(**options)


def storage(prefix: list[str] | None = None, bucket: str = "recordings-bucket") -> StorageConfig:
    return StorageConfig(bucket=bucket, access_key="AKIAEMULATOR", secret_key="emulator-storage-secret",
                         file_name_prefix=prefix or ["recordings", "room", "abc123"])  # fmt: skip


class WebhookReceiver:
    """A tiny NCS receiver: stores (headers, raw body) and answers 200 ``{}``; can fail the first N posts."""

    def __init__(self, fail_first: int = 0):
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    failing = receiver.fail_first > 0
                    if failing:
                        receiver.fail_first -= 1
                    else:
                        receiver.received.append((dict(self.headers.items()), body))
                reply = b"{}"
                self.send_response(503 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = serving(self._server)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/agora"

    def envelopes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def moto_s3(bucket: str) -> Iterator[str]:
    """A moto server on a free loopback port with ``bucket`` created; yields its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
