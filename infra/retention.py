"""Removal policies from one switch: production keeps data, a ``dev`` stack is disposable.

``-c dev=true`` makes every table and bucket destroyable (tables lose deletion protection; buckets are
emptied by CDK's auto-delete custom resource). The default (``dev`` false) retains each of them; the
list of what survives a destroy is in docs/deploy.md and is checked by tests/infra/test_production.py.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from infra.settings import StackSettings


def data_removal_policy(settings: StackSettings) -> RemovalPolicy:
    """For data stores (tables, buckets, the user pool): RETAIN unless the stack is a dev stack."""
    return RemovalPolicy.DESTROY if settings.dev else RemovalPolicy.RETAIN


def deletion_protection(settings: StackSettings) -> bool:
    return not settings.dev
