"""What deploys is what was tested (issue 22): the dependency layer carries boto3/botocore at the versions
this test environment runs, with their complete dependency set, so the Lambda runtime's own boto3 (which AWS
updates under us) is never what runs, and the fast client imitates the botocore it was checked against."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s\\;]+)", line)
        if found:
            pins[found.group(1).lower().replace("_", "-")] = found.group(2)
    return pins


def test_the_layer_pins_the_sdk_the_tests_run():
    layer = _pins(ROOT / "infra" / "layer" / "requirements.txt")
    for name in SDK:
        assert layer.get(name) == metadata.version(name), name
    runtime = _pins(ROOT / "requirements.txt")
    assert runtime["boto3"] == layer["boto3"] and runtime["botocore"] == layer["botocore"]


def test_the_layer_holds_the_sdks_whole_dependency_set():
    layer = _pins(ROOT / "infra" / "layer" / "requirements.txt")
    todo, seen = ["boto3"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            marker = requirement.partition(";")[2]
            if "python_version" in marker and "<" in marker:  # backports for old Pythons (not 3.13)
                continue
            todo.append(re.split(r"[\s<>=!~\[;(]", requirement, maxsplit=1)[0].lower().replace("_", "-"))
    assert seen <= set(layer), seen - set(layer)
