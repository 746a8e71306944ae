"""The recording construct in the synthesized stack: the state machine's shape (no polling), its retry and
catch rules, the maximum-duration timeout, the reconciler's schedule, the alarms, the table, the routes,
and IAM scoped to exactly what each function does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.recording_workflow import RecordingTuning

RETRYABLE = {"AgoraRateLimitedError", "AgoraServerError", "AgoraUnavailableError"}
STATES = {
    "Init": "Pass",
    "Acquire": "Task",
    "AcquireOutcome": "Choice",
    "Start": "Task",
    "StartOutcome": "Choice",
    "ResolveStart": "Task",
    "ResolveOutcome": "Choice",
    "ResolveWait": "Wait",
    "CountRestart": "Pass",
    "CountReacquire": "Pass",
    "RenewResource": "Pass",
    "CanReacquire": "Choice",
    "StartTranscription": "Task",
    "WaitForStop": "Task",
    "Stop": "Task",
    "StopOutcome": "Choice",
    "Finalize": "Task",
    "Done": "Succeed",
    "RecordFailure": "Task",
    "Failed": "Fail",
    # a step our limiter held back: keep the new total, wait the seconds it named, run the step again
    **{f"{step}{suffix}": kind for step in ("Acquire", "Start", "Stop")
       for suffix, kind in (("Throttled", "Pass"), ("LimiterWait", "Wait"))},
}  # fmt: skip


def _one(resources: dict[str, Any], type_: str, prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in resources.items() if v["Type"] == type_ and k.startswith(prefix)]
    assert len(found) == 1, (type_, prefix, [k for k, _ in found])
    return found[0]


def _text(value: Any) -> str:
    """A Fn::Join'ed string with its tokens rendered as <LogicalId> (enough to read the ASL)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_text(part) for part in value["Fn::Join"][1])
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}>"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    _, machine = _one(template["Resources"], "AWS::StepFunctions::StateMachine", "RecordingWorkflow")
    return json.loads(_text(machine["Properties"]["DefinitionString"]))


@pytest.fixture(scope="module")
def resources(template_json: dict[str, Any]) -> dict[str, Any]:
    return template_json["Resources"]


@pytest.fixture(scope="module")
def asl(template_json: dict[str, Any]) -> dict[str, Any]:
    return _definition(template_json)


def _logical(resources: dict[str, Any], type_: str, prefix: str) -> str:
    return _one(resources, type_, prefix)[0]


def test_state_machine_is_standard_logged_and_traced(resources: dict[str, Any]) -> None:
    _, machine = _one(resources, "AWS::StepFunctions::StateMachine", "RecordingWorkflow")
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False


def test_states_and_the_happy_path(asl: dict[str, Any]) -> None:
    states = asl["States"]
    assert {name: s["Type"] for name, s in states.items()} == STATES
    path, name = [], asl["StartAt"]
    while name:
        path.append(name)
        name = states[name].get("Next") or states[name].get("Default")
    assert path == [
        "Init", "Acquire", "AcquireOutcome", "Start", "StartOutcome", "WaitForStop", "Stop", "StopOutcome",
        "Finalize", "Done",
    ]  # fmt: skip


def test_an_unknown_start_outcome_is_resolved_never_failed_blind(asl: dict[str, Any]) -> None:
    """Start's "unknown" goes to ResolveStart, which adopts (-> WaitForStop), looks again after a Wait, or
    restarts with a new acquire once the recorder is removed; the channel is never freed on the way."""
    states = asl["States"]
    assert states["Start"]["ResultPath"] == "$.start"
    assert states["StartOutcome"]["Choices"] == [
        {"Variable": "$.start.waitSeconds", "IsPresent": True, "Next": "StartThrottled"},
        {"Variable": "$.start.outcome", "StringEquals": "unknown", "Next": "ResolveStart"},
        {"Variable": "$.start.transcribe", "IsPresent": True, "Next": "StartTranscription"},
    ]
    assert states["StartOutcome"]["Default"] == "WaitForStop"
    resolve = states["ResolveStart"]
    assert resolve["Parameters"] == {"action": "resolve", "recordingId.$": "$.recordingId"}
    assert resolve["Next"] == "ResolveOutcome" and resolve["ResultPath"] == "$.resolve"
    assert resolve["Catch"][-1]["Next"] == "RecordFailure"
    outcome = states["ResolveOutcome"]
    adopted_transcribing = {"And": [{"Variable": "$.resolve.resolution", "StringEquals": "adopted"},
                                    {"Variable": "$.resolve.transcribe", "IsPresent": True}],
                            "Next": "StartTranscription"}  # fmt: skip
    assert outcome["Choices"][0] == adopted_transcribing
    assert {c["StringEquals"]: c["Next"] for c in outcome["Choices"][1:]} == {
        "adopted": "WaitForStop",
        "pending": "ResolveWait",
    }
    assert outcome["Default"] == "CountRestart"
    assert states["ResolveWait"] == {
        "Type": "Wait", "SecondsPath": "$.resolve.waitSeconds", "Next": "ResolveStart",
        "Comment": states["ResolveWait"]["Comment"],
    }  # fmt: skip
    restart = states["CountRestart"]
    assert restart["Next"] == "CanReacquire"
    assert restart["Parameters"]["reacquires.$"] == "States.MathAdd($.reacquires, 1)"
    assert restart["Parameters"]["error"] == {"Error": "RecorderRemoved", "Cause.$": "$.resolve.reason"}


