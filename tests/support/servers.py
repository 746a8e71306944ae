"""The thread that serves a test's HTTP server (a fake of AWS, Agora's Console, an app's webhook sink)."""

from __future__ import annotations

import socketserver
import threading

#: how often ``serve_forever`` looks for ``shutdown()``: socketserver's default (0.5 s) is what every ``shutdown``
#: then waits, and each of ``test_awsfast_botocore``'s 30 tests paid it (15.2 s of wall time for 1.0 s of CPU)
SHUTDOWN_POLL = 0.05


def serving(server: socketserver.BaseServer) -> threading.Thread:
    """A daemon thread, not started yet, running ``server.serve_forever`` with a short shutdown poll."""
    return threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True)
