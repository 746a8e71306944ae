"""Cost per 1,000 recordings from a simulation's counts, every line item named.

Prices: us-east-1 list prices, arm64, free tiers ignored. Sources: ``PRICES`` of ``bench/bench_cost.py`` and
the facts file behind ``docs/scale.md`` (AWS pricing pages for Step Functions, Lambda, DynamoDB on-demand,
API Gateway HTTP APIs, SQS and S3, checked in 2026); CloudWatch Logs ingestion ($0.50 per GB, Standard
class) from the CloudWatch pricing page; S3 GET ($0.0004 per 1,000) from the S3 pricing page.

Counted by the simulation: transitions, invocations and their modelled durations, DynamoDB write and read units
(base table, each GSI, the limiter's item), API requests. Derived from the recorded time: Agora's S3 PUTs (a
.ts and the rewritten .m3u8 every ``segment_seconds``), the media queue's messages (one S3 notification per
.m3u8 PUT: segments are not notified) and batches. Log volume is modelled: ``LOG_BYTES``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.bench_cost import PRICES as MEASURED_PRICES

if TYPE_CHECKING:
    from bench.scale.sim import Simulation

PRICES = {
    **MEASURED_PRICES,
    "s3_put": 0.005 / 1_000,
    "s3_get": 0.0004 / 1_000,
    "log_gb": 0.50,
}
#: bytes of CloudWatch Logs per Lambda invocation (START/END/REPORT and two structured lines) and per state
#: transition (the state machine logs ALL, without execution data: two history events of ~350 bytes): modelled
LOG_BYTES = {"invocation": 1_000, "transition": 700}
#: EventBridge events per recording: Requested, Started, Stopped and Files Ready (Failed: Requested, Failed)
EVENTS_STOPPED, EVENTS_FAILED = 4, 2
#: the events publisher takes the table's stream in batches of up to 100 records
STREAM_BATCH = 100


def cost_lines(sim: Simulation, *, per: int = 1000) -> dict[str, float]:
    t, s, pool = sim.tally, sim.s, sim.pool
    from bench.scale.sim import MEDIA_BATCH_SECONDS, MEDIA_FUNCTION, PUBLISHER_FUNCTION

    scale = per / max(1, s.recordings)
    slices = t.recorded_seconds / s.segment_seconds
    stream_records = sum(v for k, v in sim.store.writes.units.items() if k == "recordings")
    publisher_batches = stream_records / STREAM_BATCH
    media_requests = t.media_batches  # each batch's invocation
    requests = sum(pool.requests.values()) + media_requests + publisher_batches
    gb_seconds = (
        sum(pool.gb_seconds.values())
        + t.media_batches * MEDIA_BATCH_SECONDS * MEDIA_FUNCTION.memory_mb / 1024
        + publisher_batches * 0.1 * PUBLISHER_FUNCTION.memory_mb / 1024
    )
    writes = sum(v for k, v in sim.store.writes.units.items() if k != "transactions")
    reads = sum(sim.store.writes.reads.values())
    api = sum(pool.requests[f] for f in ("recordings-api",))
    stopped = sum(t.stop_reasons.values())
    failed = sum(t.failed_before_start.values()) + sum(t.failed_after_start.values())
    log_gb = (requests * LOG_BYTES["invocation"] + sim.sfn.transitions * LOG_BYTES["transition"]) / 1e9
    total = {
        "Step Functions state transitions": sim.sfn.transitions * PRICES["transition"],
        "Lambda requests (all functions)": requests * PRICES["lambda_request"],
        "Lambda GB-seconds (all functions)": gb_seconds * PRICES["gb_second"],
        "DynamoDB writes (table, GSIs, limiter)": writes * PRICES["wru"],
        "DynamoDB reads": reads * PRICES["rru"],
        "API Gateway requests": api * PRICES["api_request"],
        # S3's SendMessage to the queue, then ReceiveMessage and DeleteMessageBatch per batch of 10
        "SQS requests (media queue)": (t.media_messages + 2 * t.media_batches) * PRICES["sqs_request"],
        "S3 PUTs by Agora (.ts + .m3u8 per slice)": 2 * slices * PRICES["s3_put"],
        "S3 GETs by the media function": t.media_batches * PRICES["s3_get"],
        "CloudWatch Logs ingestion": log_gb * PRICES["log_gb"],
        "EventBridge events": (stopped * EVENTS_STOPPED + failed * EVENTS_FAILED) * PRICES["custom_event"],
    }
    return {name: usd * scale for name, usd in total.items()}
