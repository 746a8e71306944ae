"""The local stack's resource model: what ``provision`` made, and the wiring moto does not run itself.

``LocalStack`` maps logical ids to physical names, functions, state machines, event source mappings,
schedules and API routes; the pumps, the dispatcher and the API server read it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from local.intrinsics import Resolver

DEFAULT_STACK_NAME = "AgoraServerless"
#: the hash CDK appends to logical ids
HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    environment: dict[str, str]
    logical_id: str = ""
    arn: str = ""
    timeout: int = 3
    memory_size: int = 128


@dataclass(frozen=True)
class EventSourceSpec:
    """An ``AWS::Lambda::EventSourceMapping``: moto would not run it, so the local pumps do."""

    logical_id: str
    function: str  # function name
    source_arn: str
    kind: str  # "dynamodb" | "sqs" | "kinesis" | other service name
    batch_size: int
    report_batch_item_failures: bool
    starting_position: str | None
    filters: list[dict[str, Any]]
    maximum_batching_window: int
    maximum_retry_attempts: int
    bisect_on_error: bool
    on_failure_arn: str | None
    enabled: bool


@dataclass(frozen=True)
class ScheduleTarget:
    arn: str
    input: str | None


@dataclass(frozen=True)
class ScheduleSpec:
    logical_id: str
    name: str
    expression: str
    targets: list[ScheduleTarget]
    enabled: bool


@dataclass(frozen=True)
class AuthorizerSpec:
    logical_id: str
    issuer: str
    audience: list[str]
    identity_source: list[str]


@dataclass(frozen=True)
class RouteSpec:
    route_key: str  # "POST /recordings/{id}/stop", "$default", "ANY /{proxy+}"
    method: str  # "POST", or "ANY"
    path: str  # "/recordings/{id}/stop"
    function: str  # function name
    payload_version: str
    authorizer: AuthorizerSpec | None
    scopes: list[str]
    logical_id: str = ""


@dataclass
class Resource:
    logical_id: str
    type: str
    name: str
    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)
    created: bool = False


class ProvisionError(RuntimeError):
    """The template holds something the local stack cannot provision (the message says what and where)."""


@dataclass
class LocalStack:
    """What ``provision`` made: physical names, functions, and the wiring moto does not run itself."""

    stack_name: str
    region: str
    account: str
    template: dict[str, Any]
    resources: dict[str, Resource] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    event_sources: list[EventSourceSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    cors: dict[str, Any] | None = None  # the HTTP API's CorsConfiguration, if any
    skipped: dict[str, list[str]] = field(default_factory=dict)  # resource type -> logical ids
    resolver: Resolver = field(default_factory=Resolver)

    # -- lookups ------------------------------------------------------------------------------
    def _find(self, logical_id_prefix: str, resource_type: str | None = None) -> Resource:
        candidates = [
            r
            for lid, r in self.resources.items()
            if lid.startswith(logical_id_prefix) and (resource_type is None or r.type == resource_type)
        ]
        exact = [r for r in candidates if r.logical_id == logical_id_prefix]
        if exact:
            return exact[0]
        hashed = [r for r in candidates if HASH_SUFFIX.fullmatch(r.logical_id[len(logical_id_prefix) :] or "-")]
        if len(hashed) == 1:
            return hashed[0]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            known = ", ".join(sorted(self.resources)) or "none"
            raise KeyError(f"no resource whose logical id starts with {logical_id_prefix!r} (known: {known})")
        names = ", ".join(sorted(r.logical_id for r in candidates))
        raise KeyError(f"{logical_id_prefix!r} is ambiguous: {names}")

    def physical(self, logical_id_prefix: str, resource_type: str | None = None) -> str:
        """The resource's ``Ref`` value: table/bucket/function name, queue URL, topic/state machine ARN."""
        return str(self._find(logical_id_prefix, resource_type).ref)

    def arn(self, logical_id_prefix: str, resource_type: str | None = None) -> str:
        res = self._find(logical_id_prefix, resource_type)
        return str(self.resolver.get_att(res.logical_id, "Arn"))

    def attr(self, logical_id_prefix: str, attribute: str) -> Any:
        res = self._find(logical_id_prefix)
        return self.resolver.get_att(res.logical_id, attribute)

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def function(self, name_or_arn: str) -> FunctionSpec | None:
        """The function by name, ARN (qualified or not) or logical id (prefix)."""
        name = function_name(name_or_arn)
        for spec in self.functions.values():
            if spec.name == name:
                return spec
        try:
            res = self._find(name_or_arn, "AWS::Lambda::Function")
        except KeyError:
            return None
        return self.functions.get(res.logical_id)

    def by_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == resource_type]

    # -- environment (one meaning per variable) ---------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The union of every function's environment variables (POWERTOOLS_* taken from the first)."""
        env: dict[str, str] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                env.setdefault(key, value)
        return env

    def environment_conflicts(self) -> dict[str, dict[str, str]]:
        """Variables that mean different things in different functions (each variable must mean one thing)."""
        seen: dict[str, dict[str, str]] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key.startswith("POWERTOOLS_"):
                    continue
                seen.setdefault(key, {})[spec.name] = value
        return {k: v for k, v in seen.items() if len(set(v.values())) > 1}

    def apply_environment(self, environ: dict[str, str] | os._Environ[str] | None = None) -> dict[str, str | None]:
        """Put the union environment into ``environ`` (default ``os.environ``); returns the previous values."""
        target = os.environ if environ is None else environ
        previous: dict[str, str | None] = {}
        for key, value in self.environment().items():
            previous[key] = target.get(key)
            target[key] = value
        return previous


def function_name(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        # arn:aws:lambda:region:account:function:name[:qualifier]
        return parts[6] if len(parts) > 6 else parts[-1]
    return name_or_arn.split(":", maxsplit=1)[0]
