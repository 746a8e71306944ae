"""The RecordingsTable's indexes, provisioned from the synthesized template in moto, return what the recording
code reads from them: ``bySid`` projects only ``recordingId`` (moto honours the projection, as DynamoDB does),
and a webhook event found through it still updates the whole recording; ``byStatus`` and ``byChannel`` hold
keys only and the repository reads the rows behind them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.constructs.recording import BY_SID_ATTRIBUTES
from tests.workflow.recording_env import RecordingStack, apply_notices, recording_notice, recording_stack


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(execute=False) as stack:
        yield stack


@pytest.fixture
def recording(rs: RecordingStack) -> dict[str, Any]:
    return rs.running("ix" + uuid.uuid4().hex[:10])


def _index(rs: RecordingStack, index: str, key: str, value: str) -> list[dict[str, Any]]:
    response = rs.ddb.query(
        TableName=rs.table, IndexName=index, KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": key}, ExpressionAttributeValues={":v": {"S": value}},
    )  # fmt: skip
    return list(response["Items"])


def test_by_sid_returns_only_the_keys_and_the_recording_id(rs: RecordingStack, recording: dict[str, Any]) -> None:
    (hit,) = _index(rs, "bySid", "sid", recording["sid"])
    assert set(hit) == {"pk", "sid", *BY_SID_ATTRIBUTES}  # not status, channel, files...
    assert hit["recordingId"] == {"S": recording["recordingId"]}
    whole = rs.item(recording["recordingId"])
    assert {"status", "channel", "createdAt"} <= set(whole)


def test_an_event_found_through_by_sid_updates_the_whole_recording(
    rs: RecordingStack, recording: dict[str, Any]
) -> None:
    apply_notices(recording_notice(recording, 41, 14, msgName="recorder_leave", leaveCode=4))
    item = rs.item(recording["recordingId"])
    assert int(item["leaveCode"]) == 4 and item["status"] == "RECORDING"


def test_by_status_and_by_channel_hold_keys_and_the_repository_reads_the_rows(
    rs: RecordingStack, recording: dict[str, Any]
) -> None:
    from service.recordings.repository import RecordingsRepository, status_key

    item = rs.item(recording["recordingId"])
    assert item["activeStatus"] == status_key("RECORDING", recording["recordingId"])  # the write shard
    (mine,) = [
        h for h in _index(rs, "byStatus", "activeStatus", str(item["activeStatus"])) if h["pk"] == {"S": item["pk"]}
    ]
    assert set(mine) == {"pk", "activeStatus", "createdAt"}  # keys only: an event or a check writes no index
    (listed,) = _index(rs, "byChannel", "channel", str(item["channel"]))
    assert set(listed) == {"pk", "channel", "createdAt"}
    repo = RecordingsRepository(rs.table, client=rs.ddb)
    (active,) = [r for r in repo.list_active(("RECORDING",)) if r.recording_id == recording["recordingId"]]
    assert active.sid == recording["sid"] and active.recorder_uid is not None  # the whole row, from the table
    (page,), _ = repo.list_by_channel(str(item["channel"]), limit=5)
    assert page.recording_id == recording["recordingId"] and page.status == "RECORDING"
