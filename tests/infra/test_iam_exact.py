"""Least privilege, exactly: every function's role has the actions its code calls, and nothing else.

``EXPECTED`` lists, per function, the AWS actions of the calls its code makes (read from the code:
``grep -rn "\\.\\(get_item\\|put_item\\|...\\)(" functions/service``). Two checks hold it honest:
- the template grants each role exactly ``EXPECTED`` plus what every function needs (logs, X-Ray);
- ``code_calls.derived_actions`` (the botocore calls of every module the handler reaches) contains each
  expected action, and every derived action the role lacks is listed in ``REACHED_NOT_CALLED`` with the
  reason the function never makes that call (shared modules reach more code than one function runs).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.code_calls import derived_actions

#: construct id -> (handler, exact actions of its code's calls)
EXPECTED: dict[str, tuple[str, frozenset[str]]] = {
    "TokenFunction": (
        "service.tokens.handler.handler",
        # GetItem subject->uid; TransactWriteItems of two conditional Puts; the app certificate and its current
        # version (DescribeSecret: no token is signed with a rotated-away certificate)
        frozenset(
            {"dynamodb:GetItem", "dynamodb:PutItem", "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
        ),
    ),
    "IntakeFunction": (
        "service.webhooks.intake.handler",
        # one conditional PutItem into the inbox; the NCS secret
        frozenset({"dynamodb:PutItem", "secretsmanager:GetSecretValue"}),
    ),
    "ProcessorFunction": (
        "service.webhooks.processor.handler",
        # presence UpdateItem/Query; recording events: Query bySid, GetItem, UpdateItem, SendTaskSuccess;
        # NCS product 20: transcription GetItem/UpdateItem and the channel lock's DeleteItem at the end;
        # NCS product 17: the agent's conditional PutItem saves (and slot DeleteItem), event 103's history object
        frozenset(
            {
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "s3:PutObject",
                "states:SendTaskSuccess",
            }
        ),
    ),
    "TranscriptionsFunction": (
        "service.transcriptions.handler.handler",
        # the table: Get/Query reads, conditional Put (agent pointer, the create transaction's two Puts)/Update/
        # Delete; the limiter's UpdateItem; the REST secret, the App Certificate and the uploader's keys; the
        # restart workflow's StartExecution; captions: ListObjectsV2 of its folder, GetObject for the presigned URLs
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "secretsmanager:GetSecretValue",
                "states:StartExecution",
                "s3:ListBucket",
                "s3:GetObject",
            }
        ),
    ),
    "RestartFunction": (
        "service.transcriptions.workflow_handler.handler",
        # the 72-hour restart: the same table calls and secrets as the API (it joins and adopts agents)
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "secretsmanager:GetSecretValue",
            }
        ),
    ),
    "TranscriptionsReconcilerFunction": (
        "service.transcriptions.reconciler_handler.handler",
        # Agora's list against the table: the byKind Query of the live ones, GetItem, the conditional moves'
        # UpdateItem and the channel lock's DeleteItem at an end; the limiter's UpdateItem; the REST secret
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "secretsmanager:GetSecretValue",
            }
        ),
    ),
    "AgentsFunction": (
        "service.agents.api_handler.handler",
        # the AgentsTable: GetItem (record, slot, pointer), PutItem (saves and pointers; the create/end
        # transactions' Puts), DeleteItem (slots), Query (byChannel/byKind); the limiter's UpdateItem; the REST
        # secret, the App Certificate and the profile's secret; the history object; the lifecycle's StartExecution
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "s3:PutObject",
                "states:StartExecution",
            }
        ),
    ),
    "LifecycleFunction": (
        "service.agents.tasks_handler.lifecycle",
        # renew (update) or end (leave, history saved first): the same table, secrets and history calls as the API
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "s3:PutObject",
            }
        ),
    ),
    "AgentsReconcilerFunction": (
        "service.agents.tasks_handler.reconcile",
        # Agora's list against byKind; ends (history saved first) and stops: as the lifecycle
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "s3:PutObject",
            }
        ),
    ),
    "ChannelsFunction": (
        "service.channels.handler.handler",
        # kicking rules Put/Get/Scan/Update/Delete; presence Query; limiter UpdateItem; REST secret
        frozenset(
            {
                "dynamodb:PutItem",
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "secretsmanager:GetSecretValue",
            }
        ),
    ),
    "MediaFunction": (
        "service.media.handler.handler",
        # + ListObjectsV2 of a recording's folder: the integrity check; SendMessage: its delayed re-checks
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "s3:GetObject",
                "s3:ListBucket",
                "sqs:SendMessage",
            }
        ),
    ),
    "TaskFunction": (
        "service.recordings.workflow_tasks_handler.handler",
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",  # the recorder token's certificate version, at each start
                "states:SendTaskSuccess",
                "states:StartExecution",  # finalize/fail give a task slot back and start the next QUEUED recording
            }
        ),
    ),
    "ReconcilerFunction": (
        "service.recordings.reconciler_handler.handler",
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",  # the rows behind the keys-only byStatus / byChannel
                "secretsmanager:GetSecretValue",
                "states:SendTaskSuccess",
                "states:DescribeExecution",
                "states:StartExecution",  # the admission queue's safety net: its pump starts QUEUED recordings
            }
        ),
    ),
    "ProjectsFunction": (
        "service.projects.handler.handler",
        # usage cache Query + BatchWriteItem; limiter UpdateItem; REST secret; certificate rotation writes the
        # token function's secret (PutSecretValue only: it never reads the certificate), then Certificate Rotated
        frozenset(
            {
                "dynamodb:Query",
                "dynamodb:BatchWriteItem",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "events:PutEvents",
            }
        ),
    ),
    "PublisherFunction": (
        "service.events.publisher.handler",
        # the media events' sid -> recording id lookup (bySid Query); PutEvents on the stack's bus
        frozenset({"dynamodb:Query", "events:PutEvents"}),
    ),
    "ApiFunction": (
        "service.recordings.api_handler.handler",
        frozenset(
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",  # the rows behind the keys-only byStatus / byChannel
                "secretsmanager:GetSecretValue",
                "states:StartExecution",
                "states:SendTaskSuccess",
                # playback: list the recording's folder, read its playlist (and presign GetObject URLs)
                "s3:GetObject",
                "s3:ListBucket",
            }
        ),
    ),
}

#: the Lambda service's calls on the function's behalf: its event source mapping (CDK's grant, exactly
#: what AWS documents for SQS and DynamoDB Streams sources, plus the stream's on-failure DLQ)
SQS_SOURCE = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
              "sqs:GetQueueAttributes"}  # fmt: skip
STREAM_SOURCE = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
                 "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}  # fmt: skip

#: granted although no code calls it, with the reason
IAM_ONLY: dict[str, dict[str, str]] = {
    "MediaFunction": {
        **dict.fromkeys(SQS_SOURCE, "the SQS event source mapping polls the playlist queue as the function"),
    },
    "ProcessorFunction": dict.fromkeys(
        STREAM_SOURCE, "the stream event source mapping reads the inbox stream and sends failures to the DLQ"
    ),
    "PublisherFunction": dict.fromkeys(
        STREAM_SOURCE, "the six stream event source mappings read the tables' streams and send failures to the DLQ"
    ),
}

CAPTIONS_ONLY = "the bucket reader that build_service wires is used by GET /transcriptions/{id}/captions only"
NOT_A_SIGNER = "only the App Certificate's signers (tokens, recording tasks) confirm its version"

#: derived from modules the handler imports, but this function never makes the call
REACHED_NOT_CALLED: dict[str, dict[str, str]] = {
    "IntakeFunction": {
        "dynamodb:Query": "webhooks.repository's presence queries run in the processor",
        "dynamodb:UpdateItem": "webhooks.repository's presence updates run in the processor",
        "secretsmanager:GetSecretValue": "",
        "secretsmanager:DescribeSecret": NOT_A_SIGNER,
    },
    "ProcessorFunction": {
        "dynamodb:BatchGetItem": "the listings (reconciler, GET /recordings) read rows behind the keys-only indexes",
        "secretsmanager:GetSecretValue": "the processor calls neither Agora nor any secret",
        "secretsmanager:DescribeSecret": NOT_A_SIGNER,
        "states:StartExecution": "the shared Step Functions adapter starts executions only from the recordings API",
        "states:DescribeExecution": "the reconciler's check, in the shared Step Functions adapter",
    },
    "TaskFunction": {
        "dynamodb:BatchGetItem": "the listings (reconciler, GET /recordings) read rows behind the keys-only indexes",
        "s3:GetObject": "media.repository and playback are reached through recordings.deps; the tasks read no object",
        "s3:ListBucket": "playback's folder listing is reached through recordings.deps; the tasks list nothing",
        "states:DescribeExecution": "the reconciler's check, in the shared workflow module",
    },
    "ReconcilerFunction": {
        "s3:GetObject": "media.repository and playback are reached through recordings.deps; no object read",
        "s3:ListBucket": "playback's folder listing is reached through recordings.deps; the reconciler lists nothing",
        "secretsmanager:DescribeSecret": NOT_A_SIGNER,
    },
    "ApiFunction": {
        "states:DescribeExecution": "the reconciler's check, in the shared workflow module",
        "secretsmanager:DescribeSecret": NOT_A_SIGNER,
    },
    "ChannelsFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER,
    },
    "ProjectsFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER,
    },
    "TranscriptionsFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER + " (the bot's token is signed without the version check)",
    },
    "AgentsFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER + " (the bot's token is signed without the version check)",
    },
    "TranscriptionsReconcilerFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER + " (the reconciler signs no token at all)",
        "dynamodb:PutItem": "the create transaction and the agent pointer: the reconciler creates and joins nothing",
        "states:StartExecution": "the reconciler starts no transcription; only the API starts restart executions",
        "s3:ListBucket": CAPTIONS_ONLY,
        "s3:GetObject": CAPTIONS_ONLY,
    },
    "LifecycleFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER + " (the bot's token is signed without the version check)",
        "states:StartExecution": "the lifecycle step runs inside the workflow; only the API starts executions",
    },
    "AgentsReconcilerFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER + " (the bot's token is signed without the version check)",
        "states:StartExecution": "the reconciler starts no agent; only the API starts lifecycle executions",
    },
    "RestartFunction": {
        "secretsmanager:DescribeSecret": NOT_A_SIGNER + " (the bot's token is signed without the version check)",
        "states:StartExecution": "the restart step runs inside the workflow; only the API starts executions",
        "s3:ListBucket": CAPTIONS_ONLY,
        "s3:GetObject": CAPTIONS_ONLY,
    },
}
# the intake reads its secret: it is expected, so it cannot also be "not called"
del REACHED_NOT_CALLED["IntakeFunction"]["secretsmanager:GetSecretValue"]

#: every function: its log group (the factory's grant) and X-Ray tracing
COMMON = frozenset({"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"})


def _role_actions(resources: dict[str, Any], function_id: str) -> set[str]:
    fn_ids = [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::Lambda::Function" and k.startswith(_prefix(function_id)) and "Role" not in k
    ]
    assert len(fn_ids) == 1, (function_id, fn_ids)
    role = resources[fn_ids[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for body in resources.values():
        if body["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role} not in body["Properties"].get("Roles", []):
            continue
        for statement in body["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            found = statement["Action"]
            actions.update([found] if isinstance(found, str) else found)
    role_props = resources[role]["Properties"]
    assert "ManagedPolicyArns" not in role_props and "Policies" not in role_props
    return actions


def _prefix(function_id: str) -> str:
    owner = {
        "TokenFunction": "Tokens",
        "IntakeFunction": "Webhooks",
        "ProcessorFunction": "Webhooks",
        "ChannelsFunction": "Channels",
        "MediaFunction": "Media",
        "TaskFunction": "Recording",
        "ReconcilerFunction": "Recording",
        "ApiFunction": "Recording",
        "ProjectsFunction": "Projects",
        "PublisherFunction": "Events",
        "TranscriptionsFunction": "Transcriptions",
        "RestartFunction": "Transcriptions",
        "TranscriptionsReconcilerFunction": "Transcriptions",
        "AgentsFunction": "Agents",
        "LifecycleFunction": "Agents",
        "AgentsReconcilerFunction": "Agents",
    }[function_id]
    return f"{owner}{function_id}"


@pytest.mark.parametrize("function_id", sorted(EXPECTED))
def test_each_role_has_exactly_the_actions_its_code_calls(template_json, function_id):
    _, expected = EXPECTED[function_id]
    granted = _role_actions(template_json["Resources"], function_id)
    assert granted == expected | COMMON | set(IAM_ONLY.get(function_id, {}))


@pytest.mark.parametrize("function_id", sorted(EXPECTED))
def test_expected_actions_are_the_calls_the_code_can_make(function_id):
    handler, expected = EXPECTED[function_id]
    derived = derived_actions(handler)
    assert expected <= derived, f"granted but never called: {sorted(expected - derived)}"
    not_called = REACHED_NOT_CALLED.get(function_id, {})
    assert derived - expected == set(not_called), "a reachable call that is neither granted nor explained"
    assert all(len(reason) > 20 for reason in not_called.values())


def test_no_role_gets_the_callbacks_or_items_nobody_sends(template_json):
    text = str(template_json["Resources"])
    for action in (
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "dynamodb:ConditionCheckItem",
        "s3:GetObjectVersion",
    ):
        assert action not in text, action
    describers = [k for k, v in template_json["Resources"].items() if "secretsmanager:DescribeSecret" in str(v)]
    assert (
        sorted(describers)
        == sorted(k for k in describers if k.startswith(("TokensTokenFunction", "RecordingTaskFunction")))
        and len(describers) == 2
    ), describers  # the two signers of the App Certificate, nothing else
    batch_writers = [k for k, v in template_json["Resources"].items() if "dynamodb:BatchWriteItem" in str(v)]
    assert all(k.startswith("Projects") for k in batch_writers), batch_writers  # only the usage cache


def test_list_bucket_is_limited_to_the_recordings_prefix(template_json):
    """The media function (integrity) and the recordings API (playback) list; only under recordings/. The
    transcriptions API (captions) lists under recordings/ and transcripts/ (a transcription without a recording)."""
    statements = [
        s
        for body in template_json["Resources"].values()
        if body["Type"] == "AWS::IAM::Policy"
        for s in body["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:ListBucket"
    ]
    assert len(statements) == 3
    conditions = sorted(str(statement["Condition"]) for statement in statements)
    assert conditions == sorted(
        [str({"StringLike": {"s3:prefix": ["recordings/*"]}})] * 2
        + [str({"StringLike": {"s3:prefix": ["recordings/*", "transcripts/*"]}})]
    )
    for statement in statements:
        assert statement["Resource"]["Fn::GetAtt"][1] == "Arn"


def test_secret_grants_name_one_secret_each(template_json):
    for body in template_json["Resources"].values():
        if body["Type"] != "AWS::IAM::Policy":
            continue
        for s in body["Properties"]["PolicyDocument"]["Statement"]:
            if "secretsmanager:GetSecretValue" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]):
                assert "-??????" in str(s["Resource"]) and "*" not in str(s["Resource"]).replace("-??????", "")
