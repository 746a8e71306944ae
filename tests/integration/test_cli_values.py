"""Command lines refuse bad values with one line and exit 2, never a traceback (issue 21, item 10):
``python -m agorakit emulator`` and ``python -m local.run``, including an emulator option that does not exist
(which used to start a stack whose emulator was "NOT RUNNING").

Each case runs the real command in a child process: with the fix it stops at argument parsing, before any port
is bound or any stack is synthesized; the timeout is only a guard against a command that would start instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env_path = f"{ROOT / 'functions'}:{ROOT}"
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def _one_line_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "99999"], ["--port", "99999", "0..65535"]),
        (["--port", "-1"], ["--port", "0..65535"]),
        (["--port", "http"], ["--port", "whole number"]),
        (["--qps", "-3"], ["--qps", "must not be negative"]),
        (["--max-tasks", "99999999999999999999"], ["--max-tasks", "0..1000000"]),
        (["--timeout-ms", "1" + "0" * 30], ["--timeout-ms", "0..86400000"]),
        (["--slow-ms", "-5"], ["--slow-ms"]),
        (["--webhook-delay-ms", "2.5"], ["--webhook-delay-ms", "whole number"]),
        (["--time-scale", "inf"], ["--time-scale", "finite"]),
        (["--segment-seconds", "nan"], ["--segment-seconds", "finite"]),
        (["--resource-ttl", "0"], ["--resource-ttl", "positive"]),
        (["--fault-429", "2"], ["--fault-429", "[0, 1]"]),
        (["--retry-after", "-1"], ["--retry-after"]),
    ],
)
def test_the_emulator_command_refuses_a_bad_value_in_one_line(args: list[str], words: list[str]) -> None:
    _one_line_refusal(_run("-m", "agorakit", "emulator", *args), *words)


@pytest.mark.parametrize(
    ("timeout", "words"),
    [("-1", ["--timeout", "more than 0"]), ("nan", ["--timeout"]), ("inf", ["--timeout"]), ("x", ["not a number"])],
)
def test_the_console_command_refuses_a_bad_timeout_in_one_line(timeout: str, words: list[str]) -> None:
    _one_line_refusal(_run("-m", "agorakit", "console", "--timeout", timeout, "projects"), *words)


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("fault_429=abc", ["fault_429", "must be a number", "'abc'"]),
        ("fault_429=1.5", ["fault_429", "[0, 1]"]),
        ("nosuch=1", ["unknown emulator option 'nosuch'"]),
        ("timeout_ms=-1", ["timeout_ms", "0..86400000"]),
        ("segment_seconds=0", ["segment_seconds", "positive"]),
        ("webhook_lose_types=11", ["webhook_lose_types", "list of NCS event types"]),
        ("seed=true", ["seed", "integer"]),
        ("novalue", ["NAME=VALUE"]),
    ],
)
def test_the_local_stack_refuses_a_bad_emulator_option_before_starting(option: str, words: list[str]) -> None:
    _one_line_refusal(_run("-m", "local.run", "--emulator-option", option), "--emulator-option", *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "99999"], ["--port 99999"]),
        (["--moto-port", "-1"], ["--moto-port -1"]),
        (["--web-port", "70000"], ["--web-port 70000"]),
        (["--emulator-port", "x"], ["--emulator-port"]),
    ],
)
def test_the_local_stack_refuses_a_bad_port_in_one_line(args: list[str], words: list[str]) -> None:
    _one_line_refusal(_run("-m", "local.run", *args), *words)


def test_every_emulator_option_has_a_rule() -> None:
    """The rules table and ``Emulator``'s keyword options are the same set: a new option needs its rule."""
    import inspect

    from emulator import Emulator
    from emulator.options import OPTION_RULES

    keywords = {name for name, p in inspect.signature(Emulator.__init__).parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert keywords == set(OPTION_RULES)
