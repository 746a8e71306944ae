"""POST /recordings options added for screenshots and acquire (service.recordings.models, workflow.acquire_options)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from service.recordings.models import RecordingRequest


def test_screenshots_are_individual_only_and_need_video() -> None:
    ok = RecordingRequest(channel="room", mode="individual", snapshot_config={"captureInterval": 5})
    assert ok.agora_snapshot_config() == {"captureInterval": 5, "fileType": ["jpg"]}
    for bad in (
        {"channel": "room", "mode": "mix", "snapshot_config": {}},
        {"channel": "room", "mode": "individual", "snapshot_config": {"captureInterval": 4}},
        {"channel": "room", "mode": "individual", "snapshot_config": {"fileType": ["png"]}},
        {"channel": "room", "mode": "individual", "snapshot_config": {}, "recording_config": {"streamTypes": 0}},
    ):
        with pytest.raises(ValidationError):
            RecordingRequest(**bad)


def test_acquire_options() -> None:
    request = RecordingRequest(channel="room", acquire={"region": "EU", "start_parameter": True})
    assert request.acquire is not None and request.acquire.model_dump() == {"region": "EU", "start_parameter": True}
    with pytest.raises(ValidationError):
        RecordingRequest(channel="room", acquire={"region": "US"})


def test_acquire_options_exclude_the_previous_resource_and_carry_the_region() -> None:
    from service.recordings.workflow import acquire_options

    item = {"recordingId": "r", "channel": "room", "mode": "mix", "resourceId": "old-rid",
            "configJson": '{"acquire": {"region": "NA"}}'}  # fmt: skip
    assert acquire_options(item, 7, settings=None, deps=None) == {  # type: ignore[arg-type]
        "region": "NA",
        "exclude_resource_ids": ["old-rid"],
    }
    assert acquire_options({"recordingId": "r", "channel": "c", "mode": "mix"}, 7, settings=None, deps=None) == {}  # type: ignore[arg-type]
