"""The one way API functions build their Powertools resolver: validation on, errors mapped in one place."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from service.errors import register_error_handlers


def build_resolver() -> APIGatewayHttpResolver:
    """An HTTP API (payload v2) resolver with request/response validation and the service's error mapping.

    Validation gives typed bodies and an OpenAPI document generated from the routes; malformed input
    becomes a 400 or 422 with a message (see ``service.errors``), never a 5xx.
    """
    app = APIGatewayHttpResolver(enable_validation=True)
    register_error_handlers(app)
    return app
