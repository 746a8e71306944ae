"""docs/openapi.json must be what the handlers generate: a stale file fails here (run `make openapi`).

Generation imports every API handler with the stack's environment, so it runs in its own interpreter
(``python -m local.openapi --check``) and never leaves handler modules imported in the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_docs_openapi_json_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.openapi", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        "docs/openapi.json is stale (or cannot be generated): run `make openapi`\n" + result.stderr[-3000:]
    )


def test_committed_document_is_well_formed() -> None:
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert doc["openapi"].startswith("3.")
    assert doc["paths"], "no paths: run `make openapi`"
    assert "jwt" in doc["components"]["securitySchemes"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "security" in operation, f"{method.upper()} {path} has no security declaration"
