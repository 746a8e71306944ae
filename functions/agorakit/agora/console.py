"""ConsoleClient: Agora's Console RESTful API (projects, App Certificate, usage) for one Agora account.

The transport, retries, host failover and error classification are AgoraClient's (``_call``): a Console
call is a REST call with the same Basic credentials; only the paths and bodies differ. Console answers
``201`` to reads as well as writes, and names the failure reason ``message`` (legacy ``error_msg``).

Every project read returns the primary App Certificate (``sign_key``) in clear. :class:`Project` keeps
it out of its repr and :meth:`Project.public` (what callers may show or log) replaces it with a
fingerprint; nothing in this module logs a body.

Over 400 lines on purpose: every Console endpoint with its quirks (201 for reads, seconds or milliseconds) next to
the shared models.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agorakit.agora.client import AgoraClient, _Answer
from agorakit.agora.errors import (
    AgoraConflictError,
    AgoraError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraServerError,
)
from agorakit.agora.ratelimit import RateLimiter

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BUSINESSES",
    "ConsoleClient",
    "Project",
    "UsageDay",
    "UsageReport",
    "certificate_fingerprint",
    "day_range",
    "is_app_id",
    "parse_day",
]

#: ``business`` values of ``GET /dev/v3/usage``
BUSINESSES = ("default", "transcodeDuration", "recording", "cloudRecording", "miniapp")
#: Agora's documented bound on a project name
MAX_NAME_LENGTH = 255
_APP_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]{1,253}:\d{1,5}$")
#: ``created`` above this is milliseconds (1e11 seconds is the year 5138)
_MS_THRESHOLD = 100_000_000_000


def is_app_id(value: str) -> bool:
    """An App ID (``vendor_key``) is 32 hex characters; a project id is a short opaque string."""
    return bool(_APP_ID.fullmatch(value or ""))


def certificate_fingerprint(sign_key: str) -> str | None:
    """A short, non-reversible name for a certificate (first 8 hex of SHA-256), to compare without showing it."""
    if not sign_key:
        return None
    return hashlib.sha256(sign_key.encode()).hexdigest()[:8]


def _epoch(value: Any) -> datetime | None:
    """Seconds or milliseconds since the epoch (the docs and live answers disagree), as UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    seconds = value / 1000 if value >= _MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class Project:
    """One Agora project. ``sign_key`` is the primary App Certificate in clear: never show or log it."""

    id: str
    name: str
    vendor_key: str  # the App ID
    status: int  # 1 enabled, 0 disabled
    created: datetime | None
    recording_server: str | None = None
    sign_key: str = field(default="", repr=False)

    @property
    def app_id(self) -> str:
        return self.vendor_key

    @property
    def enabled(self) -> bool:
        return self.status == 1

    @property
    def certificate_enabled(self) -> bool:
        return bool(self.sign_key)

    @property
    def certificate_fingerprint(self) -> str | None:
        return certificate_fingerprint(self.sign_key)

    def __repr__(self) -> str:
        return (
            f"Project(id={self.id!r}, name={self.name!r}, app_id={self.vendor_key!r}, status={self.status}, "
            f"certificate={'on' if self.sign_key else 'off'})"
        )

    __str__ = __repr__

    def public(self) -> dict[str, Any]:
        """The project as it may leave the backend: the certificate masked, with its fingerprint."""
        return {
            "project_id": self.id,
            "name": self.name,
            "app_id": self.vendor_key,
            "enabled": self.enabled,
            "status": self.status,
            "created": self.created.isoformat().replace("+00:00", "Z") if self.created else None,
            "recording_server": self.recording_server,
            "certificate": {
                "enabled": self.certificate_enabled,
                "sign_key": "********" if self.sign_key else None,
                "fingerprint": self.certificate_fingerprint,
            },
        }

    @classmethod
    def from_body(cls, raw: Mapping[str, Any]) -> Project:
        project_id = raw.get("id")
        if not isinstance(project_id, str) or not project_id:
            raise AgoraServerError("Agora returned a project without an id", retryable=False)
        status = raw.get("status")
        sign_key = raw.get("sign_key")
        recording_server = raw.get("recording_server")
        return cls(
            id=project_id,
            name=str(raw.get("name") or ""),
            vendor_key=str(raw.get("vendor_key") or ""),
            status=status if isinstance(status, int) and not isinstance(status, bool) else 0,
            created=_epoch(raw.get("created")),
            recording_server=recording_server if isinstance(recording_server, str) and recording_server else None,
            sign_key=sign_key if isinstance(sign_key, str) else "",
        )


@dataclass(frozen=True)
class UsageDay:
    day: date
    usage: dict[str, int | float]


@dataclass(frozen=True)
class UsageReport:
    """``/dev/v3/usage``: ``meta`` names each counter (keys differ per ``business``); one entry per UTC day."""

    project_id: str
    business: str
    meta: dict[str, Any]
    days: list[UsageDay]


