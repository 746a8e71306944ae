"""``make bench``: run every ``bench/bench_*.py`` (or those named on the command line) in its own process.

Each benchmark prints its own figures, each with its named peer and the ratio, and ends with ``SUMMARY``
line(s); those are repeated together at the end so the whole run reads on one screen. One benchmark named
with flags after it gets them (``python -m bench scale --recordings 10000 --json``). A benchmark that
fails makes the whole run fail; figures are never asserted against wall-clock thresholds.
``QUICK=1 make bench`` (or ``QUICK=1 python -m bench``) asks every benchmark for its short mode: fewer runs
and shorter load tests, for a quick look; the full mode is the one whose figures count.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    flags: list[str] = []
    if len(argv) > 1 and argv[1].startswith("-"):  # ``python -m bench scale --recordings 10000``: one bench, its flags
        argv, flags = argv[:1], argv[1:]
    if argv:
        wanted = {a if a.startswith("bench_") else f"bench_{a}" for a in argv}
        unknown = wanted - set(names)
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(names)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    quick = os.environ.get("QUICK") == "1"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench: python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.1f} at start, "
        f"{'QUICK mode' if quick else 'full mode'}",
        flush=True,
    )
    failed = []
    summaries: list[str] = []
    run_started = time.perf_counter()
    for name in names:
        print(f"\n=== {name} " + "=" * max(0, 60 - len(name)), flush=True)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", *flags],
            cwd=HERE.parent,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert proc.stdout is not None
        for line in proc.stdout:  # tee: show it live, keep the summary lines
            print(line, end="", flush=True)
            if line.startswith("SUMMARY"):
                summaries.append(line.rstrip())
        rc = proc.wait()
        print(f"--- {name}: exit {rc} in {time.perf_counter() - started:.1f}s", flush=True)
        if rc != 0:
            failed.append(name)
    print(f"\n=== summary ({time.perf_counter() - run_started:.0f}s in all) " + "=" * 30)
    for line in summaries:
        print(line.removeprefix("SUMMARY "))
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
