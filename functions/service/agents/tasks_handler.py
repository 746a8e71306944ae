"""Lambda entry points of the agents' background work: ``lifecycle`` (one step of an agent's wait loop: renew its
token or end it at its maximum; the state machine waits until the returned ``waitUntil``) and ``reconcile`` (a
schedule: Agora's list against our table). Settings and adapters come from the environment, once per cold start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.apps import DefaultApp


def _build() -> Any:
    from service.agents.deps import build_dependencies
    from service.agents.settings import AgentSettings

    return build_dependencies(AgentSettings.from_env())


_deps = DefaultApp(_build)


def reset() -> None:
    _deps.reset()


def lifecycle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """``{"agentId": ...}`` -> ``{"agentId", "done", "waitUntil"}`` (ISO 8601 UTC, Step Functions' TimestampPath)."""
    from service.agents.usecases import lifecycle_step

    agent_id = event.get("agentId")
    if not isinstance(agent_id, str) or not agent_id:
        raise ValueError("agentId is required")
    step = lifecycle_step(agent_id, _deps.get())
    out: dict[str, Any] = {"agentId": agent_id, "done": bool(step["done"])}
    if not step["done"]:
        moment = datetime.fromtimestamp(step["waitUntilMs"] / 1000, tz=UTC)
        out["waitUntil"] = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return out


def reconcile(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from service.agents.usecases import reconcile as run

    report = run(_deps.get())
    return {"ended": report.ended, "stopped": report.stopped, "kept": report.kept}
