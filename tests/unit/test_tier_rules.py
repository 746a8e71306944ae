"""The unit tier's own rules (tests/unit/conftest.py): no child process unless the test is marked ``slow``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_a_unit_test_cannot_start_a_child_process() -> None:
    with pytest.raises(RuntimeError, match=r"test_a_unit_test_cannot_start_a_child_process starts a child process"):
        subprocess.run([sys.executable, "-c", ""], check=False)
    with pytest.raises(RuntimeError, match=r"\(os\.system\)"):
        os.system("true")  # noqa: S605


@pytest.mark.slow
def test_a_slow_unit_test_may() -> None:
    assert (
        subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True, check=True).stdout
        == "ok\n"
    )
