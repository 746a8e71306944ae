"""``python -m agorakit emulator``: run the Agora emulator in the foreground until Ctrl-C.

Only ``emulator.options`` is imported to register the subcommand, so ``agorakit --help`` stays fast.
"""

from __future__ import annotations

import argparse

from emulator import options as _o

# argparse types from the option rules the local stack's --emulator-option uses too (emulator.options): a bad
# value is argparse's one-line error and exit 2, never a traceback (an OverflowError from port 99999)
_rate = _o.argument(_o.rate)
_positive = _o.argument(_o.positive)
_not_negative = _o.argument(_o.not_negative)
_port = _o.argument(_o.port, int)
_ms = _o.argument(_o.milliseconds, int)
_count = _o.argument(_o.count, int)


def _event_types(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of NCS event types, e.g. 11,31") from None


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


def register(subparsers: argparse._SubParsersAction) -> None:
    from emulator.options import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, DEFAULT_PORT

    p = subparsers.add_parser(
        "emulator",
        help="run an Agora REST emulator (cloud recording, channel management)",
        description="An Agora REST emulator on loopback: Cloud Recording and channel-management paths with Basic "
        "auth, a QPS limit, injected faults, HLS uploads to S3 and signed NCS webhooks. Fault and loss rates "
        "are shares of requests (or notifications) in [0, 1].",
        formatter_class=_Help,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port to listen on (0: any free port)")
    p.add_argument("--app-id", default=DEFAULT_APP_ID, help="the App ID in the REST paths")
    p.add_argument("--customer-id", default=DEFAULT_CUSTOMER_ID, help="Basic auth user of the REST calls")
    p.add_argument("--customer-secret", default=DEFAULT_CUSTOMER_SECRET, help="Basic auth password of the REST calls")
    p.add_argument("--resource-ttl", type=_positive, default=300.0, help="resource ID lifetime, real seconds")
    p.add_argument("--qps", type=_not_negative, default=10.0, help="requests per second before 429 (0: unlimited)")
    p.add_argument("--max-tasks", type=_count, default=50, help="concurrent recorders before 406 vendor_over_load")
    p.add_argument("--s3-endpoint", help="S3 endpoint URL for uploads (e.g. a moto server)")
    p.add_argument("--s3-bucket", help="bucket for uploads; when unset, nothing is uploaded")
    p.add_argument("--webhook-url", help="where to POST NCS events; when unset, none are sent")
    p.add_argument("--ncs-secret", help="secret signing the NCS events")
    p.add_argument("--webhook-duplicates", type=_rate, default=0.0, help="rate of duplicated deliveries")
    p.add_argument("--webhook-reorder", type=_rate, default=0.0, help="rate of swapped consecutive deliveries")
    p.add_argument("--webhook-loss", type=_rate, default=0.0, help="rate of notifications never sent")
    p.add_argument("--webhook-delay", type=_rate, default=0.0, help="rate of notifications held back")
    p.add_argument("--webhook-delay-ms", type=_ms, default=2000, help="longest hold of a delayed notification")
    p.add_argument("--webhook-lose", type=_event_types, help="NCS event types never sent, e.g. 11 or 11,31")
    p.add_argument("--fault-429", type=_rate, default=0.0, help="rate of 429 'API rate limit exceeded'")
    p.add_argument("--retry-after", type=_not_negative, help="Retry-After seconds sent with 429 (Agora sends none)")
    p.add_argument("--fault-5xx", type=_rate, default=0.0, help="rate of service timeouts (504 code 62 and kin)")
    p.add_argument("--fault-206-65", type=_rate, default=0.0, help="rate of 206 code 65 'request not completed'")
    p.add_argument("--fault-502", type=_rate, default=0.0, help="rate of the gateway's 502")
    p.add_argument("--fault-504", type=_rate, default=0.0, help="rate of the gateway's 504")
    p.add_argument("--fault-allocate", type=_rate, default=0.0, help="rate of starts failing 'Failed to allocate'")
    p.add_argument("--fault-timeout", type=_rate, default=0.0, help="rate of requests never answered")
    p.add_argument("--timeout-ms", type=_ms, default=15_000, help="how long an unanswered request is held")
    p.add_argument(
        "--fault-after-effect",
        type=_rate,
        default=0.0,
        help="share of 5xx/206-65/502/504/timeout faults on mutating calls that come after the call took effect",
    )
    p.add_argument("--slow-ms", type=_ms, default=0, help="delay of a slow answer, milliseconds")
    p.add_argument("--fault-slow", type=_rate, help="rate of slow answers (default: all, when --slow-ms is set)")
    p.add_argument("--time-scale", type=_positive, default=1.0, help="emulated seconds per real second")
    p.add_argument("--segment-seconds", type=_positive, default=15.0, help="HLS slice length, emulated seconds")
    p.add_argument(
        "--channel-close-seconds", type=_not_negative, default=30.0, help="an empty channel closes after, emulated s"
    )
    p.add_argument("--seed", type=int, help="random seed (faults, durations) for reproducible runs")
    metavars = {_rate: "RATE", _positive: "N", _not_negative: "N", _event_types: "TYPES", _port: "PORT", _ms: "MS",
                _count: "N", int: "N", float: "N"}  # fmt: skip
    for action in p._actions:
        if action.type in metavars:
            action.metavar = metavars[action.type]  # type: ignore[index]
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import threading

    from emulator.server import Emulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    emulator = Emulator(
        args.host,
        args.port,
        app_id=args.app_id,
        customer_id=args.customer_id,
        customer_secret=args.customer_secret,
        resource_ttl=args.resource_ttl,
        qps=args.qps,
        max_tasks=args.max_tasks,
        s3_endpoint=args.s3_endpoint,
        s3_bucket=args.s3_bucket,
        webhook_url=args.webhook_url,
        ncs_secret=args.ncs_secret,
        webhook_duplicates=args.webhook_duplicates,
        webhook_reorder=args.webhook_reorder,
        webhook_loss=args.webhook_loss,
        webhook_delay=args.webhook_delay,
        webhook_delay_ms=args.webhook_delay_ms,
        webhook_lose_types=args.webhook_lose or [],
        fault_429=args.fault_429,
        retry_after=args.retry_after,
        fault_5xx=args.fault_5xx,
        fault_206_65=args.fault_206_65,
        fault_502=args.fault_502,
        fault_504=args.fault_504,
        fault_allocate=args.fault_allocate,
        fault_timeout=args.fault_timeout,
        timeout_ms=args.timeout_ms,
        fault_after_effect=args.fault_after_effect,
        slow_ms=args.slow_ms,
        fault_slow=args.fault_slow,
        time_scale=args.time_scale,
        segment_seconds=args.segment_seconds,
        channel_close_seconds=args.channel_close_seconds,
        seed=args.seed,
    ).start()
    print(
        f"Agora emulator on {emulator.url}\n"
        f"  App ID:          {emulator.app_id}\n"
        f"  Customer ID:     {args.customer_id}\n"
        f"  Customer secret: {args.customer_secret}\n"
        f"  REST calls use Basic auth with these two, e.g.\n"
        f"    curl -u {args.customer_id}:{args.customer_secret} {emulator.url}/dev/v1/channel/{emulator.app_id}\n"
        f"  control API (no auth): {emulator.url}/emulator/tasks, /emulator/history, /emulator/faults\n"
        "Ctrl-C to stop",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
