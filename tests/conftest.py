"""Shared test setup: fake AWS credentials and region so nothing can reach a real account."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SECURITY_TOKEN"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AgoraServerlessTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "agora-serverless-test")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
if "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" not in os.environ:  # it lists Node majors, not a flag
    import subprocess

    try:
        _node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        _node = ""
    os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = _node.strip().lstrip("v").split(".")[0]

# Property tests: CI is reproducible (derandomized: the same examples on every run, no example database);
# a developer's run explores fresh random examples and replays its failures from .hypothesis/; "wide" is for a
# long local search (`make test-wide`). HYPOTHESIS_PROFILE overrides; CI=true selects "ci".
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("wide", max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


# `make test` runs on every core with pytest-xdist (--dist loadgroup): every test of a module goes to the
# same worker, so a module-scoped local stack (moto, the emulator, a local API) is built once, on one worker.
# The infra modules share one group: their session-scoped synthesis (tests/infra/conftest.py) then happens once.
# Without -n (make unit, one file while you work) the marks do nothing.


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        module = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group("infra" if module.startswith("tests/infra/") else module))
