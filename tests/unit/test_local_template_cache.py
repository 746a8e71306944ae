"""The template cache's key: what the synthesized template is made of changes it, nothing else does."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.synth import TEMPLATE_INPUTS, template_key


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in TEMPLATE_INPUTS:
        path = tmp_path / name
        if name == "infra":
            (path / "constructs").mkdir(parents=True)
            (path / "constructs" / "api.py").write_text("A = 1\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {name}\n")
    return tmp_path


def test_the_key_changes_with_a_file_the_context_or_a_setting(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGORA_STACK_TAGS", raising=False)
    key = template_key({"agoraAppId": "a" * 32}, root=root)
    assert template_key({"agoraAppId": "a" * 32}, root=root) == key  # stable
    assert template_key({"agoraAppId": "b" * 32}, root=root) != key  # the context
    (root / "infra" / "constructs" / "api.py").write_text("A = 2\n")
    edited = template_key({"agoraAppId": "a" * 32}, root=root)
    assert edited != key  # a file under infra/
    (root / "requirements.txt").write_text("httpx==0.28.2\n")
    pinned = template_key({"agoraAppId": "a" * 32}, root=root)
    assert pinned != edited  # a pin
    monkeypatch.setenv("AGORA_STACK_TAGS", "team=media")
    assert template_key({"agoraAppId": "a" * 32}, root=root) != pinned  # a setting read from the environment


def test_bytecode_and_unrelated_environment_do_not_change_it(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = template_key({}, root=root)
    (root / "infra" / "__pycache__").mkdir()
    (root / "infra" / "__pycache__" / "api.cpython-311.pyc").write_bytes(b"\0")
    monkeypatch.setenv("SOMETHING_ELSE", "1")
    assert template_key({}, root=root) == key


def test_a_cached_template_is_read_not_synthesized(tmp_path: Path) -> None:
    from local.synth import synth_template

    context = {"agoraAppId": "c" * 32}
    # a file only the cache can have made: were it synthesized, the stack's resources would be there
    (tmp_path / f"template-{template_key(context)}.json").write_text('{"Resources": {"FromTheCache": {}}}')
    assert synth_template(context, cache_dir=tmp_path) == {"Resources": {"FromTheCache": {}}}
    assert synth_template(context, cache_dir=tmp_path) == {"Resources": {"FromTheCache": {}}}  # and kept


def test_the_functions_code_is_an_input(root: Path) -> None:
    # the constructs import domain constants from functions/ (agorakit, service.recordings.logic)
    assert "functions" in TEMPLATE_INPUTS
    key = template_key({}, root=root)
    (root / "functions").write_text("# another constant\n")
    assert template_key({}, root=root) != key
