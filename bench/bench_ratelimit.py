"""Account-wide rate limiting: 20 callers for at least 60 s against the Agora emulator (10 QPS), with the
clock skew and network jitter of real Lambdas, and the smallest headroom that still gets 0 x 429.

Every caller is its own "Lambda": its own DynamoDBTokenBucket on ONE shared item (moto server in a separate
process) and its own AgoraClient polling the online-channel list in a loop. Injected, seeded:
  * clock skew - each caller's bucket clock is off by a fixed amount, uniform in +-SKEW_MS (the bucket
    compares wall-clock times written by different machines);
  * jitter     - after each grant, before the request leaves for Agora, a random delay (exponential, mean
    JITTER_MEAN_MS, capped at JITTER_MAX_MS): the network and scheduling between our grant and Agora's
    arrival. The loopback HTTP round trip adds its own.
The headroom (the bucket runs at ``qps * (1 - headroom)``) is searched, not configured: a bisection over
HEADROOMS with SEARCH_SECONDS trials, then a CONFIRM_SECONDS (>= 60 s) run at the smallest passing value;
if that run meets a 429 the next value is confirmed instead (bounded). The peer is a naive client with no
limiter, same callers, same load. Nothing is asserted on wall-clock time. ``QUICK=1``: shorter runs
(the confirming run is then below 60 s and the output says so).

The emulator and moto each run in their own process, as Agora and DynamoDB are remote. DynamoDB
applies a conditional write atomically; moto's backend does not lock, so the moto process here
serialises item writes to restore that guarantee (``--moto-server``).

Usage: python -m bench.bench_ratelimit [--callers 20] [--qps 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

APP_ID = "0123456789abcdef0123456789abcdef"
CUSTOMER_ID = "bench-customer"
CUSTOMER_SECRET = "bench-secret"  # noqa: S105 - the local emulator's credentials
TABLE = "agora-rate-limit"
#: how the emulator is started (its package is being moved: update here only)
EMULATOR_COMMAND = ["-m", "agorakit", "emulator"]

QUICK = os.environ.get("QUICK") == "1"
SEARCH_SECONDS = 6.0 if QUICK else 15.0
CONFIRM_SECONDS = 15.0 if QUICK else 60.0
PEER_SECONDS = 5.0 if QUICK else 10.0
HEADROOMS = [0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50]
SKEW_MS = 25.0
JITTER_MEAN_MS = 10.0
JITTER_MAX_MS = 150.0
SEED = 15


class Jittered:
    """A limiter whose grants reach Agora late: ``acquire`` returns after the bucket's grant plus a delay."""

    def __init__(self, limiter: Any, rng: random.Random):
        self.limiter = limiter
        self.rng = rng

    def acquire(self, permits: int = 1) -> None:
        self.limiter.acquire(permits)
        time.sleep(min(self.rng.expovariate(1000 / JITTER_MEAN_MS), JITTER_MAX_MS / 1000))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def _control(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def serve_moto(port: int) -> None:
    """A moto server whose DynamoDB item writes are atomic, like DynamoDB's."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.server import ThreadedMotoServer

    lock = threading.RLock()
    for name in ("get_item", "put_item", "update_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("moto ready", flush=True)
    threading.Event().wait()


def _run(label: str, emulator_url: str, make_limiter: Any, callers: int, seconds: float) -> dict[str, Any]:
    from agorakit.agora import AgoraClient
    from agorakit.agora.errors import AgoraRateLimitedError

    _control(emulator_url, "/emulator/reset", {})
    done: list[float] = []  # completion times of successful calls
    rejected = [0]
    lock = threading.Lock()
    ready = threading.Barrier(callers + 1)
    go = threading.Event()
    deadline = [0.0]

    def caller(index: int) -> None:
        client = AgoraClient(app_id=APP_ID, customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET,
                             base_urls=[emulator_url], rate_limiter=make_limiter(index), max_attempts=1)  # fmt: skip
        ready.wait()
        go.wait()
        with client:
            while time.monotonic() < deadline[0]:
                try:
                    client.list_channels()
                    with lock:
                        done.append(time.monotonic())
                except AgoraRateLimitedError:
                    with lock:
                        rejected[0] += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    ready.wait()  # every caller has built its client and limiter: the clock starts now
    deadline[0] = time.monotonic() + seconds
    go.set()
    for t in threads:
        t.join()
    stats = _control(emulator_url, "/emulator/stats")
    # Callers still waiting for a reserved slot at the deadline finish later; count the window only.
    ok = sum(1 for t in done if t <= deadline[0])
    return {"label": label, "ok": ok, "rejected_seen": rejected[0], "throttled": stats["throttled"],
            "rate": ok / seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--qps", type=int, default=10)
    parser.add_argument("--moto-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.moto_server:
        serve_moto(args.moto_server)
        return 0

    import boto3
    from service.adapters.agora import DynamoDBTokenBucket

    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    moto_port, emulator_port = _free_port(), _free_port()
    procs = [
        subprocess.Popen([sys.executable, "-m", "bench.bench_ratelimit", "--moto-server", str(moto_port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, *EMULATOR_COMMAND, "--port", str(emulator_port), "--qps",
                          str(args.qps), "--app-id", APP_ID, "--customer-id", CUSTOMER_ID, "--customer-secret",
                          CUSTOMER_SECRET], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]  # fmt: skip
    trials: list[tuple[float, dict[str, Any]]] = []
    try:
        moto_url = f"http://127.0.0.1:{moto_port}"
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        _wait_http(moto_url + "/moto-api/")
        _wait_http(emulator_url + "/emulator/stats")
        dynamodb_kwargs = {"endpoint_url": moto_url, "region_name": "us-east-1", "aws_access_key_id": "bench",
                           "aws_secret_access_key": "bench"}  # fmt: skip
        boto3.client("dynamodb", **dynamodb_kwargs).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        print(f"{args.callers} callers; emulator limit {args.qps} QPS (sliding 1 s window); injected clock skew "
              f"uniform +-{SKEW_MS:g} ms per caller, jitter grant->Agora exponential mean {JITTER_MEAN_MS:g} ms "
              f"(cap {JITTER_MAX_MS:g} ms); seed {SEED}", flush=True)  # fmt: skip

        def trial(headroom: float, seconds: float) -> dict[str, Any]:
            rate = args.qps * (1 - headroom)
            key = f"bench-{len(trials)}"  # a fresh item per trial: no state carried over
            rng = random.Random(SEED * 1000 + len(trials))
            skews = [rng.uniform(-SKEW_MS, SKEW_MS) / 1000 for _ in range(args.callers)]

            def make(index: int) -> Jittered:
                dynamodb = boto3.session.Session().client("dynamodb", **dynamodb_kwargs)
                skew = skews[index]
                bucket = DynamoDBTokenBucket(TABLE, key, rate=rate, burst=1, max_wait=None, client=dynamodb,
                                             clock=lambda: time.time() + skew)  # fmt: skip
                return Jittered(bucket, random.Random(rng.random()))

            result = _run(f"headroom {headroom:.0%}", emulator_url, make, args.callers, seconds)
            result["seconds"] = seconds
            trials.append((headroom, result))
            print(f"  trial headroom {headroom:5.1%} for {seconds:4.0f}s: {result['throttled']:4d} x 429, "
                  f"{result['rate']:.2f} req/s ({result['rate'] / args.qps:.1%} of allowed)", flush=True)  # fmt: skip
            return result

        # bisection for the smallest passing index (assumes fewer 429s with more headroom)
        low, high = 0, len(HEADROOMS) - 1
        while low < high:
            mid = (low + high) // 2
            if trial(HEADROOMS[mid], SEARCH_SECONDS)["throttled"] == 0:
                high = mid
            else:
                low = mid + 1
        chosen: float | None = None
        for index in range(low, min(low + 3, len(HEADROOMS))):  # confirm; step up at most twice
            if trial(HEADROOMS[index], CONFIRM_SECONDS)["throttled"] == 0:
                chosen = HEADROOMS[index]
                break
        naive = _run("naive (no limiter)", emulator_url, lambda _: None, args.callers, PEER_SECONDS)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)

    print(f"{'run':<22} {'seconds':>7} {'ok':>6} {'req/s':>7} {'429s':>6} {'achieved/allowed':>17}")
    for headroom, r in trials:
        print(f"headroom {headroom:<13.1%} {r['seconds']:>7.0f} {r['ok']:>6} {r['rate']:>7.2f} {r['throttled']:>6} "
              f"{r['rate'] / args.qps:>17.3f}")  # fmt: skip
    print(f"{'naive (peer)':<22} {PEER_SECONDS:>7.0f} {naive['ok']:>6} {naive['rate']:>7.2f} {naive['throttled']:>6} "
          f"{naive['rate'] / args.qps:>17.3f}")  # fmt: skip
    failing = [h for h, r in trials if r["throttled"]]
    if chosen is None:
        print(f"SUMMARY rate limiter: no headroom up to {HEADROOMS[-1]:.0%} confirmed 0 x 429 in {CONFIRM_SECONDS:g}s")
        return 1
    confirm = next(r for h, r in reversed(trials) if h == chosen)
    largest_failing = f"{max(failing):.0%}" if failing else "none"
    print(
        f"SUMMARY rate limiter: smallest headroom with 0 x 429 over {CONFIRM_SECONDS:g}s "
        f"({args.callers} callers, skew +-{SKEW_MS:g} ms, jitter mean {JITTER_MEAN_MS:g} ms): {chosen:.0%} "
        f"({confirm['rate'] / args.qps:.1%} of the allowed rate); largest failing headroom tried: {largest_failing}"
    )
    print(f"  peer (naive, no limiter): {naive['throttled']} x 429 in {PEER_SECONDS:g}s")
    if CONFIRM_SECONDS < 60:
        print("  QUICK mode: the confirming run is shorter than the issue's 60 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
