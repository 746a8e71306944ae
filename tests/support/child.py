"""A cases file run by a child pytest: a whole in-process local stack sets environment variables, imports every
handler with its settings and caches AWS clients, which later test modules in the parent must not inherit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def warm_template(**runtime: Any) -> None:
    """Put the template of a ``LocalRuntime(**runtime)`` (a child's stack: its ``context``, its ``web_port``) in
    ``.cache/local-stack`` from this process.

    On a miss the child's ``LocalRuntime`` synthesizes in a process of its own (``python -m local.synth``: a
    Python and a jsii boot for one template, 50 s wall on a 2-core machine at load 8), and two children that
    need the same template at once both do. Here it is ``synth_template``: this worker's jsii (booted once, the
    workflow and infra modules it runs next use it too: another template then took 9 s), under the cache's file
    lock (the other worker waits for this file instead of synthesizing it again). A hit costs a hash."""
    if os.environ.get("AGORA_TEMPLATE_CACHE", "").lower() in ("off", "0", "no"):
        return  # no cache for the child to read: it synthesizes, as it would have
    from local.run import LocalRuntime
    from local.synth import synth_template

    synth_template(LocalRuntime(**runtime).template_context())


def run_cases(
    cases: Path | Sequence[Path], timeout: float, stacks: Iterable[dict[str, Any]] = (), args: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``pytest -q [args] cases...`` in a child process from the repository root, its output captured; the
    templates of the stacks it starts (``stacks``: the keyword arguments of their ``LocalRuntime``, those that
    change the template: ``context``, ``web_port``) synthesized first, here.

    The child loads no installed plugin but xdist's (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``; ``tests/conftest.py``
    implements an xdist hook, which pytest refuses without it): a cases file is plain tests on a local stack,
    and hypothesis' and schemathesis' plugins cost each child 3 s of CPU before its first test (a child that
    runs no test: 3.7 s user, 7 s wall at load 6; 0.9 s user, 1.5 s wall without them)."""
    for stack in stacks:
        warm_template(**stack)
    files = [cases] if isinstance(cases, Path) else list(cases)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "xdist.plugin", *args,
         *map(str, files)],
        cwd=ROOT, env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
