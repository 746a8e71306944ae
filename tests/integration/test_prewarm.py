"""``tests/support/prewarm.py`` writes the pyc pytest itself would write: pytest then imports the test module from it
(no second rewrite) with its asserts rewritten, and rewrites it again once the source changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import PYC_TAIL, get_cache_dir

from tests.support.prewarm import plan, prewarm, rewrite, rewritten_by_pytest

SAMPLE = "def test_sample():\n    left = [1, 2]\n    assert left == [1, 3]\n"


def _pyc(path: Path) -> Path:
    return get_cache_dir(path) / (path.name[:-3] + PYC_TAIL)


def _pytest(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_pytest_imports_the_prewarmed_pyc_with_its_asserts_rewritten(tmp_path: Path) -> None:
    test_file = tmp_path / "test_sample.py"
    test_file.write_text(SAMPLE)
    assert rewrite([test_file]) == 1
    pyc = _pyc(test_file)
    before = pyc.stat()
    assert rewrite([test_file]) == 0  # current: not written again

    result = _pytest(test_file)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "assert [1, 2] == [1, 3]" in result.stdout, result.stdout  # pytest's introspection: the asserts rewritten
    after = pyc.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "pytest rewrote it again"


def test_a_changed_source_is_rewritten_again_and_pytest_agrees(tmp_path: Path) -> None:
    test_file = tmp_path / "test_sample.py"
    test_file.write_text(SAMPLE)
    rewrite([test_file])
    test_file.write_text(SAMPLE.replace("[1, 3]", "[1, 2]"))
    assert rewrite([test_file]) == 1
    before = _pyc(test_file).stat()
    result = _pytest(test_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _pyc(test_file).stat().st_ino == before.st_ino


def test_the_plan_rewrites_what_pytest_rewrites_and_compiles_the_rest() -> None:
    root = Path(__file__).resolve().parents[2]
    rewritten, plain = plan(root, ["test_*.py", "*_test.py"])
    names = {p.relative_to(root).as_posix() for p in rewritten}
    assert "tests/conftest.py" in names and "tests/integration/test_prewarm.py" in names
    assert "tests/support/prewarm.py" not in names and "tests/e2e/hostile_cases.py" not in names
    plain_names = {p.relative_to(root).as_posix() for p in plain}
    assert {"tests/support/prewarm.py", "local/run.py", "functions/agorakit/__init__.py"} <= plain_names
    assert not names & plain_names
    unit, _ = plan(root, ["test_*.py"], under=[root / "tests" / "unit"])  # make unit's session
    assert {p.relative_to(root).parts[1] for p in unit if p.name != "conftest.py"} == {"unit"}
    assert root / "tests" / "conftest.py" in unit
    assert rewritten_by_pytest(Path("x/conftest.py"), [])
    assert not rewritten_by_pytest(Path("x/helper.py"), ["test_*.py"])


def test_nothing_is_written_when_bytecode_is_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_off.py").write_text(SAMPLE)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert prewarm(tmp_path, ["test_*.py"], jobs=2) == (0, 0)
    assert not _pyc(tests / "test_off.py").exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert prewarm(tmp_path, ["test_*.py"], jobs=2) == (1, 1)  # on two processes
    assert _pyc(tests / "test_off.py").exists()
