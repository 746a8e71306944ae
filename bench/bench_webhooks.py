"""NCS webhook intake: per-event latency of our handler vs two named peers, and DynamoDB writes per event.

Run: ``.venv/bin/python -m bench.bench_webhooks``.

1. Latency (our code path minus AWS): each implementation gets the same API Gateway (payload v2) events -
   signed Agora NCS bodies (the documented examples, varied noticeIds, each delivered twice as NCS
   resends do) - and stores into the same in-memory inbox (``MemoryInbox``, the same repository contract
   as the DynamoDB inbox). p50/p99 of per-call wall time, interleaved rounds, medians across rounds.
   Measured twice: with the one structured JSON log line per event that every implementation writes the
   same way (Powertools Logger, to /dev/null), and with INFO logging off (the bare code path).
   * ours   - ``service.webhooks.intake.receive``: HMAC over the raw bytes first, one parse, one put;
   * naive  - json.loads, re-serialise, verify HMAC over the re-serialised body (flat-server's way: it only
              works because the sender wrote compact JSON in the same key order), then put;
   * resolver - a Powertools ``APIGatewayHttpResolver(enable_validation=True)`` route doing the right checks.
2. Cold start: importing each intake module in a fresh process (median of several runs).
3. DynamoDB writes per accepted event, on moto with the real ``DynamoDBInbox`` (a botocore hook counts calls).
4. With the DynamoDB write: every implementation stores through ``DynamoDBInbox`` (one conditional PutItem)
   into a fresh table on a moto server started here (real HTTP on loopback; ours through the service's
   client factory as deployed, i.e. ``awsfast``, the peers through ``boto3.client``).
   p50/p99 per delivery and requests per second per function instance (one instance serves one request at
   a time: deliveries / busy time), medians of rounds.
   moto's server runs in this process, so its work is inside every figure, alike for all.
Nothing is asserted about time.

Over 400 lines on purpose: the benchmark and its two named peers must be read side by side to judge the comparison.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "fixtures" / "agora" / "ncs-events.json"
SECRETS = {"1": "bench-rtc-secret", "3": "bench-recording-secret"}
ENV = {
    "INBOX_TABLE": "bench-inbox",
    "NCS_SECRET_NAME": "bench/ncs",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's fake credentials
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_TRACE_DISABLED": "1",
}
QUICK = os.environ.get("QUICK") == "1"
DISTINCT = 500 if QUICK else 1_500
ROUNDS = 3 if QUICK else 7
COLD_RUNS = 3 if QUICK else 5
DDB_DELIVERIES = 300 if QUICK else 600  # per implementation and round, against moto's server
DDB_ROUNDS = 1 if QUICK else 3


def _examples() -> list[dict[str, Any]]:
    return list(json.loads(EXAMPLES.read_text()).values())


def workload() -> list[dict[str, Any]]:
    """API Gateway events: DISTINCT signed notices, each delivered twice (a resend has a new notifyMs)."""
    from agorakit.ncs.signature import signature_headers

    base = _examples()
    events = []
    for i in range(DISTINCT):
        notice = copy.deepcopy(base[i % len(base)])
        notice["noticeId"] = f"{notice['noticeId']}-{i}"
        for attempt in range(2):
            notice["notifyMs"] = 1_700_000_000_000 + i * 10 + attempt
            body = json.dumps(notice, separators=(",", ":")).encode()
            secret = SECRETS[str(notice["productId"])]
            headers = {k.lower(): v for k, v in signature_headers(secret, body).items()}
            headers["content-type"] = "application/json"
            events.append(
                {
                    "version": "2.0",
                    "routeKey": "POST /webhooks/agora",
                    "rawPath": "/webhooks/agora",
                    "rawQueryString": "",
                    "headers": headers,
                    "requestContext": {
                        "http": {"method": "POST", "path": "/webhooks/agora", "sourceIp": "203.0.113.5"},
                        "stage": "$default",
                        "routeKey": "POST /webhooks/agora",
                    },
                    "body": base64.b64encode(body).decode() if i % 10 == 0 else body.decode(),
                    "isBase64Encoded": i % 10 == 0,
                }
            )
    return events


# ---------------------------------------------------------------------------------------------- implementations


def ours(inbox: Any = None) -> tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Any]:
    from service.adapters.secrets import StaticSecretStore
    from service.webhooks import intake
    from service.webhooks.logic import KeyringCache
    from service.webhooks.repository import MemoryInbox

    inbox = MemoryInbox() if inbox is None else inbox
    deps = intake.IntakeDependencies(
        inbox=inbox, keyring=KeyringCache(StaticSecretStore({ENV["NCS_SECRET_NAME"]: SECRETS}), ENV["NCS_SECRET_NAME"])
    )
    settings = intake.settings
    return "ours", lambda event: intake.receive(event, deps=deps, config=settings), inbox


_PEER_LOGGER: dict[str, Any] = {}


def peer_logger() -> Any:
    """The peers log the same line as ours, through the same Powertools Logger, so logging cancels out."""
    if "logger" not in _PEER_LOGGER:
        from aws_lambda_powertools import Logger

        _PEER_LOGGER["logger"] = Logger(service="bench-peer")
    return _PEER_LOGGER["logger"]


def _log(notice: dict[str, Any], stored: bool) -> None:
    payload = notice.get("payload") or {}
    peer_logger().info(
        "ncs notice",
        extra={"noticeId": notice.get("noticeId"), "productId": notice.get("productId"),
               "eventType": notice.get("eventType"), "sid": notice.get("sid"),
               "cname": payload.get("cname") or payload.get("channelName"),
               "outcome": "stored" if stored else "duplicate", "status": 200},
    )  # fmt: skip


def _record(notice: dict[str, Any], body: str) -> Any:
    from service.webhooks.repository import InboxRecord

    now = time.time()
    return InboxRecord(
        notice_id=str(notice["noticeId"]),
        product_id=int(notice["productId"]),
        event_type=int(notice["eventType"]),
        body=body,
        received_ms=int(now * 1000),
        expires_at=int(now) + 30 * 86400,
        signature="v2",
        notify_ms=notice.get("notifyMs"),
        sid=notice.get("sid"),
    )


def naive(inbox: Any = None) -> tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Any]:
    """Parse first, re-serialise, sign the re-serialised text, compare: the common (fragile) intake."""
    from service.webhooks.repository import MemoryInbox

    inbox = MemoryInbox() if inbox is None else inbox
    keys = {k: v.encode() for k, v in SECRETS.items()}

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        body = event["body"]
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        try:
            notice = json.loads(body)
        except ValueError:
            return {"statusCode": 400, "body": "{}"}
        text = json.dumps(notice, separators=(",", ":"), ensure_ascii=False)
        key = keys.get(str(notice.get("productId")))
        presented = (event.get("headers") or {}).get("agora-signature-v2", "")
        if key is None or not hmac.compare_digest(hmac.new(key, text.encode(), hashlib.sha256).hexdigest(), presented):
            return {"statusCode": 401, "body": "{}"}
        stored = inbox.put_new(_record(notice, text))
        _log(notice, stored)
        return {"statusCode": 200, "body": json.dumps({"ok": True, "duplicate": not stored})}

    return "naive", handle, inbox


def resolver(inbox: Any = None) -> tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Any]:
    """The same checks as ours, written as a Powertools validating-resolver route."""
    from agorakit.ncs.signature import Keyring
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from service.webhooks.repository import MemoryInbox

    inbox = MemoryInbox() if inbox is None else inbox
    keyring = Keyring.from_json(SECRETS)
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.post("/webhooks/agora")
    def post_webhook():  # type: ignore[no-untyped-def]  # a string annotation would not resolve here
        event = app.current_event
        raw = base64.b64decode(event["body"]) if event.is_base64_encoded else (event.body or "").encode()
        verification = keyring.verify(raw, event.headers)
        if verification is None:
            return Response(status_code=401, content_type="application/json", body={"ok": False})
        notice = json.loads(raw)
        if not verification.allows(int(notice["productId"])):
            return Response(status_code=401, content_type="application/json", body={"ok": False})
        stored = inbox.put_new(_record(notice, raw.decode()))
        _log(notice, stored)
        return Response(status_code=200, content_type="application/json", body={"ok": True, "duplicate": not stored})

    return "resolver", lambda event: app.resolve(event, None), inbox  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- measurements


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0  # ns -> us


def latency(events: list[dict[str, Any]], *, logging_on: bool) -> dict[str, dict[str, float]]:
    from service.webhooks import intake

    level = "INFO" if logging_on else "ERROR"
    intake.logger.setLevel(level)
    peer_logger().setLevel(level)
    builders = [ours, naive, resolver]
    results: dict[str, dict[str, list[float]]] = {}
    for round_no in range(ROUNDS):
        order = builders if round_no % 2 == 0 else list(reversed(builders))
        for build in order:
            name, handle, inbox = build()
            for event in events[:50]:  # warm-up (first-call imports, caches)
                handle(copy.deepcopy(event))
            inbox.items.clear()
            samples = []
            statuses: Counter[int] = Counter()
            for event in events:
                started = time.perf_counter_ns()
                response = handle(event)
                samples.append(time.perf_counter_ns() - started)
                statuses[response["statusCode"]] += 1
            assert statuses == {200: len(events)}, (name, statuses)
            assert len(inbox.items) == DISTINCT, (name, len(inbox.items))
            entry = results.setdefault(name, {"p50": [], "p99": [], "mean": []})
            entry["p50"].append(percentile(samples, 0.50))
            entry["p99"].append(percentile(samples, 0.99))
            entry["mean"].append(statistics.fmean(samples) / 1000.0)
    return {name: {k: statistics.median(v) for k, v in values.items()} for name, values in results.items()}


COLD_OURS = "import service.webhooks.intake"
COLD_RESOLVER = (
    "from aws_lambda_powertools import Logger\n"
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
    "import service.webhooks.logic\n"
    "logger = Logger(); app = APIGatewayHttpResolver(enable_validation=True)\n"
)


def cold_start(code: str) -> float:
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT / "functions")}
    samples = []
    for _ in range(COLD_RUNS):
        script = f"import time; t = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]) * 1000)
    return statistics.median(samples)


def dynamodb_writes(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The real intake and DynamoDBInbox on moto: calls per delivery and items per accepted event."""
    import boto3
    from moto import mock_aws
    from service.adapters import aws as aws_adapter
    from service.adapters.secrets import StaticSecretStore
    from service.webhooks import intake
    from service.webhooks.logic import KeyringCache
    from service.webhooks.repository import DynamoDBInbox

    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=ENV["INBOX_TABLE"],
            KeySchema=[{"AttributeName": "noticeId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "noticeId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        aws_adapter.reset_clients()
        client = aws_adapter.client("dynamodb")
        calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", lambda event_name, **_: calls.update([event_name]))
        deps = intake.IntakeDependencies(
            inbox=DynamoDBInbox(ENV["INBOX_TABLE"], client=client),
            keyring=KeyringCache(StaticSecretStore({ENV["NCS_SECRET_NAME"]: SECRETS}), ENV["NCS_SECRET_NAME"]),
        )
        sample = events[:600]
        started = time.perf_counter()
        statuses = Counter(intake.receive(e, deps=deps, config=intake.settings)["statusCode"] for e in sample)
        elapsed = time.perf_counter() - started
        items = 0
        kwargs: dict[str, Any] = {"TableName": ENV["INBOX_TABLE"]}
        while True:
            page = ddb.scan(**kwargs)
            items += len(page["Items"])
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        accepted = len({json.loads(_body(e))["noticeId"] for e in sample})
        aws_adapter.reset_clients()
    return {
        "deliveries": len(sample),
        "accepted": accepted,
        "statuses": dict(statuses),
        "calls": {k.rsplit(".", 1)[-1]: v for k, v in calls.items()},
        "items": items,
        "moto_ms_per_delivery": elapsed / len(sample) * 1000,
    }


def with_dynamodb(events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each implementation with its DynamoDB write on moto's server: p50/p99 ms per delivery, req/s per instance."""
    import logging
    import socket

    import boto3
    from moto.server import ThreadedMotoServer
    from service.adapters import aws as aws_adapter
    from service.webhooks.repository import DynamoDBInbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AGORA_AWS_FAST_CLIENT")}
    os.environ["AWS_ENDPOINT_URL"] = url  # how the functions find moto (the local stack does the same)
    os.environ["AGORA_AWS_FAST_CLIENT"] = "1"  # ours as deployed (function_factory): awsfast
    aws_adapter.reset_clients()
    tables = [0]

    def fresh_table(client: Any) -> str:
        tables[0] += 1
        name = f"inbox-{tables[0]}-{time.monotonic_ns()}"  # moto keeps tables across servers in a process
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "noticeId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "noticeId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    try:
        our_client = aws_adapter.client("dynamodb")
        peer_client = boto3.client("dynamodb", endpoint_url=url)
        clients = {"ours": our_client, "naive": peer_client, "resolver": peer_client}
        builders = {"ours": ours, "naive": naive, "resolver": resolver}
        sample = events[:DDB_DELIVERIES]
        results: dict[str, dict[str, list[float]]] = {}
        for round_no in range(DDB_ROUNDS):
            names = list(builders) if round_no % 2 == 0 else list(reversed(builders))
            for name in names:
                client = clients[name]
                _, handle, _ = builders[name](DynamoDBInbox(fresh_table(client), client=client))
                for event in events[-50:]:  # warm-up: connections, first-call imports (not in the sample)
                    handle(copy.deepcopy(event))
                _, handle, _ = builders[name](DynamoDBInbox(fresh_table(client), client=client))
                samples = []
                for event in sample:
                    started = time.perf_counter_ns()
                    response = handle(event)
                    samples.append(time.perf_counter_ns() - started)
                    assert response["statusCode"] == 200, (name, response)
                entry = results.setdefault(name, {"p50": [], "p99": [], "rps": []})
                entry["p50"].append(percentile(samples, 0.50) / 1000)  # us -> ms
                entry["p99"].append(percentile(samples, 0.99) / 1000)
                entry["rps"].append(len(samples) / (sum(samples) / 1e9))
    finally:
        aws_adapter.reset_clients()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
    return {name: {k: statistics.median(v) for k, v in values.items()} for name, values in results.items()}


def _body(event: dict[str, Any]) -> str:
    return base64.b64decode(event["body"]).decode() if event["isBase64Encoded"] else event["body"]


def main() -> int:
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT / "functions"))
    real_stdout = sys.stdout
    sys.stdout = io.TextIOWrapper(open(os.devnull, "wb"))  # noqa: SIM115 - the handlers' JSON logs go nowhere
    try:
        events = workload()
        figures = {"logged": latency(events, logging_on=True), "bare": latency(events, logging_on=False)}
        writes = dynamodb_writes(events)
        stored = with_dynamodb(events)
    finally:
        sys.stdout.flush()
        sys.stdout = real_stdout
    cold_ours, cold_resolver = cold_start(COLD_OURS), cold_start(COLD_RESOLVER)

    body_sizes = [len(_body(e)) for e in events]
    print(f"workload: {len(events)} deliveries ({DISTINCT} distinct notices, each twice; 10% base64 bodies),")
    print(f"          bodies {min(body_sizes)}-{max(body_sizes)} bytes; {ROUNDS} interleaved rounds, medians")
    for variant, label in (("logged", "with the JSON log line"), ("bare", "INFO logging off")):
        table = figures[variant]
        print(f"-- {label}")
        print(f"   {'intake':<10} {'p50 us':>9} {'p99 us':>9} {'mean us':>9}")
        for name in ("ours", "naive", "resolver"):
            f = table[name]
            print(f"   {name:<10} {f['p50']:>9.1f} {f['p99']:>9.1f} {f['mean']:>9.1f}")
        for peer in ("naive", "resolver"):
            print(
                f"   ratio {peer}/ours: p50 x{table[peer]['p50'] / table['ours']['p50']:.2f}, "
                f"p99 x{table[peer]['p99'] / table['ours']['p99']:.2f}"
            )
    print("   (naive skips envelope validation and hashes a re-serialised body: it only accepts senders whose JSON")
    print("    is compact, in the key order and with the escaping that json.dumps happens to reproduce)")
    print(f"cold import (median of {COLD_RUNS} fresh processes): ours {cold_ours:.0f} ms, "
          f"resolver-based {cold_resolver:.0f} ms (x{cold_resolver / cold_ours:.2f})")  # fmt: skip
    writes_per_event = writes["items"] / writes["accepted"]
    puts = writes["calls"].get("PutItem", 0)
    print(
        f"moto: {writes['deliveries']} deliveries of {writes['accepted']} notices -> statuses {writes['statuses']}, "
        f"DynamoDB calls {writes['calls']}"
    )
    print(
        f"      items written per accepted event: {writes_per_event:.2f} (target 1); "
        f"DynamoDB requests per delivery: {puts / writes['deliveries']:.2f} (a resend is one refused conditional put); "
        f"{writes['moto_ms_per_delivery']:.2f} ms per delivery on moto"
    )
    print(
        f"with the DynamoDB write on moto's server ({DDB_DELIVERIES} deliveries, half of them resends; "
        f"{DDB_ROUNDS} round(s), medians)"
    )
    print(f"   {'intake':<10} {'p50 ms':>8} {'p99 ms':>8} {'req/s per instance':>19}")
    for name in ("ours", "naive", "resolver"):
        f = stored[name]
        print(f"   {name:<10} {f['p50']:>8.2f} {f['p99']:>8.2f} {f['rps']:>19.0f}")
    for peer in ("naive", "resolver"):
        print(
            f"   ratio {peer}/ours: p50 x{stored[peer]['p50'] / stored['ours']['p50']:.2f}, "
            f"p99 x{stored[peer]['p99'] / stored['ours']['p99']:.2f}, "
            f"req/s x{stored['ours']['rps'] / stored[peer]['rps']:.2f} in our favour"
        )
    o, r = stored["ours"], stored["resolver"]
    print(
        f"SUMMARY webhook intake with DynamoDB write: ours p50 {o['p50']:.2f} ms p99 {o['p99']:.2f} ms "
        f"{o['rps']:.0f} req/s per instance; resolver peer p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms "
        f"{r['rps']:.0f} req/s (p50 ratio {r['p50'] / o['p50']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
