"""The API's OpenAPI document and Swagger UI on the deployed API (``apiDocs``; off by default).

Two public routes on one small function that reads a file from its own code: no table, no secret, no AWS
call, so its role holds nothing but its log group. Public on purpose: the document describes routes, not data.
"""

from __future__ import annotations

from aws_cdk import aws_apigatewayv2 as apigw
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory

ROUTES = ("/openapi.json", "/docs")
PUBLIC_REASON = (
    "apiDocs is on: the OpenAPI document and Swagger UI describe the API's routes and schemas, no data; every "
    "call made from Swagger UI still needs a user's token (docs/configuration.md)."
)


class ApiDocs(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, api: Api, functions: FunctionFactory):
        super().__init__(scope, construct_id)
        self.function = functions.create(
            self,
            "ApiDocsFunction",
            handler="service.apidocs.handler.handler",
            description="GET /openapi.json and GET /docs: the API's OpenAPI document and Swagger UI",
            service_name="apidocs",
            memory_size=128,
        )
        for path in ROUTES:
            api.add_route(path, [apigw.HttpMethod.GET], self.function, public_reason=PUBLIC_REASON)
