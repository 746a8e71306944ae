"""Cold-start import cost of the handlers, each in a fresh process, against a plain Powertools + boto3 handler.

The peer is what a typical API handler looks like (module-level boto3 client, Logger/Tracer/Metrics and a
validating resolver). Each figure is the median of several fresh ``python -X importtime`` processes
(the top-level cumulative import time, microseconds), plus the wall time of the import in that process.
Our handlers load boto3 on their first request instead of at import; that cost is measured separately and
printed too, so the comparison hides nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

RUNS = 7
ENV = {
    "AGORA_APP_ID": "0" * 32,
    "APP_CERTIFICATE_SECRET_NAME": "agora-serverless/app-certificate",
    "USERS_TABLE": "users",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "XRAY_SDK": "false",  # as the deployed token function is configured (infra/constructs/tokens.py)
}

PEER = textwrap.dedent(
    """
    import boto3
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    logger = Logger(); metrics = Metrics(); tracer = Tracer()
    app = APIGatewayHttpResolver(enable_validation=True)
    ddb = boto3.client("dynamodb")
    """
)

HANDLERS = {
    "token handler (service.tokens.handler)": "service.tokens.handler",
}
LAZY_FIRST_REQUEST = "from service.adapters.aws import client; client('dynamodb'); client('secretsmanager')"


def measure(code: str, extra_path: str | None = None) -> float:
    """Median wall-clock milliseconds to run ``code`` in a fresh interpreter (import work only)."""
    env = {**os.environ, **ENV}
    if extra_path:
        env["PYTHONPATH"] = extra_path + os.pathsep + env.get("PYTHONPATH", "")
    probe = f"import time; t=time.perf_counter()\n{code}\nprint((time.perf_counter()-t)*1000)"
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "peer_handler.py").write_text(PEER)
        measure("import peer_handler", tmp)  # warm the .pyc cache for both sides before measuring
        peer = measure("import peer_handler", tmp)
    print(f"peer: plain Powertools + boto3 handler import: {peer:7.1f} ms (median of {RUNS} fresh processes)")
    for label, module in HANDLERS.items():
        measure(f"import {module}")
        ours = measure(f"import {module}")
        print(f"ours: {label} import: {ours:7.1f} ms -> {ours / peer:.2f}x the peer (target < 0.50x)")
        with_sdk = measure(f"import os; os.environ['XRAY_SDK'] = 'true'\nimport {module}")
        print(f"      with XRAY_SDK=true (Powertools Tracer): {with_sdk:7.1f} ms -> {with_sdk / peer:.2f}x the peer")
    lazy = measure(LAZY_FIRST_REQUEST)
    peer_first = measure("import boto3; boto3.client('dynamodb'); boto3.client('secretsmanager')")
    print(f"peer: the same two clients through boto3 (in the peer's import): {peer_first:7.1f} ms")
    print(f"note: botocore + 2 clients, loaded by our handlers on the first request: {lazy:7.1f} ms")
    xray = measure("from aws_lambda_powertools import Tracer; Tracer()")
    print(f"note: Powertools Tracer (X-Ray SDK) instantiation, left out of the token function: {xray:7.1f} ms")


if __name__ == "__main__":
    main()
