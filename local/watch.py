"""Tells the developer when the running local stack no longer matches ``infra/`` (or ``app.py``, ``cdk.json``).

Edits under ``functions/`` are reloaded by the in-process runtime on the next request (``Dispatcher(reload=True)``);
an edit to the infrastructure changes the template, which the running stack was provisioned from, so this watcher
says once per change that a restart is needed (the next start re-synthesizes it: the template cache's key changed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from local.synth import ROOT

#: what the template is made of, as far as a developer edits it while the stack runs
WATCHED = ("infra", "app.py", "cdk.json")


def snapshot(root: Path = ROOT) -> dict[str, tuple[int, int]]:
    """Relative path -> (mtime_ns, size) of the watched files."""
    found: dict[str, tuple[int, int]] = {}
    for name in WATCHED:
        path = root / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
        for file in files:
            if "__pycache__" in file.parts:
                continue
            try:
                st = file.stat()
            except OSError:
                continue
            found[str(file.relative_to(root))] = (st.st_mtime_ns, st.st_size)
    return found


def changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


class InfraWatcher:
    """Polls the watched files every ``interval`` seconds; calls ``notify`` with one line when they changed."""

    def __init__(self, notify: Callable[[str], None], *, root: Path = ROOT, interval: float = 2.0):
        self.notify, self.root, self.interval = notify, root, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = snapshot(root)

    def check(self) -> list[str]:
        """The files changed since the last check (and say so when there are any)."""
        now = snapshot(self.root)
        changed = changed_files(self._seen, now)
        self._seen = now
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            self.notify(
                f"! {shown} changed: the running stack still has the template it started with; restart "
                f"(Ctrl-C, then make run) to re-synthesize and provision it (edits under functions{os.sep} "
                "reload by themselves)"
            )
        return changed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-infra-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