def parse_day(value: Any) -> date | None:
    """A usage ``date``: an ISO-8601 string (the example) or a Unix timestamp (the table), as a UTC day."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
        else:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                return None
    moment = _epoch(value)
    return moment.date() if moment else None


def _as_day(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise AgoraParameterError(f"{name} must be a date YYYY-MM-DD")


def _project_id(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AgoraParameterError("project_id is required")
    return value.strip()


class _ConsoleTransport(AgoraClient):
    """AgoraClient's transport; also reads the legacy ``error_msg`` reason Console errors carry."""

    def _error(self, operation: str, answer: _Answer) -> AgoraError:
        error = super()._error(operation, answer)
        legacy = answer.body.get("error_msg")
        if error.reason is None and isinstance(legacy, str) and legacy:
            error.reason = legacy
        return error


class ConsoleClient:
    """A synchronous Console API client for one Agora account (Customer ID/Secret). Thread-safe.

    ``rate_limiter`` is the same interface AgoraClient takes. Agora allows 10 QPS per Console API per
    account; one bucket for all Console calls is the simple, safe reading.
    """

    def __init__(
        self,
        *,
        customer_id: str,
        customer_secret: str,
        base_urls: Sequence[str] | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: Callable[[], float] | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 20.0,
    ):
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if rng is not None:
            extra["rng"] = rng
        self._rest = _ConsoleTransport(
            app_id="console",  # not used in Console paths; AgoraClient requires one
            customer_id=customer_id,
            customer_secret=customer_secret,
            base_urls=base_urls,
            timeout=timeout,
            max_attempts=max_attempts,
            rate_limiter=rate_limiter,
            transport=transport,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            **extra,
        )
        # Agora: "every request sends Content-Type: application/json", GETs included.
        self._rest._http.headers["Content-Type"] = "application/json"

    @property
    def base_urls(self) -> tuple[str, ...]:
        return self._rest.base_urls

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self._rest.rate_limiter

    def __repr__(self) -> str:
        return f"ConsoleClient(base_urls={list(self.base_urls)!r})"

    def close(self) -> None:
        self._rest.close()

    def __enter__(self) -> ConsoleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        on_ambiguous: Callable[[], dict[str, Any] | None] | None = None,
    ) -> _Answer:
        return self._rest._call(
            f"console.{operation}", method, path, body=body, params=params, on_ambiguous=on_ambiguous
        )

    def _raw_projects(self) -> list[dict[str, Any]]:
        answer = self._call("list_projects", "GET", "/dev/v1/projects")
        projects = answer.body.get("projects")
        if not isinstance(projects, list):
            raise AgoraServerError(
                "Agora list projects answered without a projects array", request_id=answer.request_id, retryable=False
            )
        return [p for p in projects if isinstance(p, dict)]

    def _raw_project(self, project_id: str) -> dict[str, Any] | None:
        for raw in self._raw_projects():
            if raw.get("id") == project_id:
                return raw
        return None

    def _project_answer(self, operation: str, answer: _Answer, project_id: str) -> Project:
        """``{"project": {...}}`` today; the 2020 API answered ``{"success": true}``: then read it back."""
        raw = answer.body.get("project")
        if isinstance(raw, dict):
            return Project.from_body(raw)
        if answer.body.get("success") is True:
            found = self._raw_project(project_id)
            if found is not None:
                return Project.from_body(found)
        raise AgoraServerError(
            f"Agora {operation} answered without the project", request_id=answer.request_id, retryable=False
        )

    # ------------------------------------------------------------------ projects

    def list_projects(self) -> list[Project]:
        """``GET /dev/v1/projects``: every project of the account."""
        return [Project.from_body(raw) for raw in self._raw_projects()]

    def get_project(self, project_id: str, name: str) -> Project:
        """``GET /dev/v1/project?id=&name=``: Agora requires both; the answer is an array, even for one."""
        pid = _project_id(project_id)
        if not isinstance(name, str) or not name:
            raise AgoraParameterError("name is required (Agora looks a project up by id AND name)")
        answer = self._call("get_project", "GET", "/dev/v1/project", params={"id": pid, "name": name})
        projects = answer.body.get("projects")
        for raw in projects if isinstance(projects, list) else []:
            if isinstance(raw, dict) and raw.get("id") == pid:
                return Project.from_body(raw)
        raise AgoraNotFoundError(f"Agora has no project {pid!r} named {name!r}", http_status=answer.status)

    def find_project(self, key: str) -> Project:
        """A project by its project id or by its App ID (``vendor_key``): peers often pass one for the other."""
        wanted = _project_id(key)
        by_app_id = is_app_id(wanted)
        for raw in self._raw_projects():
            if raw.get("id") == wanted or (by_app_id and str(raw.get("vendor_key") or "").lower() == wanted.lower()):
                return Project.from_body(raw)
        kind = "App ID" if by_app_id else "project id"
        raise AgoraNotFoundError(f"no project of this Agora account has the {kind} {wanted!r}")

    def create_project(self, name: str, *, enable_sign_key: bool = True) -> Project:
        """``POST /dev/v1/project``. After an ambiguous failure, the list tells whether it was created."""
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
            raise AgoraParameterError(f"name must be 1 to {MAX_NAME_LENGTH} characters")
        if not isinstance(enable_sign_key, bool):
            raise AgoraParameterError("enable_sign_key must be a boolean")

        def created() -> dict[str, Any] | None:
            for raw in self._raw_projects():
                if raw.get("name") == name:
                    return {"project": raw}
            return None

        try:
            answer = self._call(
                "create_project",
                "POST",
                "/dev/v1/project",
                body={"name": name, "enable_sign_key": enable_sign_key},
                on_ambiguous=created,
            )
        except AgoraParameterError as exc:
            if "duplicate" in (exc.reason or "").lower():
                raise AgoraConflictError(
                    f"a project named {name!r} already exists",
                    http_status=exc.http_status,
                    request_id=exc.request_id,
                    reason=exc.reason,
                ) from None
            raise
        return self._project_answer("create project", answer, "")

    def set_project_status(self, project_id: str, enabled: bool) -> Project:
        """``POST /dev/v1/project_status``: a disabled project's users cannot join (status 0/1)."""
        pid = _project_id(project_id)
        if not isinstance(enabled, bool):
            raise AgoraParameterError("enabled must be a boolean")
        body = {"id": pid, "status": 1 if enabled else 0}
        answer = self._call("project_status", "POST", "/dev/v1/project_status", body=body)
        return self._project_answer("project status", answer, pid)

    def set_recording_server(self, project_id: str, recording_server: str) -> Project:
        """``POST /dev/v1/recording_config`` (only On-Premise Recording SDK <= 1.9.0 reads it)."""
        pid = _project_id(project_id)
        if not isinstance(recording_server, str) or not _HOST_PORT.fullmatch(recording_server):
            raise AgoraParameterError("recording_server must be host:port, e.g. 10.12.1.5:8080")
        port = int(recording_server.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            raise AgoraParameterError("recording_server port must be in [1, 65535]")
        body = {"id": pid, "recording_server": recording_server}
        answer = self._call("recording_config", "POST", "/dev/v1/recording_config", body=body)
        return self._project_answer("recording config", answer, pid)

    def set_sign_key(self, project_id: str, enable: bool) -> Project:
        """``POST /dev/v1/signkey``: turn the primary App Certificate on or off."""
        pid = _project_id(project_id)
        if not isinstance(enable, bool):
            raise AgoraParameterError("enable must be a boolean")
        answer = self._call("signkey", "POST", "/dev/v1/signkey", body={"id": pid, "enable": enable})
        return self._project_answer("signkey", answer, pid)

    def reset_sign_key(self, project_id: str, *, previous: str | None = None) -> Project:
        """``POST /dev/v1/reset_signkey``: a new primary App Certificate; every token signed before stops verifying.

        Not idempotent. With ``previous`` (the certificate before the call), an ambiguous failure (timeout,
        5xx) is resolved by reading the project back: a different certificate means the reset happened,
        and it is not repeated.
        """
        pid = _project_id(project_id)

        def took_effect() -> dict[str, Any] | None:
            if previous is None:
                return None
            raw = self._raw_project(pid)
            if raw is not None and raw.get("sign_key") and raw.get("sign_key") != previous:
                return {"project": raw}
            return None

        answer = self._call(
            "reset_signkey", "POST", "/dev/v1/reset_signkey", body={"id": pid}, on_ambiguous=took_effect
        )
        project = self._project_answer("reset signkey", answer, pid)
        if not project.sign_key:
            raise AgoraServerError("Agora reset signkey answered without the new certificate", retryable=False)
        return project

    # ------------------------------------------------------------------ usage

    def usage(
        self, project_id: str, from_date: date | str, to_date: date | str, *, business: str = "default"
    ) -> UsageReport:
        """``GET /dev/v3/usage``: one entry per UTC day, values in seconds (``meta`` names the keys)."""
        pid = _project_id(project_id)
        start, end = _as_day(from_date, "from_date"), _as_day(to_date, "to_date")
        if end < start:
            raise AgoraParameterError("to_date must not be before from_date")
        if business not in BUSINESSES:
            raise AgoraParameterError(f"business must be one of {', '.join(BUSINESSES)}")
        params = {
            "project_id": pid,
            "from_date": start.isoformat(),
            "to_date": end.isoformat(),
            "business": business,
        }
        answer = self._call("usage", "GET", "/dev/v3/usage", params=params)
        meta = answer.body.get("meta")
        entries = answer.body.get("usages")
        if not isinstance(entries, list):
            raise AgoraServerError("Agora usage answered without usages", request_id=answer.request_id, retryable=False)
        days: dict[date, UsageDay] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            day = parse_day(entry.get("date"))
            counters = entry.get("usage")
            if day is None or not isinstance(counters, dict):
                continue
            values = {str(k): v for k, v in counters.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            days[day] = UsageDay(day, values)
        return UsageReport(
            project_id=pid,
            business=business,
            meta=meta if isinstance(meta, dict) else {},
            days=[days[d] for d in sorted(days) if start <= d <= end],
        )


def day_range(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
