"""Stack outputs with stable names: the logical id is the name a deployer reads (``ApiUrl``), not a
construct path with a hash suffix, and every output says what it is for."""

from __future__ import annotations

from aws_cdk import CfnOutput
from constructs import Construct


def output(scope: Construct, name: str, value: str, description: str) -> CfnOutput:
    if len(description.strip()) < 10:
        raise ValueError(f"output {name} needs a description")
    out = CfnOutput(scope, name, value=value, description=description)
    out.override_logical_id(name)
    return out
