"""Issue 14 in the template: what deploys is what was tested, timing on AWS, operators can see.

Two synthesized templates: the default one (``template_json``) and one with every production switch
turned (``alt``: dev stack, 24-hour recordings, 90-day logs, tags, callback URLs, hosted UI, and a
stack name long enough to break a naive state machine name).
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import pytest

from infra import runtime
from infra.constructs.recording_workflow import MAX_STATE_MACHINE_NAME, state_machine_name

ROOT = Path(__file__).resolve().parents[2]
LONG_STACK = "Agora-Serverless-Production-Stack-For-The-Media-Team-In-Region-Eu-West-1x"
ALT_CONTEXT = {
    "aws:cdk:bundling-stacks": [],
    "logRetentionDays": "90",
    "dev": "true",
    "recordingMaxHours": "24",
    "tags": "team=media,env=dev",
    "callbackUrls": "https://app.example/cb,https://admin.example/cb",
    "logoutUrls": "https://app.example/",
    "hostedUiDomainPrefix": "agora-demo-42",
    "stackName": LONG_STACK,
}


@pytest.fixture(scope="module")
def alt() -> dict[str, Any]:
    from aws_cdk.assertions import Template

    from app import build_app

    app, stack = build_app(context=dict(ALT_CONTEXT))
    app.synth()  # cdk-nag runs here: the dev stack's extra resources must pass it too
    return Template.from_stack(stack).to_json()


def of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def one(template: dict[str, Any], type_: str, prefix: str) -> dict[str, Any]:
    found = [v for k, v in of_type(template, type_).items() if k.startswith(prefix)]
    assert len(found) == 1, (type_, prefix, len(found))
    return found[0]


def project_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Our functions (the factory's), not CDK's own custom-resource handlers."""
    return {
        k: v
        for k, v in of_type(template, "AWS::Lambda::Function").items()
        if str(v["Properties"].get("Handler", "")).startswith("service.")
    }


# -- Powertools and the runtime ---------------------------------------------------------------------
def test_powertools_layer_is_the_versioned_parameter_of_the_pinned_version(template_json):
    pinned = runtime.pinned_powertools_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned)
    wanted = f"/aws/service/powertools/python/arm64/python3.13/{pinned}"
    defaults = [p.get("Default") for p in template_json["Parameters"].values()]
    assert wanted in defaults
    assert not [d for d in defaults if isinstance(d, str) and d.endswith("/latest")]
    for name, fn in project_functions(template_json).items():
        layers = json.dumps(fn["Properties"]["Layers"])
        ssm_params = [k for k, p in template_json["Parameters"].items() if p.get("Default") == wanted]
        assert any(p in layers for p in ssm_params), name


def test_synth_fails_when_the_pin_and_the_tested_powertools_disagree(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("aws-lambda-powertools[parser]==3.37.0\nhttpx==0.28.1\n")
    assert runtime.checked_powertools_version(req, installed="3.37.0") == "3.37.0"
    with pytest.raises(runtime.RuntimeConfigError, match=r"pins aws-lambda-powertools==3.37.0 but .* has 3.38.0"):
        runtime.checked_powertools_version(req, installed="3.38.0")
    req.write_text("aws-lambda-powertools>=3.0\n")
    with pytest.raises(runtime.RuntimeConfigError, match="must pin aws-lambda-powertools exactly once"):
        runtime.pinned_powertools_version(req)


def test_the_tested_environment_has_the_pinned_powertools():
    assert runtime.installed_powertools_version() == runtime.pinned_powertools_version()


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "eu-isoe-west-1"])
def test_regions_without_the_powertools_parameter_fail_clearly(region):
    with pytest.raises(runtime.RuntimeConfigError, match=f"region {region}: Powertools publishes no layer"):
        runtime.powertools_parameter("3.37.0", region)
    assert runtime.powertools_parameter("3.37.0", "eu-west-1").endswith("/python3.13/3.37.0")
    assert len(runtime.POWERTOOLS_REGIONS) == 30


def test_every_function_runs_the_tested_python_on_arm64(template_json):
    functions = project_functions(template_json)
    # ten, plus the transcriptions API, its restart task and reconciler, the agents API, lifecycle task and reconciler
    assert len(functions) == 16
    for name, fn in functions.items():
        assert fn["Properties"]["Runtime"] == "python3.13", name
        assert fn["Properties"]["Architectures"] == ["arm64"], name
    (layer,) = of_type(template_json, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]


