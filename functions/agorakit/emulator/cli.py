"""``python -m agorakit emulator``: run the Agora emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse


def _rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be in [0, 1]")
    return rate


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return number


def register(subparsers: argparse._SubParsersAction) -> None:
    from agorakit.emulator.server import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET

    p = subparsers.add_parser("emulator", help="run an Agora REST emulator (cloud recording, channel management)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--app-id", default=DEFAULT_APP_ID)
    p.add_argument("--customer-id", default=DEFAULT_CUSTOMER_ID)
    p.add_argument("--customer-secret", default=DEFAULT_CUSTOMER_SECRET)
    p.add_argument("--resource-ttl", type=_positive, default=300.0, help="resource ID lifetime, real seconds")
    p.add_argument("--qps", type=float, default=10.0, help="requests per second before 429 (0: unlimited)")
    p.add_argument("--s3-endpoint", help="S3 endpoint URL for uploads (e.g. a moto server)")
    p.add_argument("--s3-bucket", help="bucket for uploads; when unset, nothing is uploaded")
    p.add_argument("--webhook-url", help="where to POST NCS events")
    p.add_argument("--ncs-secret", help="secret signing the NCS events")
    p.add_argument("--webhook-duplicates", type=_rate, default=0.0, help="rate of duplicated deliveries")
    p.add_argument("--webhook-reorder", type=_rate, default=0.0, help="rate of swapped consecutive deliveries")
    p.add_argument("--fault-429", type=_rate, default=0.0)
    p.add_argument("--fault-5xx", type=_rate, default=0.0)
    p.add_argument("--fault-206-65", type=_rate, default=0.0)
    p.add_argument("--slow-ms", type=int, default=0, help="delay of a slow answer, milliseconds")
    p.add_argument("--fault-slow", type=_rate, help="rate of slow answers (default: all, when --slow-ms is set)")
    p.add_argument("--time-scale", type=_positive, default=1.0, help="emulated seconds per real second")
    p.add_argument("--segment-seconds", type=_positive, default=15.0, help="HLS slice length, emulated seconds")
    p.add_argument("--seed", type=int, help="random seed (faults, durations) for reproducible runs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import threading

    from agorakit.emulator.server import Emulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    emulator = Emulator(
        args.host,
        args.port,
        app_id=args.app_id,
        customer_id=args.customer_id,
        customer_secret=args.customer_secret,
        resource_ttl=args.resource_ttl,
        qps=args.qps,
        s3_endpoint=args.s3_endpoint,
        s3_bucket=args.s3_bucket,
        webhook_url=args.webhook_url,
        ncs_secret=args.ncs_secret,
        webhook_duplicates=args.webhook_duplicates,
        webhook_reorder=args.webhook_reorder,
        fault_429=args.fault_429,
        fault_5xx=args.fault_5xx,
        fault_206_65=args.fault_206_65,
        slow_ms=args.slow_ms,
        fault_slow=args.fault_slow,
        time_scale=args.time_scale,
        segment_seconds=args.segment_seconds,
        seed=args.seed,
    ).start()
    print(f"Agora emulator on {emulator.url} (app id {emulator.app_id}); Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
