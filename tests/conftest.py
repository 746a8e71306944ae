"""Shared test setup: fake AWS credentials and region so nothing can reach a real account."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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

# The cyclic garbage collector's youngest generation is collected every 10,000 net allocations instead of 700: the
# tests allocate heavily (moto deep-copies items, botocore builds clients and parses replies) on a heap of hundreds
# of thousands of long-lived objects, and at 700 a test process collected generation 0 thousands of times. Measured
# with `gc.callbacks` on five modules in one process (unit, integration, workflow): 3,425 collections and 4.16 s of
# GC (of 32.7 s of CPU) at 700, 220 and 2.10 s at 10,000. Nothing here depends on when a cycle is freed.
import gc  # noqa: E402

gc.set_threshold(10_000, *gc.get_threshold()[1:])

# moto's `reset_boto3_session` (on by default) gives boto3 a new default session inside every `mock_aws`, so the
# first client of each test loads its service model again: 0.2-0.5 s a client, in ~120 places. moto resets it so
# a session made under fake credentials is not reused by a test that reaches real AWS; here no test may reach
# AWS (the credentials above are fake for the whole run), so one session serves every test (moto's documented
# `core` option, set before any mock is created).
from moto.core.config import default_user_config  # noqa: E402 - after the fake credentials and the profiles

default_user_config["core"]["reset_boto3_session"] = False

# moto's DynamoDB item answers as the JSON they already are, as in every local stack (``local.patches``; the same
# documents as moto's serializer: tests/integration/test_moto_dynamodb_serializer.py)
from local.patches import moto_dynamodb_results_fast  # noqa: E402

moto_dynamodb_results_fast()


# `make test` runs on every core with pytest-xdist (--dist loadgroup): every test of a module goes to the
# same worker, so a module-scoped local stack (moto, the emulator, a local API) is built once, on one worker.
# The infra modules share one group: their session-scoped synthesis (tests/infra/conftest.py) then happens once.
# The groups are made by the scheduler below, not by `xdist_group` marks: xdist 3.8 names a marked test's group by
# rewriting `item._nodeid`, which pytest 9 no longer reads (a node's id is `_id`), so every mark was ignored and
# each test went to any worker (a module's stack built on both, modules interleaved on one worker).
# Groups are handed out in collection order, longest first: xdist's default order (most tests first) put the
# one-test modules that run a whole local stack for minutes (the API fuzz, the hostile and events e2e, the demo)
# last, so one worker ran them alone at the end while the other idled. Without -n none of this applies.

#: the tiers in the order their groups go to the workers: the longest single groups first, the many short unit
#: modules last (they fill the gaps)
TIER_ORDER = ("tests/e2e/", "tests/workflow/", "tests/infra/", "tests/integration/", "tests/contract/", "tests/unit/")


def worker_group(nodeid: str) -> str:
    """The worker group of a test: its module, or ``infra`` for every infra module (one synthesis)."""
    module = nodeid.split("::", 1)[0]
    return "infra" if module.startswith("tests/infra/") else module


def from_the_back(index: int, workers: int) -> bool:
    """Whether worker ``index`` of ``workers`` takes its groups from the back of the queue (the unit, contract and
    integration modules: they keep a core busy) instead of the front (the e2e and workflow stacks, which mostly
    wait on Step Functions' Wait states, the emulator's clock and child processes). In the front-only order every
    worker ran a waiting stack for the first three minutes (the two cores 130-175% busy), then the CPU-bound tiers
    together at the end; with one worker from the back, the waits of the other two overlap its work. The queue
    still ends where both ends meet; fewer than three workers keep xdist's order."""
    return workers >= 3 and index == workers - 1


def _tier_rank(item: pytest.Item) -> int:
    return next((i for i, tier in enumerate(TIER_ORDER) if item.nodeid.startswith(tier)), len(TIER_ORDER))


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "loadscopereorder", None) is not None:
        config.option.loadscopereorder = False  # keep the collection order (--no-loadscope-reorder)


@pytest.hookimpl(tryfirst=True)  # before xdist's own (trylast), which starts the workers
def pytest_sessionstart(session: pytest.Session) -> None:
    """In the xdist controller: the test modules' rewritten bytecode written once, on every core, before the workers
    start (each would rewrite every module itself on a fresh clone: tests/support/prewarm.py)."""
    config = session.config
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("dsession"):
        return  # a worker, or no -n
    if config.getini("enable_assertion_pass_hook") or config.getoption("assertmode") != "rewrite":
        return  # prewarm writes pytest's default rewrite only
    from tests.support.prewarm import default_jobs, prewarm

    paths = [Path(config.invocation_params.dir, arg.split("::", 1)[0]) for arg in config.args]
    prewarm(config.rootpath, config.getini("python_files"), default_jobs(), under=paths)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None  # another --dist: xdist's own scheduler
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroups(LoadScopeScheduling):
        """xdist's scope scheduling (a group at a time to a worker), with our groups as the scopes; with three
        workers or more, the last takes its groups from the other end of the queue (``from_the_back``)."""

        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if from_the_back(self.nodes.index(node), len(self.nodes)):  # xdist's own assignment, of the last group
                self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)
            super()._assign_work_unit(node)

    return ModuleGroups(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: its collection order is the order groups are handed out
        # in each tier, the groups with a slow test first: in the integration tier they are the ones that run a
        # local stack or a child process and mostly wait, and the front workers reach them while the back worker
        # (``from_the_back``) still has CPU-bound groups to run beside them
        slow = {worker_group(item.nodeid) for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: (_tier_rank(item), worker_group(item.nodeid) not in slow))  # stable
