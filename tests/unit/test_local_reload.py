"""Reload on change: an edit of a function's source is served on the next invocation, without a restart.

The functions here are written to a temporary directory (never the repository's ``functions/``), with a handler
module that imports a helper module of its own package, as the real handlers import ``service``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.resources import FunctionSpec, LocalStack
from local.runtime import Dispatcher
from local.watch import InfraWatcher, changed_files, snapshot


def _stack(package: str) -> LocalStack:
    stack = LocalStack(stack_name="test", region="us-east-1", account="123456789012", template={})
    stack.functions["Probe"] = FunctionSpec(name="probe", handler=f"{package}.handler.handle", environment={})
    return stack


@pytest.fixture
def package(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    name = f"reload_probe_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "functions"
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (root / name / "helper.py").write_text("GREETING = 'hello'\n")
    (root / name / "handler.py").write_text(
        f"from {name}.helper import GREETING\n\nCOUNT = [0]\n\n\n"
        "def handle(event, context):\n    COUNT[0] += 1\n    return {'greeting': GREETING, 'count': COUNT[0]}\n"
    )
    sys.path.insert(0, str(root))
    try:
        yield name, root / name
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


def _edit(path: Path, text: str) -> None:
    """Write new content with a different size (the check compares size and modification time)."""
    path.write_text(text)


def test_an_edit_of_an_imported_module_is_served_on_the_next_invocation(package: tuple[str, Path]) -> None:
    name, folder = package
    dispatcher = Dispatcher(_stack(name), reload=True)
    try:
        assert dispatcher.invoke("probe", {}) == {"greeting": "hello", "count": 1}
        assert dispatcher.invoke("probe", {}) == {"greeting": "hello", "count": 2}  # warm: same module
        _edit(folder / "helper.py", "GREETING = 'hello again, edited'\n")
        assert dispatcher.invoke("probe", {}) == {"greeting": "hello again, edited", "count": 1}  # re-imported
        assert [Path(p).name for p in dispatcher.reloads[-1]] == ["helper.py"]
        assert dispatcher.invoke("probe", {}) == {"greeting": "hello again, edited", "count": 2}  # no second reload
        assert len(dispatcher.reloads) == 1
    finally:
        dispatcher.shutdown()


def test_without_reload_the_first_import_stays(package: tuple[str, Path]) -> None:
    name, folder = package
    dispatcher = Dispatcher(_stack(name))
    try:
        assert dispatcher.invoke("probe", {})["greeting"] == "hello"
        _edit(folder / "helper.py", "GREETING = 'edited but not reloaded'\n")
        assert dispatcher.invoke("probe", {}) == {"greeting": "hello", "count": 2}
        assert dispatcher.reloads == []
    finally:
        dispatcher.shutdown()


def test_a_new_file_in_the_package_counts_as_a_change(package: tuple[str, Path]) -> None:
    name, folder = package
    dispatcher = Dispatcher(_stack(name), reload=True)
    try:
        dispatcher.invoke("probe", {})
        (folder / "extra.py").write_text("X = 1\n")
        assert dispatcher.invoke("probe", {})["count"] == 1
        assert [Path(p).name for p in dispatcher.reloads[-1]] == ["extra.py"]
    finally:
        dispatcher.shutdown()


def test_the_infra_watcher_sees_an_edit_under_infra(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.py").write_text("A = 1\n")
    (tmp_path / "app.py").write_text("\n")
    before = snapshot(tmp_path)
    (tmp_path / "infra" / "stack.py").write_text("A = 12\n")
    assert changed_files(before, snapshot(tmp_path)) == [str(Path("infra") / "stack.py")]
    assert changed_files(before, before) == []
    lines: list[str] = []
    watcher = InfraWatcher(lines.append, root=tmp_path)
    (tmp_path / "app.py").write_text("# edited\n")
    assert watcher.check() == ["app.py"] and watcher.check() == []
    assert len(lines) == 1 and "app.py changed" in lines[0] and "restart" in lines[0]
