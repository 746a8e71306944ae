"""Every Lambda function of the project comes from here, so they all share one shape.

Python 3.13 on arm64 (``infra.runtime``, docs/decisions.md), one code asset (``functions/``) shared by all
functions, the public Powertools layer resolved at deploy time from its *versioned* SSM parameter (the
version requirements.txt pins; synth stays offline), and a small layer with the dependencies Powertools
does not ship (httpx and its full, hashed dependency set), bundled without Docker.
Each function gets its own role (no managed policies), its own log group with a retention, X-Ray
tracing and Powertools' environment.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aws_cdk import AssetHashType, BundlingOptions, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.bundling import PipLocalBundler
from infra.nag import acknowledge
from infra.runtime import (
    ARCHITECTURE,
    PIP_PLATFORM,
    PYTHON_VERSION,
    RUNTIME,
    checked_powertools_version,
    powertools_parameter,
)
from infra.settings import StackSettings

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
LAYER_REQUIREMENTS = ROOT / "infra" / "layer" / "requirements.txt"
RUNTIME_VERSION = PYTHON_VERSION
METRICS_NAMESPACE = "AgoraServerless"

CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "*.egg-info"]


RETENTION_BY_DAYS = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1827: "FIVE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip


def retention(days: int) -> logs.RetentionDays:
    try:
        return getattr(logs.RetentionDays, RETENTION_BY_DAYS[days])
    except KeyError:
        allowed = ", ".join(str(d) for d in RETENTION_BY_DAYS)
        raise ValueError(f"logRetentionDays {days} is not a CloudWatch retention period ({allowed})") from None


class FunctionFactory(Construct):
    """Holds the shared code asset and layers; ``create`` makes one function."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings):
        super().__init__(scope, construct_id)
        self.settings = settings
        #: every function made here, by construct id (monitoring watches each of them)
        self.created: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.code = lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=CODE_EXCLUDES)
        self.powertools_version = checked_powertools_version()
        self.powertools_parameter = powertools_parameter(self.powertools_version, settings.region)
        powertools_arn = ssm.StringParameter.value_for_string_parameter(self, self.powertools_parameter)
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", powertools_arn)
        lock = hashlib.sha256(LAYER_REQUIREMENTS.read_bytes() + PIP_PLATFORM.encode() + RUNTIME_VERSION.encode())
        self.dependencies_layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            description=f"httpx, boto3/botocore (pinned) and their dependencies for the agora-serverless functions (arm64, Python {RUNTIME_VERSION})",  # noqa: E501
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(LAYER_REQUIREMENTS.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=lock.hexdigest(),
                bundling=BundlingOptions(
                    image=RUNTIME.bundling_image,
                    local=PipLocalBundler(LAYER_REQUIREMENTS, platform=PIP_PLATFORM, python_version=RUNTIME_VERSION),
                    command=[
                        "bash",
                        "-c",
                        "pip install --require-hashes --no-deps -r requirements.txt -t /asset-output/python"
                        " && rm -rf /asset-output/python/bin",
                    ],  # fmt: skip,
                ),
            ),
        )

    def create(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        environment: dict[str, str] | None = None,
        memory_size: int = 256,
        timeout: Duration | None = None,
        service_name: str,
        **options: Any,
    ) -> lambda_.Function:
        """One function; ``options`` are further ``lambda_.Function`` properties (concurrency, async retries)."""
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=retention(self.settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {construct_id}: only what this function uses",
        )
        env = {
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_LOGGER_LOG_EVENT": "false",
            # DynamoDB, Secrets Manager and Step Functions calls without loading botocore (cold start):
            # functions/awsfast/, docs/decisions.md
            "AGORA_AWS_FAST_CLIENT": "1" if self.settings.fast_aws_client else "0",
            **(environment or {}),
        }
        fn = lambda_.Function(
            scope,
            construct_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=self.code,
            layers=[self.powertools_layer, self.dependencies_layer],
            description=description,
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(10),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            environment=env,
            **options,
        )
        self.created[construct_id] = fn
        self.log_groups[construct_id] = log_group
        log_group.grant_write(role)
        acknowledge(
            fn,
            "AwsSolutions-L1",
            f"Python {RUNTIME_VERSION} is the newest Python the test suite runs on (make test-py313); 3.14 "
            "changes annotation semantics and cannot be tested on the build machines (docs/decisions.md).",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
            "the wildcard is the only form AWS accepts for active tracing.",
        )
        return fn
