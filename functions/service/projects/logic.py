"""Project management and usage: resolve a project (by project id or App ID), enable/disable it, serve
daily usage through a cache, and rotate the App Certificate together with the secret tokens are signed with.

Every project leaves this module through ``Project.public()``: the certificate (which Agora returns in
clear on every read) is masked and only its fingerprint is shown. Nothing here logs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from service.auth import Caller
from service.errors import BadRequest, Conflict, UpstreamError
from service.projects.repository import CertificateStore, UsageCache
from service.projects.settings import ProjectsSettings

if TYPE_CHECKING:
    from agorakit.agora.console import ConsoleClient, Project

    from service.events.model import Event

TOKENS_BREAK = (
    "From this answer on, every token this stack signs (POST /tokens, POST /tokens/rtm, the recorder token of a "
    "new recording) uses the new certificate. Tokens issued before it were signed with the previous one and no "
    "longer verify at Agora: a client that joins, logs in or calls renewToken with one is refused and must fetch "
    "a new token (POST /tokens). Recordings started before the reset keep the recorder token they joined with."
)


class CertificateSecretNotWritten(UpstreamError):
    """Agora reset the certificate but the secret still holds the old one: tokens fail until a sync succeeds."""

    code = "certificate_secret_not_written"


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"enabled": True}]})

    enabled: bool
    #: the App ID, required to disable the project this deployment serves (it stops every user)
    confirm: str | None = Field(default=None, max_length=64)


class RotationRequest(BaseModel):
    #: the example is the local stack's App ID (a deployment's own is in GET /projects, serves_this_deployment)
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"confirm": "0123456789abcdef0123456789abcdef"}]}
    )

    #: the App ID of the project: rotation breaks every outstanding token, so it is confirmed by name
    confirm: str = Field(min_length=1, max_length=64)


@dataclass
class ProjectsDependencies:
    console_factory: Callable[[], ConsoleClient]
    usage_cache: UsageCache
    certificate: CertificateStore
    clock: Callable[[], float] = time.time
    #: the rotation's wait for the signers (``wait_for_signers``); tests pass one that advances their clock
    sleep: Callable[[float], None] = time.sleep
    #: sends ``Certificate Rotated`` once the secret holds the new certificate (None: the stack has no bus)
    announce: Callable[[Event], None] | None = None
    _console: Any = None
    _projects: tuple[float, list[Project]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def console(self) -> ConsoleClient:
        with self._lock:
            if self._console is None:
                self._console = self.console_factory()
            return self._console

    def projects(self, max_age: float, *, fresh: bool = False) -> list[Project]:
        """The account's projects, reused for ``max_age`` seconds by a warm function (never across requests
        that change a project: those pass ``fresh``)."""
        now = self.clock()
        with self._lock:
            cached = self._projects
        if not fresh and cached is not None and now - cached[0] < max_age:
            return cached[1]
        from agorakit.agora.errors import AgoraNotFoundError

        try:
            projects = self.console.list_projects()
        except AgoraNotFoundError as exc:  # the list itself is missing: Agora's side or our URL, never the caller's
            raise UpstreamError(f"Agora's Console API has no project list at the configured address: {exc}") from exc
        with self._lock:
            self._projects = (now, projects)
        return projects

    def forget_projects(self) -> None:
        with self._lock:
            self._projects = None


def require_owner(caller: Caller, settings: ProjectsSettings) -> None:
    caller.require_group(settings.owners_group, "project management")


# ---------------------------------------------------------------------------------------------- projects


def resolve(key: str, *, settings: ProjectsSettings, deps: ProjectsDependencies, fresh: bool = False) -> Project:
    """A project by project id or App ID (both are accepted: peers often pass the App ID where Agora wants
    the project id). Unknown keys are a 404 that says which kind of key was understood."""
    from agorakit.agora.console import is_app_id
    from agorakit.agora.errors import AgoraNotFoundError

    wanted = (key or "").strip()
    if not wanted or len(wanted) > 64:
        raise BadRequest("a project is named by its project id or its App ID (32 hex characters)")
    by_app_id = is_app_id(wanted)
    for project in deps.projects(settings.projects_cache_seconds, fresh=fresh):
        if project.id == wanted or (by_app_id and project.vendor_key.lower() == wanted.lower()):
            return project
    kind = "App ID" if by_app_id else "project id"
    raise AgoraNotFoundError(f"no project of this Agora account has the {kind} {wanted!r}")


def view(project: Project, settings: ProjectsSettings) -> dict[str, Any]:
    body = project.public()
    body["serves_this_deployment"] = project.vendor_key.lower() == settings.agora_app_id.lower()
    return body


def list_projects(*, settings: ProjectsSettings, deps: ProjectsDependencies) -> dict[str, Any]:
    projects = deps.projects(settings.projects_cache_seconds)
    return {"projects": [view(p, settings) for p in projects]}


def get_project(key: str, *, settings: ProjectsSettings, deps: ProjectsDependencies) -> dict[str, Any]:
    return view(resolve(key, settings=settings, deps=deps), settings)


def set_status(
    key: str, change: StatusChange, *, settings: ProjectsSettings, deps: ProjectsDependencies
) -> dict[str, Any]:
    project = resolve(key, settings=settings, deps=deps, fresh=True)
    own = project.vendor_key.lower() == settings.agora_app_id.lower()
    if own and not change.enabled and (change.confirm or "").lower() != project.vendor_key.lower():
        raise BadRequest(
            "disabling the project this deployment serves stops every user and every recording: "
            f"send confirm set to its App ID ({project.vendor_key}) to do it"
        )
    updated = deps.console.set_project_status(project.id, change.enabled)
    deps.forget_projects()
    return view(updated, settings)


# ---------------------------------------------------------------------------------------------- usage


def _today(deps: ProjectsDependencies) -> date:
    return datetime.fromtimestamp(deps.clock(), UTC).date()


def usage(
    key: str,
    from_date: date,
    to_date: date,
    business: str,
    *,
    settings: ProjectsSettings,
    deps: ProjectsDependencies,
) -> dict[str, Any]:
    """Daily usage for [from_date, to_date], settled days from the cache, the rest from Agora (one call)."""
    from agorakit.agora.console import BUSINESSES, day_range

    if business not in BUSINESSES:
        raise BadRequest(f"business must be one of {', '.join(BUSINESSES)}")
    if to_date < from_date:
        raise BadRequest("to_date must not be before from_date")
    span = (to_date - from_date).days + 1
    if span > settings.usage_max_days:
        raise BadRequest(f"at most {settings.usage_max_days} days per request (asked for {span})")
    today = _today(deps)
    if from_date > today:
        raise BadRequest(f"from_date is in the future (today is {today.isoformat()} UTC)")
    end = min(to_date, today)
    settled_until = today - timedelta(days=settings.usage_settle_days)
    project = resolve(key, settings=settings, deps=deps)
    cached, meta = deps.usage_cache.get(project.id, business, from_date, end)
    wanted = day_range(from_date, end)
    missing = [d for d in wanted if d not in cached]
    fetched: dict[date, dict] = {}
    if missing:
        report = deps.console.usage(project.id, missing[0], missing[-1], business=business)
        fetched = {d.day: dict(d.usage) for d in report.days}
        meta = report.meta or meta
        settled = {d: counters for d, counters in fetched.items() if d <= settled_until and d not in cached}
        if settled:
            expires = int(deps.clock()) + settings.usage_retention_days * 86_400
            deps.usage_cache.put(project.id, business, settled, report.meta or None, expires)
    days = []
    totals: dict[str, float] = {}
    for day in wanted:
        counters = cached.get(day, fetched.get(day))
        if counters is None:  # Agora sent nothing for the day: show it, empty, as Agora's own zero days
            counters = {}
        for name, value in counters.items():
            totals[name] = totals.get(name, 0) + value
        days.append({"date": day.isoformat(), "usage": counters, "final": day <= settled_until})
    return {
        "project_id": project.id,
        "app_id": project.vendor_key,
        "business": business,
        "from_date": from_date.isoformat(),
        "to_date": end.isoformat(),
        "unit": "second",
        "meta": meta or {},
        "days": days,
        "totals": totals,
        "cache": {"cached_days": sum(1 for d in wanted if d in cached), "fetched_days": len(fetched)},
    }


# ---------------------------------------------------------------------------------------------- certificate


def _require_own(project: Project, settings: ProjectsSettings, action: str) -> None:
    if project.vendor_key.lower() != settings.agora_app_id.lower():
        raise Conflict(
            f"{action}: project {project.id} (App ID {project.vendor_key}) is not the one this deployment signs "
            f"tokens for (App ID {settings.agora_app_id}); its certificate would have nowhere to go"
        )


def _write_secret(project: Project, deps: ProjectsDependencies, *, after_reset: bool) -> str:
    try:
        return deps.certificate.put(project.sign_key)
    except Exception as exc:
        what = "The App Certificate WAS reset at Agora, but" if after_reset else "The"
        raise CertificateSecretNotWritten(
            f"{what} secret {deps.certificate.name!r} could not be written ({type(exc).__name__}); tokens are "
            f"signed with the old certificate until POST /projects/{project.id}/certificate/sync succeeds"
        ) from None


def _certificate_answer(
    project: Project,
    version_id: str,
    settings: ProjectsSettings,
    deps: ProjectsDependencies,
    *,
    previous: str | None,
    message: str,
    previous_tokens_valid: bool | None,
    waited: float,
) -> dict[str, Any]:
    return {
        "project": view(project, settings),
        "certificate": {
            "fingerprint": project.certificate_fingerprint,
            "previous_fingerprint": previous,
            "secret_name": deps.certificate.name,
            "secret_version_id": version_id,
        },
        "tokens": {
            "previous_tokens_valid": previous_tokens_valid,
            "message": message,
            # every signer uses the new certificate from the answer on (the rotation waited them out)
            "token_function_picks_up_within_seconds": 0,
            "waited_seconds": waited,
        },
    }


def wait_for_signers(settings: ProjectsSettings, deps: ProjectsDependencies) -> float:
    """Wait until every signer has re-confirmed the certificate's version since the write (its trusted interval
    plus the margin); 0 when signers confirm on every signature."""
    seconds = settings.signer_certificate_check_seconds
    if seconds <= 0:
        return 0.0
    seconds += settings.rotation_margin_seconds
    deps.sleep(seconds)
    return seconds


def rotate_certificate(
    key: str, request: RotationRequest, *, settings: ProjectsSettings, deps: ProjectsDependencies
) -> dict[str, Any]:
    """Reset the primary certificate at Agora and write the new one into the token function's secret."""
    project = resolve(key, settings=settings, deps=deps, fresh=True)
    _require_own(project, settings, "certificate rotation")
    if request.confirm.lower() != project.vendor_key.lower():
        raise BadRequest(
            f"rotation breaks every token already issued: send confirm set to the App ID ({project.vendor_key})"
        )
    previous = project.certificate_fingerprint
    rotated = deps.console.reset_sign_key(project.id, previous=project.sign_key or None)
    deps.forget_projects()
    version = _write_secret(rotated, deps, after_reset=True)
    waited = wait_for_signers(settings, deps)
    answer = _certificate_answer(
        rotated, version, settings, deps, previous=previous, message=TOKENS_BREAK, previous_tokens_valid=False,
        waited=waited,
    )  # fmt: skip
    if deps.announce is not None:
        from service.events.projects import certificate_rotated

        event = certificate_rotated(
            project_id=str(rotated.id), app_id=str(rotated.vendor_key), secret_name=deps.certificate.name,
            secret_version=version, at_ms=int(deps.clock() * 1000),
        )  # fmt: skip
        deps.announce(event)  # after the durable write; a failure is logged, the rotation stands
    return answer


def sync_certificate(key: str, *, settings: ProjectsSettings, deps: ProjectsDependencies) -> dict[str, Any]:
    """Write Agora's current certificate into the secret (recovery after a rotation whose write failed,
    or after a reset done in the Agora Console)."""
    project = resolve(key, settings=settings, deps=deps, fresh=True)
    _require_own(project, settings, "certificate sync")
    if not project.sign_key:
        raise Conflict(f"project {project.id} has no enabled primary certificate at Agora: nothing to sync")
    version = _write_secret(project, deps, after_reset=False)
    waited = wait_for_signers(settings, deps)
    return _certificate_answer(
        project,
        version,
        settings,
        deps,
        previous=None,
        message="The secret now holds Agora's current certificate; tokens signed with any other one do not verify.",
        previous_tokens_valid=None,
        waited=waited,
    )
