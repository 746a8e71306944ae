"""A 30-day Agora playlist: our streaming exact parser against the ``m3u8`` PyPI library, whole process.

Each side runs in a fresh ``python -c`` process that prints the segment count and the summed duration:
ours streams the file in 256 KiB chunks (``parse_playlist_file``); the peer does what its users do,
``m3u8.load(path)`` and ``sum(s.duration for s in playlist.segments)``. Wall time is measured around the
whole process (interpreter start, imports, reading, parsing); peak RSS and CPU time are the child's own
``ru_maxrss``/``ru_utime + ru_stime`` from ``os.wait4`` (the per-child form of
``getrusage(RUSAGE_CHILDREN)``). Bytecode is cached in a temp dir for both sides (one unmeasured warm-up
each), as it is for any installed package. The two sides alternate run by run, so machine load hits
both alike; medians of RUNS, with the CPU-time ratio printed too (it is the least load-sensitive).

The playlists are generated, deterministically (seeded): Agora mix-mode slice names
(``<sid>_<cname>_<utc17>.ts``) and durations with microsecond fractions around the slice length, for 30 days.
The headline is the realistic one: 10 s slices WITH ``#EXT-X-DISCONTINUITY`` (a stream gap about every two
hours), Agora's ``#EXT-X-AGORA-TRACK-EVENT`` after each and ``#EXT-X-AGORA-ROTATE`` now and then, and blank
lines (a writer's flushes). The tag-free 10 s playlist, the most favourable input, is kept for comparison
(3 runs: it is for information, and the peer's runs dominate ``make bench``'s time). Targets: ratio >= 15x
on the tagged playlist, our peak RSS < 20 MB. Both sums are printed; ours is exact, theirs a float that
must agree within float error (else exit 1).

Like for like: both sides start from the same file path, the same bytes on disk, and do everything
their users need to get the duration. The peer's only API takes text: ``m3u8.load`` opens the file in
text mode as UTF-8 and parses the ``str``; ours reads bytes in binary mode and checks them itself
(NUL bytes, valid UTF-8 where not ASCII), since decoding to ``str`` is work its answer does not need.
Handing the peer pre-decoded text, or ours a ``str``, would move work out of one side's measurement.
``QUICK=1`` runs 3 rounds per side and the tagged playlist only.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

QUICK = os.environ.get("QUICK") == "1"
RUNS = 3 if QUICK else 5
RATIO_TARGET = 15
RSS_TARGET = 20e6
DAYS = 30
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"

OURS = (
    "import sys\n"
    "from agorakit.m3u8.parser import parse_playlist_file\n"
    "s = parse_playlist_file(sys.argv[1])\n"
    "print(s.segments, s.duration_exact_seconds)\n"
)
PEER = (
    "import sys, m3u8\n"
    "playlist = m3u8.load(sys.argv[1])\n"
    "print(len(playlist.segments), repr(sum(s.duration for s in playlist.segments)))\n"
)


def generate(path: Path, slice_seconds: int, seed: int = 7, tagged: bool = False) -> tuple[int, Decimal, int]:
    """Write the playlist; return (segments, exact total seconds, discontinuities)."""
    rng = random.Random(seed)
    t = datetime(2024, 3, 1, tzinfo=UTC)
    end = t + timedelta(days=DAYS)
    total_us = segments = discontinuities = 0
    with path.open("w", encoding="ascii", newline="\n") as fh:
        fh.write(f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:{slice_seconds + 2}\n")
        lines = []
        while t < end:
            stamp = t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 1000:03d}"
            if tagged and segments and rng.random() < slice_seconds / 7200:  # a gap about every two hours
                t += timedelta(seconds=rng.randint(5, 300))
                stamp = t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 1000:03d}"
                lines.append("#EXT-X-DISCONTINUITY\n")
                lines.append(f"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME={stamp}\n")
                discontinuities += 1
            if tagged and rng.random() < slice_seconds / 21600:
                lines.append(f"#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=360,ROTATE=90,TIME={stamp}\n")
            if tagged and rng.random() < slice_seconds / 3600:
                lines.append("\n")
            d_us = slice_seconds * 1_000_000 + rng.randint(-400_000, 600_000)
            lines.append(f"#EXTINF:{d_us // 1_000_000}.{d_us % 1_000_000:06d},\n{SID}_room42_{stamp}.ts\n")
            t += timedelta(microseconds=d_us)
            total_us += d_us
            segments += 1
            if len(lines) >= 5000:
                fh.write("".join(lines))
                lines.clear()
        fh.write("".join(lines) + "#EXT-X-ENDLIST\n")
    return segments, Decimal(total_us).scaleb(-6), discontinuities


def run_once(code: str, path: Path, env: dict[str, str]) -> tuple[float, int, str, float]:
    """(wall seconds, peak RSS bytes, stdout, CPU seconds) of one fresh process."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark process failed ({proc.returncode}): {code!r}")
    return wall, usage.ru_maxrss * 1024, out.strip(), usage.ru_utime + usage.ru_stime


