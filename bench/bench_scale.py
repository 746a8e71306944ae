"""``python -m bench scale [flags]``: the recordings system at scale, simulated in virtual time (``bench.scale``).

With flags: one scenario, a table and (``--json``) one JSON line. Without (``make bench``): the issue's two
targets (10,000 recordings started within 10 minutes at 100 QPS / 12,000 tasks; a burst of 200 at Agora's
defaults, 10 QPS / 50 tasks), then the cost per 1,000 recordings of 1 minute, 1 hour and 10 hours, each line item
named. ``QUICK=1`` runs smaller counts. The figures are what today's code does; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from bench.scale.sim import Scenario, simulate

#: the JSON keys the issue names, printed in this order in the table
KEYS = (
    "started", "failed", "queued", "failed_by_reason", "queued_max", "start_latency_p50_s", "start_latency_p99_s",
    "reconciler_oldest_check_age_max_s", "lambda_concurrency_max", "agora_429", "agora_406",
    "ddb_partition_wcu_max", "overlapping_tasks", "orphaned_tasks", "sfn_transitions_per_recording",
    "cost_per_1000_usd",
)  # fmt: skip
MORE = (
    "failed_after_start", "waiting_to_start_max", "sfn_limiter_waits", "limiter_conflicts", "recording_max",
    "start_latency_max_s", "reconciler_runs", "reconciler_deferred_max", "reconciler_duration_max_s",
    "lambda_concurrency_max_by_function", "lambda_throttles", "media_queue_messages", "media_queue_backlog_max",
    "agora_calls", "agora_433",
    "agora_tasks_max",
    "limiter_wait_p99_s", "ddb_partition_wcu_max_key", "ddb_partition_seconds_over_1000", "sfn_start_throttled",
    "sfn_send_task_throttled", "sfn_describe_throttled", "ncs", "stop_reasons", "virtual_seconds",
)  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    d = Scenario()
    p.add_argument("--recordings", type=int, default=d.recordings, help="recordings requested (N)")
    p.add_argument("--start-window", type=float, default=d.start_window, help="seconds over which they are requested")
    p.add_argument("--duration-minutes", type=float, default=d.duration_minutes, help="how long each one records")
    p.add_argument("--agora-qps", type=float, default=d.agora_qps, help="Agora's REST QPS for the App ID")
    p.add_argument("--agora-max-tasks", type=int, default=d.agora_max_tasks, help="Agora's concurrent-task limit")
    p.add_argument("--lambda-concurrency", type=int, default=d.lambda_concurrency, help="the account's limit")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--exit-fraction", type=float, default=d.exit_fraction, help="recorders that end by themselves")
    p.add_argument("--ncs-loss", type=float, default=d.ncs_loss, help="NCS notices lost")
    p.add_argument("--reconciler-shards", type=int, default=d.reconciler_shards)
    p.add_argument("--queue-cap", type=int, default=d.queue_cap, help="admission: the most recordings QUEUED")
    p.add_argument("--region", default=d.region, help="picks Step Functions' bucket sizes")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line too")
    args = p.parse_args(argv)
    if args.recordings < 1 or args.agora_qps <= 0 or args.lambda_concurrency < 1 or args.duration_minutes <= 0:
        p.error("--recordings, --agora-qps, --lambda-concurrency and --duration-minutes must be positive")
    return args


def scenario_of(args: argparse.Namespace) -> Scenario:
    return Scenario(
        recordings=args.recordings, start_window=args.start_window, duration_minutes=args.duration_minutes,
        agora_qps=args.agora_qps, agora_max_tasks=args.agora_max_tasks, lambda_concurrency=args.lambda_concurrency,
        seed=args.seed, exit_fraction=args.exit_fraction, ncs_loss=args.ncs_loss,
        reconciler_shards=args.reconciler_shards, region=args.region, queue_cap=args.queue_cap,
    )  # fmt: skip


def table(result: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    for key in (*KEYS, *MORE):
        value = result.get(key)
        shown = json.dumps(value) if isinstance(value, dict) else value
        print(f"  {key:<36} {shown}")


def costs(result: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    for item, usd in result["cost_lines_per_1000_usd"].items():
        print(f"  ${usd:>10,.4f}  {item}")
    print(f"  ${result['cost_per_1000_usd']:>10,.4f}  total per 1,000 recordings")


def headline(result: dict[str, Any]) -> str:
    s = result["scenario"]
    return (
        f"{s['recordings']} recordings over {s['start_window']:g}s at {s['agora_qps']:g} QPS / "
        f"{s['agora_max_tasks']} tasks: started {result['started']}, failed {result['failed']}, "
        f"queued {result['queued']}, p99 start {result['start_latency_p99_s']}s, "
        f"reconciler oldest check {result['reconciler_oldest_check_age_max_s']}s, "
        f"Lambda {result['lambda_concurrency_max']}, overlapping {result['overlapping_tasks']}, "
        f"orphaned {result['orphaned_tasks']}"
    )


def run(scenario: Scenario, title: str) -> dict[str, Any]:
    began = time.perf_counter()
    result = simulate(scenario)
    table(result, f"{title} ({time.perf_counter() - began:.1f}s of wall time)")
    return result


def main(argv: list[str]) -> int:
    if argv:
        args = parse(argv)
        result = run(scenario_of(args), "scale simulation")
        costs(result, "cost per 1,000 recordings of this run")
        print(f"SUMMARY scale: {headline(result)}; ${result['cost_per_1000_usd']:.2f} per 1,000")
        if args.json:
            print(json.dumps(result, sort_keys=True, separators=(",", ":")))
        return 0
    quick = os.environ.get("QUICK") == "1"
    big = 2000 if quick else 10_000
    target = run(
        Scenario(recordings=big, start_window=600, duration_minutes=10, agora_qps=100, agora_max_tasks=12_000),
        f"target 1: {big} recordings within 10 minutes, 100 QPS, 12,000 tasks",
    )
    burst = run(
        Scenario(recordings=200, start_window=0, duration_minutes=10, agora_qps=10, agora_max_tasks=50),
        "target 2: a burst of 200 at Agora's defaults (10 QPS, 50 tasks)",
    )
    per_length: dict[str, float] = {}
    count = 50 if quick else 200
    for label, minutes in (("1-minute", 1.0), ("1-hour", 60.0), ("10-hour", 600.0)):
        result = simulate(
            Scenario(
                recordings=count, start_window=600, duration_minutes=minutes, agora_qps=100, agora_max_tasks=12_000
            )
        )
        costs(result, f"cost per 1,000 {label} recordings ({count} simulated, started over 10 minutes, 100 QPS)")
        per_length[label] = result["cost_per_1000_usd"]
    print(f"SUMMARY scale: {headline(target)}")
    print(f"SUMMARY scale: {headline(burst)}")
    print(
        "SUMMARY scale cost per 1,000 recordings: "
        + ", ".join(f"{label} ${usd:,.2f}" for label, usd in per_length.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
