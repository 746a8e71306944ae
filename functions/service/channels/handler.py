"""``/channels*`` and ``/kicking-rules*``: thin routes over ``service.channels.logic``. Admin group only.

Metrics: ``KickingRulesCreated`` (dimension ``Scope``: ``channel`` or ``app``), ``KickingRulesUpdated``,
``KickingRulesDeleted``, and per Agora request ``AgoraRequests`` and ``AgoraLimiterWaitMs`` (the limiter's wait).

No ``from __future__ import annotations`` here: Powertools reads the route signatures at runtime, and
string annotations could not be resolved through the tracer's wrapper.

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from agorakit.ids import CHANNEL_PATTERN, UID_PATTERN
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp, Serving
from service.auth import Caller, caller_from_event
from service.channels import logic
from service.channels.logic import AppBanRequest, ChannelDependencies, KickRequest, RuleUpdate
from service.channels.models import (
    ChannelHosts,
    ChannelUsers,
    KickingRules,
    KickingRuleView,
    NcsAddresses,
    OnlineChannels,
    UserStatus,
)
from service.channels.settings import ChannelsSettings
from service.http import build_resolver, contract
from service.observability import limiter_wait_observer, make_tracer, metric_sink

logger = Logger()
metrics = Metrics()
_metric = metric_sink(metrics)
tracer = make_tracer()


def _authorize(event: Mapping[str, Any]) -> None:
    """Every route: the admin group, checked before the request is validated (service.http.build_resolver)."""
    settings = _api().settings
    logic.require_admin(caller_from_event(dict(event), groups_claim=settings.groups_claim), settings)


app = build_resolver(authorize=_authorize)


@dataclass(frozen=True)
class ChannelsApi:
    """The channels function with its settings and dependencies: call it with an API Gateway event."""

    settings: ChannelsSettings
    deps: ChannelDependencies

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with _serving.use(self):
            return app.resolve(event, context)


_serving: Serving[ChannelsApi] = Serving("channels_api")
_api = _serving.get


def create_app(settings: ChannelsSettings, deps: ChannelDependencies) -> ChannelsApi:
    return ChannelsApi(settings, deps)


def build_dependencies(settings: ChannelsSettings) -> ChannelDependencies:
    """The deployed adapters: Agora's REST API (its credentials in Secrets Manager) and the two tables."""
    from service.adapters.agora import INTERACTIVE, build_agora_client
    from service.adapters.secrets import SecretsManagerStore
    from service.channels.repository import DynamoDBKickingRules
    from service.presence.repository import DynamoDBPresence

    secrets = SecretsManagerStore(max_age=settings.secret_cache_seconds)
    return ChannelDependencies(
        agora_factory=lambda: build_agora_client(
            settings, secrets, budget=INTERACTIVE, on_wait=limiter_wait_observer(_metric)
        ),
        rules=DynamoDBKickingRules(settings.kicking_rules_table),
        presence=DynamoDBPresence(settings.presence_table),
    )


def _from_env() -> ChannelsApi:
    settings = ChannelsSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


def _admin() -> Caller:
    settings = _api().settings
    caller = caller_from_event(app.current_event.raw_event, groups_claim=settings.groups_claim)
    logic.require_admin(caller, settings)
    return caller


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


CHANNELS, RULES = ["channels"], ["kicking rules"]
#: path values as the document states them; the routes check them (logic.channel_name, user_uid, rule_id) with a
#: precise 400, after percent-decoding, so the patterns are documentation only
ChannelName = Annotated[
    str,
    Path(
        description="an Agora channel name: 1..63 characters from Agora's set (percent-encoded in the path)",
        json_schema_extra={"pattern": CHANNEL_PATTERN},
    ),
]
UidPath = Annotated[str, Path(description="a uid, 1..2^32-1", json_schema_extra={"pattern": UID_PATTERN})]
RuleId = Annotated[
    str, Path(description="a kicking rule id, a positive integer", json_schema_extra={"pattern": r"^[1-9][0-9]{0,17}$"})
]
_ADMIN = {403: "the caller is not in the admin group", 502: "Agora failed (not a refusal of the request)"}
_CHANNEL = {**_ADMIN, 400: "an invalid channel name or uid, or a malformed or unknown query parameter"}


