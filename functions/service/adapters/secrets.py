"""Secrets from AWS Secrets Manager, cached in memory, never logged.

Values are JSON objects (or plain strings, returned as ``{"value": ...}``). The cache keeps a value for
``max_age`` seconds so a warm function makes no call per request, and a rotated secret is picked up
within that time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class SecretStore(Protocol):
    def get_json(self, name: str) -> dict[str, Any]: ...


class SecretsManagerStore:
    def __init__(
        self, *, max_age: float = 300.0, client_factory: Callable[[], Any] | None = None, clock=time.monotonic
    ):
        self._max_age = max_age
        self._client_factory = client_factory
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _client(self) -> Any:
        if self._client_factory is not None:
            return self._client_factory()
        from service.adapters.aws import client

        return client("secretsmanager")

    def get_json(self, name: str) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(name)
            if hit and now - hit[0] < self._max_age:
                return hit[1]
        raw = self._client().get_secret_value(SecretId=name)["SecretString"]
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            value = {"value": raw}
        with self._lock:
            self._cache[name] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


class StaticSecretStore:
    """A store with fixed values: for the CLI and for tests of code that only needs a secret's value."""

    def __init__(self, values: dict[str, dict[str, Any]]):
        self._values = values

    def get_json(self, name: str) -> dict[str, Any]:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"no secret named {name!r}") from None
