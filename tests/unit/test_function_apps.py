"""Every function other than the recordings ones (``test_recording_apps.py``) built with ``create_app(settings,
deps)`` on in-memory dependencies: two apps in one process keep their own settings and dependencies, and no
handler module reads the environment or caches its dependencies at import."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from agorakit.ncs.signature import signature_headers
from agorakit.tokens import verify
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from service.apidocs import handler as apidocs
from service.channels import handler as channels
from service.channels.settings import ChannelsSettings
from service.events import publisher
from service.events.settings import PublisherSettings
from service.media import handler as media
from service.media.settings import MediaSettings
from service.projects import handler as projects
from service.projects.settings import ProjectsSettings
from service.tokens import handler as tokens
from service.tokens.logic import TokenDependencies
from service.tokens.settings import TokenSettings
from service.webhooks import intake, processor
from service.webhooks.logic import KeyringCache
from service.webhooks.settings import IntakeSettings, ProcessorSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "functions" / "service"
#: every Lambda entry point module (the recordings ones included)
ENTRY_POINTS = sorted(
    path
    for path in SERVICE.rglob("*.py")
    if any(isinstance(node, ast.FunctionDef) and node.name == "handler" for node in ast.parse(path.read_text()).body)
)
APP_ID = "970CA35de60c44645bbae8a215061b33"


def api_event(method: str, path: str, body: Any = None, *, groups: str = "[admins]") -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "r1", "routeKey": f"{method} {path}", "stage": "$default",
            "authorizer": {"jwt": {"claims": {"sub": "user-1", "cognito:groups": groups}, "scopes": None}},
        },
        "body": None if body is None else json.dumps(body), "isBase64Encoded": False,
    }  # fmt: skip


class Secrets:
    def __init__(self, documents: Mapping[str, dict[str, Any]]):
        self.documents = dict(documents)
        self.reads: list[str] = []

    def get_json(self, name: str) -> dict[str, Any]:
        self.reads.append(name)
        return self.documents[name]


class Uids:
    def __init__(self, first: int):
        self.next, self.known = first, dict[str, int]()

    def uid_for(self, subject: str) -> int:
        if subject not in self.known:
            self.known[subject], self.next = self.next, self.next + 1
        return self.known[subject]


class Inbox:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def put_new(self, record: Any) -> bool:
        self.records.append(record)
        return True


class Bus:
    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []

    def put(self, entries: Sequence[dict[str, str]]) -> list[int]:
        self.entries.extend(entries)
        return []


class Metric:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str, value: float = 1, *, unit: str = "Count", dimensions: Any = None) -> None:
        self.names.append(name)


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: str(p.relative_to(SERVICE)))
def test_importing_a_handler_reads_no_settings_and_caches_no_dependencies(path: Path) -> None:
    """At module level: no ``from_env()`` call, no ``@cache`` function, a ``create_app`` and a ``reset``."""
    module = ast.parse(path.read_text())
    top_level_calls = [
        node.func.attr
        for statement in module.body
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for node in ast.walk(statement)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]
    assert "from_env" not in top_level_calls
    cached = [
        f.name
        for f in module.body
        if isinstance(f, ast.FunctionDef)
        for d in f.decorator_list
        if ast.unparse(d) in {"cache", "functools.cache", "lru_cache", "lru_cache()"}
    ]
    assert cached == []
    names = {n.name for n in module.body if isinstance(n, ast.FunctionDef)} | {
        t.id for n in module.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    assert {"create_app", "reset", "handler"} <= names


def test_two_token_apps_sign_with_their_own_certificate_and_uids() -> None:
    def app(certificate: str, first_uid: int) -> tokens.TokensApi:
        settings = TokenSettings(agora_app_id=APP_ID, app_certificate_secret_name="cert", users_table="unused")
        deps = TokenDependencies(uids=Uids(first_uid), secrets=Secrets({"cert": {"app_certificate": certificate}}))
        return tokens.create_app(settings, deps)

    first, second = app("1" * 32, 5_000), app("2" * 32, 9_000)
    one = json.loads(first(api_event("POST", "/tokens", {"channel": "room"}), None)["body"])
    two = json.loads(second(api_event("POST", "/tokens", {"channel": "room"}), None)["body"])
    assert (one["uid"], two["uid"]) == (5_000, 9_000)
    assert verify(one["rtc_token"], "1" * 32) and not verify(one["rtc_token"], "2" * 32)
    assert verify(two["rtc_token"], "2" * 32)
    refused = first(api_event("POST", "/tokens", {"channel": "room", "ttl": 0}), None)
    assert refused["statusCode"] == 422 and json.loads(refused["body"])


@pytest.mark.parametrize(
    ("module", "settings", "path"),
    [
        (
            channels,
            lambda group: ChannelsSettings(
                agora_app_id=APP_ID,
                admin_group=group,
                agora_rest_secret_name="s",
                kicking_rules_table="k",
                presence_table="p",
            ),
            "/kicking-rules",
        ),
        (
            projects,
            lambda group: ProjectsSettings(
                agora_app_id=APP_ID,
                owners_group=group,
                agora_rest_secret_name="s",
                usage_table="u",
                app_certificate_secret_name="c",
            ),
            "/projects",
        ),
    ],
    ids=["channels", "projects"],
)
def test_each_api_app_authorizes_with_its_own_settings(module: Any, settings: Any, path: str) -> None:
    """Each app's group is checked before anything else (no dependency is touched: ``deps`` is never read)."""
    first = module.create_app(settings("admins"), deps=None)
    second = module.create_app(settings("operators"), deps=None)
    assert first(api_event("GET", path, groups="[operators]"), None)["statusCode"] == 403
    assert second(api_event("GET", path, groups="[admins]"), None)["statusCode"] == 403


