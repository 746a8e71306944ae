"""Agent profiles: the LLM / TTS / ASR vendor settings of a kind of agent, kept in configuration, with every
key in Secrets Manager. Requests name a profile; no request or response ever carries a vendor setting.

Configuration (``AGENTS_PROFILES``, JSON): ``{"<profile>": {"llm": {...}, "tts": {...}, "asr": {...},
"advanced_features": {...}, "pipeline_id": "...", "secret": "<Secrets Manager name>", "idle_timeout": 30}}``.
A string value ``"{{secret:<field>}}"`` anywhere in the vendor settings is replaced by the field of the
profile's secret (a JSON object) when the agent starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

_PLACEHOLDER: Final = re.compile(r"^\{\{secret:([A-Za-z0-9_.-]{1,64})\}\}$")
_PROFILE_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
VENDOR_PARTS: Final = ("llm", "tts", "asr", "advanced_features", "parameters")


class ProfileError(ValueError):
    """The profile configuration is wrong (a deployment error, reported at start, never to the caller's body)."""


@dataclass(frozen=True)
class AgentProfile:
    name: str
    settings: Mapping[str, Any]  # the vendor parts, with placeholders
    pipeline_id: str | None = None
    secret: str | None = None
    idle_timeout: int = 30

    def __repr__(self) -> str:
        return f"AgentProfile(name={self.name!r}, pipeline_id={self.pipeline_id!r})"

    def placeholders(self) -> set[str]:
        found: set[str] = set()

        def note(name: str) -> str:
            found.add(name)
            return name

        _walk(self.settings, note)
        return found

    def resolved(self, secret: Mapping[str, Any] | None) -> dict[str, Any]:
        """The vendor parts with every placeholder replaced by the secret's field."""
        values = dict(secret or {})

        def fill(field: str) -> str:
            value = values.get(field)
            if not isinstance(value, str) or not value:
                raise ProfileError(f"profile {self.name}: the secret has no field {field!r}")
            return value

        out = _walk(self.settings, fill)
        assert isinstance(out, dict)
        return out


def _walk(value: Any, fill: Any) -> Any:
    if isinstance(value, str):
        match = _PLACEHOLDER.match(value)
        return fill(match.group(1)) if match else value
    if isinstance(value, Mapping):
        return {k: _walk(v, fill) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fill) for v in value]
    return value


def parse_profiles(raw: str | None) -> dict[str, AgentProfile]:
    """``AGENTS_PROFILES`` as profiles; a wrong document raises ``ProfileError`` naming what is wrong."""
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ProfileError(f"AGENTS_PROFILES is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProfileError("AGENTS_PROFILES must be a JSON object of profiles")
    profiles = {}
    for name, body in doc.items():
        if not _PROFILE_NAME.match(name) or not isinstance(body, dict):
            raise ProfileError(f"profile {name!r}: a name of a-z 0-9 - (1..32) and an object are required")
        unknown = set(body) - {*VENDOR_PARTS, "pipeline_id", "secret", "idle_timeout"}
        if unknown:
            raise ProfileError(f"profile {name}: unknown keys {sorted(unknown)}")
        settings = {part: body[part] for part in VENDOR_PARTS if part in body}
        pipeline = body.get("pipeline_id")
        if pipeline is None and not {"llm", "tts"} <= set(settings):
            raise ProfileError(f"profile {name}: llm and tts are required without a pipeline_id")
        idle = body.get("idle_timeout", 30)
        if isinstance(idle, bool) or not isinstance(idle, int) or idle < 0:
            raise ProfileError(f"profile {name}: idle_timeout must be an integer >= 0")
        profile = AgentProfile(name, settings, pipeline, body.get("secret"), idle)
        if profile.placeholders() and not profile.secret:
            raise ProfileError(f"profile {name}: placeholders need a 'secret'")
        profiles[name] = profile
    return profiles