def test_a_recording_with_transcription_starts_it_before_the_wait_and_never_fails_for_it(asl: dict[str, Any]) -> None:
    """StartTranscription runs only when Start (or ResolveStart's adoption) said ``transcribe``: the recording
    records. Whatever it raises goes on to WaitForStop (service.recordings.transcription records the error)."""
    step = asl["States"]["StartTranscription"]
    assert step["Parameters"] == {"action": "transcribe", "recordingId.$": "$.recordingId"}
    assert step["Next"] == "WaitForStop" and step["ResultPath"] == "$.transcription"
    assert step["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.transcriptionError", "Next": "WaitForStop"}
    ]
    assert {e for r in step["Retry"] for e in r["ErrorEquals"]} <= {
        "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException",
    }  # fmt: skip


def test_no_polling_the_wait_is_a_task_token_with_the_maximum_duration(asl: dict[str, Any]) -> None:
    states = asl["States"]
    # the Wait states are the look-again loop after a start whose outcome is unknown and the limiter waits (both
    # bounded by the task function): none polls a recording
    assert sorted(n for n, s in states.items() if s["Type"] == "Wait") == [
        "AcquireLimiterWait", "ResolveWait", "StartLimiterWait", "StopLimiterWait",
    ]  # fmt: skip
    wait = states["WaitForStop"]
    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert wait["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert wait["TimeoutSeconds"] == 4 * 3600  # recordingMaxHours default
    assert wait["Catch"][0] == {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Stop"}


@pytest.mark.parametrize(("step", "result"), [("Acquire", "$.acquire"), ("Start", "$.start"), ("Stop", "$.stop")])
def test_a_limiter_wait_goes_through_a_wait_state_and_back_to_the_step(
    asl: dict[str, Any], step: str, result: str
) -> None:
    """``{"waitSeconds": n, "throttledSeconds": total}`` from the step: keep the total (the next call bounds it),
    Wait n seconds (SecondsPath), run the same step again. No function sleeps for the limiter."""
    states = asl["States"]
    assert states[step]["ResultPath"] == result
    outcome = states[step]["Next"]
    assert states[outcome]["Choices"][0] == {
        "Variable": f"{result}.waitSeconds", "IsPresent": True, "Next": f"{step}Throttled",
    }  # fmt: skip
    keep = states[f"{step}Throttled"]
    assert (keep["InputPath"], keep["ResultPath"], keep["Next"]) == (
        f"{result}.throttledSeconds", "$.throttledSeconds", f"{step}LimiterWait",
    )  # fmt: skip
    pause = states[f"{step}LimiterWait"]
    assert (pause["SecondsPath"], pause["Next"]) == (f"{result}.waitSeconds", step)


def test_the_limiter_total_travels_with_the_execution(asl: dict[str, Any]) -> None:
    """Every state that rebuilds the execution's input keeps ``throttledSeconds``; the steps receive it."""
    states = asl["States"]
    assert states["Init"]["Parameters"]["throttledSeconds"] == 0
    for name in ("CountReacquire", "CountRestart"):
        assert states[name]["Parameters"]["throttledSeconds.$"] == "$.throttledSeconds"
    for name in ("Acquire", "Start"):
        assert states[name]["Parameters"]["throttledSeconds.$"] == "$.throttledSeconds"
    assert states["Stop"]["Parameters"] == {"action": "stop", "state.$": "$"}


def test_a_resource_aged_in_limiter_waits_is_renewed_without_counting_a_reacquire(asl: dict[str, Any]) -> None:
    states = asl["States"]
    catches = states["Start"]["Catch"]
    assert catches[0] == {"ErrorEquals": ["ResourceAgedInLimiter"], "ResultPath": "$.error", "Next": "RenewResource"}
    renew = states["RenewResource"]
    assert renew["Next"] == "Acquire"
    assert renew["Parameters"] == {
        "recordingId.$": "$.recordingId", "reacquires.$": "$.reacquires", "throttledSeconds.$": "$.throttledSeconds",
    }  # fmt: skip


def test_agoras_task_limit_is_retried_with_its_own_long_bounded_backoff(asl: dict[str, Any]) -> None:
    tuning = RecordingTuning()
    for name in ("Acquire", "Start", "ResolveStart", "Stop"):
        (capacity,) = [r for r in asl["States"][name]["Retry"] if r["ErrorEquals"] == ["AgoraCapacityError"]]
        assert capacity == {
            "ErrorEquals": ["AgoraCapacityError"], "IntervalSeconds": tuning.capacity_retry_interval_seconds,
            "MaxAttempts": tuning.capacity_retry_max_attempts, "BackoffRate": 2,
            "MaxDelaySeconds": tuning.capacity_retry_max_delay_seconds, "JitterStrategy": "FULL",
        }  # fmt: skip
        # after the last attempt the Catch records the failure with Agora's reason (vendor_over_load)
        assert asl["States"][name]["Catch"][-1]["Next"] == "RecordFailure"


def test_agora_calls_retry_transient_errors_with_jitter_only(asl: dict[str, Any]) -> None:
    for name in ("Acquire", "Start", "ResolveStart", "Stop"):
        retries = asl["States"][name]["Retry"]
        agora = [r for r in retries if set(r["ErrorEquals"]) & RETRYABLE]
        assert len(agora) == 1 and set(agora[0]["ErrorEquals"]) == RETRYABLE
        assert agora[0]["JitterStrategy"] == "FULL" and agora[0]["BackoffRate"] == 2
        assert all(r.get("JitterStrategy") == "FULL" for r in retries)
        retried = {e for r in retries for e in r["ErrorEquals"]}
        assert not retried & {"AgoraParameterError", "AgoraAuthError", "States.ALL", "States.TaskFailed"}
        assert any("Lambda.TooManyRequestsException" in r["ErrorEquals"] for r in retries)


def test_expired_resource_or_uid_conflict_acquires_again_a_bounded_number_of_times(asl: dict[str, Any]) -> None:
    states = asl["States"]
    catches = states["Start"]["Catch"]  # [0]: a resource aged in limiter waits, renewed without counting
    assert catches[1]["ErrorEquals"] == ["AgoraResourceExpiredError", "AgoraConflictError"]
    assert catches[1]["Next"] == "CountReacquire"
    assert states["CountReacquire"]["Parameters"]["reacquires.$"] == "States.MathAdd($.reacquires, 1)"
    choice = states["CanReacquire"]
    assert choice["Choices"] == [{"Variable": "$.reacquires", "NumericLessThanEquals": 3, "Next": "Acquire"}]
    assert choice["Default"] == "RecordFailure"


def test_every_failure_goes_through_the_fail_handler(asl: dict[str, Any]) -> None:
    states = asl["States"]
    for name in ("Acquire", "Start", "ResolveStart", "WaitForStop", "Stop", "Finalize"):
        last = states[name]["Catch"][-1]
        assert last == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
    assert states["RecordFailure"]["Next"] == "Failed"
    assert states["RecordFailure"]["Parameters"] == {"action": "fail", "state.$": "$"}
    assert states["Failed"]["Error"] == "RecordingFailed"


def test_the_test_definition_has_the_same_shape_with_smaller_numbers(asl: dict[str, Any]) -> None:
    from local.provision import synth_template
    from tests.workflow.recording_env import TEST_CONTEXT

    small = _definition(synth_template(TEST_CONTEXT))

    def shape(definition: dict[str, Any]) -> Any:
        return {
            name: (s["Type"], s.get("Next"), [c["Next"] for c in s.get("Catch", [])],
                   [r["ErrorEquals"] for r in s.get("Retry", [])])
            for name, s in definition["States"].items()
        }  # fmt: skip

    assert shape(small) == shape(asl)
    assert small["States"]["WaitForStop"]["TimeoutSeconds"] == TEST_CONTEXT["recordingMaxDurationSeconds"]
    agora = next(r for r in small["States"]["Start"]["Retry"] if "AgoraServerError" in r["ErrorEquals"])
    assert agora["IntervalSeconds"] == 1 and agora["MaxDelaySeconds"] == 1


def test_tuning_context_keys() -> None:
    assert RecordingTuning.context_key("retry_interval_seconds") == "recordingRetryIntervalSeconds"
    assert RecordingTuning.context_key("max_duration_seconds") == "recordingMaxDurationSeconds"


def test_the_task_function_is_the_only_thing_the_state_machine_invokes(resources: dict[str, Any]) -> None:
    task_fn = _logical(resources, "AWS::Lambda::Function", "RecordingTaskFunction")
    _, role_policy = _one(resources, "AWS::IAM::Policy", "RecordingWorkflowStateMachineRoleDefaultPolicy")
    statements = role_policy["Properties"]["PolicyDocument"]["Statement"]
    invoke = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert len(invoke) == 1
    assert [_text(r) for r in invoke[0]["Resource"]] == [f"<{task_fn}>", f"<{task_fn}>:*"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if a.startswith(("dynamodb:", "states:", "secretsmanager:"))}


def _statements(resources: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    _, policy = _one(resources, "AWS::IAM::Policy", prefix)
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_api_may_start_executions_of_this_state_machine_only(resources: dict[str, Any]) -> None:
    machine = _logical(resources, "AWS::StepFunctions::StateMachine", "RecordingWorkflow")
    statements = _statements(resources, "RecordingApiFunctionRoleDefaultPolicy")
    starts = [s for s in statements if "states:StartExecution" in json.dumps(s["Action"])]
    # minimizePolicies merges the two actions on the same state machine into one statement
    assert len(starts) == 1 and starts[0]["Resource"] == {"Ref": machine}
    assert sorted(starts[0]["Action"]) == ["states:SendTaskSuccess", "states:StartExecution"]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith("states:") for a in actions):
            assert statement["Resource"] == {"Ref": machine}
        assert "dynamodb:Scan" not in actions and "dynamodb:*" not in actions


def test_task_callback_policy_is_separate_and_scoped(resources: dict[str, Any]) -> None:
    machine = _logical(resources, "AWS::StepFunctions::StateMachine", "RecordingWorkflow")
    statements = _statements(resources, "RecordingTaskCallbackPolicy")
    # StartExecution: finalize and fail start the next QUEUED recording when they give a task slot back
    assert statements == [{
        "Action": ["states:SendTaskSuccess", "states:StartExecution"], "Effect": "Allow", "Resource": {"Ref": machine},
    }]  # fmt: skip


def test_reconciler_runs_every_five_minutes(resources: dict[str, Any]) -> None:
    reconciler = _logical(resources, "AWS::Lambda::Function", "RecordingReconcilerFunction")
    # one rule per 5 shards (tests/infra/test_reconciler_fanout.py checks the shards' inputs)
    rules = [v for k, v in resources.items() if v["Type"] == "AWS::Events::Rule" and
             k.startswith("RecordingReconcilerSchedule")]  # fmt: skip
    assert rules
    for rule in rules:
        assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
        assert rule["Properties"]["State"] == "ENABLED"
        assert {json.dumps(t["Arn"]) for t in rule["Properties"]["Targets"]} == {
            json.dumps({"Fn::GetAtt": [reconciler, "Arn"]})
        }
    statements = _statements(resources, "RecordingReconcilerFunctionRoleDefaultPolicy")
    describe = [s for s in statements if s["Action"] == "states:DescribeExecution"]
    assert len(describe) == 1 and _text(describe[0]["Resource"]).endswith(":execution:AgoraServerless-Recording:*")


def test_alarms_watch_failed_recordings_and_failed_executions(resources: dict[str, Any]) -> None:
    topic = _logical(resources, "AWS::SNS::Topic", "MonitoringAlarmTopic")
    alarms = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm" and
              k.startswith("RecordingWorkflow")}  # fmt: skip
    assert len(alarms) == 2
    failed = next(a for a in alarms.values() if a.get("MetricName") == "RecordingFailed")
    assert failed["Namespace"] == "AgoraServerless"
    assert failed["Dimensions"] == [{"Name": "service", "Value": "recordings"}]
    assert failed["Threshold"] == 1 and failed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    unrecorded = next(a for a in alarms.values() if "Metrics" in a)
    by_id = {m["Id"]: m for m in unrecorded["Metrics"]}
    assert by_id["executions"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsFailed"
    assert by_id["executions"]["MetricStat"]["Metric"]["Namespace"] == "AWS/States"
    assert by_id["recorded"]["MetricStat"]["Metric"]["MetricName"] == "RecordingFailed"
    for alarm in (failed, unrecorded):
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_alarm_topic_is_encrypted_and_tls_only(resources: dict[str, Any]) -> None:
    _, topic = _one(resources, "AWS::SNS::Topic", "MonitoringAlarmTopic")
    key_id = _logical(resources, "AWS::KMS::Key", "MonitoringAlarmTopicKey")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _, policy = _one(resources, "AWS::SNS::TopicPolicy", "MonitoringAlarmTopicPolicy")
    deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    key = resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key["KeyPolicy"]["Statement"])


def test_recordings_table(resources: dict[str, Any]) -> None:
    _, table = _one(resources, "AWS::DynamoDB::GlobalTable", "RecordingRecordingsTable")
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    indexes = {g["IndexName"]: [k["AttributeName"] for k in g["KeySchema"]] for g in props["GlobalSecondaryIndexes"]}
    assert indexes == {
        "bySid": ["sid"],
        "byChannel": ["channel", "createdAt"],
        "byStatus": ["activeStatus", "createdAt"],
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_routes_are_jwt_authorized(resources: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"].get("AuthorizationType")
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route" and "recordings" in r["Properties"]["RouteKey"]
    }
    assert routes == {
        "GET /recordings": "JWT",
        "POST /recordings": "JWT",
        "GET /recordings/{id}": "JWT",
        "GET /recordings/{id}/playlist": "JWT",
        "GET /recordings/{id}/snapshots": "JWT",
        "GET /recordings/{id}/captions": "JWT",  # the transcriptions construct's route (live captions)
        "POST /recordings/{id}/stop": "JWT",
        "POST /recordings/{id}/update": "JWT",
        "POST /recordings/{id}/layout": "JWT",
    }


def test_function_environment_names_resources(resources: dict[str, Any]) -> None:
    _, api = _one(resources, "AWS::Lambda::Function", "RecordingApiFunction")
    env = api["Properties"]["Environment"]["Variables"]
    machine = _logical(resources, "AWS::StepFunctions::StateMachine", "RecordingWorkflow")
    assert env["RECORDING_STATE_MACHINE_ARN"] == {"Ref": machine}
    assert env["RECORDING_MAX_DURATION_SECONDS"] == str(4 * 3600)
    assert env["RECORDING_ASYNC_STOP"] == "true"
    assert {"RECORDINGS_TABLE", "AGORA_APP_ID", "AGORA_REST_SECRET_NAME", "AGORA_RATE_LIMIT_TABLE"} <= set(env)
    _, tasks = _one(resources, "AWS::Lambda::Function", "RecordingTaskFunction")
    assert tasks["Properties"]["Timeout"] >= 45  # a synchronous stop may wait 20 s for uploads


@pytest.mark.parametrize("function", ["RecordingApiFunction", "RecordingTaskFunction", "RecordingReconcilerFunction"])
def test_every_recording_function_knows_the_admission_limits(resources: dict[str, Any], function: str) -> None:
    """The API queues past the task limit, finalize/fail and the reconciler admit: all read the same numbers
    (``agoraMaxTasks``, ``admissionQueueCap``), and the task function bounds its limiter waits."""
    env = _one(resources, "AWS::Lambda::Function", function)[1]["Properties"]["Environment"]["Variables"]
    assert (env["AGORA_MAX_TASKS"], env["ADMISSION_QUEUE_CAP"], env["RECORDING_THROTTLE_MAX_SECONDS"]) == (
        "50", "1000", "1800",
    )  # fmt: skip
