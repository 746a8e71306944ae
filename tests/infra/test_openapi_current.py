"""docs/openapi.json must be what the handlers generate: a stale file fails here (run `make openapi`).

Generation imports every API handler with the stack's environment, so it runs in its own interpreter
(``python -m local.openapi --check``) and never leaves handler modules imported in the test process. It reads
which functions serve which routes from the synthesized template: this module is in the infra tier's worker
group, whose jsii is up for the other infra modules, and puts the template in the cache the child reads first
(the child would otherwise boot a jsii of its own: 12 s on a fresh clone, against 3 s here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_docs_openapi_json_is_up_to_date() -> None:
    from local.synth import synth_template

    synth_template()  # the template `python -m local.openapi` reads, from this worker's jsii into the cache
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
