"""Project management and usage: the projects function, the UsageTable (a cache of settled daily usage) and
the ``/projects*`` routes (JWT-authorized; the function itself requires the owners group).

Least privilege, derived from the calls the code makes: Agora access through ``AgoraAccess.grant`` (REST
secret read + rate-limit table); Query and BatchWriteItem on the usage table
(``service.projects.repository.DynamoDBUsageCache``); and ``secretsmanager:PutSecretValue`` on the App
Certificate secret only (``SecretsManagerCertificate.put``): the function writes the rotated certificate
but never reads it (Agora's answer carries it).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.agora_access import AgoraAccess
from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.recording import RECORDER_CERTIFICATE_CHECK_SECONDS
from infra.constructs.tokens import CERTIFICATE_CHECK_SECONDS
from infra.settings import StackSettings

USAGE_TABLE_ACTIONS = ("dynamodb:Query", "dynamodb:BatchWriteItem")
CERTIFICATE_ACTIONS = ("secretsmanager:PutSecretValue",)
#: (path, methods) of every route of the function
ROUTES: tuple[tuple[str, tuple[apigw.HttpMethod, ...]], ...] = (
    ("/projects", (apigw.HttpMethod.GET,)),
    ("/projects/{project}", (apigw.HttpMethod.GET,)),
    ("/projects/{project}/status", (apigw.HttpMethod.PUT,)),
    ("/projects/{project}/usage", (apigw.HttpMethod.GET,)),
    ("/projects/{project}/certificate/reset", (apigw.HttpMethod.POST,)),
    ("/projects/{project}/certificate/sync", (apigw.HttpMethod.POST,)),
)


class Projects(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: FunctionFactory,
        agora: AgoraAccess,
    ):
        super().__init__(scope, construct_id)
        self.usage = dynamodb.TableV2(
            self,
            "UsageTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute="expiresAt",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # a cache of what Agora can answer again: nothing to keep when the stack goes
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.certificate_secret = secretsmanager.Secret.from_secret_name_v2(
            self, "AppCertificate", settings.app_certificate_secret_name
        )
        self.function = functions.create(
            self,
            "ProjectsFunction",
            handler="service.projects.handler.handler",
            description="/projects: Agora projects, usage and App Certificate rotation (owners)",
            service_name="projects",
            memory_size=512,
            timeout=Duration.seconds(29),  # API Gateway stops at 30 s; the Agora budget fits inside
            environment={
                "USAGE_TABLE": self.usage.table_name,
                "APP_CERTIFICATE_SECRET_NAME": settings.app_certificate_secret_name,
                "GROUPS_CLAIM": settings.groups_claim,
                "OWNERS_GROUP": settings.owners_group,
                # the longest interval a signer trusts a certificate version: the rotation waits it out
                "SIGNER_CERTIFICATE_CHECK_SECONDS": str(
                    max(CERTIFICATE_CHECK_SECONDS, RECORDER_CERTIFICATE_CHECK_SECONDS)
                ),
            },
        )
        agora.grant(self.function)
        self.usage.grant(self.function, *USAGE_TABLE_ACTIONS)
        # a secret imported by name has a partial ARN: Secrets Manager appends "-" and 6 random characters
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(CERTIFICATE_ACTIONS), resources=[f"{self.certificate_secret.secret_arn}-??????"]
            )
        )
        if api.user_pool is not None and settings.owners_group not in (settings.admin_group, settings.publisher_group):
            cognito.CfnUserPoolGroup(
                self, "OwnersGroup", user_pool_id=api.user_pool.user_pool_id, group_name=settings.owners_group,
                description="may manage the Agora projects, read usage and rotate the App Certificate",
            )  # fmt: skip
        self.routes = [route for path, methods in ROUTES for route in api.add_route(path, list(methods), self.function)]
