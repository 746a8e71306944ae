"""cdk-nag AwsSolutions: the whole app has zero unacknowledged findings, and the check really bites."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from cdk_nag import AwsSolutionsChecks


def test_app_synthesizes_with_no_unacknowledged_findings(synthesized):
    _, _, assembly = synthesized
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    failures = [p for p in report["pluginReports"] if p.get("conclusion") == "failure"]
    assert failures == []


def test_nag_fails_synth_on_an_unacknowledged_finding():
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})
    stack = cdk.Stack(app, "Probe")
    dynamodb.Table(stack, "NoPitr", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()


def test_every_acknowledgement_names_a_finding_and_a_reason(synthesized):
    stack, _, _ = synthesized
    found = 0
    for node in stack.node.find_all():
        for entry in node.node.metadata:
            if entry.type != "aws:cdk:acknowledged-rules":
                continue
            for raw_finding, reason in dict(entry.data).items():
                finding = raw_finding.removeprefix("Annotation::")
                found += 1
                assert finding.startswith("AwsSolutions-"), finding
                assert len(str(reason)) >= 40, (finding, reason)
    assert found > 0
