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
    from service.recordings.repository import from_item
    from service.recordings.workflow import acquire_options

    item = from_item({"recordingId": "r", "channel": "room", "mode": "mix", "resourceId": "old-rid",
                      "configJson": '{"acquire": {"region": "NA"}}'})  # fmt: skip
    assert acquire_options(item, 7, settings=None, deps=None) == {  # type: ignore[arg-type]
        "region": "NA",
        "exclude_resource_ids": ["old-rid"],
    }
    fresh = from_item({"recordingId": "r", "channel": "c", "mode": "mix"})
    assert acquire_options(fresh, 7, settings=None, deps=None) == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("aws_region", "area"),
    [("us-east-1", "NA"), ("ca-central-1", "NA"), ("eu-central-1", "EU"), ("eu-west-2", "EU"),
     ("ap-southeast-1", "AP"), ("ap-northeast-1", "AP"), ("cn-north-1", "CN"), ("US-WEST-2", "NA"),
     ("sa-east-1", None), ("me-south-1", None), ("af-south-1", None), ("", None), (None, None)],
)  # fmt: skip
def test_the_acquire_area_of_a_bucket_region(aws_region: str | None, area: str | None) -> None:
    from agorakit.agora.regions import acquire_area

    assert acquire_area(aws_region) == area


def test_a_pin_away_from_the_bucket_is_refused_and_an_unclear_region_is_not() -> None:
    from service.errors import Unprocessable
    from service.recordings.operations import validate_start
    from service.recordings.settings import RecordingSettings

    def settings(region: str) -> RecordingSettings:
        return RecordingSettings(
            agora_app_id="a" * 32, agora_rest_secret_name="rest", recordings_table="t", recordings_bucket_region=region
        )

    pinned = RecordingRequest(channel="room", acquire={"region": "EU"})
    assert validate_start(pinned, "r", settings("eu-west-1"))["acquire"] == {"region": "EU", "start_parameter": False}
    assert validate_start(pinned, "r", settings("sa-east-1"))["acquire"]["region"] == "EU"  # not ours to judge
    with pytest.raises(Unprocessable, match=r'acquire.region "EU" .* us-east-1 \(area "NA"\)'):
        validate_start(pinned, "r", settings("us-east-1"))
    validate_start(RecordingRequest(channel="room"), "r", settings("us-east-1"))  # no pin: any bucket
