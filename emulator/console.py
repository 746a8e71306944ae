# ruff: noqa: RUF001 - the usage meta keeps Agora's full-width parentheses, byte for byte
"""The Agora Console RESTful API (projects, App Certificate, usage) as an in-process router.

``ConsoleEmulator.handle(method, path, query, body, headers) -> (status, body)`` answers every Console
path as Agora documents it, for the HTTP server to mount (``handles(path)`` says which paths are its):

- ``GET /dev/v1/projects``, ``GET /dev/v1/project?id=&name=`` (both required), ``POST /dev/v1/project``,
  ``/project_status``, ``/recording_config``, ``/signkey``, ``/reset_signkey``: all answer **201**, reads
  included; ``created`` is in **milliseconds** (as live answers are); ``sign_key`` is in clear, ``""``
  while the certificate is off; reset on a project without a certificate turns it on (2020 CN text).
- ``GET /dev/v3/usage``: all four parameters required, App ID instead of project id -> 404
  ``Project not found``; one entry per UTC day, zero days included; today's figures are partial and grow.
- Errors: 400 ``message`` (duplicate project name, too many projects, bad parameters), 401 wrong
  Customer ID/Secret, 404 legacy ``{"error_msg": "project not exist"}`` on a missing (or, except for
  ``project_status``, disabled) project, 415 without ``Content-Type: application/json`` on ANY request.

Hostile like Agora, never kinder: at most ``qps`` (10) requests per second per API per account, then 429
**without** Retry-After; a fault script can answer 429/500/401, or 500 *after* the effect was applied
(``"500_after"``: the caller cannot tell whether a reset or a create happened).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import secrets
import string
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["CONSOLE_PATHS", "DEFAULT_CUSTOMER_ID", "DEFAULT_CUSTOMER_SECRET", "ConsoleEmulator"]

DEFAULT_CUSTOMER_ID = "emulator-customer"
DEFAULT_CUSTOMER_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented default, not a real secret
BUSINESSES = ("default", "transcodeDuration", "recording", "cloudRecording", "miniapp")
FAULTS = ("429", "500", "500_after", "401")
#: (method, path) -> API name; each API has its own QPS window, as Agora counts them
CONSOLE_PATHS: dict[tuple[str, str], str] = {
    ("GET", "/dev/v1/projects"): "list_projects",
    ("GET", "/dev/v1/project"): "get_project",
    ("POST", "/dev/v1/project"): "create_project",
    ("POST", "/dev/v1/project_status"): "project_status",
    ("POST", "/dev/v1/recording_config"): "recording_config",
    ("POST", "/dev/v1/signkey"): "signkey",
    ("POST", "/dev/v1/reset_signkey"): "reset_signkey",
    ("GET", "/dev/v3/usage"): "usage",
}
USAGE_META = {
    "durationAudioAll": {"en": "Total Audio Duration", "unit": "second"},
    "durationVideo1080P": {"en": "Full HD Video Duration（including Recording)", "unit": "second"},
    "durationVideo2K": {"en": "2K Video Duration（including Recording)", "unit": "second"},
    "durationVideo4K": {"en": "4K Video Duration（including Recording)", "unit": "second"},
    "durationVideoHd": {"en": "HD Video Duration（including Recording）", "unit": "second"},
    "durationVideoHdp": {"en": "HDP Video Duration（including Recording)", "unit": "second"},
}
NOT_EXIST = {"error_msg": "project not exist"}
_ID_ALPHABET = string.ascii_letters + string.digits


class _Error(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(status)
        self.status = status
        self.body = body


def _bad(message: str) -> _Error:
    return _Error(400, {"message": message})


class ConsoleEmulator:
    """Agora's Console API for one or more accounts, in memory. Thread-safe."""

    def __init__(
        self,
        *,
        accounts: Mapping[str, str] | None = None,
        qps: float = 10,
        max_projects: int = 20,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        date_format: str = "iso",
    ):
        if date_format not in ("iso", "epoch"):
            raise ValueError("date_format must be 'iso' (the example) or 'epoch' (the parameter table)")
        self.accounts = dict(accounts or {DEFAULT_CUSTOMER_ID: DEFAULT_CUSTOMER_SECRET})
        self.qps = qps
        self.max_projects = max_projects
        self.date_format = date_format
        self._clock = clock
        self._monotonic = monotonic
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.projects: dict[str, dict[str, dict[str, Any]]] = {cid: {} for cid in self.accounts}
        self._usage_data: dict[tuple[str, str, date], dict[str, int]] = {}
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self.faults: deque[str] = deque()
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    # ------------------------------------------------------------------ control (tests, the local stack)

    def handles(self, method: str, path: str) -> bool:
        return (method.upper(), "/" + path.strip("/")) in CONSOLE_PATHS

    @staticmethod
    def api_name(method: str, path: str) -> str:
        return CONSOLE_PATHS.get((method.upper(), "/" + path.strip("/")), "unknown")

    def add_project(
        self,
        name: str,
        *,
        customer_id: str = DEFAULT_CUSTOMER_ID,
        project_id: str | None = None,
        vendor_key: str | None = None,
        sign_key_enabled: bool = True,
        status: int = 1,
        created_ms: int | None = None,
        sign_key: str | None = None,
    ) -> dict[str, Any]:
        """A project as if made in the Console; returns its Agora view (sign_key in clear).

        ``sign_key``: a given App Certificate (the local stack's, so that Agora and our secret agree)."""
        with self._lock:
            project = self._new_project(
                customer_id, name, sign_key_enabled, project_id=project_id, vendor_key=vendor_key, created_ms=created_ms
            )
            project["status"] = status
            if sign_key is not None:
                project["sign_key"] = sign_key
            return self._view(project)

    def set_usage(self, project_id: str, day: date, counters: Mapping[str, int], *, business: str = "default") -> None:
        with self._lock:
            self._usage_data[(project_id, business, day)] = dict(counters)

    def inject(self, *faults: str) -> None:
        """Answer the next matching requests with these faults, in order (after auth and rate limit)."""
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown faults {unknown}; use {list(FAULTS)}")
        with self._lock:
            self.faults.extend(faults)

    def project(self, project_id: str, customer_id: str = DEFAULT_CUSTOMER_ID) -> dict[str, Any] | None:
        with self._lock:
            found = self.projects.get(customer_id, {}).get(project_id)
            return self._view(found) if found else None

    def state(self) -> dict[str, Any]:
        """A snapshot for tests and the control API (certificates included: it is an emulator)."""
        with self._lock:
            return {
                "projects": {cid: [self._view(p) for p in ps.values()] for cid, ps in self.projects.items()},
                "calls": dict(self.calls),
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "faults": list(self.faults),
            }

    def reset(self) -> None:
        with self._lock:
            self.projects = {cid: {} for cid in self.accounts}
            self._usage_data.clear()
            self._windows.clear()
            self.faults.clear()
            self.calls.clear()
            self.statuses.clear()

    # ------------------------------------------------------------------ the router

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: bytes | str | Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One request -> (HTTP status, JSON body). ``query`` values may be strings or lists (parse_qs)."""
        status, answer = self._handle(method.upper(), "/" + path.split("?", 1)[0].strip("/"), query, body, headers)
        with self._lock:
            self.statuses[status] += 1
        return status, answer

    def _handle(  # noqa: PLR0911 - the order of Agora's checks, one return each
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None,
        body: bytes | str | Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[int, dict[str, Any]]:
        api = CONSOLE_PATHS.get((method, path))
        if api is None:
            return 404, {"message": "no Route matched with those values"}
        hdrs = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        account = self._account(hdrs.get("authorization"))
        if account is None:
            return 401, {"message": "Invalid authentication credentials"}
        if not self._allow(account, api):
            return 429, {"message": "Too Many Requests"}  # no Retry-After: Agora sends none
        if "application/json" not in hdrs.get("content-type", "").lower():
            return 415, {"message": "Unsupported Media Type: Content-Type must be application/json"}
        try:
            payload = self._payload(body) if method == "POST" else {}
            params = {str(k): (v[-1] if isinstance(v, list | tuple) else v) for k, v in (query or {}).items()}
            with self._lock:
                self.calls[api] += 1
                fault = self.faults.popleft() if self.faults else None
                if fault == "429":
                    return 429, {"message": "Too Many Requests"}
                if fault == "500":
                    return 500, {"message": "Internal Server Error"}
                if fault == "401":  # the Customer Secret was revoked in the Console
                    return 401, {"message": "Invalid authentication credentials"}
                status, answer = getattr(self, f"_{api}")(account, params, payload)
            if fault == "500_after":  # the effect happened; the caller learns nothing
                return 500, {"message": "Internal Server Error"}
            return status, answer
        except _Error as exc:
            return exc.status, exc.body

    def _account(self, header: str | None) -> str | None:
        scheme, _, value = (header or "").partition(" ")
        if scheme != "Basic" or not value:
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        customer_id, _, secret = decoded.partition(":")
        expected = self.accounts.get(customer_id)
        if expected is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            return None
        return customer_id

    def _allow(self, account: str, api: str) -> bool:
        if not self.qps:
            return True
        now = self._monotonic()
        with self._lock:
            window = self._windows.setdefault((account, api), deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.qps:
                return False
            window.append(now)
            return True

    @staticmethod
    def _payload(body: bytes | str | Mapping[str, Any] | None) -> dict[str, Any]:
        if isinstance(body, Mapping):
            return dict(body)
        if not body:
            raise _bad("request body is required")
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _bad("invalid JSON body") from None
        if not isinstance(parsed, dict):
            raise _bad("the body must be a JSON object")
        return parsed

    # ------------------------------------------------------------------ state helpers (lock held)

    def _view(self, project: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": project["id"],
            "name": project["name"],
            "vendor_key": project["vendor_key"],
            "sign_key": project["sign_key"] if project["sign_key_enabled"] else "",
            "recording_server": project["recording_server"],
            "status": project["status"],
            "created": project["created"],
        }

    def _new_project(
        self,
        account: str,
        name: str,
        sign_key_enabled: bool,
        *,
        project_id: str | None = None,
        vendor_key: str | None = None,
        created_ms: int | None = None,
    ) -> dict[str, Any]:
        projects = self.projects.setdefault(account, {})
        if any(p["name"] == name for p in projects.values()):
            raise _bad("duplicate project name")
        if len(projects) >= self.max_projects:
            raise _bad("too many projects")
        pid = project_id or "".join(self._rng.choice(_ID_ALPHABET) for _ in range(9))
        project = {
            "id": pid,
            "name": name,
            "vendor_key": vendor_key or f"{self._rng.getrandbits(128):032x}",
            "sign_key": secrets.token_hex(16),
            "sign_key_enabled": sign_key_enabled,
            "recording_server": None,
            "status": 1,
            "created": created_ms if created_ms is not None else int(self._clock() * 1000),
        }
        projects[pid] = project
        return project

    def _find(self, account: str, payload: Mapping[str, Any], *, enabled_only: bool = True) -> dict[str, Any]:
        pid = payload.get("id")
        if not isinstance(pid, str) or not pid:
            raise _bad("id is required")
        project = self.projects.get(account, {}).get(pid)
        if project is None or (enabled_only and project["status"] != 1):
            raise _Error(404, dict(NOT_EXIST))
        return project

    # ------------------------------------------------------------------ the APIs (lock held)

    def _list_projects(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        return 201, {"projects": [self._view(p) for p in self.projects.get(account, {}).values()]}

    def _get_project(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        pid, name = params.get("id"), params.get("name")
        if not pid or not name:
            raise _bad("id and name are required")
        project = self.projects.get(account, {}).get(pid)
        found = [self._view(project)] if project is not None and project["name"] == name else []
        return 201, {"projects": found}

    def _create_project(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        name, enable = payload.get("name"), payload.get("enable_sign_key")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise _bad("name must be a string of 1 to 255 characters")
        if not isinstance(enable, bool):
            raise _bad("enable_sign_key is required and must be a boolean")
        return 201, {"project": self._view(self._new_project(account, name, enable))}

    def _project_status(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        project = self._find(account, payload, enabled_only=False)
        status = payload.get("status")
        if isinstance(status, bool) or status not in (0, 1):
            raise _bad("status must be 0 or 1")
        project["status"] = status
        return 201, {"project": self._view(project)}

    def _recording_config(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        project = self._find(account, payload)
        server = payload.get("recording_server")
        if not isinstance(server, str) or ":" not in server:
            raise _bad("recording_server must be ip:port")
        project["recording_server"] = server
        return 201, {"project": self._view(project)}

    def _signkey(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        project = self._find(account, payload)
        enable = payload.get("enable")
        if not isinstance(enable, bool):
            raise _bad("enable must be a boolean")
        project["sign_key_enabled"] = enable
        return 201, {"project": self._view(project)}

    def _reset_signkey(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        project = self._find(account, payload)
        project["sign_key"] = secrets.token_hex(16)
        project["sign_key_enabled"] = True
        return 201, {"project": self._view(project)}

    def _usage(self, account: str, params: dict[str, Any], payload: dict[str, Any]) -> tuple[int, Any]:
        missing = [p for p in ("project_id", "from_date", "to_date", "business") if not params.get(p)]
        if missing:
            raise _bad(f"missing required parameters: {', '.join(missing)}")
        try:
            start = date.fromisoformat(str(params["from_date"]))
            end = date.fromisoformat(str(params["to_date"]))
        except ValueError:
            raise _bad("from_date and to_date must be YYYY-MM-DD") from None
        if end < start:
            raise _bad("from_date must not be after to_date")
        business = params["business"]
        if business not in BUSINESSES:
            raise _bad(f"business must be one of {', '.join(BUSINESSES)}")
        project = self.projects.get(account, {}).get(params["project_id"])
        if project is None:
            return 404, {"message": "Project not found"}
        now = self._clock()
        today = datetime.fromtimestamp(now, UTC).date()
        created = datetime.fromtimestamp(project["created"] / 1000, UTC).date()
        usages = []
        day = start
        while day <= min(end, today):
            counters = self._usage_data.get((project["id"], business, day))
            if counters is None:
                counters = self._generated(project["id"], business, day, created)
            if day == today:  # today's figures are partial: they grow through the day
                elapsed = (now % 86_400) / 86_400
                counters = {k: int(v * elapsed) for k, v in counters.items()}
            usages.append({"date": self._date(day), "usage": counters})
            day += timedelta(days=1)
        return 200, {"meta": dict(USAGE_META), "usages": usages}

    @staticmethod
    def _generated(project_id: str, business: str, day: date, created: date) -> dict[str, int]:
        """Stable, plausible counters; zero before the project existed and on some days (as Agora shows)."""
        if day < created:
            return dict.fromkeys(USAGE_META, 0)
        digest = hashlib.sha256(f"{project_id}|{business}|{day.isoformat()}".encode()).digest()
        if digest[0] < 64:  # a quarter of the days nobody used the project
            return dict.fromkeys(USAGE_META, 0)
        return {key: int.from_bytes(digest[2 * i + 1 : 2 * i + 3], "big") % 5000 for i, key in enumerate(USAGE_META)}

    def _date(self, day: date) -> Any:
        if self.date_format == "epoch":
            return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        return f"{day.isoformat()}T00:00:00.000Z"
