"""Cold start, like for like: a fresh process imports the handler AND serves its first request's AWS work.

For every deployed handler (the table below, as ``infra/constructs/*.py`` names them), a fresh interpreter
measures, from before the handler's import to the end of the first request:
  * ours - ``import <module>``, then the first request. For the token handler that is the real handler called
    with a ``POST /tokens`` event (a returning caller on a cold container: its uid read from DynamoDB, the
    certificate read from Secrets Manager). For the others, the first request's AWS work through the
    service's own adapter (``service.adapters.aws.client``): both clients created, one DynamoDB ``GetItem``
    and one ``GetSecretValue`` (media: the ``GetItem`` and an S3 ``GetObject`` of a playlist, its real first
    reads). Agora calls and the handlers' own logic are not counted (the peer has none). Ours runs with the
    environment every deployed function has (``DEPLOYED_ENV``): DynamoDB, Secrets Manager and Step Functions
    calls through ``awsfast`` (SigV4 over ``http.client``, no botocore); S3 through botocore.
  * peer - a plain Powertools handler written the usual way, without Tracer: Logger + Metrics, plus
    ``APIGatewayHttpResolver(enable_validation=True)`` and a pydantic body model for the API handlers; two
    module-level boto3 clients; its handler (decorated with ``inject_lambda_context`` and ``log_metrics``) does
    the same calls, through the resolver for the API handlers.
Both talk to one moto server started by this bench (``AWS_ENDPOINT_URL``), so both pay real HTTP round trips.
Each side runs RUNS times, alternating, after a warm-up that fills the bytecode cache; medians. Interpreter
start-up is outside the timed span on both sides (it is the same interpreter). Import-only figures are printed
for information. Targets (issue 15): tokens <= 0.75x, every handler <= 0.9x. ``QUICK=1``: 3 runs.
``ONLY=tokens`` (labels, comma-separated): measure only those rows.

Renames: the handler table (``HANDLERS``) is the only place that names modules; a unit test checks it against
the ``handler=`` strings in ``infra/constructs``.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

QUICK = os.environ.get("QUICK") == "1"
RUNS = 3 if QUICK else 5

#: label -> (Lambda handler string exactly as in infra/constructs/*.py, kind, extra environment as deployed).
#: kind "api": an API Gateway function (peer has a validating resolver); "plain": any other function.
HANDLERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "tokens": ("service.tokens.handler.handler", "api", {"XRAY_SDK": "false"}),
    "recordings API": ("service.recordings.api_handler.handler", "api", {}),
    "recording workflow tasks": ("service.recordings.workflow_tasks_handler.handler", "plain", {}),
    "reconciler": ("service.recordings.reconciler_handler.handler", "plain", {}),
    "webhook intake": ("service.webhooks.intake.handler", "api", {"XRAY_SDK": "false"}),
    "webhook processor": ("service.webhooks.processor.handler", "plain", {}),
    "channels": ("service.channels.handler.handler", "api", {}),
    "media": ("service.media.handler.handler", "plain", {}),
    "events publisher": ("service.events.publisher.handler", "plain", {}),
    "projects": ("service.projects.handler.handler", "api", {}),
    "transcriptions": ("service.transcriptions.handler.handler", "api", {}),
    "transcription restart": ("service.transcriptions.workflow_handler.handler", "plain", {}),
    "transcriptions reconciler": ("service.transcriptions.reconciler_handler.handler", "plain", {}),
    "agents": ("service.agents.api_handler.handler", "api", {}),
    "agent lifecycle": ("service.agents.tasks_handler.lifecycle", "plain", {}),
    "agents reconciler": ("service.agents.tasks_handler.reconcile", "plain", {}),
    "API docs (apiDocs=true only)": ("service.apidocs.handler.handler", "api", {}),
}
#: environment every deployed function has that changes what runs (infra/constructs/function_factory.py): the
#: JSON-protocol AWS calls go through awsfast instead of botocore
DEPLOYED_ENV = {"AGORA_AWS_FAST_CLIENT": "1"}
#: the service's client factory ("module:function"), used for the first request of every handler but tokens
OUR_CLIENT = "service.adapters.aws:client"
TARGET_TOKENS, TARGET_OTHERS = 0.75, 0.9

APP_ID = "970CA35de60c44645bbae8a215061b33"
TABLE = "bench-table"
SECRET = "bench/secret"  # noqa: S105 - a secret name in moto, not a secret
BUCKET = "bench-recordings"
PLAYLIST = "recordings/sid_room.m3u8"
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # moto's fake credentials
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AGORA_APP_ID": APP_ID,
    "AGORA_REST_SECRET_NAME": SECRET,
    "APP_CERTIFICATE_SECRET_NAME": SECRET,
    "NCS_SECRET_NAME": SECRET,
    "USERS_TABLE": TABLE,
    "RECORDINGS_TABLE": TABLE,
    "MEDIA_TABLE": TABLE,
    "INBOX_TABLE": TABLE,
    "PRESENCE_TABLE": TABLE,
    "KICKING_RULES_TABLE": TABLE,
    "AGORA_RATE_LIMIT_TABLE": TABLE,
    "USAGE_TABLE": TABLE,
    "RECORDING_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
}

#: the token caller's uid item (``service.tokens.repository``'s layout): a returning user on a cold container
RETURNING_USER = {"pk": {"S": "SUB#bench-subject"}, "uid": {"N": "2882341273"}}
TOKEN_EVENT = {
    "version": "2.0",
    "routeKey": "POST /tokens",
    "rawPath": "/tokens",
    "rawQueryString": "",
    "headers": {"content-type": "application/json"},
    "requestContext": {
        "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "requestId": "r-1",
        "http": {"method": "POST", "path": "/tokens", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1",
                 "userAgent": "bench"},
        "routeKey": "POST /tokens", "stage": "$default", "time": "23/Nov/2026:20:00:00 +0000",
        "timeEpoch": 1795464000000, "authorizer": {"jwt": {"claims": {"sub": "bench-subject"}, "scopes": None}},
    },
    "body": json.dumps({"channel": "room-1"}),
    "isBase64Encoded": False,
}  # fmt: skip

CONTEXT = textwrap.dedent(
    """
    class Context:
        function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "00000000-0000-0000-0000-000000000000"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        def get_remaining_time_in_millis(self): return 10_000
    """
)

OURS_TOKENS = """
import json
import {module} as m
t_import = time.perf_counter()
response = m.{function}(EVENT, Context())
assert response["statusCode"] == 200, response
"""
OURS_OTHER = """
import {module} as m
t_import = time.perf_counter()
from {client_module} import {client_function} as client
{calls}
"""
#: the first request's AWS work, for both sides: two reads, as most handlers do first; the media function
#: reads the playlist from S3 instead of a secret (S3 is not a JSON-protocol service: botocore on both sides)
DEFAULT_CALLS = """
assert {ddb}.get_item(TableName=TABLE, Key={{"pk": {{"S": "u#1"}}}})["Item"]
assert {secrets}.get_secret_value(SecretId=SECRET)["SecretString"]
"""
MEDIA_CALLS = """
assert {ddb}.get_item(TableName=TABLE, Key={{"pk": {{"S": "u#1"}}}})["Item"]
assert {s3}.get_object(Bucket=BUCKET, Key=PLAYLIST)["Body"].read()
"""
CALLS = {"media": MEDIA_CALLS}
PEER_API = """
import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel
logger = Logger(); metrics = Metrics(); app = APIGatewayHttpResolver(enable_validation=True)
ddb = boto3.client("dynamodb"); secrets = boto3.client("secretsmanager")
class Body(BaseModel):
    channel: str
