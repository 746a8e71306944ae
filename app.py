#!/usr/bin/env python3
"""CDK entry point. Offline by design: no STS, no git, no Docker; cdk-nag AwsSolutions always on.

``CDK_OUTDIR=cdk.out python app.py`` (``make synth``) writes the cloud assembly; synth fails on any
unacknowledged cdk-nag finding.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import StackSettings
from infra.stack import AgoraServerlessStack


def build_app(context: dict | None = None) -> tuple[cdk.App, AgoraServerlessStack]:
    app = cdk.App(context=context) if context is not None else cdk.App()
    settings = StackSettings.load(app.node.try_get_context)
    env = cdk.Environment(account=settings.account, region=settings.region)
    stack = AgoraServerlessStack(app, settings.stack_name, settings=settings, env=env)
    cdk.Tags.of(stack).add("project", "agora-serverless")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


if __name__ == "__main__":
    application, _ = build_app()
    application.synth()
