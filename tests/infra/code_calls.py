"""The AWS actions a Lambda function's code can call, derived from its source (not from the template).

Start at the handler module, follow every ``import`` inside ``functions/`` (module level and inside
functions: handlers import lazily for cold start), and collect the botocore client calls of the modules
reached: ``client.get_item(...)`` -> ``dynamodb:GetItem``. ``transact_write_items`` needs the action of
each item kind its module builds (``"Put"`` -> ``dynamodb:PutItem``, ...). The result over-approximates
only where a module reached is shared by several functions; it never misses a call in reached code.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"

#: botocore client method -> IAM action (the calls this code base makes or could plausibly make)
METHOD_ACTIONS: dict[str, str] = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_get_item": "dynamodb:BatchGetItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "transact_get_items": "dynamodb:GetItem",
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "list_objects_v2": "s3:ListBucket",
    "get_secret_value": "secretsmanager:GetSecretValue",
    "describe_secret": "secretsmanager:DescribeSecret",
    "put_secret_value": "secretsmanager:PutSecretValue",
    "start_execution": "states:StartExecution",
    "send_task_success": "states:SendTaskSuccess",
    "send_task_failure": "states:SendTaskFailure",
    "send_task_heartbeat": "states:SendTaskHeartbeat",
    "describe_execution": "states:DescribeExecution",
    "stop_execution": "states:StopExecution",
    "put_metric_data": "cloudwatch:PutMetricData",
    "publish": "sns:Publish",
    "send_message": "sqs:SendMessage",
    "put_events": "events:PutEvents",
}
TRANSACT_KINDS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _module_path(name: str) -> Path | None:
    base = FUNCTIONS.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


@cache
def reached_modules(handler_module: str) -> frozenset[str]:
    seen: set[str] = set()
    todo = [handler_module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen.add(name)
        # a package's __init__ runs before any of its modules
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        todo.extend(_imports(tree, name, path.name == "__init__.py"))
    return frozenset(seen)


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    actions: set[str] = set()
    transact = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method == "transact_write_items":
                transact = True
            elif method in METHOD_ACTIONS and node.args == [] and node.keywords:
                # botocore clients take keyword arguments only; this skips str.query-like helpers
                actions.add(METHOD_ACTIONS[method])
    if transact:
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACT_KINDS:
                        actions.add(TRANSACT_KINDS[key.value])
    return actions


#: transports that make the calls their callers ask for (``awsfast`` forwards what it cannot do
#: itself to botocore: ``self.botocore_client.get_object(**params)``); they make no call of their own, so a call
#: written there is not a call the function makes: the caller's own call is what counts
TRANSPORTS = frozenset({"awsfast", "awsfast.s3"})


def derived_actions(handler: str) -> frozenset[str]:
    """``handler`` as Lambda names it (``service.tokens.handler.handler``)."""
    module = handler.rpartition(".")[0]
    actions: set[str] = set()
    for name in reached_modules(module) - TRANSPORTS:
        path = _module_path(name)
        assert path is not None
        actions |= _calls(path)
    return frozenset(actions)
