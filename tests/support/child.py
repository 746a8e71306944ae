"""A cases file run by a child pytest: a whole in-process local stack sets environment variables, imports every
handler with its settings and caches AWS clients, which later test modules in the parent must not inherit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cases(cases: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``pytest -q cases`` in a child process from the repository root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(cases)],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
