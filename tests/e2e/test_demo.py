"""``make demo KEEP=1`` as a test: the scripted scenario on a fresh local stack must pass every step, say what it
is doing before step 1, and then leave the stack up with the banner until Ctrl-C.

It runs in its own interpreter (the stack hosts every handler in-process with the stack's environment,
which must not leak into, or be polluted by, the other tests' imports).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.child import warm_template

ROOT = Path(__file__).resolve().parents[2]
KEPT = "demo: the stack stays up (--keep)"


@pytest.mark.slow
def test_demo_scenario_passes_every_step_and_keep_leaves_the_stack_up(tmp_path: Path) -> None:
    warm_template(web_port=0)  # --keep: the web example's origins
    log = tmp_path / "demo.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.demo", "--keep"], cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while KEPT not in log.read_text():
            if proc.poll() is not None:  # the scenario failed: no stack is kept
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        output = log.read_text()
        lines = [line for line in output.splitlines() if line.strip()]
        summary = next((line for line in lines if line.startswith(("demo: PASSED", "demo: FAIL"))), "")
        assert summary.startswith("demo: PASSED"), "\n".join(lines[-40:])
        before_first_step = output.split("[1/10]", 1)[0]
        assert "demo: template:" in before_first_step and "demo: provisioned in moto:" in before_first_step
        api = re.search(r"stack up in [\d.]+s at (http://127\.0\.0\.1:\d+)", output)
        assert api is not None, output[-3000:]
        with urllib.request.urlopen(f"{api.group(1)}/health", timeout=30) as resp:
            assert resp.status == 200  # kept up after the scenario
        assert "Copy and paste, top to bottom" in output  # make run's banner
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    assert code == 0 and output.rstrip().endswith("stopped."), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
