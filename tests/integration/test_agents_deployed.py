"""The agents API function as deployed (``api_handler.handler``: settings from the environment, adapters from
``service.agents.deps``) on moto (DynamoDB, S3, Secrets Manager, in process) and the emulator: the bot token is
signed with the app certificate from Secrets Manager, vendor keys come from the profile's secret, the conversation
lands in the history bucket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from agorakit.tokens.parser import parse_access_token2
from service.adapters import aws as aws_adapter
from service.agents import api_handler, usecases
from service.agents.repository import TABLE_KEYS

from emulator import Emulator
from tests.integration._emulator_fixtures import APP_ID, CUSTOMER_ID, CUSTOMER_SECRET, make_emulator, wait_until
from tests.integration.test_agents_api import START
from tests.integration.test_agents_api import call as api_call
from tests.integration.test_agents_usecases import PROFILES, SECRET
from tests.integration.test_emulator_convoai import CERT

BUCKET = "agents-history-test"


class Deployed:
    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return api_handler.handler(event, context)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, Any]]:
    import boto3
    from moto import mock_aws

    with make_emulator(qps=0, time_scale=20, app_certificate=CERT) as emu, mock_aws():
        emu.join("room", 1001)
        region = "us-east-1"
        for name, value in {"AWS_DEFAULT_REGION": region, "AGORA_APP_ID": APP_ID, "AGENTS_TABLE": "agents",
                            "AGORA_REST_SECRET_NAME": "agora/rest", "AGORA_REST_BASE_URLS": emu.url,
                            "APP_CERTIFICATE_SECRET_NAME": "agora/cert", "AGENTS_HISTORY_BUCKET": BUCKET,
                            "AGENTS_PROFILES": PROFILES, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        aws_adapter.reset_clients()
        ddb = boto3.client("dynamodb", region_name=region)
        ddb.create_table(TableName="agents", BillingMode="PAY_PER_REQUEST", **TABLE_KEYS)
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket=BUCKET)
        sm = boto3.client("secretsmanager", region_name=region)
        sm.create_secret(Name="agora/rest", SecretString=json.dumps({"customer_id": CUSTOMER_ID,
                                                                     "customer_secret": CUSTOMER_SECRET}))  # fmt: skip
        sm.create_secret(Name="agora/cert", SecretString=json.dumps({"app_certificate": CERT}))
        sm.create_secret(Name="agents/tutor", SecretString=json.dumps(SECRET))
        api_handler.reset()
        try:
            yield emu, s3
        finally:
            api_handler.reset()
            aws_adapter.reset_clients()


def test_the_deployed_function_starts_talks_and_keeps_the_history(stack: tuple[Emulator, Any]) -> None:
    emu, s3 = stack
    deployed = Deployed()
    status, agent = api_call(deployed, "POST", "/agents", body=START)
    assert status == 201, agent
    [emulated] = emu.agents_state()["agents"]
    token = emu.world.agents[emulated["agent_id"]].token
    parsed = parse_access_token2(token)
    assert parsed.verify(CERT) and parsed.app_id == APP_ID  # signed with the certificate from Secrets Manager
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    deps = api_handler.default_app().deps  # NCS 101 as the inbox processor would apply it, on the deployed table
    assert [usecases.apply_event(e, deps) for e in emu.events() if e["productId"] == 17] == ["STARTING -> RUNNING"]
    assert api_call(deployed, "POST", f"/agents/{agent['agentId']}/speak", body={"text": "Deployed hello"})[0] == 202
    status, ended = api_call(deployed, "DELETE", f"/agents/{agent['agentId']}")
    assert status == 200 and ended["history"]["key"]
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=ended["history"]["key"])["Body"].read())
    assert "Deployed hello" in [t["content"] for t in stored["turns"]]  # the emulated talk goes on too
    assert "sk-llm-secret-42" not in json.dumps(stored) and "sk-llm-secret-42" not in json.dumps(ended)


def test_the_inbox_processor_applies_product_17_when_agents_are_deployed(stack: tuple[Emulator, Any]) -> None:
    from types import SimpleNamespace

    from service.webhooks import processor
    from service.webhooks.settings import ProcessorSettings

    emu, _ = stack
    status, agent = api_call(Deployed(), "POST", "/agents", body=START)
    assert status == 201
    assert wait_until(lambda: emu.agents_state()["agents"][0]["status"] == "RUNNING")
    settings = ProcessorSettings(presence_table="presence", agents_table="agents")
    deps = processor.build_dependencies(settings)
    assert deps.agents is not None
    records = [
        {"eventName": "INSERT", "eventSource": "aws:dynamodb",
         "dynamodb": {"SequenceNumber": str(i + 1), "NewImage": {"noticeId": {"S": e["noticeId"]},
                      "body": {"S": json.dumps(e, separators=(",", ":"))}}}}
        for i, e in enumerate(e for e in emu.events() if e["productId"] == 17)
    ]  # fmt: skip
    context = SimpleNamespace(function_name="fn", function_version="$LATEST", memory_limit_in_mb=256,
                              invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
                              aws_request_id="r")  # fmt: skip
    assert processor.create_app(settings, deps)({"Records": records}, context) == {"batchItemFailures": []}
    assert api_call(Deployed(), "GET", f"/agents/{agent['agentId']}")[1]["state"] == "RUNNING"
    without = ProcessorSettings(presence_table="presence")
    assert processor.build_dependencies(without).agents is None  # no agents deployed: product 17 is skipped


def test_the_task_entry_points_step_and_reconcile(stack: tuple[Emulator, Any]) -> None:
    from service.agents import tasks_handler

    tasks_handler.reset()
    status, agent = api_call(Deployed(), "POST", "/agents", body=START)
    assert status == 201
    step = tasks_handler.lifecycle({"agentId": agent["agentId"]})
    assert step["done"] is False and step["waitUntil"].endswith("Z")
    with pytest.raises(ValueError):
        tasks_handler.lifecycle({})
    assert tasks_handler.reconcile({}) == {"ended": [], "stopped": [], "kept": 1}
    tasks_handler.reset()
