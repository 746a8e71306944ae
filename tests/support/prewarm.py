"""The test modules' assertion-rewritten bytecode, and the sources' bytecode, written once before the xdist workers
start, on every core (``tests/conftest.py`` calls ``prewarm`` in the controller).

Why: on a fresh clone every worker starts at once, finds no cached bytecode, and rewrites every test module's
asserts itself (pytest writes the result to ``__pycache__`` only after the rewrite, so the workers cannot share
it): 6.6 s of CPU for our 222 test files, paid by each of ``make test``'s three workers on two cores while no test
runs yet. Written here once, split over the cores, each worker then reads it as a warm run does. A warm tree costs
a hash per file.

It writes what pytest itself would write, with pytest's own functions (``_read_pyc``, ``_rewrite_test``,
``_write_pyc``: private, so pinned by requirements-dev.txt and checked by ``tests/integration/test_prewarm.py``
against the pyc pytest reads); if they are gone (another pytest), nothing is prewarmed and each worker rewrites as
before.
"""

from __future__ import annotations

import compileall
import fnmatch
import multiprocessing
import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

#: the packages whose plain bytecode (not rewritten) is compiled too: the workers and their children import them
SOURCE_DIRS = ("functions", "local", "emulator", "infra", "tests")


def rewritten_by_pytest(path: Path, python_files: Sequence[str]) -> bool:
    """Whether pytest rewrites ``path``'s asserts when it imports it as a test module or a conftest."""
    return path.name == "conftest.py" or any(fnmatch.fnmatch(path.name, pattern) for pattern in python_files)


def plan(root: Path, python_files: Sequence[str], under: Sequence[Path] = ()) -> tuple[list[Path], list[Path]]:
    """(the test files pytest rewrites, every other source file) under ``root``'s ``SOURCE_DIRS``, sorted; the
    test files only those in or under ``under`` (the session's paths; empty: every one)."""
    wanted = [p.resolve() for p in under]
    rewritten, plain = [], []
    for top in SOURCE_DIRS:
        for path in sorted((root / top).rglob("*.py")):
            if any(part.startswith(".") or part == "node_modules" for part in path.relative_to(root).parts):
                continue
            if top == "tests" and rewritten_by_pytest(path, python_files):
                if not wanted or any(path.resolve().is_relative_to(w) for w in wanted) or path.name == "conftest.py":
                    rewritten.append(path)
            else:
                plain.append(path)
    return rewritten, plain


def rewrite(paths: Iterable[Path]) -> int:
    """Write pytest's rewritten pyc of each of ``paths`` whose cached one is missing or stale; how many it wrote."""
    from _pytest.assertion.rewrite import PYC_TAIL, _read_pyc, _rewrite_test, _write_pyc, get_cache_dir

    quiet = SimpleNamespace(trace=lambda _message: None)  # what _write_pyc traces its failures to (ignored, as pytest)
    written = 0
    for path in paths:
        cache_dir = get_cache_dir(path)
        pyc = cache_dir / (path.name[:-3] + PYC_TAIL)
        if _read_pyc(path, pyc) is not None:  # pytest's own check: current, nothing to do
            continue
        source_hash, code = _rewrite_test(path, None)  # type: ignore[arg-type] - the config only names an ini flag
        cache_dir.mkdir(parents=True, exist_ok=True)
        written += _write_pyc(quiet, code, source_hash, pyc)  # type: ignore[arg-type] - it only traces
    return written


def compile_plain(paths: Iterable[Path]) -> int:
    """Python's own pyc of each of ``paths`` (``compileall``: skipped when current); how many are current now."""
    return sum(bool(compileall.compile_file(str(path), quiet=2)) for path in paths)


def prewarm(root: Path, python_files: Sequence[str], jobs: int, under: Sequence[Path] = ()) -> tuple[int, int]:
    """Rewrite (those under ``under``: ``plan``) and compile ``root``'s files on ``jobs`` processes; (test files
    considered, files rewritten).
    Nothing when bytecode is not written (``PYTHONDONTWRITEBYTECODE``) or pytest lacks the functions used. The
    caller skips it when ``enable_assertion_pass_hook`` is set: the rewrite here is pytest's without a config."""
    if sys.dont_write_bytecode or not _pytest_has_them():
        return 0, 0
    rewritten, plain = plan(root, python_files, under)
    if jobs <= 1:
        compile_plain(plain)
        return len(rewritten), rewrite(rewritten)
    shares = [rewritten[i::jobs] for i in range(jobs)]
    plain_shares = [plain[i::jobs] for i in range(jobs)]
    # spawned, not forked: the caller may have threads (a forked child of a threaded process can deadlock, and
    # Python 3.12+ warns); each child imports pytest's rewrite module again, a fraction of a second
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        counts = list(pool.map(rewrite, shares))
        list(pool.map(compile_plain, plain_shares))
    return len(rewritten), sum(counts)


def _pytest_has_them() -> bool:
    try:
        from _pytest.assertion import rewrite as pytest_rewrite
    except ImportError:
        return False
    used = ("PYC_TAIL", "_read_pyc", "_rewrite_test", "_write_pyc", "get_cache_dir")
    return all(hasattr(pytest_rewrite, name) for name in used)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