@app.get(
    "/channels",
    summary="Agora's online channels (cached a few seconds per function)",
    tags=CHANNELS,
    responses=contract({200: (OnlineChannels, "one page of channels")}, 403, 502, descriptions=_ADMIN),
)
@tracer.capture_method
def get_channels(
    page_no: Annotated[int, Query(ge=0, le=100_000)] = 0,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response[Any]:
    _admin()
    return _json(200, logic.online_channels(page_no, page_size, settings=_api().settings, deps=_api().deps))


@app.get(
    "/channels/<name>/users",
    summary="Users in a channel, from Agora or from received webhooks",
    tags=CHANNELS,
    responses=contract({200: (ChannelUsers, "the channel's users")}, 403, 502, descriptions=_CHANNEL),
)
@tracer.capture_method
def get_channel_users(
    name: ChannelName, source: Annotated[Literal["agora", "webhooks"], Query()] = "agora"
) -> Response[Any]:
    _admin()
    channel = logic.channel_name(name)
    if source == "webhooks":
        return _json(200, logic.users_from_webhooks(channel, deps=_api().deps))
    return _json(200, logic.users_from_agora(channel, deps=_api().deps))


@app.get(
    "/channels/<name>/users/<uid>",
    summary="Whether a uid is in a channel, and its role",
    tags=CHANNELS,
    responses=contract({200: (UserStatus, "the user's status")}, 403, 502, descriptions=_CHANNEL),
)
@tracer.capture_method
def get_channel_user(name: ChannelName, uid: UidPath) -> Response[Any]:
    _admin()
    return _json(200, logic.user_status(logic.channel_name(name), logic.user_uid(uid), deps=_api().deps))


@app.get(
    "/channels/<name>/hosts",
    summary="The hosts (broadcasters) of a live channel, from Agora's hosts-only list",
    tags=CHANNELS,
    responses=contract(
        {200: (ChannelHosts, "the channel's hosts")},
        403,
        409,
        502,
        descriptions={**_CHANNEL, 409: "not a live channel: a communication channel has no hosts list (Agora's 400)"},
    ),
)
@tracer.capture_method
def get_channel_hosts(name: ChannelName) -> Response[Any]:
    _admin()
    return _json(200, logic.hosts_from_agora(logic.channel_name(name), deps=_api().deps))


@app.get(
    "/ncs/ips",
    summary="The addresses Agora's NCS sends webhooks from (for an allow-list; refresh daily)",
    tags=["webhooks"],
    responses=contract({200: (NcsAddresses, "NCS's current addresses")}, 403, 502, descriptions=_ADMIN),
)
@tracer.capture_method
def get_ncs_ips() -> Response[Any]:
    _admin()
    return _json(200, logic.ncs_addresses(deps=_api().deps))


@app.post(
    "/channels/<name>/kick",
    summary="Kick (0 s) or ban a uid from a channel, or close the channel to everyone",
    tags=RULES,
    responses=contract({201: (KickingRuleView, "the kicking rule")}, 403, 502, body=True, descriptions=_CHANNEL),
)
@tracer.capture_method
def post_kick(name: ChannelName, body: KickRequest) -> Response[Any]:
    caller = _admin()
    channel = logic.channel_name(name)
    rule = logic.create_kick(channel, body, caller, settings=_api().settings, deps=_api().deps)
    _metric("KickingRulesCreated", dimensions={"Scope": "channel"})
    logger.info(
        "kicking rule created",
        extra={"rule_id": rule["id"], "channel": channel, "uid": body.uid, "by": caller.subject},
    )
    return _json(201, rule)


@app.post(
    "/kicking-rules",
    summary="Kick or ban a uid, or ban an IP address, in every channel of the app",
    tags=RULES,
    responses=contract({201: (KickingRuleView, "the kicking rule")}, 403, 502, body=True, descriptions=_ADMIN),
)
@tracer.capture_method
def post_app_ban(body: AppBanRequest) -> Response[Any]:
    caller = _admin()
    rule = logic.create_kick(None, body, caller, settings=_api().settings, deps=_api().deps)
    _metric("KickingRulesCreated", dimensions={"Scope": "app"})
    logger.info(
        "app-wide kicking rule created", extra={"rule_id": rule["id"], "kind": rule["kind"], "by": caller.subject}
    )
    return _json(201, rule)


@app.get(
    "/kicking-rules",
    summary="Our kicking rules, optionally merged with Agora's list",
    tags=RULES,
    responses=contract({200: (KickingRules, "the rules")}, 403, 502, descriptions=_ADMIN),
)
@tracer.capture_method
def get_kicking_rules(include_agora: Annotated[bool, Query()] = False) -> Response[Any]:
    _admin()
    return _json(200, logic.list_rules(include_agora=include_agora, deps=_api().deps))


@app.put(
    "/kicking-rules/<rule_id>",
    summary="Give a kicking rule a new duration (from now)",
    tags=RULES,
    responses=contract(
        {200: (KickingRuleView, "the rule, with its new expiry")},
        403,
        404,
        502,
        body=True,
        descriptions={**_ADMIN, 400: "a rule id that is not a positive integer", 404: "Agora does not know the rule"},
    ),
)
@tracer.capture_method
def put_kicking_rule(rule_id: RuleId, body: RuleUpdate) -> Response[Any]:
    caller = _admin()
    number = logic.rule_id(rule_id)
    view = logic.update_rule(number, body, settings=_api().settings, deps=_api().deps)
    _metric("KickingRulesUpdated")
    logger.info("kicking rule updated", extra={"rule_id": number, "by": caller.subject})
    return _json(200, view)


@app.delete(
    "/kicking-rules/<rule_id>",
    summary="Lift a kicking rule",
    tags=RULES,
    responses=contract(
        {204: (None, "lifted")},
        403,
        404,
        502,
        descriptions={**_ADMIN, 400: "a rule id that is not a positive integer", 404: "neither Agora nor we know it"},
    ),
)
@tracer.capture_method
def delete_kicking_rule(rule_id: RuleId) -> Response[Any]:
    caller = _admin()
    number = logic.rule_id(rule_id)
    logic.delete_rule(number, deps=_api().deps)
    _metric("KickingRulesDeleted")
    logger.info("kicking rule deleted", extra={"rule_id": number, "by": caller.subject})
    return Response(status_code=204, body=None)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
