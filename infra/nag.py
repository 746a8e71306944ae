"""cdk-nag acknowledgements: always per resource, always naming the exact finding, always with a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one exact finding (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and its children."""
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledgement of {finding} needs a real reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