class Figures:
    def __init__(self, samples: list[tuple[float, int, str, float]]):
        self.walls = walls = [s[0] for s in samples]
        self.median, self.best = statistics.median(walls), min(walls)
        self.rss = int(statistics.median(s[1] for s in samples))
        self.cpu = statistics.median(s[3] for s in samples)
        self.output = samples[-1][2]


def measure(path: Path, env: dict[str, str], runs: int) -> tuple[Figures, Figures]:
    """Ours and the peer, alternating run by run (so both see the same machine load), after a warm-up."""
    run_once(OURS, path, env)
    run_once(PEER, path, env)
    ours, peer = [], []
    for _ in range(runs):
        ours.append(run_once(OURS, path, env))
        peer.append(run_once(PEER, path, env))
    return Figures(ours), Figures(peer)


def one_size(slice_seconds: int, workdir: Path, env: dict[str, str], tagged: bool) -> tuple[bool, float, float]:
    """Run one playlist; return (sums agree, wall ratio, our peak RSS)."""
    kind = "with discontinuities, Agora tags, blank lines" if tagged else "tag-free"
    path = workdir / f"playlist_{slice_seconds}s_{'tagged' if tagged else 'plain'}.m3u8"
    segments, exact, gaps = generate(path, slice_seconds, tagged=tagged)
    size_mb = path.stat().st_size / 1e6
    print(f"\n{DAYS}-day playlist, ~{slice_seconds} s slices, {kind}: {size_mb:.1f} MB, {segments} segments,")
    print(f"  {gaps} discontinuities, exact {exact} s")
    runs = RUNS if tagged else 3  # the tag-free playlists are for information: fewer runs keep make bench short
    print(f"  {runs} runs per side")
    ours, peer = measure(path, env, runs)
    for label, f in (("agorakit parser", ours), ("m3u8 library", peer)):
        print(
            f"  {label:16s} median {f.median * 1000:8.1f} ms  (min {f.best * 1000:8.1f} ms)  "
            f"CPU {f.cpu * 1000:8.1f} ms  peak RSS {f.rss / 1e6:6.1f} MB"
        )
    ratio = peer.median / ours.median
    pairs = sorted(p / o for o, p in zip(ours.walls, peer.walls, strict=True))  # each peer run over the ours before it
    shown = ", ".join(f"{r:.1f}" for r in pairs)
    print(f"  per-pair ratios (m3u8 / ours, wall): {shown}  (spread {pairs[0]:.1f}-{pairs[-1]:.1f}x)")
    met = "met" if ratio >= RATIO_TARGET else "NOT met"
    target = f"target >= {RATIO_TARGET}x: {met}" if tagged else "(for information)"
    print(f"  ratio (m3u8 / ours, median wall): {ratio:.1f}x   {target}")
    print(f"  ratio (min wall): {peer.best / ours.best:.1f}x   ratio (median CPU time): {peer.cpu / ours.cpu:.1f}x")
    print(
        f"  our peak RSS: {ours.rss / 1e6:.1f} MB   target < {RSS_TARGET / 1e6:.0f} MB: "
        f"{'met' if ours.rss < RSS_TARGET else 'NOT met'}"
    )
    our_n, our_sum = ours.output.split()
    peer_n, peer_sum = peer.output.split()
    float_error = abs(Decimal(peer_sum) - exact)
    bound = Decimal(segments) * Decimal(2) ** -52 * exact  # a generous bound for a naive float sum
    agree = int(our_n) == int(peer_n) == segments and Decimal(our_sum) == exact and float_error <= bound
    print(f"  sums: ours {our_sum} (exact: {Decimal(our_sum) == exact}), m3u8 {peer_sum}", end="")
    print(f" (float error {float_error:.3g} s)")
    print(f"  both agree (same segments, float within error): {agree}")
    return agree, ratio, ours.rss


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench_m3u8_") as tmp:
        workdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        print(f"python {sys.version.split()[0]}, runs alternate ours/peer (+1 warm-up each), whole-process wall time")
        cases = [(10, True)] if QUICK else [(10, True), (10, False)]
        results = [one_size(seconds, workdir, env, tagged) for seconds, tagged in cases]
    ok, ratio, rss = results[0]
    print(
        f"\nSUMMARY m3u8 30-day tagged playlist: {ratio:.1f}x the m3u8 library (target >= {RATIO_TARGET}x), "
        f"peak RSS {rss / 1e6:.1f} MB (target < {RSS_TARGET / 1e6:.0f} MB), exact sums: {ok}"
    )
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
