"""Unit tests run with the network switched off (anything that opens a socket fails) and, unless marked
``slow``, without child processes: starting an interpreter costs a second, and `make unit` has 20 s for all."""

from __future__ import annotations

import sys

import pytest
from pytest_socket import disable_socket, enable_socket

_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.exec", "os.system"}
)
_running: list[str] = []  # the id of the test running with child processes forbidden


def _refuse_processes(event: str, args: tuple[object, ...]) -> None:
    if _running and event in _PROCESS_EVENTS:
        raise RuntimeError(f"{_running[0]} starts a child process ({event}): a unit test that must, is marked slow")


sys.addaudithook(_refuse_processes)  # an audit hook cannot be removed: it acts only while a test is listed


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(autouse=True)
def _no_child_processes(request: pytest.FixtureRequest):
    if request.node.get_closest_marker("slow"):
        yield
        return
    _running.append(request.node.nodeid)
    try:
        yield
    finally:
        _running.clear()
