"""``/agents*``: thin routes over ``service.agents.usecases``. Admins, or the configurable ``AGENTS_GROUP``.

No ``from __future__ import annotations`` here: Powertools reads the route signatures at runtime.

``create_app(settings, deps)`` is the function with its settings and dependencies bound. The deployed
dependencies (``build_dependencies``) and the construct are not in yet (docs/agents.md "Not done yet").
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from service.agents import usecases
from service.agents.settings import AgentSettings
from service.apps import DefaultApp, Serving
from service.auth import Caller, caller_from_event
from service.errors import BadRequest, Forbidden
from service.http import build_resolver

AgentIdPath = Annotated[str, Path(description="our agent id (24 hex)", json_schema_extra={"pattern": "^[0-9a-f]{24}$"})]


def _caller(event: Mapping[str, Any]) -> Caller:
    settings = _api().settings
    caller = caller_from_event(dict(event), groups_claim=settings.groups_claim)
    allowed = {settings.admin_group} | ({settings.agents_group} if settings.agents_group else set())
    if not allowed & set(caller.groups):
        raise Forbidden(f"agents require membership of {' or '.join(sorted(repr(g) for g in allowed))}")
    return caller


app = build_resolver(authorize=_caller)


@dataclass(frozen=True)
class AgentsApi:
    settings: AgentSettings
    deps: usecases.AgentDeps

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with _serving.use(self):
            return app.resolve(event, context)


_serving: Serving[AgentsApi] = Serving("agents_api")
_api = _serving.get


def create_app(settings: AgentSettings, deps: usecases.AgentDeps) -> AgentsApi:
    return AgentsApi(settings, deps)


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def _body() -> dict[str, Any]:
    raw = app.current_event.body
    if not raw:
        raise BadRequest("a JSON object body is required")
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _valid_id(agent_id: str) -> str:
    if len(agent_id) != 24 or not all(c in "0123456789abcdef" for c in agent_id):
        raise BadRequest("agent id must be 24 lower-case hex characters")
    return agent_id


def _view(record: Any) -> dict[str, Any]:
    return dict(record.view(_api().deps.store.now_ms()))


@app.post("/agents")
def post_agent() -> Response[Any]:
    caller = _caller(app.current_event.raw_event)
    deps = _api().deps
    request = usecases.parse_start(_body(), requested_by=caller.subject, deps=deps)
    return _json(201, _view(usecases.start_agent(request, deps)))


@app.get("/agents")
def get_agents(
    channel: Annotated[str | None, Query(max_length=63)] = None,
    active: Annotated[bool, Query()] = False,
) -> Response[Any]:
    records = usecases.list_agents(_api().deps, channel=channel, active_only=active)
    return _json(200, {"agents": [_view(r) for r in records]})


@app.get("/agents/<agent_id>")
def get_agent(agent_id: AgentIdPath) -> Response[Any]:
    return _json(200, _view(usecases.get_agent(_valid_id(agent_id), _api().deps)))


@app.post("/agents/<agent_id>/speak")
def post_speak(agent_id: AgentIdPath) -> Response[Any]:
    usecases.speak(_valid_id(agent_id), _body(), _api().deps)
    return _json(202, {"agentId": agent_id, "accepted": True})


@app.post("/agents/<agent_id>/interrupt")
def post_interrupt(agent_id: AgentIdPath) -> Response[Any]:
    usecases.interrupt(_valid_id(agent_id), _api().deps)
    return _json(202, {"agentId": agent_id, "accepted": True})


@app.delete("/agents/<agent_id>")
def delete_agent(agent_id: AgentIdPath) -> Response[Any]:
    return _json(200, _view(usecases.leave_agent(_valid_id(agent_id), _api().deps)))


def _from_env() -> AgentsApi:
    from service.agents.deps import build_dependencies

    settings = AgentSettings.from_env()
    return create_app(settings, build_dependencies(settings))


_default = DefaultApp(_from_env)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return default_app()(event, context)
