"""Token minting: the users table (subject <-> uid), the token function and ``POST /tokens``."""

from __future__ import annotations

from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory
from infra.grants import grant_secret_value
from infra.retention import data_removal_policy
from infra.settings import StackSettings

TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
#: seconds a signer trusts a certificate version it confirmed current; the rotation (projects) waits it out
CERTIFICATE_CHECK_SECONDS = 1


class Tokens(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StackSettings, api: Api, functions: FunctionFactory
    ):
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "UsersTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not settings.dev,
            # the subject -> uid mapping is identity data: losing it would give users new uids
            removal_policy=data_removal_policy(settings),
        )
        self.certificate_secret = secretsmanager.Secret.from_secret_name_v2(
            self, "AppCertificate", settings.app_certificate_secret_name
        )
        self.function = functions.create(
            self,
            "TokenFunction",
            handler="service.tokens.handler.handler",
            description="POST /tokens: Agora RTC/RTM tokens for the authenticated caller",
            service_name="tokens",
            memory_size=512,
            environment={
                "AGORA_APP_ID": settings.agora_app_id,
                "APP_CERTIFICATE_SECRET_NAME": settings.app_certificate_secret_name,
                "USERS_TABLE": self.table.table_name,
                "GROUPS_CLAIM": settings.groups_claim,
                "PUBLISHER_GROUP": settings.publisher_group,
                "PUBLISHER_DENIED": settings.publisher_denied,
                "TOKEN_DEFAULT_TTL": str(settings.token_default_ttl),
                "CERTIFICATE_CHECK_SECONDS": str(CERTIFICATE_CHECK_SECONDS),
                "XRAY_SDK": "false",
            },
        )
        # GetItem (subject -> uid) and the two conditional Puts of one TransactWriteItems (allocation)
        self.table.grant(self.function, *TABLE_ACTIONS)
        grant_secret_value(self.function, self.certificate_secret, describe=True)
        api.add_route("/tokens", [apigw.HttpMethod.POST], self.function)
        api.add_route("/tokens/rtm", [apigw.HttpMethod.POST], self.function)
