"""The public HTTP API: one API Gateway HTTP API, a JWT authorizer, CORS, access logs and throttling.

Identity is a Cognito user pool that this construct creates (with the publisher and admin groups),
or any existing OIDC issuer and audience given in the settings. Routes are added by the capability
constructs through ``add_route``; a route is authorized unless it says why it is public.
"""

from __future__ import annotations

import json

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.function_factory import retention
from infra.nag import acknowledge
from infra.outputs import output
from infra.retention import data_removal_policy
from infra.settings import StackSettings

ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "authorizerError": "$context.authorizer.error",
    "sub": "$context.authorizer.claims.sub",
}
#: request headers a browser client sends (CORS preflight ``Access-Control-Request-Headers``)
CORS_ALLOW_HEADERS = ["authorization", "content-type", "idempotency-key"]
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "DELETE"]
#: how long a browser may cache a preflight answer (Chromium caps it at 2 hours, Firefox at 24)
CORS_MAX_AGE = Duration.hours(1)


def cors_preflight(origins: list[str]) -> apigw.CorsPreflightOptions | None:
    """API Gateway answers preflights itself (before the JWT authorizer) for these origins only; none: no CORS."""
    if not origins:
        return None
    return apigw.CorsPreflightOptions(
        allow_origins=list(origins),
        allow_methods=[apigw.CorsHttpMethod[m] for m in CORS_ALLOW_METHODS],
        allow_headers=CORS_ALLOW_HEADERS,
        max_age=CORS_MAX_AGE,
    )


class Api(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings):
        super().__init__(scope, construct_id)
        self.settings = settings
        #: (method, path) of every route, for per-route dashboards
        self.route_keys: list[tuple[str, str]] = []
        self.user_pool: cognito.UserPool | None = None
        self.user_pool_client: cognito.UserPoolClient | None = None
        if settings.uses_cognito:
            issuer, audience = self._cognito()
        else:
            issuer, audience = settings.auth_issuer, settings.auth_audience
        assert issuer and audience
        self.issuer, self.audience = issuer, audience

        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            description="agora-serverless: tokens, recordings, channels, webhooks",
            create_default_stage=True,
            cors_preflight=cors_preflight(settings.cors_origins),
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention(settings.log_retention_days), removal_policy=RemovalPolicy.DESTROY
        )
        stage = self.http_api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=json.dumps(ACCESS_LOG_FORMAT)
        )
        cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=200, throttling_rate_limit=100, detailed_metrics_enabled=True
        )
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer",
            jwt_issuer=issuer,
            jwt_audience=[audience],
            identity_source=["$request.header.Authorization"],
        )
        output(self, "ApiUrl", self.http_api.api_endpoint, "Base URL of the HTTP API (routes: docs/openapi.json)")

    def _cognito(self) -> tuple[str, str]:
        pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=data_removal_policy(self.settings),
            deletion_protection=not self.settings.dev,
        )
        for group, description in (
            (self.settings.publisher_group, "may mint publisher tokens"),
            (self.settings.admin_group, "may manage recordings and moderate channels"),
        ):
            cognito.CfnUserPoolGroup(
                self, f"Group{group.title().replace('-', '')}", user_pool_id=pool.user_pool_id, group_name=group,
                description=description,
            )  # fmt: skip
        # A public client (no secret: browsers and mobile apps cannot keep one) on the authorization-code
        # flow only; Cognito requires PKCE from public clients on that flow. No implicit flow: tokens never
        # travel in a URL fragment.
        client = pool.add_client(
            "AppClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=list(self.settings.callback_urls),
                logout_urls=list(self.settings.logout_urls),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            prevent_user_existence_errors=True,
        )
        acknowledge(
            pool,
            "AwsSolutions-COG2",
            "MFA is offered (TOTP) but its enforcement is the app owner's product decision; "
            "Agora end users sign in from mobile and web apps where forced MFA is often not acceptable.",
        )
        acknowledge(
            pool,
            "AwsSolutions-COG8",
            "Threat protection needs the Cognito Plus feature plan, a paid add-on that the deploying team "
            "enables when it wants it; the stack must deploy on the default (Essentials) plan.",
        )
        self.user_pool, self.user_pool_client = pool, client
        region = Stack.of(self).region
        output(self, "UserPoolId", pool.user_pool_id, "Cognito user pool of the API's users (add them to the groups)")
        output(self, "UserPoolClientId", client.user_pool_client_id, "App client id: the JWT audience of the API")
        if self.settings.hosted_ui_domain_prefix:
            domain = pool.add_domain(
                "HostedUiDomain",
                cognito_domain=cognito.CognitoDomainOptions(domain_prefix=self.settings.hosted_ui_domain_prefix),
            )
            output(self, "HostedUiBaseUrl", domain.base_url(), "Cognito hosted UI (authorization-code + PKCE)")
        if self.settings.uses_default_callback_urls:
            Annotations.of(self).add_warning_v2(
                "agora-serverless:default-callback-urls",
                "callbackUrls/logoutUrls are the localhost defaults; set -c callbackUrls=https://app.example/cb "
                "and -c logoutUrls=... for a deployed app",
            )
        return f"https://cognito-idp.{region}.amazonaws.com/{pool.user_pool_id}", client.user_pool_client_id

    def add_route(
        self, path: str, methods: list[apigw.HttpMethod], fn: lambda_.IFunction, *, public_reason: str | None = None
    ) -> list[apigw.HttpRoute]:
        """Route ``path`` to ``fn``; JWT-authorized unless ``public_reason`` explains another check."""
        integration = integrations.HttpLambdaIntegration(
            f"{fn.node.id}Integration{len(self.http_api.node.children)}", fn
        )
        routes = self.http_api.add_routes(
            path=path, methods=methods, integration=integration, authorizer=None if public_reason else self.authorizer
        )
        self.route_keys.extend((method.value, path) for method in methods)
        if public_reason:
            for route in routes:
                acknowledge(route, "AwsSolutions-APIG4", public_reason)
        return routes
