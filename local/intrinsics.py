"""CloudFormation intrinsic functions, evaluated locally against known physical names.

The local stack provisions the synthesized template itself (no CloudFormation), so every ``Ref``,
``Fn::GetAtt``, ``Fn::Join`` ... in a property must be turned into the concrete value the resource
got in moto. Pure functions over plain data: no boto3 here, so the rules are unit-tested offline.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class IntrinsicError(ValueError):
    """A template value that cannot be resolved locally (unknown logical id, malformed function...)."""


class _NoValue:
    """``Ref: AWS::NoValue``: the enclosing property or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Resolver:
    """Evaluates intrinsics. ``refs``/``attrs`` are filled as resources are (or will be) created.

    ``attr_fallback(logical_id, attribute)`` may compute attributes nobody registered (e.g. the ARN
    of a skipped IAM role); it returns None when it cannot.
    """

    refs: dict[str, Any] = field(default_factory=dict)
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)
    pseudo: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    attr_fallback: Callable[[str, str], Any] | None = None
    _condition_cache: dict[str, bool] = field(default_factory=dict)

    # -- public -------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve recursively; ``AWS::NoValue`` removes keys and list items."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self.ref(arg)
                if key.startswith("Fn::") or key == "Condition":
                    return self._function(key, arg)
            out = {}
            for k, v in value.items():
                resolved = self.resolve(v)
                if resolved is not NO_VALUE:
                    out[k] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        return value

    def resolve_string(self, value: Any) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, int | float):
            return str(resolved)
        if not isinstance(resolved, str):
            raise IntrinsicError(f"expected a string, got {type(resolved).__name__}: {resolved!r}")
        return resolved

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise IntrinsicError(f"Ref takes a name, got {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name.startswith("AWS::"):
            raise IntrinsicError(f"unsupported pseudo parameter {name}")
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise IntrinsicError(f"Ref to unknown logical id or parameter {name!r}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        key = (logical_id, attribute)
        if key in self.attrs:
            return self.attrs[key]
        if self.attr_fallback is not None:
            value = self.attr_fallback(logical_id, attribute)
            if value is not None:
                return value
        raise IntrinsicError(f"Fn::GetAtt {logical_id}.{attribute} is not known locally")

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.conditions:
                raise IntrinsicError(f"unknown condition {name!r}")
            self._condition_cache[name] = _truthy(self.resolve(self.conditions[name]))
        return self._condition_cache[name]

    # -- functions ----------------------------------------------------------------------------
    def _function(self, key: str, arg: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per intrinsic
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                logical_id, _, attribute = arg.partition(".")
            elif isinstance(arg, list) and len(arg) == 2:
                logical_id, attribute = arg[0], self.resolve_string(arg[1])
            else:
                raise IntrinsicError(f"malformed Fn::GetAtt {arg!r}")
            return self.get_att(logical_id, attribute)
        if key == "Fn::Join":
            delimiter, items = _pair(key, arg)
            values = self.resolve(items)
            if not isinstance(values, list):
                raise IntrinsicError(f"Fn::Join needs a list, got {values!r}")
            return str(delimiter).join(self._as_str(v) for v in values)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Select":
            index, items = _pair(key, arg)
            values = self.resolve(items)
            i = int(self.resolve(index))
            if not isinstance(values, list) or not 0 <= i < len(values):
                raise IntrinsicError(f"Fn::Select index {i} out of range of {values!r}")
            return values[i]
        if key == "Fn::Split":
            delimiter, text = _pair(key, arg)
            return self.resolve_string(text).split(str(delimiter))
        if key == "Fn::If":
            if not isinstance(arg, list) or len(arg) != 3:
                raise IntrinsicError(f"malformed Fn::If {arg!r}")
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            a, b = _pair(key, arg)
            return _norm(self.resolve(a)) == _norm(self.resolve(b))
        if key == "Fn::Not":
            return not _truthy(self.resolve(arg[0] if isinstance(arg, list) else arg))
        if key == "Fn::And":
            return all(_truthy(self.resolve(a)) for a in arg)
        if key == "Fn::Or":
            return any(_truthy(self.resolve(a)) for a in arg)
        if key == "Fn::Base64":
            return base64.b64encode(self.resolve_string(arg).encode()).decode()
        if key == "Fn::GetAZs":
            region = self.resolve_string(arg) if arg else str(self.pseudo.get("AWS::Region", "us-east-1"))
            return [f"{region}{z}" for z in "abc"]
        if key == "Fn::FindInMap":
            if not isinstance(arg, list) or len(arg) not in (3, 4):
                raise IntrinsicError(f"malformed Fn::FindInMap {arg!r}")
            name, top, second = (self.resolve_string(a) for a in arg[:3])
            try:
                return self.mappings[name][top][second]
            except KeyError:
                if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                    return self.resolve(arg[3]["DefaultValue"])
                raise IntrinsicError(f"Fn::FindInMap {name}/{top}/{second} not found") from None
        if key == "Fn::ToJsonString":
            import json

            return json.dumps(self.resolve(arg), separators=(",", ":"))
        if key == "Fn::Length":
            value = self.resolve(arg)
            return len(value) if isinstance(value, list) else 0
        raise IntrinsicError(f"intrinsic {key} is not supported by the local stack")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            template, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            template, variables = str(arg[0]), {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            raise IntrinsicError(f"malformed Fn::Sub {arg!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self._as_str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return self._as_str(self.get_att(logical_id, attribute))
            return self._as_str(self.ref(name))

        return _SUB_VAR.sub(replace, template)

    @staticmethod
    def _as_str(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise IntrinsicError(f"cannot use {value!r} inside a string")


def _pair(key: str, arg: Any) -> tuple[Any, Any]:
    if not isinstance(arg, list) or len(arg) != 2:
        raise IntrinsicError(f"{key} takes two arguments, got {arg!r}")
    return arg[0], arg[1]


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def substitute_definition(definition: str, substitutions: Mapping[str, Any]) -> str:
    """Apply Step Functions ``DefinitionSubstitutions`` (``${name}`` placeholders) to an ASL string."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in substitutions:
            value = substitutions[name]
            return str(value).lower() if isinstance(value, bool) else str(value)
        return match.group(0)

    return _SUB_VAR.sub(replace, definition)
