"""``/agents*``: thin routes over ``service.agents.usecases``. Admins, or the configurable ``AGENTS_GROUP``.

No ``from __future__ import annotations`` here: Powertools reads the route signatures at runtime.

``create_app(settings, deps)`` is the function with its settings and dependencies bound; deployed, ``handler``
builds it from the environment (``service.agents.deps``, infra/constructs/agents.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from agorakit.agora.ratelimit import Lane, lane
from agorakit.ids import CHANNEL_PATTERN
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from service.agents import usecases
from service.agents.models import Accepted, AgentList, AgentView, Speak, StartAgent
from service.agents.settings import AgentSettings
from service.apps import DefaultApp, Serving
from service.auth import Caller, caller_from_event
from service.errors import BadRequest, Forbidden
from service.http import build_resolver, contract

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
        # every Agora call of a request (start and its resolution, speak, interrupt, leave) has a person waiting
        with _serving.use(self), lane(Lane.INTERACTIVE):
            return app.resolve(event, context)


_serving: Serving[AgentsApi] = Serving("agents_api")
_api = _serving.get


def create_app(settings: AgentSettings, deps: usecases.AgentDeps) -> AgentsApi:
    return AgentsApi(settings, deps)


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def _valid_id(agent_id: str) -> str:
    if len(agent_id) != 24 or not all(c in "0123456789abcdef" for c in agent_id):
        raise BadRequest("agent id must be 24 lower-case hex characters")
    return agent_id


def _view(record: Any) -> dict[str, Any]:
    return dict(record.view(_api().deps.store.now_ms()))


TAGS = ["agents"]
_WHO = {
    403: "the caller is neither an admin nor in the agents group",
    502: "Agora failed (not a refusal of the request)",
}
_ID = {**_WHO, 404: "no agent with this id"}


@app.post(
    "/agents",
    summary="Start a Conversational AI agent in a channel from a named profile",
    tags=TAGS,
    responses=contract(
        {201: (AgentView, "the agent, starting (adopted if Agora already ran it under its name), or FAILED with "
                          "lastError when Agora refused it (its quota excepted: 429)")},
        403, 409, 429, body=True,
        descriptions={**_WHO, 409: "an agent of this profile is already active in the channel (details.agentId)",
                      429: "the stack's running cap (agentsMaxRunning) is reached, or Agora's concurrent-agent "
                           "quota (its 422: the agent, details.agentId, is FAILED); Retry-After says when to "
                           "try again (no queue: a person is waiting)"},
    ),
)  # fmt: skip
def post_agent(body: StartAgent) -> Response[Any]:
    caller = _caller(app.current_event.raw_event)
    deps = _api().deps
    fields = body.model_dump(exclude_none=True)
    request = usecases.parse_start(fields, requested_by=caller.subject, deps=deps)
    return _json(201, _view(usecases.start_agent(request, deps)))


@app.get(
    "/agents",
    summary="Agents, oldest first (of one channel; only the active ones)",
    tags=TAGS,
    responses=contract({200: (AgentList, "the agents")}, 403, descriptions=_WHO),
)
def get_agents(
    channel: Annotated[str | None, Query(min_length=1, max_length=63, pattern=CHANNEL_PATTERN)] = None,
    active: Annotated[bool, Query()] = False,
) -> Response[Any]:
    records = usecases.list_agents(_api().deps, channel=channel, active_only=active)
    return _json(200, {"agents": [_view(r) for r in records]})


@app.get(
    "/agents/<agent_id>",
    summary="An agent: state, uptime, last error, token renewals, its conversation history's object",
    tags=TAGS,
    responses=contract({200: (AgentView, "the agent")}, 403, 404, descriptions=_ID),
)
def get_agent(agent_id: AgentIdPath) -> Response[Any]:
    return _json(200, _view(usecases.get_agent(_valid_id(agent_id), _api().deps)))


@app.post(
    "/agents/<agent_id>/speak",
    summary="Make the agent say a line (Agora's speak: INTERRUPT, APPEND or IGNORE)",
    tags=TAGS,
    responses=contract(
        {202: (Accepted, "Agora accepted the line")}, 403, 404, 409, 429, 502, body=True,
        descriptions={**_ID, 409: "the agent is not RUNNING"},
    ),
)  # fmt: skip
def post_speak(agent_id: AgentIdPath, body: Speak) -> Response[Any]:
    usecases.speak(_valid_id(agent_id), body.model_dump(), _api().deps)
    return _json(202, {"agentId": agent_id, "accepted": True})


@app.post(
    "/agents/<agent_id>/interrupt",
    summary="Interrupt what the agent is saying",
    tags=TAGS,
    responses=contract(
        {202: (Accepted, "Agora accepted the interruption")}, 403, 404, 409, 429, 502,
        descriptions={**_ID, 409: "the agent is not RUNNING"},
    ),
)  # fmt: skip
def post_interrupt(agent_id: AgentIdPath) -> Response[Any]:
    usecases.interrupt(_valid_id(agent_id), _api().deps)
    return _json(202, {"agentId": agent_id, "accepted": True})


@app.delete(
    "/agents/<agent_id>",
    summary="The agent leaves the channel (its conversation history is saved first and kept)",
    tags=TAGS,
    responses=contract({200: (AgentView, "the agent, ended or stopping")}, 403, 404, 502, descriptions=_ID),
)
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
