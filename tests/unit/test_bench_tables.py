"""The benches name handler modules in one table each; these keep the tables in step with the deployed functions."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

from bench.bench_cold_start import HANDLERS, OUR_CLIENT

ROOT = Path(__file__).resolve().parents[2]


def deployed_handlers() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "infra" / "constructs").glob("*.py"):
        found.update(re.findall(r'handler="([\w.]+)"', path.read_text()))
    return found


def test_cold_start_table_is_every_deployed_handler():
    assert {h for h, _, _ in HANDLERS.values()} == deployed_handlers()


def test_cold_start_table_names_importable_modules():
    for handler, kind, _ in HANDLERS.values():
        assert kind in ("api", "plain")
        module = handler.rsplit(".", 1)[0]
        assert importlib.util.find_spec(module) is not None, module
    module, function = OUR_CLIENT.split(":")
    assert callable(getattr(importlib.import_module(module), function))
