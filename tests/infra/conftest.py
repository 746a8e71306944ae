"""One synthesized template per test session (jsii boot + synth costs seconds; assertions cost milliseconds).

The app is built exactly as ``app.py`` builds it, cdk-nag included, with asset bundling skipped.
Synthesis itself is the nag test: an unacknowledged finding raises here.
"""

from __future__ import annotations

import pytest

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


@pytest.fixture(scope="session")
def synthesized():
    from aws_cdk.assertions import Template

    from app import build_app

    app, stack = build_app(context=dict(NO_BUNDLING))
    assembly = app.synth()
    return stack, Template.from_stack(stack), assembly


@pytest.fixture(scope="session")
def template(synthesized):
    return synthesized[1]


@pytest.fixture(scope="session")
def template_json(template):
    return template.to_json()
