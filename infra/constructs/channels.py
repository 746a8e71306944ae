"""Channel moderation: the channels function, the KickingRulesTable and the ``/channels*`` and
``/kicking-rules*`` routes (JWT-authorized; the function itself requires the admin group).

Least privilege: Agora access through ``AgoraAccess.grant`` (REST secret + rate-limit table); the rules
table with exactly the calls the repository makes; a Query on the webhook presence table.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.agora_access import AgoraAccess
from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory
from infra.retention import data_removal_policy
from infra.settings import StackSettings

RULES_TABLE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
PRESENCE_ACTIONS = ("dynamodb:Query",)
CACHE_SECONDS = 5
#: (path, methods) of every route of the function
ROUTES: tuple[tuple[str, tuple[apigw.HttpMethod, ...]], ...] = (
    ("/channels", (apigw.HttpMethod.GET,)),
    ("/channels/{name}/users", (apigw.HttpMethod.GET,)),
    ("/channels/{name}/users/{uid}", (apigw.HttpMethod.GET,)),
    ("/channels/{name}/hosts", (apigw.HttpMethod.GET,)),
    ("/channels/{name}/kick", (apigw.HttpMethod.POST,)),
    ("/kicking-rules", (apigw.HttpMethod.GET, apigw.HttpMethod.POST)),
    ("/kicking-rules/{id}", (apigw.HttpMethod.PUT, apigw.HttpMethod.DELETE)),
    ("/ncs/ips", (apigw.HttpMethod.GET,)),
)


class Channels(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: FunctionFactory,
        agora: AgoraAccess,
        presence_table: dynamodb.ITableV2,
    ):
        super().__init__(scope, construct_id)
        self.rules = dynamodb.TableV2(
            self,
            "KickingRulesTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.NUMBER),
            # the events publisher reads every change (infra/constructs/events.py)
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute="purgeAt",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # the ids of bans Agora's own list may not show: keep them
            removal_policy=data_removal_policy(settings),
            deletion_protection=not settings.dev,
        )
        self.function = functions.create(
            self,
            "ChannelsFunction",
            handler="service.channels.handler.handler",
            description="/channels and /kicking-rules: Agora channel lists, presence and bans (admins)",
            service_name="channels",
            memory_size=512,
            # a kicking-rule POST should be given >= 20 s (Agora's advice); API Gateway stops at 30 s
            timeout=Duration.seconds(29),
            environment={
                "KICKING_RULES_TABLE": self.rules.table_name,
                "PRESENCE_TABLE": presence_table.table_name,
                "GROUPS_CLAIM": settings.groups_claim,
                "ADMIN_GROUP": settings.admin_group,
                "CHANNELS_CACHE_SECONDS": str(CACHE_SECONDS),
            },
        )
        agora.grant(self.function)
        self.rules.grant(self.function, *RULES_TABLE_ACTIONS)
        presence_table.grant(self.function, *PRESENCE_ACTIONS)
        self.routes = [route for path, methods in ROUTES for route in api.add_route(path, list(methods), self.function)]