def test_two_intake_apps_store_in_their_own_inbox_with_their_own_secret() -> None:
    def app(secret: str) -> tuple[intake.Intake, Inbox]:
        inbox = Inbox()
        keyring = KeyringCache(Secrets({"ncs": {"1": secret}}), "ncs")
        return intake.create_app(
            IntakeSettings(inbox_table="unused", ncs_secret_name="ncs"), intake.IntakeDependencies(inbox, keyring)
        ), inbox

    (first, first_inbox), (second, second_inbox) = app("first-secret"), app("second-secret")
    notice = {"noticeId": "n1", "productId": 1, "eventType": 101, "notifyMs": 1, "payload": {"channelName": "c"}}
    body = json.dumps(notice).encode()
    event = {"headers": signature_headers("first-secret", body), "body": body.decode(), "isBase64Encoded": False}
    assert first(event)["statusCode"] == 200
    assert second(event)["statusCode"] == 401  # signed with the other function's secret
    assert len(first_inbox.records) == 1 and second_inbox.records == []


def test_two_processor_apps_report_to_their_own_dependencies() -> None:
    def app() -> tuple[processor.Processor, Metric]:
        metric = Metric()
        deps = processor.ProcessorDependencies(presence=None, recordings=None, metric=metric)  # type: ignore[arg-type]
        return processor.create_app(ProcessorSettings(presence_table="unused"), deps), metric

    (first, first_metric), (_second, second_metric) = app(), app()
    record = {"eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "1", "NewImage": {}}}
    assert first({"Records": [record]}) == {"batchItemFailures": []}  # consumed as invalid, counted
    assert first_metric.names and second_metric.names == []


def test_two_publishers_route_by_their_own_tables_to_their_own_bus() -> None:
    def app(rules_table: str) -> tuple[publisher.Publisher, Bus]:
        settings = PublisherSettings(
            event_bus_name=f"bus-{rules_table}", recordings_table="r", presence_table="p", media_table="m",
            kicking_rules_table=rules_table,
        )  # fmt: skip
        bus = Bus()
        return publisher.create_app(settings, publisher.PublisherDependencies(bus, lambda _sid: None)), bus

    (first, first_bus), (second, second_bus) = app("rules-1"), app("rules-2")
    record = {
        "eventName": "INSERT", "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/rules-1/stream/x",
        "dynamodb": {"SequenceNumber": "7", "Keys": {"id": {"N": "3"}},
                     "NewImage": {"id": {"N": "3"}, "cname": {"S": "c"}, "durationSeconds": {"N": "60"}}},
    }  # fmt: skip
    assert first({"Records": [record]}) == {"batchItemFailures": []}
    assert [e["EventBusName"] for e in first_bus.entries] == ["bus-rules-1"]
    assert second({"Records": [record]}) == {"batchItemFailures": [{"itemIdentifier": "7"}]}  # not its table
    assert second_bus.entries == []


class Store:
    def order_of(self, sid: str, key: str) -> tuple[str, str] | None:
        return None

    def put_file(self, item: dict[str, Any]) -> bool:
        raise AssertionError("never reached: the object cannot be read")

    def bump_revision(self, sid: str) -> int:
        return 1

    def file_items(self, sid: str) -> list[dict[str, Any]]:
        return []


class Unreadable:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def chunks(self, bucket: str, key: str, *, etag: str | None, version_id: str | None) -> Iterable[bytes]:
        self.asked.append(key)
        raise ConnectionError("S3 unreachable")


def test_two_media_apps_read_their_own_prefix_through_their_own_objects() -> None:
    def app(prefix: str) -> tuple[media.MediaFunction, Unreadable]:
        objects = Unreadable()
        deps = media.MediaDependencies(store=Store(), objects=objects)
        return media.create_app(MediaSettings(media_table="unused", recordings_prefix=prefix), deps), objects

    (first, first_objects), (second, second_objects) = app("recordings/"), app("elsewhere/")
    key = "recordings/sid1_room.m3u8"
    s3 = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"},
          "object": {"key": key, "eTag": "e", "sequencer": "01", "size": 1}}}  # fmt: skip
    batch = {"Records": [{"messageId": "m1", "body": json.dumps({"Records": [s3]}), "eventSource": "aws:sqs",
                          "receiptHandle": "h", "attributes": {}, "messageAttributes": {}}]}  # fmt: skip
    with pytest.raises(BatchProcessingError):  # transient: the whole (one-message) batch is delivered again
        first(batch)
    assert first_objects.asked == [key]
    assert second(batch) == {"batchItemFailures": []}  # outside its prefix: ignored
    assert second_objects.asked == []


def test_the_docs_app_serves_the_document_it_was_given() -> None:
    first, second = apidocs.create_app('{"openapi": "3.1.0"}'), apidocs.create_app("{}")
    assert first({"rawPath": "/openapi.json"})["body"] == '{"openapi": "3.1.0"}'
    assert second({"rawPath": "/openapi.json"})["body"] == "{}"
    assert first({"rawPath": "/nope"})["statusCode"] == 404
