"""Lazily created, cached AWS clients (botocore, the engine under boto3).

botocore is imported on first use only, so functions that never touch a service do not pay for it;
and going through botocore's session directly skips boto3's resource layer and s3transfer, which none of
these clients use (about 15 ms measured here).
Endpoints follow the standard ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_<SERVICE>`` variables, which is
how the local stack points every function at its embedded moto server.

Every client comes from ONE botocore session: ``botocore.session.get_session()`` builds a new Session
(loaders, credential chain, config) on each call, so a second client cost 71-85 ms instead of ~6 ms.
Sharing the session also shares its loaded service models and resolved credentials.

With ``AGORA_AWS_FAST_CLIENT=1`` the DynamoDB, Secrets Manager and Step Functions clients are
:class:`awsfast.FastClient` (and S3's ``get_object`` is :mod:`awsfast.s3`) wherever
:func:`awsfast.available` says it can be exact: botocore-compatible for the calls on hot paths, without
loading botocore (which then loads only for anything else). This module is the one place that chooses:
removing the fast client is deleting ``functions/awsfast/`` and the ``_fast_enabled()`` branch below. Which
client serves each service is logged once per container (``aws client`` with ``service`` and ``client``).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_lock = threading.Lock()


@cache
def data_loader() -> Any:
    """botocore's loader of the service models (the JSON under ``botocore/data``), one per process.

    A botocore session parses each model it needs once, on its own loader. A Lambda container has one session,
    but a process that starts fresh backends (the local stack, the tests: ``reset_clients``, the provisioner's
    and the emulator's sessions) built a session, and parsed the same models, per stack: 13% of the workflow
    tier's CPU. The files do not change while a process runs, and botocore only reads what its loader returns
    (one session's clients already share it), so every session here shares this one."""
    from botocore.loaders import create_loader

    return create_loader()


def new_session() -> Any:
    """A new botocore session (its own credentials, config and event hooks) on the process's ``data_loader``."""
    import botocore.session

    fresh = botocore.session.get_session()
    fresh.register_component("data_loader", data_loader())
    return fresh


def new_boto3_session() -> Any:
    """``boto3.session.Session()`` on the process's ``data_loader`` (see there)."""
    import boto3

    return boto3.session.Session(botocore_session=new_session())


@cache
def _session() -> Any:
    return new_session()


@cache
def _client(service_name: str) -> Any:
    if _fast_enabled():
        import awsfast

        if awsfast.available(service_name):
            _log_choice(service_name, "awsfast")
            return awsfast.FastClient(service_name, fallback=lambda: _botocore_client(service_name))
        if service_name == "s3":
            from awsfast import s3

            if s3.available():
                _log_choice(service_name, "awsfast.s3 (GetObject; botocore for the rest)")
                return s3.FastS3Client(fallback=lambda: _botocore_client(service_name))
    _log_choice(service_name, "botocore")
    return _botocore_client(service_name)


def _log_choice(service_name: str, chosen: str) -> None:
    """One line per service and container (``_client`` is cached): which client serves it."""
    import logging

    logging.getLogger(__name__).info("aws client", extra={"service": service_name, "client": chosen})


@cache
def _botocore_client(service_name: str) -> Any:
    return _session().create_client(service_name)


def _fast_enabled() -> bool:
    """``AGORA_AWS_FAST_CLIENT=1`` (set on every deployed function and by the local stack): JSON-protocol
    calls on hot paths go through :mod:`awsfast` instead of botocore (docs/decisions.md)."""
    import os

    return os.environ.get("AGORA_AWS_FAST_CLIENT") == "1"


def session() -> Any:
    """The process's one botocore session (tests register event hooks on it to count AWS calls)."""
    with _lock:
        return _session()


def client(service_name: str) -> Any:
    with _lock:
        return _client(service_name)


def reset_clients() -> None:
    """Forget cached clients and the session (tests that start a fresh moto backend call this); the parsed
    service models (``data_loader``) are kept."""
    with _lock:
        _client.cache_clear()
        _botocore_client.cache_clear()
        _session.cache_clear()


class LazyClient:
    """``client = LazyClient("dynamodb")`` on an adapter: the client injected as ``self._client`` (tests,
    the local stack), else the shared cached client, created on first use so cold starts skip botocore."""

    def __init__(self, service_name: str):
        self.service_name = service_name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if getattr(obj, "_client", None) is None:
            obj._client = client(self.service_name)
        return obj._client
