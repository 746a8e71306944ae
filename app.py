#!/usr/bin/env python3
"""CDK entry point. Offline by design: no STS, no git, no Docker; cdk-nag AwsSolutions always on.

``CDK_OUTDIR=cdk.out python app.py`` (``make synth``) writes the cloud assembly; synth fails on any
unacknowledged cdk-nag finding. A configuration mistake is one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.constructs.recording_workflow import RecordingTuning
from infra.runtime import RuntimeConfigError
from infra.settings import SettingsError, StackSettings
from infra.stack import AgoraServerlessStack

#: cdk.json's context: CDK's recommended feature flags (and the partition). Read here too, so ``make synth``,
#: the tests and the local stack (which run app.py without the cdk CLI) synthesize what ``cdk deploy`` does.
CDK_JSON = Path(__file__).resolve().parent / "cdk.json"
#: tags every resource carries whatever the configuration adds (``-c tags=team=media,env=prod``)
BASE_TAGS = {"project": "agora-serverless"}


def feature_flags() -> dict:
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"])


def build_app(
    context: dict | None = None, outdir: str | None = None, *, nag: bool = True
) -> tuple[cdk.App, AgoraServerlessStack]:
    """``outdir``: where the cloud assembly goes (default: ``CDK_OUTDIR``, else a fresh temporary directory).

    ``nag=False`` leaves out the cdk-nag validation (it reads the synthesized template and reports; it changes
    nothing in it: ``tests/infra/test_local_template.py`` compares the two): the local stack's synth, which the
    test suite runs once per context, takes half the time without it. ``cdk synth``/``deploy`` always run it."""
    # flags first: -c values from the cdk CLI (environment) and ``context`` override them
    app = cdk.App(context={**feature_flags(), **(context or {})}, outdir=outdir)
    tuning_keys = [RecordingTuning.context_key(f.name) for f in fields(RecordingTuning)]
    settings = StackSettings.load(
        app.node.try_get_context, context_keys=app.node.get_all_context().keys(), extra_keys=tuning_keys
    )
    env = cdk.Environment(account=settings.account, region=settings.region)
    stack = AgoraServerlessStack(app, settings.stack_name, settings=settings, env=env)
    for key, value in {**BASE_TAGS, **settings.tags}.items():
        cdk.Tags.of(stack).add(key, value)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> int:
    try:
        application, _ = build_app()
    except (SettingsError, RuntimeConfigError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    application.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