def _dry_run(*args: str) -> list[str]:
    """The arguments of each pytest ``make -n ARGS`` would run (what the recipe does, not how it is written)."""
    out = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    runs = re.findall(r"/python -m pytest (.*?)(?:;|$)", out, re.M)
    return [run.strip() for run in runs if "(and " not in run]  # not the line that echoes it


def test_ci_runs_the_functions_tests_on_python_313():
    makefile = (ROOT / "Makefile").read_text()
    (line,) = _dry_run("test-py313", "TEST_JOBS=2")
    tooling_ignored = " ".join(f"--ignore=tests/integration/{m}" for m in
                               re.findall(r"^PY313_LOCAL_TOOLING = (.*)$", makefile, re.M)[0].split())  # fmt: skip
    assert line == f"-n 4 --dist loadgroup {tooling_ignored} tests/unit tests/integration tests/workflow"
    assert "test-py313: setup-py313" in makefile and ".venv-py313/bin/python" in makefile.replace(
        "$(VENV313)", ".venv-py313"
    )
    # what it leaves to make test is the local stack's own process tests, and they exist
    (tooling,) = re.findall(r"^PY313_LOCAL_TOOLING = (.*)$", makefile, re.M)
    for module in tooling.split():
        assert module.startswith("test_local_") and (ROOT / "tests" / "integration" / module).is_file(), module
    assert "make test-py313" in (ROOT / ".ci" / "run").read_text()
    assert "3.13" in (ROOT / "docs" / "decisions.md").read_text()


# -- the dependency layer ------------------------------------------------------------------------
def test_dependency_layer_is_the_full_hashed_set():
    text = (ROOT / "infra" / "layer" / "requirements.txt").read_text()
    entries = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\\n\s+--hash=sha256:([0-9a-f]{64})$", text, re.M)
    names = {n.lower().replace("_", "-") for n, _, _ in entries}
    httpx = {"httpx", "httpcore", "h11", "anyio", "idna", "certifi", "typing-extensions"}
    # the SDK the tests use, not the Lambda runtime's (tests/infra/test_layer_pins.py checks the versions)
    sdk = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
    assert names == httpx | sdk
    requirement_lines = [ln for ln in text.splitlines() if ln and not ln.startswith(("#", " "))]
    assert len(requirement_lines) == len(entries) == 14


def test_bundling_checks_hashes_and_drops_bin(tmp_path):
    from infra.bundling import PipLocalBundler

    bundler = PipLocalBundler(ROOT / "infra" / "layer" / "requirements.txt", platform="p", python_version="3.13")
    cmd = bundler.command(tmp_path / "python")
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(cmd)
    assert cmd[cmd.index("--python-version") + 1] == "3.13"
    (tmp_path / "python" / "bin").mkdir(parents=True)
    (tmp_path / "python" / "bin" / "httpx").write_text("#!/build/machine/.venv/bin/python\n")
    bundler.clean(tmp_path / "python")
    assert not (tmp_path / "python" / "bin").exists()


