"""A recording start whose transaction commits but whose reply is lost: one recording, no ghost (issue 22).

moto (the pinned version) ignores ``ClientRequestToken``: a retried TransactWriteItems is committed again, so
its conditions fail. This proxy sits between the client and a moto server and adds what DynamoDB does
(docs/known-limitations.md): a TransactWriteItems with a token already seen in the last 10 minutes and the
same request is answered as the success it was, without running it again; with a different request it is
``IdempotentParameterMismatchException``. It can also lose the reply of the next commit (the transaction is
committed in moto, then the client gets a 500 or a reset connection).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import awsfast
import boto3
import pytest
from moto.server import ThreadedMotoServer
from service.recordings.repository import RecordingsRepository, from_item

from tests.support.servers import serving

REGION = "us-east-1"
TABLE = "recordings"


class DynamoDbProxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""
    lose_next_commit: str | None = None  # "500" or "reset"
    tokens: dict[str, tuple[str, bytes]] = {}  # token -> (request digest, stored reply)
    commits = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        cls = type(self)
        transact = self.headers.get("X-Amz-Target", "").endswith(".TransactWriteItems")
        token = json.loads(body).get("ClientRequestToken") if transact else None
        digest = hashlib.sha256(json.dumps({k: v for k, v in json.loads(body).items() if k != "ClientRequestToken"},
                                           sort_keys=True).encode()).hexdigest() if transact else ""  # fmt: skip
        if token and token in cls.tokens:
            seen_digest, reply = cls.tokens[token]
            if seen_digest == digest:
                self._reply(200, reply)
            else:
                mismatch = {"__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                            "message": "Request params differ from a previous request with this token"}  # fmt: skip
                self._reply(400, json.dumps(mismatch).encode())
            return
        parts = urlsplit(cls.upstream)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        conn.request("POST", "/", body, {k: v for k, v in self.headers.items() if k.lower() != "content-length"})
        response = conn.getresponse()
        status, reply = response.status, response.read()
        conn.close()
        if transact and status == 200:
            cls.commits += 1
            if token:
                cls.tokens[token] = (digest, reply)
            lost, cls.lose_next_commit = cls.lose_next_commit, None
            if lost == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if lost == "500":
                error = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "lost"}
                self._reply(500, json.dumps(error).encode())
                return
        self._reply(status, reply)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def proxy():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    upstream = f"http://127.0.0.1:{port}"
    boto3.client("dynamodb", endpoint_url=upstream, region_name=REGION, aws_access_key_id="x",
                 aws_secret_access_key="x").create_table(
        TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    DynamoDbProxy.upstream = upstream
    server = ThreadingHTTPServer(("127.0.0.1", 0), DynamoDbProxy)
    server.daemon_threads = True
    serving(server).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    moto.stop()


def fast_client(url: str) -> awsfast.FastClient:
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": REGION, "AWS_ENDPOINT_URL": url}
    fallback = boto3.client("dynamodb", endpoint_url=url, region_name=REGION, aws_access_key_id="x",
                            aws_secret_access_key="x")  # fmt: skip
    return awsfast.FastClient("dynamodb", fallback=lambda: fallback, environ=env, sleep=lambda seconds: None)


@pytest.mark.parametrize("loss", ["500", "reset"])
def test_a_commit_whose_reply_is_lost_leaves_one_recording_holding_the_lock(proxy, loss):
    repository = RecordingsRepository(TABLE, client=fast_client(proxy))
    recording = from_item({"recordingId": f"rec-{loss}", "channel": f"ch-{loss}", "status": "REQUESTED"})
    commits = DynamoDbProxy.commits
    DynamoDbProxy.lose_next_commit = loss
    outcome = repository.create(recording)
    assert DynamoDbProxy.lose_next_commit is None  # the reply was indeed lost
    assert outcome.kind == "created", outcome
    assert DynamoDbProxy.commits == commits + 1  # committed once; the retry was answered from the token
    assert repository.lock_holder(f"ch-{loss}") == f"rec-{loss}"


def test_the_proxy_models_dynamodbs_token_semantics(proxy):
    """The same token with another request is refused, as DynamoDB does (the proxy is not a yes-man)."""
    client = fast_client(proxy)
    put = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "token-check"}}}}
    client.transact_write_items(TransactItems=[put], ClientRequestToken="t-1")
    client.transact_write_items(TransactItems=[put], ClientRequestToken="t-1")  # replayed: no condition to fail
    other = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "token-other"}}}}
    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=[other], ClientRequestToken="t-1")
