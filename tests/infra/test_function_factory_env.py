"""Every function gets the fast AWS client switch from ``fastAwsClient`` (on by default)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import NO_BUNDLING
from tests.infra.template_helpers import resources


def _switches(template_json) -> dict[str, str | None]:
    functions = resources(template_json, "AWS::Lambda::Function")
    return {
        name: ((f["Properties"].get("Environment") or {}).get("Variables") or {}).get("AGORA_AWS_FAST_CLIENT")
        for name, f in functions.items()
        if "Handler" in f["Properties"] and f["Properties"]["Handler"].startswith("service.")
    }


def test_every_function_has_the_fast_client_on_by_default(template_json):
    switches = _switches(template_json)
    assert len(switches) >= 9
    assert set(switches.values()) == {"1"}, switches


def test_fast_aws_client_false_puts_every_call_on_botocore():
    from aws_cdk.assertions import Template

    from app import build_app

    _, stack = build_app(context={**NO_BUNDLING, "fastAwsClient": "false"})
    switches = _switches(Template.from_stack(stack).to_json())
    assert switches and set(switches.values()) == {"0"}, switches


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_wrong_value_is_a_one_line_error(value):
    from app import build_app

    with pytest.raises(Exception, match="fastAwsClient"):
        build_app(context={**NO_BUNDLING, "fastAwsClient": value})
