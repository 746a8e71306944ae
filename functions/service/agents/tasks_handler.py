"""Lambda entry points of the agents' background work: ``lifecycle`` (one step of an agent's wait loop: renew its
token or end it at its maximum; the state machine waits until the returned ``waitUntil``) and ``reconcile`` (a
schedule: Agora's list against our table). Settings and adapters come from the environment, once per cold start.

Limiter lanes (``agorakit.agora.ratelimit``; docs/agents.md "Limiter lanes"): a lifecycle step runs in the START
lane (reading the state of an agent still starting), and names STOP itself around what may not wait behind starts
(the token renewal, the end at the hard maximum: ``usecases.lifecycle_step``); the reconciler runs in RECONCILE.

``create_app(deps)`` binds the dependencies (tests pass an emulator-backed client with their own limiter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agorakit.agora.ratelimit import Lane, lane

from service.apps import DefaultApp

if TYPE_CHECKING:
    from service.agents.usecases import AgentDeps


@dataclass(frozen=True)
class AgentTasks:
    deps: AgentDeps

    def lifecycle(self, event: dict[str, Any]) -> dict[str, Any]:
        """``{"agentId": ...}`` -> ``{"agentId", "done", "waitUntil"}`` (ISO 8601 UTC, a TimestampPath)."""
        from service.agents.usecases import lifecycle_step

        agent_id = event.get("agentId")
        if not isinstance(agent_id, str) or not agent_id:
            raise ValueError("agentId is required")
        with lane(Lane.START):
            step = lifecycle_step(agent_id, self.deps)
        out: dict[str, Any] = {"agentId": agent_id, "done": bool(step["done"])}
        if not step["done"]:
            moment = datetime.fromtimestamp(step["waitUntilMs"] / 1000, tz=UTC)
            out["waitUntil"] = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
        return out

    def reconcile(self, event: dict[str, Any]) -> dict[str, Any]:
        from service.agents.usecases import reconcile as run

        with lane(Lane.RECONCILE):  # the lowest lane: the reconciler yields to every other Agora call
            report = run(self.deps)
        return {"ended": report.ended, "stopped": report.stopped, "kept": report.kept}


def create_app(deps: AgentDeps) -> AgentTasks:
    return AgentTasks(deps)


def _build() -> AgentTasks:
    from service.adapters.agora import BACKGROUND
    from service.agents.deps import build_dependencies
    from service.agents.settings import AgentSettings

    return create_app(build_dependencies(AgentSettings.from_env(), budget=BACKGROUND))


_default = DefaultApp(_build)
#: the app of this Lambda environment, built from the environment on the first call (a cold start)
default_app = _default.get
#: the next call builds the default app again (the local stack: a new environment is a new cold start)
reset = _default.reset


def lifecycle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return default_app().lifecycle(event)


def reconcile(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return default_app().reconcile(event)
