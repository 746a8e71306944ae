"""``bench.scale`` executes the recording state machine from its own copy of the construct's numbers and error
lists (importing the construct would load CDK into every simulation); these keep the copy equal to the source."""

from __future__ import annotations

from dataclasses import fields

from bench.scale import workflow as model
from infra.constructs import recording_workflow as construct


def test_the_simulated_retries_are_the_deployed_ones():
    deployed = construct.RecordingTuning()
    simulated = model.Tuning()
    for f in fields(model.Tuning):
        assert getattr(simulated, f.name) == getattr(deployed, f.name), f.name


def test_the_simulated_error_lists_are_the_deployed_ones():
    assert set(construct.RETRYABLE_AGORA_ERRORS) == model.RETRYABLE_AGORA_ERRORS
    assert set(construct.REACQUIRE_ERRORS) == model.REACQUIRE_ERRORS
    assert set(construct.CAPACITY_ERRORS) == model.CAPACITY_ERRORS
    assert set(construct.LAMBDA_SERVICE_ERRORS) == model.LAMBDA_SERVICE_ERRORS


def test_the_simulated_reconciler_fan_out_is_the_deployed_default():
    from bench.scale.sim import Scenario
    from infra.settings import StackSettings

    assert Scenario().reconciler_shards == StackSettings.model_fields["reconciler_shards"].default
