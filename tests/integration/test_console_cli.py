"""``python -m agorakit console`` against the Console emulator on a loopback HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from agorakit.cli import main

from emulator.console import DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, ConsoleEmulator
from tests.support.console import ConsoleServer

APP_ID = "0123456789abcdef0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(monkeypatch):
    emu = ConsoleEmulator(qps=10, seed=1)
    srv = ConsoleServer(emu).start()
    monkeypatch.setenv("AGORA_CUSTOMER_ID", DEFAULT_CUSTOMER_ID)
    monkeypatch.setenv("AGORA_CUSTOMER_SECRET", DEFAULT_CUSTOMER_SECRET)
    monkeypatch.setenv("AGORA_REST_BASE_URLS", srv.url)
    yield srv
    srv.stop()


def run(capsys, *argv: str) -> tuple[int, object]:
    code = main(["console", *argv])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else None)


def test_every_action_masks_the_certificate_unless_revealed(server, capsys):
    emu = server.emulator
    secret = emu.add_project("prod", project_id="p1", vendor_key=APP_ID)["sign_key"]
    code, projects = run(capsys, "projects")
    assert code == 0 and [p["project_id"] for p in projects] == ["p1"]
    code, project = run(capsys, "project", APP_ID)
    assert project["certificate"]["sign_key"] == "********"
    code, created = run(capsys, "create", "demo", "--no-certificate")
    assert created["certificate"]["enabled"] is False
    assert run(capsys, "disable", "p1")[1]["enabled"] is False
    assert run(capsys, "enable", APP_ID)[1]["enabled"] is True
    assert run(capsys, "recording-config", "p1", "10.0.0.1:8080")[1]["recording_server"] == "10.0.0.1:8080"
    assert run(capsys, "signkey", "p1", "off")[1]["certificate"]["enabled"] is False
    assert run(capsys, "signkey", "p1", "on")[1]["certificate"]["enabled"] is True
    code, _ = run(capsys, "reset-signkey", "p1")
    assert code == 1 and emu.project("p1")["sign_key"] == secret  # refused without --yes
    code, reset = run(capsys, "reset-signkey", "p1", "--yes")
    assert code == 0 and "no longer verify" in reset["warning"]
    assert reset["certificate"]["sign_key"] == "********"
    assert emu.project("p1")["sign_key"] != secret
    code, revealed = run(capsys, "reset-signkey", "p1", "--yes", "--reveal-certificate")
    assert revealed["certificate"]["sign_key"] == emu.project("p1")["sign_key"]
    code, usage = run(capsys, "usage", APP_ID, "--from", "2026-01-01", "--to", "2026-01-03")
    assert usage["project_id"] == "p1" and len(usage["days"]) == 3


def test_errors_are_one_line_and_exit_1(server, capsys, monkeypatch):
    assert main(["console", "project", "nope"]) == 1
    assert "no project" in capsys.readouterr().err
    monkeypatch.setenv("AGORA_CUSTOMER_SECRET", "wrong")
    assert main(["console", "projects"]) == 1
    assert "http=401" in capsys.readouterr().err
    monkeypatch.delenv("AGORA_CUSTOMER_ID")
    assert main(["console", "projects"]) == 1
    assert "AGORA_CUSTOMER_ID" in capsys.readouterr().err


def test_python_m_agorakit_console_help():
    done = subprocess.run(
        [sys.executable, "-m", "agorakit", "console", "--help"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0 and "reset-signkey" in done.stdout


def test_the_shared_limiter_keeps_a_burst_under_agoras_10_qps(server):
    """25 calls at once through the 10-QPS bucket: the hostile emulator (10 per API per second) never says 429."""
    from concurrent.futures import ThreadPoolExecutor

    from agorakit.agora.console import ConsoleClient
    from agorakit.agora.ratelimit import LocalTokenBucket, bucket_for_qps

    emu = server.emulator
    emu.add_project("prod", project_id="p1")
    rate, burst = bucket_for_qps(10)
    with (
        ConsoleClient(
            customer_id=DEFAULT_CUSTOMER_ID,
            customer_secret=DEFAULT_CUSTOMER_SECRET,
            base_urls=[server.url],
            rate_limiter=LocalTokenBucket(rate, burst),
            max_attempts=1,
        ) as console,
        ThreadPoolExecutor(8) as pool,
    ):
        results = list(pool.map(lambda _: len(console.list_projects()), range(25)))
    assert results == [1] * 25
    assert emu.statuses[429] == 0 and emu.calls["list_projects"] == 25


def test_without_the_limiter_the_emulator_answers_429(server):
    from concurrent.futures import ThreadPoolExecutor

    from agorakit.agora.console import ConsoleClient
    from agorakit.agora.errors import AgoraRateLimitedError

    with (
        ConsoleClient(
            customer_id=DEFAULT_CUSTOMER_ID,
            customer_secret=DEFAULT_CUSTOMER_SECRET,
            base_urls=[server.url],
            max_attempts=1,
        ) as console,
        ThreadPoolExecutor(8) as pool,
    ):

        def one(_: int) -> str:
            try:
                console.list_projects()
            except AgoraRateLimitedError:
                return "429"
            return "ok"

        outcomes = list(pool.map(one, range(40)))
    assert outcomes.count("429") == server.emulator.statuses[429] > 0
