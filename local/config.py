"""``local.env``: the local stack's one configuration file, and the real Agora mode it can switch on.

``make run`` and ``python -m local.run`` read ``local.env`` at the repository's root (``--config FILE`` for
another; ``local.env.example`` documents every key). A command-line flag (``make run PORT=...``) overrides the
file. Lines are ``KEY=VALUE`` (``#`` comments, blank lines, optional quotes and ``export``); an unknown key is an
error naming the known ones, so a typo never silently does nothing.

Real Agora mode: ``AGORA_APP_ID`` with ``AGORA_APP_CERTIFICATE`` (and optionally the RESTful API's customer id
and secret, and the NCS secret) make the local stack mint tokens for that real project and send REST calls to
Agora's own hosts instead of the emulator (``RealAgora``; docs/local-stack.md says what works and what does not).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from local.synth import ROOT

DEFAULT_PATH = ROOT / "local.env"

#: key -> the ``python -m local.run`` option it sets (the option's help says what it means)
KEYS: dict[str, str] = {
    "PORT": "--port",
    "WEB_PORT": "--web-port",
    "MOTO_PORT": "--moto-port",
    "EMULATOR_PORT": "--emulator-port",
    "CORS_ORIGINS": "--cors-origins",
    "EMULATOR_OPTIONS": "--emulator-option",
    "STATE": "--state",
    "RELOAD": "--no-reload",
    "AGORA_APP_ID": "--agora-app-id",
    "AGORA_APP_CERTIFICATE": "--agora-app-certificate",
    "AGORA_CUSTOMER_ID": "--agora-customer-id",
    "AGORA_CUSTOMER_SECRET": "--agora-customer-secret",
    "AGORA_NCS_SECRET": "--agora-ncs-secret",
    "AGORA_REST_URLS": "--agora-rest-urls",
}
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class ConfigError(ValueError):
    """``local.env`` (or a flag) cannot be used: the message names the key and what it accepts."""


def parse_env_file(text: str, source: str = "local.env") -> dict[str, str]:
    """``KEY=VALUE`` lines to a dict; ConfigError on a malformed line or an unknown key."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            raise ConfigError(f"{source}:{number}: expected KEY=VALUE, got {raw.strip()!r}")
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; known keys: {', '.join(KEYS)}"
            raise ConfigError(f"{source}:{number}: unknown key {key}{hint}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load(path: Path | None) -> dict[str, str]:
    """The file's values; {} when ``path`` is None or (for the default path) the file does not exist."""
    if path is None:
        return {}
    if not path.is_file():
        if path == DEFAULT_PATH:
            return {}
        raise ConfigError(f"{path}: no such file")
    return parse_env_file(path.read_text(encoding="utf-8"), source=path.name)


def parse_bool(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{key}={value!r}: expected true or false")


#: the routes that need Agora to reach this machine's S3 (refused in real Agora mode) ...
NEEDS_REACHABLE_STORAGE = ("POST /recordings",)
#: ... and the route prefixes that call Agora's RESTful API (refused in real Agora mode without REST credentials)
REST_ROUTE_PREFIXES = ("POST /recordings", "GET /channels", "POST /channels", "GET /kicking-rules",
                       "POST /kicking-rules", "PUT /kicking-rules", "DELETE /kicking-rules", "GET /projects",
                       "PUT /projects", "POST /projects")  # fmt: skip


@dataclass(frozen=True)
class RealAgora:
    """A real Agora project for the local stack (instead of the emulator)."""

    app_id: str
    app_certificate: str
    customer_id: str | None = None
    customer_secret: str | None = None
    ncs_secret: str | None = None
    rest_base_urls: tuple[str, ...] = ()

    @classmethod
    def from_values(
        cls,
        *,
        app_id: str | None,
        app_certificate: str | None,
        customer_id: str | None = None,
        customer_secret: str | None = None,
        ncs_secret: str | None = None,
        rest_urls: str | None = None,
        emulator_options: bool = False,
    ) -> RealAgora | None:
        """None when no real App ID is named (the emulator, the default); ConfigError for what cannot work."""
        named = {"AGORA_APP_CERTIFICATE": app_certificate, "AGORA_CUSTOMER_ID": customer_id,
                 "AGORA_CUSTOMER_SECRET": customer_secret, "AGORA_NCS_SECRET": ncs_secret,
                 "AGORA_REST_URLS": rest_urls}  # fmt: skip
        if not app_id:
            given = [key for key, value in named.items() if value]
            if given:
                raise ConfigError(f"{', '.join(given)} without AGORA_APP_ID: name the real project's App ID too "
                                  "(or remove them to use the Agora emulator)")  # fmt: skip
            return None
        if not _HEX32.fullmatch(app_id):
            raise ConfigError("AGORA_APP_ID must be 32 hexadecimal characters (Agora console -> project -> App ID)")
        if not app_certificate:
            raise ConfigError("AGORA_APP_ID needs AGORA_APP_CERTIFICATE: tokens for a real project are signed with "
                              "its App Certificate (Agora console -> project -> Security)")  # fmt: skip
        if not _HEX32.fullmatch(app_certificate):
            raise ConfigError("AGORA_APP_CERTIFICATE must be 32 hexadecimal characters")
        if bool(customer_id) != bool(customer_secret):
            raise ConfigError("AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET go together (Agora console -> "
                              "RESTful API): name both, or neither (tokens only)")  # fmt: skip
        if emulator_options:
            raise ConfigError("EMULATOR_OPTIONS (--emulator-option) with AGORA_APP_ID: in real Agora mode the "
                              "emulator does not run; remove one of them")  # fmt: skip
        urls = tuple(u.strip() for u in (rest_urls or "").split(",") if u.strip())
        bad = [u for u in urls if not u.startswith("https://")]
        if bad:
            raise ConfigError(f"AGORA_REST_URLS: {', '.join(bad)} is not an https:// URL (Agora's hosts are https)")
        return cls(app_id.lower(), app_certificate.lower(), customer_id or None, customer_secret or None,
                   ncs_secret or None, urls)  # fmt: skip

    @property
    def has_rest(self) -> bool:
        return bool(self.customer_id and self.customer_secret)

    def refused_routes(self, route_keys: list[str]) -> dict[str, str]:
        """Route key -> why the local stack answers it 409 in this mode."""
        refused: dict[str, str] = {}
        for key in route_keys:
            if key in NEEDS_REACHABLE_STORAGE:  # whatever the credentials
                refused[key] = (
                    "recording is not available in real Agora mode: Agora's recorders upload to the "
                    "recordings bucket, and the local one (moto on 127.0.0.1) cannot be reached from Agora's "
                    "cloud; record with the emulator (remove AGORA_APP_ID) or with a deployed stack"
                )
            elif not self.has_rest and key.startswith(REST_ROUTE_PREFIXES):
                refused[key] = (
                    "real Agora mode without REST credentials: set AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET "
                    "in local.env to call Agora's RESTful API"
                )
        return refused
