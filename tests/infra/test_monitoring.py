"""Every alarm reaches the one alarm topic (owned by Monitoring); the outputs a deployer needs are there."""

from __future__ import annotations


def test_every_alarm_notifies_the_alarm_topic(template_json):
    resources = template_json["Resources"]
    topics = [k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic"]
    assert len(topics) == 1
    alarms = {k: v for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 4
    for name, alarm in alarms.items():
        assert alarm["Properties"].get("AlarmActions") == [{"Ref": topics[0]}], name


def test_webhook_dead_letters_are_watched(template_json):
    resources = template_json["Resources"]
    watched = [
        v["Properties"]
        for k, v in resources.items()
        if v["Type"] == "AWS::CloudWatch::Alarm" and k.startswith("MonitoringWebhookProcessingDeadLetters")
    ]
    assert len(watched) == 1
    assert watched[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    dims = watched[0]["Dimensions"][0]["Value"]
    assert dims["Fn::GetAtt"][0].startswith("WebhooksDeadLetterQueue") or "Webhooks" in str(dims)


def test_outputs_name_what_a_deployer_needs(template_json):
    outputs = template_json["Outputs"]
    for name in ("ApiUrl", "UserPoolId", "UserPoolClientId", "RecordingsBucketName", "UploaderSecretName"):
        assert name in outputs, name
    # the uploader secret's *name* is an output; its value never is
    assert "SecretAccessKey" not in str(outputs)
