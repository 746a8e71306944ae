"""``POST /tokens``: thin handler. Decorators, routing and one call into ``service.tokens.logic``.

Cold start: the module imports Powertools' Logger, Metrics and resolver, and pydantic; botocore is imported
when the first request needs DynamoDB or Secrets Manager; the token format is standard library only; the
X-Ray SDK is left out unless ``XRAY_SDK=true`` (see ``service.observability``). Warm: a returning user's
request makes no AWS call for the uid (cached in the container) and at most one ``DescribeSecret`` per
``CERTIFICATE_CHECK_SECONDS`` for the certificate (its version confirmed current: docs/projects.md).

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp, Serving
from service.auth import caller_from_event
from service.http import build_resolver, contract
from service.observability import make_tracer
from service.tokens.logic import (
    RtmTokenRequest,
    RtmTokenResponse,
    TokenDependencies,
    TokenRequest,
    TokenResponse,
    mint_rtm_token,
    mint_tokens,
)
from service.tokens.settings import TokenSettings

logger = Logger()
metrics = Metrics()
tracer = make_tracer()  # XRAY_SDK=false in the deployed token function: see docs/decisions.md


def _authenticate(event: Mapping[str, Any]) -> None:
    """Every route: a signed-in caller, checked before the body is read. Which role a caller may have depends
    on the body (``role``), so the group check stays in ``logic.effective_role``."""
    caller_from_event(dict(event), groups_claim=_serving.get().settings.groups_claim)


app = build_resolver(authorize=_authenticate)


@dataclass(frozen=True)
class TokensApi:
    """The token function with its settings and dependencies: call it with an API Gateway event."""

    settings: TokenSettings
    deps: TokenDependencies

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with _serving.use(self):
            return app.resolve(event, context)


_serving: Serving[TokensApi] = Serving("tokens_api")


def create_app(settings: TokenSettings, deps: TokenDependencies) -> TokensApi:
    return TokensApi(settings, deps)


def build_dependencies(settings: TokenSettings) -> TokenDependencies:
    """The deployed adapters: the users table (uids cached in the container) and Secrets Manager."""
    from service.adapters.secrets import SecretsManagerStore
    from service.tokens.repository import CachedUidRepository, DynamoDBUidRepository

    return TokenDependencies(
        uids=CachedUidRepository(DynamoDBUidRepository(settings.users_table), max_entries=settings.uid_cache_entries),
        secrets=SecretsManagerStore(
            max_age=settings.secret_cache_seconds,
            versioned={settings.app_certificate_secret_name: settings.certificate_check_seconds},
        ),
    )


def _from_env() -> TokensApi:
    settings = TokenSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


@app.post(
    "/tokens",
    summary="Mint Agora tokens for the caller",
    description="RTC (and RTM) tokens for the caller's stable uid; publisher tokens need the publisher group.",
    tags=["tokens"],
    responses=contract(
        {200: (TokenResponse, "tokens minted")},
        403,
        descriptions={403: "a publisher token was asked for by a caller outside the publisher group"},
        body=True,
    ),
)
@tracer.capture_method
def post_tokens(body: TokenRequest) -> TokenResponse:
    api = _serving.get()
    caller = caller_from_event(app.current_event.raw_event, groups_claim=api.settings.groups_claim)
    response = mint_tokens(caller, body, settings=api.settings, deps=api.deps)
    metrics.add_metric(name="TokensMinted", unit=MetricUnit.Count, value=1)
    logger.info("tokens minted", extra={"uid": response.uid, "channel": response.channel, "role": response.role})
    return response


@app.post(
    "/tokens/rtm",
    summary="Mint a Signaling (RTM 2.x) login token for the caller",
    tags=["tokens"],
    responses=contract({200: (RtmTokenResponse, "token minted")}, body=True),
)
@tracer.capture_method
def post_rtm_token(body: RtmTokenRequest) -> RtmTokenResponse:
    api = _serving.get()
    caller = caller_from_event(app.current_event.raw_event, groups_claim=api.settings.groups_claim)
    response = mint_rtm_token(caller, body, settings=api.settings, deps=api.deps)
    metrics.add_metric(name="RtmTokensMinted", unit=MetricUnit.Count, value=1)
    logger.info("rtm token minted", extra={"uid": response.uid})
    return response


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
