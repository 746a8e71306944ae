"""``QueryResult.rtmp_outputs``: a web recording's CDN push states from a query answer, whatever its shape."""

from __future__ import annotations

import pytest
from agorakit.agora.models import QueryResult


@pytest.mark.parametrize(
    ("server", "outputs"),
    [
        (
            {
                "extensionServiceState": [
                    {"serviceName": "web_recorder_service", "payload": {"state": "inProgress"}},
                    {
                        "serviceName": "rtmp_publish_service",
                        "payload": {
                            "state": "inProgress",
                            "outputs": [
                                {"rtmpUrl": "rtmp://a/x", "status": "publishing"},
                                {"rtmpUrl": "rtmp://b/y", "status": "onhold"},
                            ],
                        },
                    },
                ]
            },
            [("rtmp://a/x", "publishing"), ("rtmp://b/y", "onhold")],
        ),
        ({"status": 5, "fileList": []}, []),  # not a web task
        ({"extensionServiceState": "nonsense"}, []),
        ({"extensionServiceState": [{"serviceName": "rtmp_publish_service", "payload": None}]}, []),
        (
            {
                "extensionServiceState": [
                    {
                        "serviceName": "rtmp_publish_service",
                        "payload": {
                            "outputs": [
                                {"rtmpUrl": "", "status": "publishing"},
                                {"rtmpUrl": "rtmp://a/x"},
                                7,
                                {"rtmpUrl": 3, "status": "x"},
                            ]
                        },
                    }
                ]
            },
            [],
        ),
    ],
)
def test_query_rtmp_outputs(server: object, outputs: list[tuple[str, str]]) -> None:
    result = QueryResult(status=5, file_list=[], file_list_mode=None, raw={"serverResponse": server})
    assert result.rtmp_outputs == outputs
    assert QueryResult(status=None, file_list=[], file_list_mode=None, raw={}).rtmp_outputs == []
