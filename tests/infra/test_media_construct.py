"""The media capability in the synthesized template: a locked-down bucket, m3u8 events to SQS with a DLQ,
the media function's exact permissions, and Agora's upload-only IAM user with its key in Secrets Manager.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.constructs.media import MAX_RECEIVE_COUNT, RECORDINGS_PREFIX, TABLE_ACTIONS


def _one(template_json: dict[str, Any], res_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in template_json["Resources"].items() if v["Type"] == res_type and k.startswith(prefix)]
    assert len(found) == 1, [k for k, _ in found]
    return found[0]


def _bucket(template_json, name: str) -> tuple[str, dict[str, Any]]:
    return _one(template_json, "AWS::S3::Bucket", f"Media{name}")


def _objects_under_prefix(bucket_id: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{RECORDINGS_PREFIX}*"]]}


def test_recordings_bucket_is_private_encrypted_logged_and_has_lifecycle(template_json):
    bucket_id, bucket = _bucket(template_json, "RecordingsBucket")
    logs_id, _ = _bucket(template_json, "AccessLogsBucket")
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "recordings-bucket/",
    }
    assert "VersioningConfiguration" not in props  # every playlist rewrite would be kept as a version
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["RecordingsToInfrequentAccess"]["Prefix"] == RECORDINGS_PREFIX
    assert rules["RecordingsToInfrequentAccess"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30}
    ]
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert all(r["Status"] == "Enabled" for r in rules.values())
    assert bucket_id.startswith("MediaRecordingsBucket")  # the local stack finds the bucket by this name


def _policy_of(template_json, res_type: str, target_id: str, target_key: str) -> list[dict[str, Any]]:
    statements = []
    for res in template_json["Resources"].values():
        if res["Type"] != res_type:
            continue
        targets = res["Properties"].get(target_key)
        targets = targets if isinstance(targets, list) else [targets]
        if {"Ref": target_id} in targets:
            statements += res["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_both_buckets_refuse_plain_http_and_logs_are_delivered_by_policy(template_json):
    bucket_id, _ = _bucket(template_json, "RecordingsBucket")
    logs_id, logs = _bucket(template_json, "AccessLogsBucket")
    for target in (bucket_id, logs_id):
        statements = _policy_of(template_json, "AWS::S3::BucketPolicy", target, "Bucket")
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Action"] == "s3:*"
    delivery = [
        s for s in _policy_of(template_json, "AWS::S3::BucketPolicy", logs_id, "Bucket") if s["Effect"] == "Allow"
    ]
    assert delivery[0]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery[0]["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]}}
    assert logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0] == {
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}
    }
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def test_m3u8_notifications_go_to_an_encrypted_queue_with_a_dlq(template, template_json):
    bucket_id, _ = _bucket(template_json, "RecordingsBucket")
    queue_id, queue = _one(template_json, "AWS::SQS::Queue", "MediaPlaylistEvents4")
    dlq_id, dlq = _one(template_json, "AWS::SQS::Queue", "MediaPlaylistEventsDlq")
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "BucketName": {"Ref": bucket_id},
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": Match.array_equals(
                                    [{"Name": "suffix", "Value": suffix}, {"Name": "prefix", "Value": "recordings/"}]
                                )
                            }
                        },
                        "QueueArn": {"Fn::GetAtt": [queue_id, "Arn"]},
                    }
                    for suffix in (".m3u8",)  # playlists only: late segments are found by delayed re-checks
                ]
            },
        },
    )
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    assert MAX_RECEIVE_COUNT == 5
    for q_id, q in ((queue_id, queue), (dlq_id, dlq)):
        assert q["Properties"]["SqsManagedSseEnabled"] is True
        statements = _policy_of(template_json, "AWS::SQS::QueuePolicy", q_id, "Queues")
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * 60
    allow = [
        s for s in _policy_of(template_json, "AWS::SQS::QueuePolicy", queue_id, "Queues") if s["Effect"] == "Allow"
    ]
    assert allow[0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow[0]["Condition"] == {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]}}}


def test_media_function_reads_only_playlists_and_reports_batch_failures(template_json):
    fn_id, fn = _one(template_json, "AWS::Lambda::Function", "MediaMediaFunction")
    bucket_id, _ = _bucket(template_json, "RecordingsBucket")
    table_id, _ = _one(template_json, "AWS::DynamoDB::GlobalTable", "MediaMediaTable")
    queue_id, _ = _one(template_json, "AWS::SQS::Queue", "MediaPlaylistEvents4")
    props = fn["Properties"]
    assert props["Handler"] == "service.media.handler.handler"
    assert (props["Runtime"], props["Architectures"], props["Timeout"]) == ("python3.13", ["arm64"], 60)
    assert props["Environment"]["Variables"]["MEDIA_TABLE"] == {"Ref": table_id}
    assert props["Environment"]["Variables"]["RECORDINGS_PREFIX"] == RECORDINGS_PREFIX
    assert props["Environment"]["Variables"]["MEDIA_QUEUE_URL"] == {"Ref": queue_id}
    _, mapping = _one(template_json, "AWS::Lambda::EventSourceMapping", "MediaMediaFunctionSqsEventSource")
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert mapping["Properties"]["FunctionName"] == {"Ref": fn_id}
    role_id = props["Role"]["Fn::GetAtt"][0]
    statements = _policy_of(template_json, "AWS::IAM::Policy", role_id, "Roles")
    by_resource = {json.dumps(s["Resource"], sort_keys=True): s for s in statements}
    s3_statement = by_resource[json.dumps(_objects_under_prefix(bucket_id), sort_keys=True)]
    assert s3_statement["Action"] == "s3:GetObject"
    table_statement = by_resource[json.dumps({"Fn::GetAtt": [table_id, "Arn"]}, sort_keys=True)]
    assert sorted(table_statement["Action"]) == sorted(TABLE_ACTIONS)
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {a for a in actions if a.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket"}
    assert "dynamodb:Scan" not in actions and "dynamodb:DeleteItem" not in actions
    # its delayed re-checks: SendMessage on its own queue, nothing else of SQS (the mapping's grant aside)
    sqs = [s for s in statements if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sqs] == [{"Fn::GetAtt": [queue_id, "Arn"]}]  # CDK merges it with the mapping's
    assert sorted(sqs[0]["Action"]) == ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                        "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"]  # fmt: skip


def test_media_table_keys_and_recovery(template_json):
    _, table = _one(template_json, "AWS::DynamoDB::GlobalTable", "MediaMediaTable")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "sid", "KeyType": "HASH"},
        {"AttributeName": "key", "KeyType": "RANGE"},
    ]
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


def test_uploader_user_can_only_put_objects_under_the_prefix(template_json):
    bucket_id, _ = _bucket(template_json, "RecordingsBucket")
    user_id, user = _one(template_json, "AWS::IAM::User", "MediaUploaderUser")
    assert "ManagedPolicyArns" not in user.get("Properties", {})
    assert "Policies" not in user.get("Properties", {})
    statements = []
    for res in template_json["Resources"].values():
        if res["Type"] == "AWS::IAM::Policy" and {"Ref": user_id} in res["Properties"].get("Users", []):
            statements += res["Properties"]["PolicyDocument"]["Statement"]
    transcripts = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/transcripts/*"]]}
    assert statements == [
        {"Action": "s3:PutObject", "Effect": "Allow", "Resource": [_objects_under_prefix(bucket_id), transcripts]}
    ]  # recordings (and their transcriptions' captions), and a transcription without a recording


def test_uploader_key_is_in_a_secret_never_in_plain_text(template_json):
    key_id, key = _one(template_json, "AWS::IAM::AccessKey", "MediaUploaderAccessKey")
    user_id, _ = _one(template_json, "AWS::IAM::User", "MediaUploaderUser")
    assert key["Properties"]["UserName"] == {"Ref": user_id}
    _, secret = _one(template_json, "AWS::SecretsManager::Secret", "MediaUploaderSecret")
    value = secret["Properties"]["SecretString"]
    assert value == {
        "Fn::Join": [
            "",
            [
                '{"access_key":"',
                {"Ref": key_id},
                '","secret_key":"',
                {"Fn::GetAtt": [key_id, "SecretAccessKey"]},
                '"}',
            ],
        ]
    }
    assert secret["Properties"]["Name"] == "AgoraServerless/recording-uploader"
    assert "AKIA" not in json.dumps(template_json)


def test_recording_workflow_is_wired_to_the_bucket_secret_and_table(template_json):
    bucket_id, _ = _bucket(template_json, "RecordingsBucket")
    table_id, _ = _one(template_json, "AWS::DynamoDB::GlobalTable", "MediaMediaTable")
    _, task = _one(template_json, "AWS::Lambda::Function", "RecordingTaskFunction")
    env = task["Properties"]["Environment"]["Variables"]
    assert env["RECORDINGS_BUCKET"] == {"Ref": bucket_id}
    secret_id, _ = _one(template_json, "AWS::SecretsManager::Secret", "MediaUploaderSecret")
    # CDK derives the name from the secret's ARN (name + "-" + 6 random characters): check it yields the name
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:AgoraServerless/recording-uploader-AbC123"
    assert _evaluate(env["RECORDING_UPLOADER_SECRET_NAME"], {secret_id: arn}) == "AgoraServerless/recording-uploader"
    assert env["MEDIA_TABLE"] == {"Ref": table_id}


def _evaluate(node: Any, refs: dict[str, str]) -> Any:
    """Just enough of CloudFormation's intrinsics (Ref, Fn::Join/Select/Split) for the check above."""
    if isinstance(node, dict):
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return refs[arg]
        if fn == "Fn::Join":
            return arg[0].join(_evaluate(part, refs) for part in arg[1])
        if fn == "Fn::Select":
            return _evaluate(arg[1], refs)[int(arg[0])]
        if fn == "Fn::Split":
            return _evaluate(arg[1], refs).split(arg[0])
        raise AssertionError(f"unexpected intrinsic {fn}")
    return node


