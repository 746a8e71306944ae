"""The local stack's template is the deployed one.

``local.synth`` (what ``make run`` and the workflow/integration/e2e tiers provision into moto) builds the app
without cdk-nag's validation plugin, which halves a synthesis; the plugin only reads the template and reports.
This compares the two: the infra tier's template (``app.build_app`` exactly as ``app.py`` runs it, nag included)
and the local one for the same context, resource by resource."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import NO_BUNDLING


def test_the_local_synth_is_the_deployed_template(template_json: dict[str, Any]) -> None:
    from local.synth import synth_template

    local = synth_template(dict(NO_BUNDLING))
    assert set(local) == set(template_json)
    assert sorted(local["Resources"]) == sorted(template_json["Resources"])
    differing = [k for k, v in template_json["Resources"].items() if local["Resources"][k] != v]
    assert not differing, differing[:10]
    assert local == template_json
