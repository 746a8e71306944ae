"""The service's layering, checked on the source: what ``logic.py`` means is the same in every capability.

``logic.py`` (and the recordings use-case modules, which play that role for its four entry points) decides;
it never talks to AWS or Lambda itself. Everything it reads or writes comes through an injected Protocol, so
a concrete DynamoDB class, botocore, boto3 or Powertools imported there is a layering mistake.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "functions" / "service"
CAPABILITIES = ("tokens", "recordings", "webhooks", "channels", "media", "presence")
USE_CASE_MODULES = [SERVICE / c / "logic.py" for c in CAPABILITIES] + [
    SERVICE / "recordings" / name for name in ("operations.py", "workflow.py", "reconcile.py", "control.py")
]
FORBIDDEN_MODULES = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "service.adapters.aws",
    "service.adapters.dynamodb",
    "service.adapters.stepfunctions",
)


def _imports(path: Path) -> list[tuple[str, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend((alias.name, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.extend((node.module, alias.name) for alias in node.names)
    return out


def test_every_capability_has_a_logic_module() -> None:
    assert [p for p in USE_CASE_MODULES if not p.exists()] == []


@pytest.mark.parametrize("path", USE_CASE_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_use_cases_reach_aws_only_through_injected_protocols(path: Path) -> None:
    bad = [
        f"{module}.{name}"
        for module, name in _imports(path)
        if module.startswith(FORBIDDEN_MODULES) or name.startswith("DynamoDB") or module.endswith("handler")
    ]
    assert bad == [], f"{path.relative_to(SERVICE)} imports {bad}"


def test_recording_entry_points_say_which_function_they_are() -> None:
    construct = (SERVICE.parents[1] / "infra" / "constructs" / "recording.py").read_text()
    for module in ("api_handler", "workflow_tasks_handler", "reconciler_handler"):
        assert (SERVICE / "recordings" / f"{module}.py").exists()
        assert f'"service.recordings.{module}.handler"' in construct