# -- timing on AWS -------------------------------------------------------------------------------
def test_reconciler_never_retries_and_never_overlaps(template_json):
    fn = one(template_json, "AWS::Lambda::Function", "RecordingReconcilerFunction")
    (config,) = of_type(template_json, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    assert config["Properties"]["MaximumEventAgeInSeconds"] == 60
    assert "RecordingReconcilerFunction" in json.dumps(config["Properties"]["FunctionName"])
    targets = [
        t
        for k, rule in of_type(template_json, "AWS::Events::Rule").items()
        if k.startswith("RecordingReconcilerSchedule")
        for t in rule["Properties"]["Targets"]
    ]
    assert targets and all(t["RetryPolicy"]["MaximumRetryAttempts"] == 0 for t in targets)
    # one reserved run per shard: the shards run side by side, a shard never beside itself
    assert fn["Properties"]["ReservedConcurrentExecutions"] == len(targets)


def recording_state_machine(template: dict) -> dict:
    """The recording workflow's state machine (the stack has others: the transcriptions' restart loop)."""
    (sm,) = [
        sm for key, sm in of_type(template, "AWS::StepFunctions::StateMachine").items() if key.startswith("Recording")
    ]
    return sm


def test_state_machine_name_fits_80_characters(template_json, alt):
    assert state_machine_name("AgoraServerless") == "AgoraServerless-Recording"
    long_a, long_b = "A" * 71 + "x", "A" * 71 + "y"
    assert len(state_machine_name(long_a)) == MAX_STATE_MACHINE_NAME
    assert state_machine_name(long_a) != state_machine_name(long_b)
    default = recording_state_machine(template_json)
    assert default["Properties"]["StateMachineName"] == "AgoraServerless-Recording"
    long_sm = recording_state_machine(alt)
    name = long_sm["Properties"]["StateMachineName"]
    assert len(name) <= MAX_STATE_MACHINE_NAME and name.endswith("-Recording") and name.startswith(LONG_STACK[:40])
    # the reconciler's DescribeExecution grant names the same (shortened) state machine
    assert f"execution:{name}:*" in json.dumps(alt["Resources"])


def test_api_access_logs_keep_log_retention_days(template_json, alt):
    def access_log_retention(template):
        (stage,) = of_type(template, "AWS::ApiGatewayV2::Stage").values()
        group_id = stage["Properties"]["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
        return template["Resources"][group_id]["Properties"]["RetentionInDays"]

    assert access_log_retention(template_json) == 30
    assert access_log_retention(alt) == 90
    assert {
        g["Properties"]["RetentionInDays"]
        for g in of_type(alt, "AWS::Logs::LogGroup").values()
        if "RetentionInDays" in g["Properties"]
    } == {90}


def test_recorder_token_outlives_a_24_hour_recording(template_json, alt):
    def wait_timeout(template):
        definition = json.dumps(recording_state_machine(template)["Properties"]["DefinitionString"])
        (timeout,) = re.findall(r'\\"TimeoutSeconds\\":(\d+)', definition)  # only the wait has a timeout
        return int(timeout)

    assert wait_timeout(template_json) == 4 * 3600
    assert wait_timeout(alt) == 86_400 - 900  # the recorder's token (24 h at most) keeps a 15-minute margin
    task = one(alt, "AWS::Lambda::Function", "RecordingTaskFunction")
    assert task["Properties"]["Environment"]["Variables"]["RECORDING_MAX_DURATION_SECONDS"] == "85500"


# -- operators -----------------------------------------------------------------------------------
EXPECTED_ALARMS = {
    *(
        f"{fn}{kind}"
        for fn in (
            "TokenFunction",
            "IntakeFunction",
            "ProcessorFunction",
            "ChannelsFunction",
            "MediaFunction",
            "TaskFunction",
            "ReconcilerFunction",
            "ApiFunction",
            "ProjectsFunction",
            "PublisherFunction",
            "TranscriptionsFunction",
            "RestartFunction",
            "TranscriptionsReconcilerFunction",
            "AgentsFunction",
            "LifecycleFunction",
            "AgentsReconcilerFunction",
        )
        for kind in ("Errors", "Throttles")
        # retried steps alarm as failed executions; a reconciler with reserved concurrency 1 that never
        # overlaps itself cannot throttle (ReconcilerNearTimeout instead): tests/infra/test_scale_limits.py
        if f"{fn}{kind}" not in ("TaskFunctionErrors", "ReconcilerFunctionThrottles")
    ),
    "Api5xx",
    "ApiLatency",
    # DynamoDB throttles over every table, nine tables an alarm (CloudWatch's 10 metrics): ten tables, two alarms
    "DynamoDbReadThrottled2",
    "DynamoDbWriteThrottled2",
    "WebhookIteratorAge",
    "WebhookProcessingDeadLetters",
    "PlaylistEventsDlqAlarm",
    "WorkflowThrottled",
    "Agora429s",
    "AgoraLimiterExhausted",
    "AgoraLimiterWaitHigh",
    "WebhookProcessingLag",
    "WebhookNoticesFailed",
    "RecordingFailedAlarm",
    "ExecutionsFailedAlarm",
    "EventsIteratorAge",
    "EventsPublisherDeadLetters",
    "WorkflowStartThrottled",
    "WorkflowCallbackThrottled",
    "DynamoDbReadThrottled",
    "DynamoDbWriteThrottled",
    "PlaylistEventsOldestMessage",
    "AccountConcurrencyHigh",
    "ReconcilerNearTimeout",
    "ReconcilerCoverageStale",
}


def test_every_failure_signal_has_an_alarm_routed_to_the_alarm_topic(template_json):
    alarms = of_type(template_json, "AWS::CloudWatch::Alarm")
    names = {a["Properties"]["AlarmName"].removeprefix("AgoraServerless-") for a in alarms.values()}
    assert names == EXPECTED_ALARMS
    (topic_id,) = of_type(template_json, "AWS::SNS::Topic")
    assert topic_id.startswith("MonitoringAlarmTopic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
        assert len(alarm["Properties"]["AlarmDescription"]) > 20


def test_alarm_thresholds_watch_the_right_metrics(template_json):
    by_name = {
        a["Properties"]["AlarmName"].removeprefix("AgoraServerless-"): a["Properties"]
        for a in of_type(template_json, "AWS::CloudWatch::Alarm").values()
    }
    assert by_name["Api5xx"]["MetricName"] == "5xx" and by_name["Api5xx"]["Threshold"] == 5
    assert by_name["ApiLatency"]["ExtendedStatistic"] == "p99" and by_name["ApiLatency"]["EvaluationPeriods"] == 3
    assert by_name["WebhookIteratorAge"]["MetricName"] == "IteratorAge"
    assert by_name["WebhookIteratorAge"]["Threshold"] == 300_000
    assert by_name["TaskFunctionThrottles"]["MetricName"] == "Throttles"
    assert by_name["Agora429s"]["MetricName"] == "Agora429"
    assert by_name["AgoraLimiterExhausted"]["MetricName"] == "AgoraLimiterExhausted"
    # the two workflow alarms do not page twice for one failure: one subtracts the other's metric
    expression = [m for m in by_name["ExecutionsFailedAlarm"]["Metrics"] if "Expression" in m]
    assert expression and "executions" in expression[0]["Expression"] and "recorded" in expression[0]["Expression"]


def test_agora_429s_and_limiter_exhaustion_come_from_the_callers_logs(template_json):
    filters = of_type(template_json, "AWS::Logs::MetricFilter")
    metrics = sorted(f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters.values())
    assert metrics == ["Agora429"] * 5 + ["AgoraLimiterExhausted"] * 5  # task, reconciler, API, channels, projects
    patterns = {f["Properties"]["FilterPattern"] for f in filters.values()}
    assert patterns == {'"agora" "HTTP 429"', '"Agora rate limiter"'}


def test_every_alarm_has_a_runbook_line():
    text = (ROOT / "docs" / "operations.md").read_text()
    runbook = set(re.findall(r"^- \*\*(\w+)\*\*", text, re.M))
    for name in EXPECTED_ALARMS:
        assert name in runbook, name


def test_dashboard_shows_routes_recordings_webhooks_media_agora_and_costs(template_json):
    (dashboard,) = of_type(template_json, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "AgoraServerless-operations"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "Requests per route",
        "5xx per route",
        "p99 latency per route",
        "Recordings",
        "Recording executions",
        "Webhook intake and processing",
        "Media durations extracted",
        "Agora 429s and limiter exhaustion",
        "Recordings ended by stop reason",
        "Active recordings",
        "Webhook intake: notices by outcome",
        "Webhook processing: notices by outcome",
        "Webhook processing lag (ms)",
        "Agora requests and limiter waits",
        "Kicking rules",
        "Cost drivers: Lambda invocations",
        "Cost drivers: DynamoDB write units",
        "Alarms",
    ):
        assert title in body, title
    for metric in (
        "RecordingStarted",
        "RecordingFailed",
        "IteratorAge",
        "PlaylistsProcessed",
        "Agora429",
        "ExecutionsStarted",
        "ConsumedWriteCapacityUnits",
        "POST /recordings",
        "POST /webhooks/agora",
        "RecordingsEnded",
        "RecordingsActive",
        "NoticeProcessingLagMs",
        "AgoraLimiterWaitMs",
        "NoticesRejected",
    ):
        assert metric in body, metric


# -- configuration, identity, outputs, tags, removal ----------------------------------------------
def test_cognito_client_is_authorization_code_only_with_configured_urls(template_json, alt):
    client = one(template_json, "AWS::Cognito::UserPoolClient", "ApiUserPoolAppClient")["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["GenerateSecret"] is False  # a public client: the code exchange is protected by PKCE
    assert client["CallbackURLs"] == ["http://localhost:3000/auth/callback"]
    alt_client = one(alt, "AWS::Cognito::UserPoolClient", "ApiUserPoolAppClient")["Properties"]
    assert alt_client["CallbackURLs"] == ["https://app.example/cb", "https://admin.example/cb"]
    assert alt_client["LogoutURLs"] == ["https://app.example/"]
    assert "implicit" not in json.dumps(alt_client)
    assert not of_type(template_json, "AWS::Cognito::UserPoolDomain")
    (domain,) = of_type(alt, "AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"]["Domain"] == "agora-demo-42"
    assert "HostedUiBaseUrl" in alt["Outputs"]


def test_outputs_have_stable_names_and_descriptions(template_json):
    outputs = template_json["Outputs"]
    assert set(outputs) == {
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "RecordingsBucketName",
        "UploaderSecretName",
        "StateMachineArn",
        "AlarmTopicArn",
        "DashboardName",
        "EventBusName",
        "EventArchiveName",
    }
    for name, out in outputs.items():
        assert len(out["Description"]) > 20, name
    assert "SecretAccessKey" not in json.dumps(outputs)


def test_tags_come_from_configuration(template_json, alt):
    def tags(fn):
        return {t["Key"]: t["Value"] for t in fn["Properties"]["Tags"]}

    for fn in project_functions(template_json).values():
        assert tags(fn) == {"project": "agora-serverless"}
    for fn in project_functions(alt).values():
        assert tags(fn) == {"project": "agora-serverless", "team": "media", "env": "dev"}


STATEFUL = ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool")


def test_default_retains_every_data_store_and_dev_destroys_them(template_json, alt):
    # transient: the limiter's bucket, advisory presence and the usage cache (Agora can answer it again)
    rate_limit_and_presence = ("AgoraAccessRateLimitTable", "WebhooksPresenceTable", "ProjectsUsageTable")
    for type_ in STATEFUL:
        for name, body in of_type(template_json, type_).items():
            expected = "Delete" if name.startswith(rate_limit_and_presence) else "Retain"
            assert body.get("DeletionPolicy") == expected, name
        for name, body in of_type(alt, type_).items():
            assert body.get("DeletionPolicy") == "Delete", name
            assert '"DeletionProtectionEnabled": true' not in json.dumps(body), name
            assert body["Properties"].get("DeletionProtection") in (None, "INACTIVE"), name
    for name, body in of_type(template_json, "AWS::DynamoDB::GlobalTable").items():
        if body.get("DeletionPolicy") == "Retain":
            assert all(r["DeletionProtectionEnabled"] for r in body["Properties"]["Replicas"]), name
    # dev buckets are emptied before deletion
    assert len(of_type(alt, "Custom::S3AutoDeleteObjects")) == 2


def test_deploy_doc_lists_exactly_what_survives_a_destroy(template_json):
    retained = sorted(
        re.sub(r"[0-9A-F]{8}$", "", k)
        for k, v in template_json["Resources"].items()
        if v.get("DeletionPolicy") == "Retain"
    )
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text.split("<!-- survivors -->")[1]
    listed = sorted(re.findall(r"^- `(\w+)`", section, re.M))
    assert listed == retained


def test_cdk_json_sets_every_recommended_feature_flag():
    package = importlib_resources.files("aws_cdk._jsii")
    (tgz,) = [p for p in package.iterdir() if p.name.endswith(".jsii.tgz")]
    with importlib_resources.as_file(tgz) as path, tarfile.open(path) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        recommended = json.load(member)
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert len(recommended) > 70
    for flag, value in recommended.items():
        if flag == "@aws-cdk/core:target-partitions":
            assert context[flag] == ["aws"]  # the Powertools layer parameter exists in no other partition
            continue
        assert context.get(flag) == value, flag


def test_app_applies_cdk_json_flags_without_the_cli():
    from app import feature_flags

    assert feature_flags()["@aws-cdk/aws-lambda:recognizeLayerVersion"] is True
    assert len(feature_flags()) > 70


def test_make_test_uses_every_core_keeping_each_module_on_one_worker():
    makefile = (ROOT / "Makefile").read_text()
    xdist = r"^XDIST = \$\(if \$\(filter 1,\$\(TEST_JOBS\)\),,-n \$\(TEST_JOBS\) --dist loadgroup\)$"
    assert re.search(xdist, makefile, re.M)
    # one worker per core by default (at most 4); TEST_JOBS=1 is the serial run
    assert re.search(r"^TEST_JOBS \?= \$\(shell n=\$\$\(nproc .*\[ \"\$\$n\" -gt 4 \] && n=4", makefile, re.M)
    # make unit and check: a worker per core; make test and test-py313: two more (SUITE_JOBS), serial on request
    assert [run.split(" -p ")[0] for run in _dry_run("check", "TEST_JOBS=2")] == ["-n 2 --dist loadgroup"]
    assert _dry_run("test", "TEST_JOBS=2") == ["-n 4 --dist loadgroup tests"]
    assert _dry_run("test", "TEST_JOBS=1") == ["tests"]
    assert _dry_run("test", "TEST_JOBS=2", "SUITE_JOBS=1") == ["tests"]
    assert re.search(r"^pytest-xdist==3\.8\.0$", (ROOT / "requirements-dev.txt").read_text(), re.M)
    # the groups are the scheduler's scopes (xdist_group marks are ignored under pytest 9: tests/conftest.py)
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert "def pytest_xdist_make_scheduler(" in conftest and "config.option.loadscopereorder = False" in conftest
    from tests.conftest import TIER_ORDER, worker_group

    assert worker_group("tests/infra/test_nag.py::test_x") == worker_group("tests/infra/test_iam_exact.py::t[a]")
    assert worker_group("tests/integration/test_tokens_api.py::test_a[1]") == "tests/integration/test_tokens_api.py"
    assert worker_group("tests/e2e/test_demo.py::test_d") != worker_group("tests/e2e/test_api_fuzz.py::test_f")
    assert TIER_ORDER[0] == "tests/e2e/" and TIER_ORDER[-1] == "tests/unit/"  # the longest groups first
    assert {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name not in ("fixtures", "support")} <= {
        t.split("/")[1] for t in TIER_ORDER
    } | {"__pycache__"}


def test_node_banner_is_silenced_everywhere():
    for path in (ROOT / "Makefile", ROOT / ".ci" / "run"):
        assert "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" in path.read_text(), path
    assert "Node.js 22" in (ROOT / "docs" / "deploy.md").read_text()


def test_cfn_lint_finds_no_errors(template_json):
    from cfnlint.api import lint

    matches = lint(json.dumps(template_json), regions=["us-east-1"])
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    # the only warnings: DependsOn that CDK writes beside a Ref/GetAtt (docs/deploy.md says so)
    assert {m.rule.id for m in matches} <= {"W3005"}


def test_build_app_rejects_misspelled_keys_and_bad_tuning_values():
    from app import build_app
    from infra.settings import SettingsError

    with pytest.raises(SettingsError, match=r"^unknown context key 'agoraQPS' \(did you mean agoraQps\?\)"):
        build_app({"agoraQPS": "5"})
    with pytest.raises(SettingsError, match=r"^recordingRetryIntervalSeconds='x' is not allowed: expected a whole"):
        build_app({"recordingRetryIntervalSeconds": "x"})
    with pytest.raises(runtime.RuntimeConfigError, match="region cn-north-1: Powertools publishes no layer"):
        build_app({"region": "cn-north-1"})


def test_the_long_searches_have_their_own_targets():
    # make test runs seeded samples of the API fuzz and the webhook replay; these run the long ones
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^fuzz: .*\n\tFUZZ_EXAMPLES=\$\(FUZZ_EXAMPLES\) FUZZ_SEED=\$\(FUZZ_SEED\) ", makefile, re.M)
    replay = r"^replay: .*\n\tREPLAY_BASE_EVENTS=\$\(REPLAY_EVENTS\) REPLAY_SEED=\$\(REPLAY_SEED\) .*"
    replay += r"tests/integration/test_webhook_replay\.py$"
    assert re.search(replay, makefile, re.M)
