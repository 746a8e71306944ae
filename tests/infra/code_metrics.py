"""The metric names a function's code publishes, read from its source (not from the template).

A publication is a call of a metric sink or of Powertools: ``deps.metric("X")``, ``sink("X", ...)``,
``metrics.add_metric(name="X", ...)``, ``single_metric(name="X", ...)``. Its name argument is resolved
statically: a string literal, a module constant (``LIMITER_WAIT_METRIC``), both arms of a conditional, the
values of a module-level dict indexed (``METRIC_BY_OUTCOME[...]``), or the literals returned by a function of
the same module (``sink(outcome_metric(outcome))``). A name argument that is only a parameter of the enclosing
function is a pass-through (the sink itself). Anything else is reported as unresolved, so a metric name the
test cannot see fails the test instead of escaping it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tests.infra.code_calls import reached_modules

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
SINK_CALLS = frozenset({"metric", "_metric", "sink", "add_metric", "single_metric"})


@dataclass
class ModuleMetrics:
    names: set[str] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)


def _module_constants(tree: ast.Module) -> tuple[dict[str, str], dict[str, set[str]], dict[str, ast.FunctionDef]]:
    strings: dict[str, str] = {}
    dicts: dict[str, set[str]] = {}
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.FunctionDef):
            functions[node.name] = node
        for target in targets:
            if not isinstance(target, ast.Name) or value is None:
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                strings[target.id] = value.value
            elif isinstance(value, ast.Dict):
                dicts[target.id] = {v.value for v in value.values if isinstance(v, ast.Constant)}
    return strings, dicts, functions


def _returned_literals(function: ast.FunctionDef) -> set[str] | None:
    found: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Return):
            if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                return None
            found.add(node.value.value)
    return found or None


@cache
def module_metrics(module: str) -> ModuleMetrics:
    path = FUNCTIONS.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    tree = ast.parse(path.read_text(), filename=str(path))
    strings, dicts, functions = _module_constants(tree)
    result = ModuleMetrics()

    def resolve(expr: ast.expr, params: set[str]) -> set[str] | None:
        found: set[str] | None = None
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            found = {expr.value}
        elif isinstance(expr, ast.Name):
            if expr.id in strings:
                found = {strings[expr.id]}
            elif expr.id in params:
                found = set()  # a pass-through: the sink itself
        elif isinstance(expr, ast.IfExp):
            a, b = resolve(expr.body, params), resolve(expr.orelse, params)
            found = None if a is None or b is None else a | b
        elif isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and expr.value.id in dicts:
            found = dicts[expr.value.id]
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in functions:
            found = _returned_literals(functions[expr.func.id])
        return found

    def visit(node: ast.AST, params: set[str]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = node.args
            params = params | {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        if isinstance(node, ast.Call):
            func = node.func
            callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if callee in SINK_CALLS:
                name_arg = next((k.value for k in node.keywords if k.arg == "name"), None)
                if name_arg is None and node.args:
                    name_arg = node.args[0]
                if name_arg is not None:
                    names = resolve(name_arg, params)
                    if names is None:
                        result.unresolved.append(f"{module}:{node.lineno}: {ast.unparse(node)[:80]}")
                    else:
                        result.names |= names
        for child in ast.iter_child_nodes(node):
            visit(child, params)

    visit(tree, set())
    return result


def emitted_by(handler_module: str) -> ModuleMetrics:
    """Every metric name the modules a handler reaches can publish (an over-approximation, never a miss)."""
    total = ModuleMetrics()
    for module in sorted(reached_modules(handler_module)):
        found = module_metrics(module)
        total.names |= found.names
        total.unresolved += found.unresolved
    return total
