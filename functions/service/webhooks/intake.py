"""``POST /webhooks/agora``: the NCS receiver. A plain function handler, not a Powertools resolver.

Why no resolver: the signature is over the raw bytes, which a resolver would decode and re-model, and the
resolver with validation costs ~100-200 ms of cold start (``make bench``, bench/bench_webhooks.py) against
Agora's 10 s budget that also covers retries. This module imports Powertools' Logger and the standard library; boto3 is
imported on the first request. Every request gets one structured log line and its metrics
(``service.webhooks.telemetry``, EMF through the log); header values (signatures) and secrets are never logged.

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp
from service.errors import ServiceError, error_body
from service.observability import MetricSink, metric_sink, no_metric
from service.webhooks import telemetry
from service.webhooks.logic import Accepted, BadSignature, KeyringCache, accept_notice, request_body
from service.webhooks.repository import DynamoDBInbox, InboxRepository
from service.webhooks.settings import IntakeSettings

logger = Logger()
metrics = Metrics()

_JSON = {"Content-Type": "application/json"}
_OK = json.dumps({"ok": True})
_DUPLICATE = json.dumps({"ok": True, "duplicate": True})


@dataclass(frozen=True)
class IntakeDependencies:
    inbox: InboxRepository
    keyring: KeyringCache


def build_dependencies(settings: IntakeSettings) -> IntakeDependencies:
    """The deployed adapters: the inbox table and the NCS secret (cached ``ncs_secret_cache_seconds``)."""
    from service.adapters.secrets import SecretsManagerStore

    return IntakeDependencies(
        inbox=DynamoDBInbox(settings.inbox_table),
        keyring=KeyringCache(SecretsManagerStore(max_age=settings.ncs_secret_cache_seconds), settings.ncs_secret_name),
    )


def _response(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": dict(_JSON), "body": body, "isBase64Encoded": False}


def _accept(raw: bytes, headers: Mapping[str, str], *, deps: IntakeDependencies, config: IntakeSettings) -> Accepted:
    try:
        return accept_notice(raw, headers, keyring=deps.keyring.get(), inbox=deps.inbox, settings=config)
    except BadSignature:
        if not deps.keyring.refresh():  # a rotated secret not yet in our cache? (rate-limited re-read)
            raise
        return accept_notice(raw, headers, keyring=deps.keyring.get(), inbox=deps.inbox, settings=config)


def receive(
    event: Mapping[str, Any], *, deps: IntakeDependencies, config: IntakeSettings, metric: MetricSink = no_metric
) -> dict[str, Any]:
    """One delivery -> an HTTP API response. Never raises: unknown failures are a 500 (NCS retries)."""
    headers = event.get("headers") or {}
    log: dict[str, Any] = {
        "signature_headers": sorted(h for h in (k.lower() for k in headers) if h.startswith("agora-signature")),
        "source_ip": ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp"),
    }
    try:
        raw = request_body(event, config.ncs_max_body_bytes)
        log["bytes"] = len(raw)
        telemetry.intake_read(metric, len(raw))
        accepted = _accept(raw, headers, deps=deps, config=config)
    except ServiceError as err:
        level = logger.error if err.status >= 500 else logger.warning
        level("ncs notice rejected", extra={**log, "outcome": err.code, "status": err.status, "reason": err.message})
        telemetry.intake_rejected(metric, err.code)
        return _response(err.status, error_body(err.status, err.code, err.message))
    except Exception:
        logger.exception("ncs intake failed", extra={**log, "outcome": "error", "status": 500})
        telemetry.intake_failed(metric)
        return _response(500, error_body(500, "internal_error", "the event was not stored; deliver it again"))
    telemetry.intake_stored(metric, stored=accepted.stored)
    envelope = accepted.envelope
    logger.info(
        "ncs notice",
        extra={
            **log,
            "noticeId": envelope.notice_id,
            "productId": envelope.product_id,
            "eventType": envelope.event_type,
            "sid": envelope.sid,
            "cname": envelope.cname,
            "signature": accepted.verification.header,
            "outcome": accepted.outcome,
            "status": 200,
        },
    )
    return _response(200, _OK if accepted.stored else _DUPLICATE)


_metric = metric_sink(metrics)


@dataclass(frozen=True)
class Intake:
    """The intake function with its settings and dependencies: call it with an API Gateway event."""

    settings: IntakeSettings
    deps: IntakeDependencies

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        return receive(event, deps=self.deps, config=self.settings, metric=_metric)


def create_app(settings: IntakeSettings, deps: IntakeDependencies) -> Intake:
    return Intake(settings, deps)


def _from_env() -> Intake:
    settings = IntakeSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
