"""The recordings API handler against moto (DynamoDB, Step Functions, Secrets Manager) provisioned from the
synthesized template, with API Gateway v2 events carrying JWT claims, and the Agora emulator for update
and updateLayout. Executions are recorded but not run: each test arranges the states it needs by calling
the real workflow steps.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from service.recordings.repository import status_key

from tests.workflow.recording_env import RecordingStack, api_event, recording_stack, response_json

HOST_UID = 1001


@pytest.fixture(scope="module")
def rs() -> Iterator[RecordingStack]:
    with recording_stack(execute=False) as stack:
        yield stack


@pytest.fixture
def channel(rs: RecordingStack) -> Iterator[str]:
    rs.emulator.set_faults(clear=True)
    yield "api" + uuid.uuid4().hex[:10]
    rs.emulator.set_faults(clear=True)


def call_concurrently(rs: RecordingStack, events: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """The API handler invoked from several threads at the same moment (like concurrent Lambdas)."""
    from local.provision import LambdaContext

    handler, spec = rs.api_handler()
    barrier = threading.Barrier(len(events))
    results: list[tuple[int, Any]] = [(0, None)] * len(events)

    def run(i: int) -> None:
        barrier.wait()
        try:
            response = handler(events[i], LambdaContext(spec))
        except Exception as exc:  # a crash is a result too (and fails the test's assertions)
            results[i] = (-1, f"{type(exc).__name__}: {exc}")
            return
        results[i] = (response["statusCode"], response_json(response))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def task(rs: RecordingStack, event: dict[str, Any]) -> Any:
    return rs.task(event)


def running(rs: RecordingStack, channel: str, **body: Any) -> dict[str, Any]:
    return rs.running(channel, host_uid=HOST_UID, **body)


# ------------------------------------------------------------------------------------------ create


def test_post_starts_a_workflow_execution(rs: RecordingStack, channel: str) -> None:
    event = api_event("POST", "/recordings", body={"channel": channel, "mode": "individual"})
    response = rs.dispatcher.invoke(rs.function_name("RecordingApiFunction"), event)
    assert response["statusCode"] == 202
    body = response_json(response)
    recording_id = body["recording_id"]
    assert body["status"] == "REQUESTED" and body["mode"] == "individual" and body["channel"] == channel
    assert response["headers"]["Location"] == f"/recordings/{recording_id}"
    execution = rs.sfn.describe_execution(executionArn=rs.execution_arn(recording_id))
    assert json.loads(execution["input"]) == {"recordingId": recording_id}
    item = rs.item(recording_id)
    assert item["status"] == "REQUESTED" and item["activeStatus"] == status_key("REQUESTED", recording_id)
    assert item["executionArn"] == rs.execution_arn(recording_id)
    assert item["requestedBy"] == "admin-1"


def test_a_channel_has_one_active_recording(rs: RecordingStack, channel: str) -> None:
    first = rs.api("POST", "/recordings", body={"channel": channel})
    second = rs.api("POST", "/recordings", body={"channel": channel, "mode": "individual"})
    assert first[0] == 202
    assert second[0] == 409
    assert second[1]["error"]["details"]["active_recording_id"] == first[1]["recording_id"]


def test_concurrent_posts_race_free(rs: RecordingStack, channel: str) -> None:
    events = [api_event("POST", "/recordings", body={"channel": channel}) for _ in range(6)]
    results = call_concurrently(rs, events)
    accepted = [body for code, body in results if code == 202]
    conflicts = [body for code, body in results if code == 409]
    assert len(accepted) == 1 and len(conflicts) == 5, results
    winner = accepted[0]["recording_id"]
    assert {c["error"]["details"]["active_recording_id"] for c in conflicts} == {winner}
    status, listed = rs.api("GET", "/recordings", query={"channel": channel})
    assert status == 200 and [r["recording_id"] for r in listed["recordings"]] == [winner]


def test_a_stale_lock_does_not_block_the_channel(rs: RecordingStack, channel: str) -> None:
    _, first = rs.api("POST", "/recordings", body={"channel": channel})
    # the recording ended without releasing its lock (e.g. a crash between the two writes)
    from service.recordings.repository import RecordingsRepository

    RecordingsRepository(rs.table, client=rs.ddb).transition(first["recording_id"], "FAILED")
    status, second = rs.api("POST", "/recordings", body={"channel": channel})
    assert status == 202 and second["recording_id"] != first["recording_id"]


# ------------------------------------------------------------------------------------------ idempotency


def test_idempotency_key_replays_the_same_response(rs: RecordingStack, channel: str) -> None:
    headers = {"Idempotency-Key": "create-" + channel}
    body = {"channel": channel, "recording_config": {"maxIdleTime": 60}}
    first = rs.api("POST", "/recordings", body=body, headers=headers)
    again = rs.api("POST", "/recordings", body=dict(reversed(list(body.items()))), headers=headers)
    assert first[0] == again[0] == 202
    assert again[1] == first[1]
    executions = rs.sfn.list_executions(stateMachineArn=rs.state_machine_arn)["executions"]
    assert sum(e["name"] == first[1]["recording_id"] for e in executions) == 1


def test_idempotency_key_with_another_body_is_422(rs: RecordingStack, channel: str) -> None:
    headers = {"Idempotency-Key": "create-" + channel}
    assert rs.api("POST", "/recordings", body={"channel": channel}, headers=headers)[0] == 202
    status, body = rs.api("POST", "/recordings", body={"channel": channel, "mode": "individual"}, headers=headers)
    assert status == 422 and "Idempotency-Key" in body["error"]["message"]


def test_concurrent_retries_with_one_key_create_one_recording(rs: RecordingStack, channel: str) -> None:
    events = [
        api_event("POST", "/recordings", body={"channel": channel}, headers={"Idempotency-Key": "k-" + channel})
        for _ in range(4)
    ]
    results = call_concurrently(rs, events)
    assert {code for code, _ in results} == {202}
    assert len({body["recording_id"] for _, body in results}) == 1


def test_idempotency_keys_belong_to_their_caller(rs: RecordingStack, channel: str) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    a = rs.api("POST", "/recordings", body={"channel": channel + "a"}, headers=headers, subject="alice")
    b = rs.api("POST", "/recordings", body={"channel": channel + "b"}, headers=headers, subject="bob")
    assert a[0] == b[0] == 202 and a[1]["recording_id"] != b[1]["recording_id"]


# ------------------------------------------------------------------------------------------ auth and input


def test_callers_outside_the_admin_group_get_403(rs: RecordingStack, channel: str) -> None:
    status, body = rs.api("POST", "/recordings", body={"channel": channel}, groups=("hosts",))
    assert status == 403 and "admins" in body["error"]["message"]
    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    for method, path in (("GET", f"/recordings/{created['recording_id']}"), ("GET", "/recordings"),
                         ("POST", f"/recordings/{created['recording_id']}/stop")):  # fmt: skip
        assert rs.api(method, path, groups=())[0] == 403
    assert rs.api("GET", "/recordings", subject="")[0] == 401


@pytest.mark.parametrize("recording_id", ["3f2b8c1e-9d4a-4e6f-8b7c-2a1d0e9f5c43", "not-a-uuid", "%00"])
def test_unknown_recording_is_404(rs: RecordingStack, recording_id: str) -> None:
    for method, path in (("GET", f"/recordings/{recording_id}"), ("POST", f"/recordings/{recording_id}/stop")):
        status, body = rs.api(method, path)
        assert status == 404 and body["error"]["code"] == "not_found"


def test_bad_input(rs: RecordingStack, channel: str) -> None:
    assert rs.api("POST", "/recordings", raw_body="{not json")[0] == 400
    status, body = rs.api("POST", "/recordings", body={"channel": channel, "mode": "audio"})
    assert status == 422 and body["error"]["details"]["errors"][0]["field"] == "mode"
    assert rs.api("POST", "/recordings", body={"channel": "bad/channel"})[0] == 422
    assert rs.api("POST", "/recordings", body={"channel": channel, "unexpected": True})[0] == 422
    assert rs.api("POST", "/recordings", body={"channel": channel}, headers={"Idempotency-Key": "has space"})[0] == 400
    assert rs.api("GET", "/recordings", query={"channel": channel, "limit": "0"})[0] == 400
    assert rs.api("GET", "/recordings", query={"channel": channel, "limit": "x"})[0] == 400
    assert rs.api("GET", "/recordings", query={"channel": channel, "limit": "\u00b2"})[0] == 400  # "²".isdigit()
    status, body = rs.api("POST", "/recordings", raw_body="channel=x", headers={"content-type": "text/plain"})
    assert status == 415 and body["error"]["message"]
    assert rs.api("GET", "/recordings", query={"channel": channel, "next_token": "!!"})[0] == 400
    # a recorder pinned to Europe cannot store in the local bucket (us-east-1): Agora's rule, refused before Agora
    status, body = rs.api("POST", "/recordings", body={"channel": channel, "acquire": {"region": "EU"}})
    assert status == 422 and 'acquire.region "EU"' in body["error"]["message"] and '"NA"' in body["error"]["message"]
    # nothing was created by the rejected requests
    assert rs.api("GET", "/recordings", query={"channel": channel})[1]["recordings"] == []


# ------------------------------------------------------------------------------------------ read and list


def test_list_pages_newest_first(rs: RecordingStack, channel: str) -> None:
    from service.recordings.repository import RecordingsRepository

    repo = RecordingsRepository(rs.table, client=rs.ddb)
    ids = []
    for _ in range(3):
        _, created = rs.api("POST", "/recordings", body={"channel": channel})
        ids.append(created["recording_id"])
        repo.transition(created["recording_id"], "FAILED")
        repo.release_lock(channel, created["recording_id"])
        time.sleep(0.002)
    _, page = rs.api("GET", "/recordings", query={"channel": channel, "limit": "2"})
    assert [r["recording_id"] for r in page["recordings"]] == ids[::-1][:2] and page["next_token"]
    _, rest = rs.api("GET", "/recordings", query={"channel": channel, "limit": "2", "next_token": page["next_token"]})
    assert [r["recording_id"] for r in rest["recordings"]] == ids[:1]
    _, active = rs.api("GET", "/recordings")
    assert not {r["recording_id"] for r in active["recordings"]} & set(ids)


def test_get_shows_media_durations(rs: RecordingStack, channel: str) -> None:
    item = running(rs, channel)
    status, body = rs.api("GET", f"/recordings/{item['recordingId']}")
    assert status == 200 and body["status"] == "RECORDING" and body.get("media") is None
    media_table = rs.stack.environment().get("MEDIA_TABLE")
    if not media_table:
        pytest.skip("the media construct is not in the stack")
    from service.media.repository import MediaRepository

    media = MediaRepository(media_table, client=rs.ddb)
    revision = media.bump_revision(item["sid"])
    assert media.put_totals(item["sid"], {"duration_us": 45_000_000, "files": 1}, revision)
    _, body = rs.api("GET", f"/recordings/{item['recordingId']}")
    assert body["media"]["duration_us"] == 45_000_000 and body["media"]["sid"] == item["sid"]


# ------------------------------------------------------------------------------------------ stop


def test_stop_is_idempotent(rs: RecordingStack, channel: str) -> None:
    item = running(rs, channel)
    recording_id = item["recordingId"]
    first = rs.api("POST", f"/recordings/{recording_id}/stop")
    second = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert first[0] == second[0] == 202
    assert first[1]["stop_requested"] == second[1]["stop_requested"] == "api"
    assert rs.item(recording_id)["stopRequested"] == "api"
    # the workflow's own steps finish it; then stop answers 200 with the final state
    state = {"recordingId": recording_id, "wait": {"reason": "api"}}
    state["stop"] = task(rs, {"action": "stop", "state": state})
    task(rs, {"action": "finalize", "state": state})
    status, body = rs.api("POST", f"/recordings/{recording_id}/stop")
    assert status == 200 and body["status"] == "STOPPED" and body["stop_reason"] == "api"


def test_stop_before_the_recorder_started(rs: RecordingStack, channel: str) -> None:
    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    recording_id = created["recording_id"]
    assert rs.api("POST", f"/recordings/{recording_id}/stop")[0] == 202
    assert task(rs, {"action": "acquire", "recordingId": recording_id, "reacquires": 0}) == {"skipped": True}
    assert task(rs, {"action": "start", "recordingId": recording_id, "reacquires": 0}) == {
        "started": False,
        "outcome": "skipped",
    }
    state = {"recordingId": recording_id, "wait": {"reason": "api"}}
    state["stop"] = task(rs, {"action": "stop", "state": state})
    assert state["stop"]["outcome"] == "not_started"
    task(rs, {"action": "finalize", "state": state})
    assert rs.item(recording_id)["status"] == "STOPPED"
    assert rs.emulator_tasks(channel) == []
    assert rs.api("POST", "/recordings", body={"channel": channel})[0] == 202  # the channel is free


# ------------------------------------------------------------------------------------------ update and layout


def test_update_and_layout_reach_agora(rs: RecordingStack, channel: str) -> None:
    item = running(rs, channel)
    recording_id = item["recordingId"]
    update = {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": [str(HOST_UID)]}}}
    status, body = rs.api("POST", f"/recordings/{recording_id}/update", body=update)
    assert status == 200 and body["status"] == "RECORDING"
    config = rs.emulator.world.tasks[item["sid"]].client_request["recordingConfig"]
    assert config["subscribeAudioUids"] == [str(HOST_UID)]
    layout = {"mixedVideoLayout": 1, "backgroundColor": "#123456"}
    assert rs.api("POST", f"/recordings/{recording_id}/layout", body=layout)[0] == 200
    assert rs.emulator.world.tasks[item["sid"]].layout == layout
    assert "opLock" not in rs.item(recording_id)


def test_one_update_at_a_time(rs: RecordingStack, channel: str) -> None:
    item = running(rs, channel)
    recording_id = item["recordingId"]
    rs.emulator.set_faults(script=["slow"], slow_ms=800)  # the first call is in flight for 0.8 s
    layout = api_event("POST", f"/recordings/{recording_id}/layout", body={"mixedVideoLayout": 1})
    results: list[tuple[int, Any]] = []
    first = threading.Thread(target=lambda: results.append(call_concurrently(rs, [layout])[0]))
    first.start()
    assert rs.emulator.wait_for(lambda e: e.stats()["injected"].get("slow", 0) >= 1, timeout=5)
    rs.emulator.set_faults(slow_ms=0)
    update = {"streamSubscribe": {"videoUidList": {"unsubscribeVideoUids": ["77"]}}}
    status, body = rs.api("POST", f"/recordings/{recording_id}/update", body=update)
    assert status == 409 and "one at a time" in body["error"]["message"]
    first.join()
    assert results == [(200, results[0][1])]
    assert rs.api("POST", f"/recordings/{recording_id}/update", body=update)[0] == 200  # released


def test_an_abandoned_operation_lock_expires(rs: RecordingStack, channel: str) -> None:
    from service.recordings.repository import RecordingsRepository

    item = running(rs, channel)
    repo = RecordingsRepository(rs.table, client=rs.ddb)
    repo.take_op_lock(item["recordingId"], "crashed", seconds=30)  # a holder that never releases it...
    rs.ddb.update_item(  # ...and whose lock has run out
        TableName=rs.table,
        Key={"pk": {"S": f"REC#{item['recordingId']}"}},
        UpdateExpression="SET opLockUntil = :past",
        ExpressionAttributeValues={":past": {"N": str(repo.now_ms() - 1)}},
    )
    assert rs.api("POST", f"/recordings/{item['recordingId']}/layout", body={"mixedVideoLayout": 0})[0] == 200


def test_update_rules(rs: RecordingStack, channel: str) -> None:
    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    status, body = rs.api("POST", f"/recordings/{created['recording_id']}/layout", body={"mixedVideoLayout": 1})
    assert status == 409 and "REQUESTED" in body["error"]["message"]
    status, body = rs.api("POST", f"/recordings/{created['recording_id']}/update", body={})
    assert status == 422
    other = running(rs, channel + "i", mode="individual")
    status, body = rs.api("POST", f"/recordings/{other['recordingId']}/layout", body={"mixedVideoLayout": 1})
    assert status == 409 and "mix" in body["error"]["message"]
    status, body = rs.api(
        "POST", f"/recordings/{other['recordingId']}/update", body={"webRecordingConfig": {"onhold": True}}
    )
    assert status == 409


def test_update_or_layout_while_starting_is_409_not_recording_yet(rs: RecordingStack, channel: str) -> None:
    rs.emulator.join(channel, HOST_UID, role="host")
    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    recording_id = created["recording_id"]
    rs.task({"action": "acquire", "recordingId": recording_id, "reacquires": 0})
    assert rs.item(recording_id)["status"] == "STARTING"
    for path, body in (("update", {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["1"]}}}),
                       ("layout", {"mixedVideoLayout": 1})):  # fmt: skip
        status, answer = rs.api("POST", f"/recordings/{recording_id}/{path}", body=body)
        assert status == 409 and "not recording yet" in answer["error"]["message"], answer


def test_an_item_read_before_the_start_is_changed_with_the_sid_under_the_lock(rs: RecordingStack, channel: str) -> None:
    """The race behind the old KeyError 'sid': the item was read while STARTING, the start completed before
    the operation lock was taken. The call now uses the item as it is under the lock."""
    from service.recordings import operations
    from service.recordings.deps import build
    from service.recordings.settings import RecordingSettings

    _, created = rs.api("POST", "/recordings", body={"channel": channel})
    stale = rs.recording(created["recording_id"])  # read while REQUESTED: no sid
    rs.emulator.join(channel, HOST_UID, role="host")
    rs.acquire_and_start(created["recording_id"])
    settings = RecordingSettings.from_env()  # the stack's environment
    deps = build(settings)
    seen: list[str | None] = []
    operations._with_op_lock(deps, stale, settings, lambda current: seen.append(current.sid))
    assert seen == [rs.item(created["recording_id"])["sid"]]


def test_an_ambiguous_update_failure_asks_agora_instead_of_assuming(rs: RecordingStack, channel: str) -> None:
    """Every attempt fails with a 504 (the first after the update took effect): the API queries the task
    and answers 503 "the task still runs; sending the same change again is safe", not a guess."""
    item = running(rs, channel)
    rs.emulator.set_faults(script=["5xx_after@update", "5xx@update", "5xx@update", "5xx@update", "5xx@update"])
    update = {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": [str(HOST_UID)]}}}
    status, body = rs.api("POST", f"/recordings/{item['recordingId']}/update", body=update)
    assert status == 503, body
    assert body["error"]["details"]["task"] == "running" and body["error"]["details"]["applied"] == "unknown"
    config = rs.emulator.world.tasks[item["sid"]].client_request["recordingConfig"]
    assert config["subscribeAudioUids"] == [str(HOST_UID)], "the first attempt did take effect"
    assert "opLock" not in rs.item(item["recordingId"])


def test_update_of_a_recorder_that_exited_is_409(rs: RecordingStack, channel: str) -> None:
    item = running(rs, channel)
    with rs.emulator.world.lock:
        rs.emulator.world.tasks[item["sid"]].state = "exited"
    update = {"streamSubscribe": {"audioUidList": {"unsubscribeAudioUids": ["5"]}}}
    status, body = rs.api("POST", f"/recordings/{item['recordingId']}/update", body=update)
    assert status == 409 and "no longer" in body["error"]["message"]
    assert "opLock" not in rs.item(item["recordingId"])


# ------------------------------------------------------------------------------------------ reconciler


def test_reconciler_repairs_a_recording_whose_execution_was_aborted(rs: RecordingStack, channel: str) -> None:
    item = running(rs, channel)
    rs.reconcile()
    assert rs.item(item["recordingId"])["status"] == "RECORDING"  # its execution is RUNNING: left alone
    rs.sfn.stop_execution(executionArn=rs.execution_arn(item["recordingId"]), cause="an operator aborted it")
    time.sleep(1.1)  # the (test) staleness threshold
    counts = rs.reconcile()
    assert counts["repaired"] >= 1, counts
    repaired = rs.item(item["recordingId"])
    assert repaired["status"] == "FAILED" and repaired["errorType"] == "ExecutionEnded"
    assert "ABORTED" in repaired["errorReason"]
    assert rs.emulator.task(item["sid"])["leaveCode"] == 16  # the recorder was stopped, not left running
    assert rs.api("POST", "/recordings", body={"channel": channel})[0] == 202  # the channel is free


def test_reconciler_waits_out_the_ha_window_before_completing(rs: RecordingStack, channel: str) -> None:
    from service.recordings.repository import RecordingsRepository

    item = running(rs, channel)
    repo = RecordingsRepository(rs.table, client=rs.ddb)

    def last_seen(offset_ms: int) -> None:
        """Agora last answered for this recording ``offset_ms`` from now: the window is set, not slept out
        (a loaded machine can take longer than the test's 1 s window between two steps)."""
        rs.ddb.update_item(
            TableName=rs.table,
            Key={"pk": {"S": f"REC#{item['recordingId']}"}},
            UpdateExpression="SET lastSeenAt = :t",
            ExpressionAttributeValues={":t": {"N": str(repo.now_ms() + offset_ms)}},
        )

    with rs.emulator.world.lock:
        rs.emulator.world.tasks[item["sid"]].state = "exited"  # Agora answers 404 from now on
    last_seen(60_000)  # well inside the (test) 1 s HA window, however slow this run is
    counts = rs.reconcile()  # (other tests' recordings may be checked too)
    assert counts["in_grace"] >= 1 and "stopRequested" not in rs.item(item["recordingId"])
    last_seen(-2_000)  # the window has passed
    assert rs.reconcile()["completed"] >= 1
    assert rs.item(item["recordingId"])["stopRequested"] == "reconciler"


def test_recordings_publish_their_end_by_stop_reason_and_the_active_gauge(
    rs: RecordingStack, channel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support import emf

    item = running(rs, channel)
    recording_id = item["recordingId"]
    capsys.readouterr()
    counts = rs.reconcile()
    docs = emf.documents(capsys.readouterr().out)
    assert counts["active"] >= 1  # (other tests' recordings may be active too)
    assert emf.values(docs, "RecordingsActive") == [float(counts["active"])]
    assert emf.values(docs, "AgoraRequests") and emf.values(docs, "AgoraLimiterWaitMs")  # the reconciler's queries
    assert rs.api("POST", f"/recordings/{recording_id}/stop")[0] == 202
    state = {"recordingId": recording_id, "wait": {"reason": "api"}}
    state["stop"] = task(rs, {"action": "stop", "state": state})
    task(rs, {"action": "finalize", "state": state})
    task(rs, {"action": "finalize", "state": state})  # a retried step: counted once
    docs = emf.documents(capsys.readouterr().out)
    assert emf.values(docs, "RecordingsEnded", {"StopReason": "api"}) == [1.0]
    assert emf.values(docs, "RecordingStopped") == [1.0, 1.0]  # (the step's own counter, every run)
    assert {d["service"] for d in docs} == {"recordings"}


# ------------------------------------------------------------------------------------------ last: breaks the stack


def test_workflow_that_cannot_start_is_undone(rs: RecordingStack, channel: str) -> None:
    rs.sfn.delete_state_machine(stateMachineArn=rs.state_machine_arn)
    status, body = rs.api("POST", "/recordings", body={"channel": channel}, headers={"Idempotency-Key": "x-" + channel})
    assert status == 503 and body["error"]["code"] == "upstream_unavailable"
    _, listed = rs.api("GET", "/recordings", query={"channel": channel})
    [recording] = listed["recordings"]
    assert recording["status"] == "FAILED" and recording["error"]["type"] == "WorkflowNotStarted"
    lock = rs.ddb.get_item(TableName=rs.table, Key={"pk": {"S": f"CHANNEL#{channel}"}}).get("Item")
    assert lock is None


# ---------------------------------------------------------------------------------------------- contract (issue 12)


def test_integer_of_thousands_of_digits_is_400_not_500(rs: RecordingStack, channel: str) -> None:
    status, body = rs.api("POST", "/recordings", raw_body='{"channel":"' + channel + '","x":' + "9" * 5000 + "}")
    assert status == 400, body
    assert "4300 digits" in body["error"]["message"]


@pytest.mark.parametrize(
    "token",
    [
        "eyJhIjogMX0",  # {"a": 1}: well-formed, foreign (was a botocore ParamValidationError -> 500)
        "eyJwayI6IHsiUyI6ICJSRUMjeCJ9LCAiY2hhbm5lbCI6IHsiUyI6ICJvdGhlciJ9LCAiY3JlYXRlZEF0IjogeyJOIjogIjEifX0",
        "W10",  # []
        "!!",
    ],
)
def test_foreign_next_token_is_400(rs: RecordingStack, channel: str, token: str) -> None:
    status, body = rs.api("GET", "/recordings", query={"channel": channel, "next_token": token})
    assert status == 400, body
    assert "next_token" in body["error"]["message"]


@pytest.mark.parametrize("limit", ["9" * 5000, "0", "101", "-1", "1.5", "x"])
def test_bad_limit_is_400(rs: RecordingStack, limit: str) -> None:
    status, body = rs.api("GET", "/recordings", query={"channel": "c", "limit": limit})
    assert status == 400, body
    assert "limit" in body["error"]["message"]


def test_unknown_query_parameter_is_400_not_ignored(rs: RecordingStack) -> None:
    status, body = rs.api("GET", "/recordings", query={"status": "RECORDING"})
    assert status == 400, body
    assert "status" in body["error"]["message"] and "channel" in body["error"]["message"]


@pytest.mark.parametrize(
    "extra",
    [
        {"recording_config": {"transcodingConfig": {"mixedVideoLayout": False}}},
        {"recording_config": {"channelType": True}},
        {"recording_config": {"maxIdleTime": "30"}},
        {"mode": 1},
    ],
)
def test_no_surprising_coercion(rs: RecordingStack, channel: str, extra: dict[str, Any]) -> None:
    status, body = rs.api("POST", "/recordings", body={"channel": channel, **extra})
    assert status == 422, body


def test_idempotency_key_is_validated_as_a_declared_header(rs: RecordingStack, channel: str) -> None:
    status, body = rs.api("POST", "/recordings", body={"channel": channel}, headers={"Idempotency-Key": "a b"})
    assert status == 400, body
    assert "idempotency-key" in body["error"]["message"].lower()
