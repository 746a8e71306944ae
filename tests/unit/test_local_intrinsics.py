"""Intrinsic functions and physical names of the local provisioner (pure, no moto)."""

from __future__ import annotations

from typing import Any

import pytest

from local.intrinsics import NO_VALUE, IntrinsicError, Resolver, substitute_definition
from local.template import dependencies, physical_name, topological


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        refs={"Table": "stack-Table", "Queue": "https://sqs.local/123/stack-Queue"},
        attrs={("Fn", "Arn"): "arn:aws:lambda:us-east-1:123:function:stack-Fn", ("Table", "StreamArn"): "arn:stream/1"},
        pseudo={
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        },
        parameters={"Layer": "ssm-value", "Names": ["a", "b"]},
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
            "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        },
        mappings={"Sizes": {"us-east-1": {"Memory": 512}}},
    )


def test_ref_and_getatt_in_both_forms(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "Table"}) == "stack-Table"
    assert resolver.resolve({"Fn::GetAtt": ["Fn", "Arn"]}) == "arn:aws:lambda:us-east-1:123:function:stack-Fn"
    assert resolver.resolve({"Fn::GetAtt": "Table.StreamArn"}) == "arn:stream/1"
    assert resolver.resolve({"Ref": "Layer"}) == "ssm-value"


def test_join_with_nested_intrinsics_like_cdk_definition_strings(resolver: Resolver) -> None:
    value = {"Fn::Join": ["", ['{"Resource":"arn:', {"Ref": "AWS::Partition"}, ':states:::lambda:invoke","F":"',
                               {"Fn::GetAtt": ["Fn", "Arn"]}, '","Q":"', {"Ref": "Queue"}, '"}']]}  # fmt: skip
    assert resolver.resolve(value) == (
        '{"Resource":"arn:aws:states:::lambda:invoke","F":"arn:aws:lambda:us-east-1:123:function:stack-Fn",'
        '"Q":"https://sqs.local/123/stack-Queue"}'
    )


def test_sub_string_and_variables_and_literal_escape(resolver: Resolver) -> None:
    assert (
        resolver.resolve({"Fn::Sub": "cdk-${AWS::AccountId}-${AWS::Region}-${Table}"})
        == "cdk-123-us-east-1-stack-Table"
    )
    assert resolver.resolve({"Fn::Sub": "${Fn.Arn}:live"}) == "arn:aws:lambda:us-east-1:123:function:stack-Fn:live"
    assert (
        resolver.resolve({"Fn::Sub": ["${X}/${AWS::URLSuffix}", {"X": {"Ref": "Table"}}]})
        == "stack-Table/amazonaws.com"
    )
    assert resolver.resolve({"Fn::Sub": "keep ${!Literal}"}) == "keep ${Literal}"


def test_select_split_and_getazs(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    assert resolver.resolve({"Fn::Select": ["0", {"Ref": "Names"}]}) == "a"
    assert resolver.resolve({"Fn::GetAZs": ""}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    with pytest.raises(IntrinsicError, match="out of range"):
        resolver.resolve({"Fn::Select": [5, ["x"]]})


def test_conditions_if_and_novalue(resolver: Resolver) -> None:
    value = {"A": {"Fn::If": ["IsProd", "big", "small"]}, "B": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
             "L": ["x", {"Fn::If": ["NotProd", {"Ref": "AWS::NoValue"}, "y"]}]}  # fmt: skip
    assert resolver.resolve(value) == {"A": "small", "L": ["x"]}
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert resolver.resolve({"Fn::And": [{"Condition": "NotProd"}, {"Fn::Or": [True, False]}]}) is True


def test_find_in_map_and_base64(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "AWS::Region"}, "Memory"]}) == 512
    assert resolver.resolve({"Fn::Base64": "hi"}) == "aGk="


def test_unknown_references_fail_clearly(resolver: Resolver) -> None:
    with pytest.raises(IntrinsicError, match="Nope"):
        resolver.resolve({"Ref": "Nope"})
    with pytest.raises(IntrinsicError, match=r"Fn\.Missing"):
        resolver.resolve({"Fn::GetAtt": ["Fn", "Missing"]})
    with pytest.raises(IntrinsicError, match="not supported"):
        resolver.resolve({"Fn::ImportValue": "x"})
    with pytest.raises(IntrinsicError, match="unknown condition"):
        resolver.resolve({"Fn::If": ["Nope", 1, 2]})


def test_attr_fallback_is_consulted_for_unregistered_attributes() -> None:
    r = Resolver(attr_fallback=lambda lid, attr: f"arn:aws:iam::1:role/{lid}" if attr == "Arn" else None)
    assert r.resolve({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::1:role/Role"
    with pytest.raises(IntrinsicError):
        r.resolve({"Fn::GetAtt": ["Role", "RoleId"]})


def test_definition_substitutions_leave_unknown_placeholders() -> None:
    asl = '{"Resource":"${Fn}","Other":"${Unknown}","B":${Flag}}'
    assert (
        substitute_definition(asl, {"Fn": "arn:fn", "Flag": True})
        == '{"Resource":"arn:fn","Other":"${Unknown}","B":true}'
    )


def test_physical_names_are_deterministic_and_within_limits() -> None:
    long_id = "RecordingsWorkflowVeryLongConstructPathRecordingTaskFunction0123ABCD"
    name = physical_name("AgoraServerless", long_id, "AWS::Lambda::Function")
    assert name == physical_name("AgoraServerless", long_id, "AWS::Lambda::Function")
    assert len(name) <= 64 and name.startswith("AgoraServerless-RecordingsWorkflow")
    other = physical_name("AgoraServerless", long_id.replace("0123", "9999"), "AWS::Lambda::Function")
    assert other != name
    bucket = physical_name("AgoraServerless", "MediaRecordingsBucketAB12CD34", "AWS::S3::Bucket")
    assert bucket == "agoraserverless-mediarecordingsbucketab12cd34"
    fifo = physical_name("S", "Q" * 100, "AWS::SQS::Queue", fifo=True)
    assert fifo.endswith(".fifo") and len(fifo) <= 80


def test_dependencies_and_topological_order() -> None:
    resources: dict[str, Any] = {
        "Main": {"Properties": {"RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}}}},
        "Dlq": {"Properties": {}},
        "Other": {"Properties": {"X": {"Fn::Sub": "${Main.Arn}-${AWS::Region}"}}},
    }
    assert dependencies(resources["Other"]["Properties"]) >= {"Main"}
    assert topological(["Other", "Main", "Dlq"], resources) == ["Dlq", "Main", "Other"]
