"""Secrets from AWS Secrets Manager, cached in memory, never logged.

Values are JSON objects (or plain strings, returned as ``{"value": ...}``). The cache keeps a value for
``max_age`` seconds so a warm function makes no call per request, and a rotated secret is picked up
within that time.

A secret named in ``versioned`` (the App Certificate, which signs tokens) is never served past a rotation
that the caller could know of: its cached value is used only while its version has been confirmed current
(``DescribeSecret``: metadata only, no decryption) within the last ``versioned[name]`` seconds; 0 confirms
on every read. A new ``AWSCURRENT`` version is fetched by its ``VersionId``, so the value and the version
checked are the same. The certificate rotation (``service.projects.logic``) answers only after that interval
has passed since the new version became current: from its answer on, no reader signs with the old one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class SecretStore(Protocol):
    def get_json(self, name: str) -> dict[str, Any]: ...


def current_version(client: Any, name: str) -> str | None:
    """The ``VersionId`` labelled ``AWSCURRENT`` (one ``DescribeSecret``)."""
    stages = client.describe_secret(SecretId=name).get("VersionIdsToStages") or {}
    return next((str(v) for v, labels in stages.items() if "AWSCURRENT" in (labels or [])), None)


class SecretsManagerStore:
    def __init__(
        self,
        *,
        max_age: float = 300.0,
        client_factory: Callable[[], Any] | None = None,
        clock=time.monotonic,
        versioned: dict[str, float] | None = None,
    ):
        self._max_age = max_age
        self._client_factory = client_factory
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        #: name -> seconds a confirmed version stays trusted (see the module docstring)
        self._versioned = dict(versioned or {})
        self._versions: dict[str, tuple[float, str, dict[str, Any]]] = {}  # name -> (confirmed at, version, value)

    def _client(self) -> Any:
        if self._client_factory is not None:
            return self._client_factory()
        from service.adapters.aws import client

        return client("secretsmanager")

    def get_json(self, name: str) -> dict[str, Any]:
        if name in self._versioned:
            return self._get_versioned(name)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(name)
            if hit and now - hit[0] < self._max_age:
                return hit[1]
        value = _parse(self._client().get_secret_value(SecretId=name)["SecretString"])
        with self._lock:
            self._cache[name] = (now, value)
        return value

    def _get_versioned(self, name: str) -> dict[str, Any]:
        now = self._clock()  # read before the check: the trusted interval starts no later than the check
        with self._lock:
            hit = self._versions.get(name)
        if hit and now - hit[0] < self._versioned[name]:
            return hit[2]
        client = self._client()
        version = current_version(client, name)
        if hit and version is not None and version == hit[1]:
            value = hit[2]
        elif version is not None:
            value = _parse(client.get_secret_value(SecretId=name, VersionId=version)["SecretString"])
        else:  # no AWSCURRENT label (cannot happen for a secret with a value): read it plainly
            answer = client.get_secret_value(SecretId=name)
            version, value = str(answer.get("VersionId") or ""), _parse(answer["SecretString"])
        with self._lock:
            self._versions[name] = (now, version, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._versions.clear()


def _parse(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"value": raw}


class StaticSecretStore:
    """A store with fixed values: for the CLI and for tests of code that only needs a secret's value."""

    def __init__(self, values: dict[str, dict[str, Any]]):
        self._values = values

    def get_json(self, name: str) -> dict[str, Any]:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"no secret named {name!r}") from None
