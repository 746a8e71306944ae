"""``/projects*``: thin routes over ``service.projects.logic``. Owners group only.

No ``from __future__ import annotations`` here: Powertools reads the route signatures at runtime.
Log lines name projects by id and App ID only; a Project object or a Console body is never logged
(Agora puts the App Certificate in clear in every project read).

``create_app(settings, deps)`` is the function with its settings and dependencies bound; ``handler`` builds the
default one from the environment on its first call, once (``service.apps``).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp, Serving
from service.auth import Caller, caller_from_event
from service.http import build_resolver, contract
from service.observability import make_tracer
from service.projects import logic
from service.projects.logic import ProjectsDependencies, RotationRequest, StatusChange
from service.projects.models import CertificateChange, ProjectList, ProjectView, Usage
from service.projects.settings import ProjectsSettings

if TYPE_CHECKING:
    from service.events.model import Event

logger = Logger()
tracer = make_tracer()


def _authorize(event: Mapping[str, Any]) -> None:
    """Every route: the owners group, checked before the request is validated (service.http.build_resolver)."""
    settings = _api().settings
    logic.require_owner(caller_from_event(dict(event), groups_claim=settings.groups_claim), settings)


app = build_resolver(authorize=_authorize)


@dataclass(frozen=True)
class ProjectsApi:
    """The projects function with its settings and dependencies: call it with an API Gateway event."""

    settings: ProjectsSettings
    deps: ProjectsDependencies

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with _serving.use(self):
            return app.resolve(event, context)


_serving: Serving[ProjectsApi] = Serving("projects_api")
_api = _serving.get


def create_app(settings: ProjectsSettings, deps: ProjectsDependencies) -> ProjectsApi:
    return ProjectsApi(settings, deps)


def build_dependencies(settings: ProjectsSettings) -> ProjectsDependencies:
    """The deployed adapters: the Console API (its credentials in Secrets Manager), the usage cache table, the
    token function's certificate secret, and the stack's bus when one is configured."""
    from service.adapters.console import build_console_client
    from service.adapters.secrets import SecretsManagerStore
    from service.projects.repository import DynamoDBUsageCache, SecretsManagerCertificate

    secrets = SecretsManagerStore(max_age=settings.secret_cache_seconds)
    return ProjectsDependencies(
        console_factory=lambda: build_console_client(settings, secrets),
        usage_cache=DynamoDBUsageCache(settings.usage_table),
        certificate=SecretsManagerCertificate(settings.app_certificate_secret_name),
        announce=_announcer(settings.event_bus_name) if settings.event_bus_name else None,
    )


def _from_env() -> ProjectsApi:
    settings = ProjectsSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


def _announcer(bus_name: str) -> "Callable[[Event], None]":
    def announce(event: "Event") -> None:
        """``Certificate Rotated`` to ``bus_name`` (PutEvents, refused entries retried); never fails the rotation."""
        _announce(event, bus_name)

    return announce


def _announce(event: "Event", bus_name: str) -> None:
    from service.events.bus import EventBridgeBus

    try:
        failed = EventBridgeBus().put([event.entry(bus_name)])
    except Exception:
        logger.exception("Certificate Rotated could not be published")
        return
    if failed:
        logger.warning("Certificate Rotated was refused by the bus", extra={"detail_type": event.detail_type})


def _owner() -> Caller:
    settings = _api().settings
    caller = caller_from_event(app.current_event.raw_event, groups_claim=settings.groups_claim)
    logic.require_owner(caller, settings)
    return caller


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


TAGS = ["projects"]
_OWNER = {
    403: "the caller is not in the owners group",
    404: "no project of the account has this project id or App ID",
    502: "Agora's Console API rejected the call",
}
_ROTATE = {
    **_OWNER,
    400: "confirm is missing or is not the project's App ID",
    409: "the project is not the one this deployment signs tokens for, or has no certificate",
    502: "Agora rejected the call, or the new certificate could not be written (code certificate_secret_not_written)",
}


@app.get(
    "/projects",
    summary="The Agora account's projects (App Certificates masked)",
    tags=TAGS,
    responses=contract({200: (ProjectList, "the projects")}, 403, 502, descriptions=_OWNER),
)
@tracer.capture_method
def get_projects() -> Response[Any]:
    _owner()
    return _json(200, logic.list_projects(settings=_api().settings, deps=_api().deps))


@app.get(
    "/projects/<project>",
    summary="One project, by project id or App ID (App Certificate masked)",
    tags=TAGS,
    responses=contract({200: (ProjectView, "the project")}, 403, 404, 502, descriptions=_OWNER),
)
@tracer.capture_method
def get_project(project: str) -> Response[Any]:
    _owner()
    return _json(200, logic.get_project(project, settings=_api().settings, deps=_api().deps))


@app.put(
    "/projects/<project>/status",
    summary="Enable or disable a project",
    tags=TAGS,
    responses=contract(
        {200: (ProjectView, "the project, with its new status")},
        403,
        404,
        502,
        body=True,
        descriptions={**_OWNER, 400: "disabling this deployment's project needs confirm set to its App ID"},
    ),
)
@tracer.capture_method
def put_project_status(project: str, body: StatusChange) -> Response[Any]:
    caller = _owner()
    answer = logic.set_status(project, body, settings=_api().settings, deps=_api().deps)
    logger.info(
        "project status changed",
        extra={
            "project_id": answer["project_id"],
            "app_id": answer["app_id"],
            "enabled": body.enabled,
            "by": caller.subject,
        },
    )
    return _json(200, answer)


@app.get(
    "/projects/<project>/usage",
    summary="Daily usage (seconds) for a date range, cached once settled",
    tags=TAGS,
    responses=contract(
        {200: (Usage, "daily usage")},
        403,
        404,
        502,
        descriptions={**_OWNER, 400: "a malformed, unknown or out-of-range query parameter"},
    ),
)
@tracer.capture_method
def get_project_usage(
    project: str,
    from_date: Annotated[date, Query()],
    to_date: Annotated[date, Query()],
    business: Annotated[str, Query(max_length=32)] = "default",
) -> Response[Any]:
    _owner()
    return _json(200, logic.usage(project, from_date, to_date, business, settings=_api().settings, deps=_api().deps))


@app.post(
    "/projects/<project>/certificate/reset",
    summary="Rotate the App Certificate: reset at Agora and write the new one where tokens are signed",
    tags=TAGS,
    responses=contract(
        {200: (CertificateChange, "rotated: every earlier token stops verifying")},
        403,
        404,
        409,
        502,
        body=True,
        descriptions=_ROTATE,
    ),
)
@tracer.capture_method
def post_certificate_reset(project: str, body: RotationRequest) -> Response[Any]:
    caller = _owner()
    answer = logic.rotate_certificate(project, body, settings=_api().settings, deps=_api().deps)
    logger.warning(
        "app certificate rotated",
        extra={
            "project_id": answer["project"]["project_id"],
            "fingerprint": answer["certificate"]["fingerprint"],
            "previous_fingerprint": answer["certificate"]["previous_fingerprint"],
            "by": caller.subject,
        },
    )
    return _json(200, answer)


@app.post(
    "/projects/<project>/certificate/sync",
    summary="Write Agora's current App Certificate into the token secret (recovery)",
    tags=TAGS,
    responses=contract(
        {200: (CertificateChange, "the secret holds Agora's current certificate")},
        403,
        404,
        409,
        502,
        descriptions=_ROTATE,
    ),
)
@tracer.capture_method
def post_certificate_sync(project: str) -> Response[Any]:
    caller = _owner()
    answer = logic.sync_certificate(project, settings=_api().settings, deps=_api().deps)
    logger.warning(
        "app certificate synced",
        extra={
            "project_id": answer["project"]["project_id"],
            "fingerprint": answer["certificate"]["fingerprint"],
            "by": caller.subject,
        },
    )
    return _json(200, answer)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event, context)