def test_dlq_alarm(template, template_json):
    dlq_id, _ = _one(template_json, "AWS::SQS::Queue", "MediaPlaylistEventsDlq")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
        },
    )


@pytest.mark.parametrize("value", ["0", "97", "x"])
def test_a_recheck_window_sqs_cannot_hold_is_refused_naming_the_key(value):
    from infra.settings import SettingsError, StackSettings

    with pytest.raises(SettingsError) as raised:
        StackSettings.load({"mediaRecheckWindowHours": value}.get, environ={}, context_keys=["mediaRecheckWindowHours"])
    assert str(raised.value).startswith(f"mediaRecheckWindowHours={value!r} is not allowed")


def test_the_recheck_window_reaches_the_media_function(template_json):
    """The default (24 h) in the template; a deployment's value through the function's settings model."""
    from service.media.settings import MediaSettings

    from infra.settings import StackSettings

    _, fn = _one(template_json, "AWS::Lambda::Function", "MediaMediaFunction")
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["RECHECK_WINDOW_HOURS"] == "24.0"
    settings = StackSettings.load({}.get, environ={"MEDIA_RECHECK_WINDOW_HOURS": "6"})
    assert settings.media_recheck_window_hours == 6
    policy = MediaSettings(media_table="t", recheck_window_hours=float(env["RECHECK_WINDOW_HOURS"])).recheck_policy()
    assert (policy.first_delay_s, policy.max_delay_s, policy.window_s) == (60, 900, 24 * 3600)
