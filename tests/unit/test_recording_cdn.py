"""Web page recording with CDN push: the request and update models, the extension services sent to Agora and
the ``cdn`` part of the API view (service.recordings.models / logic / operations.validate_start)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from service.recordings import logic
from service.recordings.models import RecordingRequest, RecordingView, UpdateRequest
from service.recordings.operations import validate_start
from service.recordings.repository import from_item

URL = "rtmp://live.example.com/app/stream-key"
WEB = {"url": "https://example.com/board"}


def web_request(**extra: Any) -> dict[str, Any]:
    return {"channel": "board", "mode": "web", "web": WEB, **extra}


def test_cdn_push_becomes_rtmp_publish_service_next_to_the_web_recorder() -> None:
    request = RecordingRequest.model_validate(web_request(cdn={"outputs": [URL]}))
    config = validate_start(request, "0b0e3c1e-0000-4000-8000-000000000001", SimpleNamespace(max_duration_seconds=7200))  # type: ignore[arg-type]
    assert config["cdn"] == {"outputs": [URL]} and logic.cdn_urls(config) == [URL]
    services = logic.web_extension_config(config["web"], 7200, logic.cdn_urls(config))["extensionServices"]
    assert [s["serviceName"] for s in services] == ["web_recorder_service", "rtmp_publish_service"]
    assert services[0]["errorHandlePolicy"] == "error_abort"
    assert services[1] == {
        "serviceName": "rtmp_publish_service",
        "errorHandlePolicy": "error_ignore",
        "serviceParam": {"outputs": [{"rtmpUrl": URL}]},
    }


def test_a_web_recording_without_push_is_unchanged() -> None:
    request = RecordingRequest.model_validate(web_request())
    config = validate_start(request, "0b0e3c1e-0000-4000-8000-000000000002", SimpleNamespace(max_duration_seconds=3600))  # type: ignore[arg-type]
    assert "cdn" not in config and logic.cdn_urls(config) is None
    assert logic.web_extension_config(config["web"], 3600, logic.cdn_urls(config)) == logic.web_extension_config(
        config["web"], 3600
    )
    assert len(logic.web_extension_config(config["web"], 3600)["extensionServices"]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"channel": "room", "mode": "mix", "cdn": {"outputs": [URL]}}, 'mode "web" only'),
        ({"channel": "room", "mode": "individual", "cdn": {"outputs": [URL]}}, 'mode "web" only'),
        (web_request(cdn={"outputs": []}), "at least 1"),
        (web_request(cdn={"outputs": [URL, URL + "2"]}), "at most 1"),
        (web_request(cdn={"outputs": ["http://live.example.com/app/key"]}), "'http' is not rtmp or rtmps"),
        (web_request(cdn={"outputs": ["srt://live.example.com/app/key"]}), "'srt' is not rtmp or rtmps"),
        (web_request(cdn={"outputs": ["rtmp://live.example.com"]}), "app/stream path"),
        (web_request(cdn={"outputs": ["rtmp://live.example.com/app/key with space"]}), "spaces or control"),
        (web_request(cdn={"outputs": ["rtmp://h/" + "k" * 1100]}), "at most 1024"),
        (web_request(cdn={"outputs": [{"rtmpUrl": URL}]}), "string"),
        (web_request(cdn={"outputs": [URL], "policy": "error_abort"}), "Extra inputs"),
        (web_request(cdn=[URL]), "CdnPush"),
    ],
)
def test_bad_cdn_requests_are_refused_with_a_reason(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RecordingRequest.model_validate(body)


def test_rtmps_and_ports_are_accepted() -> None:
    for url in ("rtmps://live.example.com:443/app/key?token=abc", "rtmp://10.0.0.7:1935/live/k"):
        assert RecordingRequest.model_validate(web_request(cdn={"outputs": [url]})).cdn is not None


def test_update_can_replace_the_cdn_addresses() -> None:
    update = UpdateRequest.model_validate({"rtmpPublishConfig": {"outputs": [{"rtmpUrl": URL}]}})
    assert update.client_request() == {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": URL}]}}
    assert update.rtmpPublishConfig is not None and update.rtmpPublishConfig.urls() == [URL]
    both = UpdateRequest.model_validate(
        {"webRecordingConfig": {"onhold": True}, "rtmpPublishConfig": {"outputs": [{"rtmpUrl": URL}]}}
    )
    assert set(both.client_request()) == {"webRecordingConfig", "rtmpPublishConfig"}
    for bad in (
        {"rtmpPublishConfig": {}},
        {"rtmpPublishConfig": {"outputs": []}},
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": URL}, {"rtmpUrl": URL + "2"}]}},
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": "https://live.example.com/app/key"}]}},
        {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": URL, "status": "publishing"}]}},
        {"rtmpPublishConfig": {"outputs": [URL]}},
        {"rtmpPublishConfig": None},
    ):
        with pytest.raises(ValidationError):
            UpdateRequest.model_validate(bad)


def test_the_view_lists_current_addresses_first_then_replaced_ones() -> None:
    old, new, older = URL, "rtmps://cdn.example.net/live/new", "rtmp://a.example.org/x/y"
    item = {
        "recordingId": "r",
        "channel": "board",
        "mode": "web",
        "status": "RECORDING",
        "cdnUrls": [new],
        "cdnOutputs": {
            logic.cdn_key(old): {"url": old, "status": "disconnected", "at": 1_700_000_002_000, "seq": 9},
            logic.cdn_key(older): {"url": older, "status": "disconnected", "at": 1_700_000_001_000, "seq": 4},
        },
    }
    view = logic.view(from_item(item))
    assert view["cdn"] == [
        {"url": new, "status": None, "updated_at": None, "current": True},
        {"url": older, "status": "disconnected", "updated_at": "2023-11-14T22:13:21.000Z", "current": False},
        {"url": old, "status": "disconnected", "updated_at": "2023-11-14T22:13:22.000Z", "current": False},
    ]
    item["cdnOutputs"][logic.cdn_key(new)] = {"url": new, "status": "publishing", "at": 1_700_000_003_000, "seq": 12}
    assert logic.view(from_item(item))["cdn"][0] == {
        "url": new, "status": "publishing", "updated_at": "2023-11-14T22:13:23.000Z", "current": True,
    }  # fmt: skip
    RecordingView.model_validate(logic.view(from_item(item)))  # the documented response shape
    assert logic.view(from_item({"recordingId": "r", "mode": "mix", "status": "RECORDING"}))["cdn"] == []


def test_cdn_keys_are_map_keys() -> None:
    key = logic.cdn_key(URL)
    assert key.isalnum() and key == logic.cdn_key(URL) and key != logic.cdn_key(URL + "x")
    assert {"connecting", "publishing", "onhold", "disconnected"} == logic.CDN_STATUSES
