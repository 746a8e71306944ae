"""``local.patches.moto_json_paths_parsed_once``: moto's Step Functions paths select and place the same values, and
each path's text is parsed once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

DATA: dict[str, Any] = {
    "a": {"b": [1, 2, {"c": "x"}], "n": None}, "list": [{"id": 1}, {"id": 2}], "s": "t", "empty": [],
}  # fmt: skip
SELECTED = ("$", "$.a", "$.a.b", "$.a.b[0]", "$.a.b[2].c", "$.list[*].id", "$.list[0]", "$.empty[*]", "$.missing")
PLACED = ("$", "$.result", "$.a.placed", "$.deep.new.key")


def _selected(extract: Any, path: str) -> Any:
    try:
        return ("value", extract(path, copy.deepcopy(DATA)))
    except Exception as exc:  # the error moto raises is the outcome compared
        return ("error", type(exc).__name__, str(exc))


def _placed(path: str) -> Any:
    from moto.stepfunctions.parser.asl.component.common.path.result_path import ResultPath

    component = ResultPath(result_path_src=path)
    env = type("Env", (), {})()
    env.states = type("States", (), {})()
    env.states.get_input = lambda: copy.deepcopy(DATA)  # type: ignore[attr-defined]
    env.stack = [{"the": "result"}]
    component._eval_body(env)
    return env.stack[-1]


def test_paths_select_and_place_the_same_values_and_each_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    from local.patches import moto_json_paths_parsed_once

    # moto's own parsers (a local stack in this worker may have wrapped them already)
    monkeypatch.setattr(json_path, "parse", jsonpath_ng.ext.parse)
    monkeypatch.setattr(result_path, "parse", jsonpath_ng.parse)
    selected = [_selected(json_path.extract_json, p) for p in SELECTED]
    placed = [_placed(p) for p in PLACED]
    assert selected[1] == ("value", DATA["a"]) and selected[-1][0] == "error", selected
    assert placed[1] == {**DATA, "result": {"the": "result"}}, placed

    parsed: list[str] = []
    monkeypatch.setattr(json_path, "parse", lambda p: parsed.append(p) or jsonpath_ng.ext.parse(p))
    monkeypatch.setattr(result_path, "parse", lambda p: parsed.append(p) or jsonpath_ng.parse(p))
    moto_json_paths_parsed_once()
    moto_json_paths_parsed_once()  # idempotent: one cache, not two
    for _ in range(3):
        assert [_selected(json_path.extract_json, p) for p in SELECTED] == selected
        assert [_placed(p) for p in PLACED] == placed
    assert sorted(parsed) == sorted([*SELECTED, *PLACED])  # each text once, however many times it is used