@app.post("/tokens")
def post(body: Body) -> dict:
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "u#1"}})["Item"]
    secret = secrets.get_secret_value(SecretId=SECRET)["SecretString"]
    return {"channel": body.channel, "n": len(item) + len(secret)}
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
t_import = time.perf_counter()
response = handler(EVENT, Context())
assert response["statusCode"] == 200, response
"""
PEER_PLAIN_TEMPLATE = """
import boto3
from aws_lambda_powertools import Logger, Metrics
logger = Logger(); metrics = Metrics()
ddb = boto3.client("dynamodb"); other = boto3.client({other_service!r})
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    item = ddb.get_item(TableName=TABLE, Key={{"pk": {{"S": "u#1"}}}})["Item"]
    value = {other_call}
    return {{"n": len(item) + len(value)}}
t_import = time.perf_counter()
assert handler({{}}, Context())["n"]
"""
PEER_PLAIN = PEER_PLAIN_TEMPLATE.format(
    other_service="secretsmanager", other_call='other.get_secret_value(SecretId=SECRET)["SecretString"]'
)
PEER_MEDIA = PEER_PLAIN_TEMPLATE.format(
    other_service="s3", other_call='other.get_object(Bucket=BUCKET, Key=PLAYLIST)["Body"].read()'
)


def probe(body: str) -> str:
    """A child script: the context class and inputs first (untimed), then the timed body; prints the figures."""
    return (
        "import time, json\n"
        + CONTEXT
        + f"EVENT = json.loads({json.dumps(json.dumps(TOKEN_EVENT))})\nTABLE = {TABLE!r}\nSECRET = {SECRET!r}\n"
        + f"BUCKET = {BUCKET!r}\nPLAYLIST = {PLAYLIST!r}\n"
        + "t0 = time.perf_counter()\n"
        + textwrap.dedent(body)
        + "t1 = time.perf_counter()\n"
        + "print(json.dumps({'import_ms': (t_import - t0) * 1000, 'total_ms': (t1 - t0) * 1000}))\n"
    )


def our_code(handler: str, label: str) -> str:
    module, function = handler.rsplit(".", 1)
    client_module, client_function = OUR_CLIENT.split(":")
    if label == "tokens":
        return OURS_TOKENS.format(module=module, function=function)
    calls = CALLS.get(label, DEFAULT_CALLS).format(
        ddb='client("dynamodb")', secrets='client("secretsmanager")', s3='client("s3")'
    )
    return OURS_OTHER.format(module=module, client_module=client_module, client_function=client_function, calls=calls)


def run_child(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"cold-start probe failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@dataclass
class Pair:
    ours_total: float
    ours_import: float
    peer_total: float
    peer_import: float


def measure(ours: str, peer: str, env_ours: dict[str, str], env_peer: dict[str, str]) -> Pair:
    run_child(ours, env_ours)  # warm-up: bytecode caches
    run_child(peer, env_peer)
    a: list[dict[str, float]] = []
    b: list[dict[str, float]] = []
    for _ in range(RUNS):  # alternating, so load on this shared machine hits both alike
        a.append(run_child(ours, env_ours))
        b.append(run_child(peer, env_peer))
    med = statistics.median
    return Pair(
        med(s["total_ms"] for s in a), med(s["import_ms"] for s in a),
        med(s["total_ms"] for s in b), med(s["import_ms"] for s in b),
    )  # fmt: skip


def start_moto() -> tuple[object, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines in the bench output

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import boto3

    kw = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}  # fmt: skip
    ddb = boto3.client("dynamodb", **kw)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "u#1"}, "uid": {"N": "123456"}})  # what the peer reads
    ddb.put_item(TableName=TABLE, Item=RETURNING_USER)  # the token handler's caller has a uid: one read
    secret = {"app_certificate": "5CFd2fd1755d40ecb72977518be15d3b", "customer_id": "c", "customer_secret": "s"}
    boto3.client("secretsmanager", **kw).create_secret(Name=SECRET, SecretString=json.dumps(secret))
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=PLAYLIST, Body=b"#EXTM3U\n#EXTINF:4.000000\na.ts\n#EXT-X-ENDLIST\n")
    return server, url


def main() -> int:
    server, url = start_moto()
    results: dict[str, Pair] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench_cold_") as tmp:
            base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            base |= ENV | {"AWS_ENDPOINT_URL": url, "PYTHONPYCACHEPREFIX": str(Path(tmp, "pycache"))}
            print(f"python {sys.version.split()[0]}, moto server {url}, {RUNS} fresh processes per side (medians)")
            peers = {"api": probe(PEER_API), "plain": probe(PEER_PLAIN), "media": probe(PEER_MEDIA)}
            only = {name.strip() for name in os.environ.get("ONLY", "").split(",") if name.strip()}
            for label, (handler, kind, extra) in HANDLERS.items():
                if only and label not in only:
                    continue
                started = time.perf_counter()
                env_ours = base | DEPLOYED_ENV | extra
                peer = peers["media"] if label == "media" else peers[kind]
                results[label] = measure(probe(our_code(handler, label)), peer, env_ours, base)
                print(f"  measured {label} in {time.perf_counter() - started:.1f}s", flush=True)
    finally:
        server.stop()  # type: ignore[attr-defined]

    print("\nimport + first request (two clients, two reads: DynamoDB + Secrets Manager; media: DynamoDB + S3), ms")
    print(f"{'handler':<26} {'peer kind':<10} {'ours':>8} {'peer':>8} {'ratio':>7} {'target':>7}  "
          f"{'import ours':>11} {'import peer':>11} {'ratio':>6}")  # fmt: skip
    worst = 0.0
    failed = []
    for label, r in results.items():
        kind = HANDLERS[label][1]
        target = TARGET_TOKENS if label == "tokens" else TARGET_OTHERS
        ratio = r.ours_total / r.peer_total
        worst = max(worst, ratio)
        if ratio > target:
            failed.append(label)
        print(
            f"{label:<26} {kind:<10} {r.ours_total:8.1f} {r.peer_total:8.1f} {ratio:6.2f}x {target:6.2f}x  "
            f"{r.ours_import:11.1f} {r.peer_import:11.1f} {r.ours_import / r.peer_import:5.2f}x"
        )
    tokens = results.get("tokens")  # absent when ONLY names other rows
    token_part = (
        f"tokens {tokens.ours_total / tokens.peer_total:.2f}x the peer (target <= {TARGET_TOKENS}x)"
        if tokens is not None
        else "tokens not measured (ONLY)"
    )
    print(
        f"\nSUMMARY cold start: {token_part}; worst handler {worst:.2f}x (target <= {TARGET_OTHERS}x); "
        f"above target: {', '.join(failed) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
