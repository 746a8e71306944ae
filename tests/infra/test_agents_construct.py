"""The Agents construct in the synthesized template: the AgentsTable and its indexes (the repository's own key
schema), the routes on the HTTP API, the lifecycle state machine (step -> done? -> Wait until waitUntil -> step),
the reconciler's schedule, the profiles' secret and who may read it, and the processor's NCS product 17 wiring."""

from __future__ import annotations

import json
from typing import Any

from service.agents.repository import TABLE_KEYS

from tests.infra.template_helpers import function_by_handler, one, resources

API = "service.agents.api_handler.handler"
LIFECYCLE = "service.agents.tasks_handler.lifecycle"
RECONCILE = "service.agents.tasks_handler.reconcile"


def _env(template_json: dict[str, Any], handler: str) -> dict[str, Any]:
    _, fn = function_by_handler(template_json, handler)
    return fn["Properties"]["Environment"]["Variables"]


def test_the_table_has_the_indexes_the_repository_queries(template_json):
    _, table = one(template_json, "AWS::DynamoDB::GlobalTable", "AgentsAgentsTable")
    props = table["Properties"]
    assert props["KeySchema"] == TABLE_KEYS["KeySchema"]
    declared = {(d["AttributeName"], d["AttributeType"]) for d in props["AttributeDefinitions"]}
    assert declared == {(d["AttributeName"], d["AttributeType"]) for d in TABLE_KEYS["AttributeDefinitions"]}
    indexes = {i["IndexName"]: i["KeySchema"] for i in props["GlobalSecondaryIndexes"]}
    assert indexes == {i["IndexName"]: i["KeySchema"] for i in TABLE_KEYS["GlobalSecondaryIndexes"]}
    replica = props["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_agents_route_is_on_the_api_with_the_jwt_authorizer(template_json):
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(template_json, "AWS::ApiGatewayV2::Route").values()
        if "agents" in r["Properties"]["RouteKey"]
    }
    assert set(routes) == {
        "GET /agents", "POST /agents", "GET /agents/{id}", "DELETE /agents/{id}",
        "POST /agents/{id}/speak", "POST /agents/{id}/interrupt",
    }  # fmt: skip
    assert all(r["AuthorizationType"] == "JWT" for r in routes.values())


def test_the_api_function_knows_its_table_bucket_profiles_and_state_machine(template_json):
    env = _env(template_json, API)
    assert {"AGENTS_TABLE", "AGENTS_HISTORY_BUCKET", "AGENTS_PROFILES", "AGENTS_STATE_MACHINE_ARN",
            "APP_CERTIFICATE_SECRET_NAME", "AGORA_APP_ID", "AGORA_REST_SECRET_NAME"} <= set(env)  # fmt: skip
    profiles = json.loads(env["AGENTS_PROFILES"])
    assert set(profiles) == {"assistant"}
    assert "{{secret:llm_api_key}}" in json.dumps(profiles)  # a placeholder, never a key
    assert profiles["assistant"]["secret"] == "AgoraServerless/agents/assistant"
    for handler in (LIFECYCLE, RECONCILE):
        assert "AGENTS_STATE_MACHINE_ARN" not in _env(template_json, handler)  # only the API starts executions


def test_the_profile_secret_is_generated_and_read_only_by_the_agent_functions(template_json):
    _, secret = one(template_json, "AWS::SecretsManager::Secret", "AgentsProfileSecret")
    assert secret["Properties"]["Name"] == "AgoraServerless/agents/assistant"
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "llm_api_key"
    readers = sorted(
        name
        for name, body in resources(template_json, "AWS::IAM::Policy").items()
        if "agents/assistant" in json.dumps(body)
    )
    assert readers and all(name.startswith("Agents") for name in readers), readers
    assert len(readers) == 3  # the API, the lifecycle step and the reconciler


def test_the_lifecycle_loop_waits_until_the_step_says_then_ends_when_done(template_json):
    _, machine = one(template_json, "AWS::StepFunctions::StateMachine", "AgentsLifecycleWorkflow")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts))
    states = definition["States"]
    assert definition["StartAt"] == "LifecycleStep"
    assert states["LifecycleStep"]["Next"] == "AgentEnded?"
    choice = states["AgentEnded?"]
    assert choice["Choices"] == [{"Variable": "$.done", "BooleanEquals": True, "Next": "Ended"}]
    assert choice["Default"] == "WaitUntilNextWake"
    assert states["WaitUntilNextWake"] == {"Type": "Wait", "TimestampPath": "$.waitUntil", "Next": "LifecycleStep"}
    assert states["Ended"]["Type"] == "Succeed"


def test_the_reconciler_runs_on_a_schedule(template_json):
    fn_id, _ = function_by_handler(template_json, RECONCILE)
    rules = [
        r["Properties"]
        for r in resources(template_json, "AWS::Events::Rule", "AgentsReconcilerSchedule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]} for t in r["Properties"]["Targets"])
    ]
    assert len(rules) == 1 and rules[0]["ScheduleExpression"] == "rate(5 minutes)"


def test_the_processor_applies_product_17_with_the_table_and_history(template_json):
    _, fn = function_by_handler(template_json, "service.webhooks.processor.handler")
    env = fn["Properties"]["Environment"]["Variables"]
    assert "AGENTS_TABLE" in env and "AGENTS_HISTORY_BUCKET" in env


def test_history_is_written_only_under_agents(template_json):
    for body in resources(template_json, "AWS::IAM::Policy").values():
        for statement in body["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] == "s3:PutObject" and "agents/" in json.dumps(statement["Resource"]):
                assert json.dumps(statement["Resource"]).endswith('"/agents/*"]]}')
