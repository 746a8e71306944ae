"""Settings of the agent functions (API, lifecycle tasks, reconciler), read once at cold start."""

from __future__ import annotations

from pydantic import Field

from service.adapters.agora import AgoraAccessSettings
from service.settings import FunctionSettings


class AgentSettings(AgoraAccessSettings):
    agents_table: str
    #: the lifecycle state machine (infra/constructs/agents.py) that ``POST /agents`` starts, one execution per agent
    agents_state_machine_arn: str | None = None
    #: the bucket conversations are kept in (``agents/<channel>/<agent id>/history.json``)
    agents_history_bucket: str | None = None
    app_certificate_secret_name: str | None = None
    #: the profiles (``service.agents.profiles``), as JSON
    agents_profiles: str = "{}"
    groups_claim: str = "cognito:groups"
    admin_group: str = "admins"
    #: a group whose members may start and end agents besides the admins ("" = admins only)
    agents_group: str = ""
    agents_default_max_seconds: int = Field(default=3600, ge=60, le=7 * 86_400)
    #: the shortest ``maxDurationSeconds`` accepted (CDK context ``agentsMinDurationSeconds``; 60 when deployed)
    agents_min_seconds: int = Field(default=60, ge=1, le=3600)
    agents_max_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)
    #: a token renewal is due this long before the bot's token expires
    agents_renew_margin_seconds: int = Field(default=600, ge=60, le=3600)
    #: how often the channel's list is read after a 409 or an ambiguous failure before deciding without it
    agents_resolve_looks: int = Field(default=3, ge=1, le=20)
    #: an agent we think runs but Agora does not list is ended by the reconciler only after this grace
    agents_reconcile_grace_seconds: int = Field(default=120, ge=0)
    #: the most agents active at once in the stack (CDK context ``agentsMaxRunning``); past it POST /agents is 429
    agents_max_running: int = Field(default=20, ge=1, le=10_000)
    #: how long a secret (REST credentials, app certificate, vendor keys) is cached per function instance
    secret_cache_seconds: float = Field(default=300.0, ge=0)


class AgentEventSettings(FunctionSettings):
    """The NCS processor's view (product 17): the table and the history bucket only; it never calls Agora."""

    agents_table: str
    agents_history_bucket: str | None = None
