"""AgoraAccess: what a function needs to call Agora's REST APIs.

One DynamoDB table holds the account-wide token bucket (``service.adapters.agora.DynamoDBTokenBucket``)
that every function shares, so Agora's QPS limit is respected across all concurrent Lambdas.
``grant(fn)`` gives a function exactly: GetSecretValue on the REST-credentials secret, UpdateItem
on the rate-limit table, and the environment ``AgoraAccessSettings`` reads.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.grants import grant_secret_value

#: Must match service.adapters.agora (PARTITION_KEY, TTL_ATTRIBUTE).
PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
#: The only call DynamoDBTokenBucket makes: one conditional UpdateItem (it creates the item too).
TABLE_ACTIONS = ("dynamodb:UpdateItem",)


class AgoraAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        app_id: str,
        rest_secret_name: str,
        rest_base_urls: list[str] | None = None,
        qps: int = 10,
        lane_shares: str = "",
        limiter_shards: int = 1,
    ):
        super().__init__(scope, id)
        if not app_id:
            raise ValueError("app_id is required")
        if not rest_secret_name:
            raise ValueError("rest_secret_name is required")
        if not 1 <= qps <= 1000:
            raise ValueError("qps must be in [1, 1000]")
        if not 1 <= limiter_shards <= 64:
            raise ValueError("limiter_shards must be in [1, 64]")
        self.app_id = app_id
        self.qps = qps
        #: the limiter's lanes (agorakit.agora.ratelimit.Lanes) and the items its budget is split over
        self.lane_shares = lane_shares
        self.limiter_shards = limiter_shards
        self.rest_base_urls = [u.strip() for u in (rest_base_urls or []) if u.strip()]
        self.table = dynamodb.TableV2(
            self,
            "RateLimitTable",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            # Only transient bucket state lives here: nothing to keep when the stack goes.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_secret = secretsmanager.Secret.from_secret_name_v2(self, "RestSecret", rest_secret_name)

    @property
    def environment(self) -> dict[str, str]:
        """The variables ``service.adapters.agora.AgoraAccessSettings`` reads."""
        env = {
            "AGORA_APP_ID": self.app_id,
            "AGORA_REST_SECRET_NAME": self.rest_secret.secret_name,
            "AGORA_RATE_LIMIT_TABLE": self.table.table_name,
            "AGORA_QPS": str(self.qps),
        }
        if self.rest_base_urls:
            env["AGORA_REST_BASE_URLS"] = ",".join(self.rest_base_urls)
        if self.lane_shares:
            env["AGORA_LANE_SHARES"] = self.lane_shares
        if self.limiter_shards > 1:
            env["AGORA_LIMITER_SHARDS"] = str(self.limiter_shards)
        return env

    def grant(self, fn: lambda_.Function) -> None:
        """Let ``fn`` call Agora: secret read, rate-limit table read/write, and the environment."""
        grant_secret_value(fn, self.rest_secret)
        fn.add_to_role_policy(iam.PolicyStatement(actions=list(TABLE_ACTIONS), resources=[self.table.table_arn]))
        for name, value in self.environment.items():
            fn.add_environment(name, value)
