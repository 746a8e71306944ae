"""Account-wide rate limiting: 20 concurrent callers against an Agora emulator limited to 10 QPS.

Runs (each ``--seconds`` long, same load: every caller polls the online-channel list in a loop):
  1. shared   - every caller is its own "Lambda" with its own DynamoDBTokenBucket on ONE shared item
                (moto server in a separate process) and its own AgoraClient;
  2. naive    - the peer: a client with no limiter (what the official SDKs do);
  3. local    - each caller with a private in-process LocalTokenBucket (a limiter per Lambda).
Prints throughput, the 429s the emulator answered, and achieved/allowed rate. Target for "shared":
0 429s while within 10% of the allowed rate. Nothing is asserted on wall-clock time.

The emulator and moto each run in their own process, as Agora and DynamoDB are remote. DynamoDB
applies a conditional write atomically; moto's backend does not lock, so the moto process here
serialises item writes to restore that guarantee (``--moto-server``).

Usage: python -m bench.bench_ratelimit [--seconds 10] [--callers 20] [--qps 10]
"""

from __future__ import annotations

import argparse
import json
import os
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

    def caller() -> None:
        client = AgoraClient(app_id=APP_ID, customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET,
                             base_urls=[emulator_url], rate_limiter=make_limiter(), max_attempts=1)  # fmt: skip
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

    threads = [threading.Thread(target=caller) for _ in range(callers)]
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
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--qps", type=int, default=10)
    parser.add_argument("--moto-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.moto_server:
        serve_moto(args.moto_server)
        return 0

    import boto3
    from agorakit.agora import LocalTokenBucket, bucket_for_qps
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
        subprocess.Popen([sys.executable, "-m", "agorakit", "emulator", "--port", str(emulator_port), "--qps",
                          str(args.qps), "--app-id", APP_ID, "--customer-id", CUSTOMER_ID, "--customer-secret",
                          CUSTOMER_SECRET], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]  # fmt: skip
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
        rate, burst = bucket_for_qps(args.qps)
        buckets: list[DynamoDBTokenBucket] = []

        def shared_bucket() -> DynamoDBTokenBucket:
            dynamodb = boto3.session.Session().client("dynamodb", **dynamodb_kwargs)
            bucket = DynamoDBTokenBucket(TABLE, rate=rate, burst=burst, max_wait=None, client=dynamodb)
            buckets.append(bucket)
            return bucket

        print(f"{args.callers} callers, {args.seconds:g}s per run, emulator limit {args.qps} QPS "
              f"(sliding 1 s window); bucket rate {rate:g}/s burst {burst}", flush=True)  # fmt: skip
        runs = [
            _run("shared DynamoDB bucket", emulator_url, shared_bucket, args.callers, args.seconds),
            _run("naive (no limiter)", emulator_url, lambda: None, args.callers, args.seconds),
            _run("per-Lambda LocalTokenBucket", emulator_url, lambda: LocalTokenBucket(rate, burst), args.callers,
                 args.seconds),
        ]  # fmt: skip
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)

    print(f"{'run':<30} {'ok':>6} {'req/s':>7} {'429s':>6} {'achieved/allowed':>17}")
    for r in runs:
        print(f"{r['label']:<30} {r['ok']:>6} {r['rate']:>7.2f} {r['throttled']:>6} {r['rate'] / args.qps:>17.3f}")
    shared, naive = runs[0], runs[1]
    conflicts = sum(b.conflicts for b in buckets)
    print(f"shared bucket: {conflicts} wrong idle/busy guesses (one extra write each)")
    print(f"429s: shared {shared['throttled']} vs naive {naive['throttled']} (peer); "
          f"shared achieved {shared['rate'] / args.qps:.1%} of the allowed rate "
          f"(target: 0 429s, >= 90%)")  # fmt: skip
    if shared["throttled"] != 0:
        print("NOTE: the shared limiter met 429s in this run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
