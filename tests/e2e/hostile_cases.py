"""A hostile Agora, end to end through the local stack (``LocalRuntime``, what ``python -m local.run`` serves).

Every request goes over HTTP to the local API (JWT, API Gateway's event, the real handlers, Step Functions in
moto); NCS notices go from the emulator to the real webhook intake over HTTP; the reconciler runs when its
schedule is fired (``POST /local/schedules/...``). Each case asserts the final state in DynamoDB (moto) AND
the emulator's task history (``GET /emulator/history``): never two recorders in one channel at one time, and
none still running once its recording has ended. Every wait polls until a deadline: no fixed sleeps, no
timing assertions. Run in a child process by ``test_local_stack_e2e.py`` (one stack for the whole set).

Over 400 lines on purpose: one stack start (about a minute) serves every hostile case the issue names; the
helpers and the cases read as one story.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from service.recordings.repository import status_key

from local.run import LocalRuntime, free_port

pytestmark = pytest.mark.slow

HOST_UID = 1001
#: the workflow's numbers for these cases (CDK context, as ``cdk synth -c``): short retries and resolve
#: window, a long maximum duration (no case ends by it) and production's two in-client attempts
CONTEXT: dict[str, Any] = {
    "recordingRetryIntervalSeconds": 1, "recordingRetryMaxAttempts": 5, "recordingRetryMaxDelaySeconds": 2,
    "recordingReacquireLimit": 3, "recordingMaxDurationSeconds": 600, "recordingResourceMaxAgeSeconds": 120,
    "recordingAgoraMaxAttempts": 2, "recordingHaGraceSeconds": 1, "recordingStaleSeconds": 60,
    "recordingResolveSeconds": 3, "recordingResolvePollSeconds": 1,
}  # fmt: skip
#: seeded; a 15 s segment every 0.75 s, maxIdleTime 5 = a quarter of a real second
EMULATOR: dict[str, Any] = {"time_scale": 20.0, "seed": 1129}
WAIT = 180.0  # every wait's deadline: generous for a loaded machine; a wait returns as soon as it holds
NO_WEBHOOK_FAULTS = {"loss": 0.0, "delay": 0.0, "duplicates": 0.0, "reorder": 0.0, "lose_types": []}


@contextlib.contextmanager
def local_stack(**options: Any) -> Iterator[LocalRuntime]:
    """A started ``LocalRuntime`` on free ports (``options``: its emulator, context, ...); afterwards stopped, and
    moto's backends (this process's, shared by every in-process moto server) emptied: the cases files run one
    after another in one child process (``test_local_stack_e2e.py``), and the next file's stack would meet this
    one's secrets, tables and queues (its provisioning fails on the first secret that exists)."""
    from moto.core.base_backend import BackendDict

    rt = LocalRuntime(api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), sqs_retry_delay=0.2,
                      **options)  # fmt: skip
    try:
        rt.start()
        yield rt
    finally:
        rt.stop()
        BackendDict.reset()


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with local_stack(emulator_options=EMULATOR, context=CONTEXT) as rt:
        yield rt


@pytest.fixture
def channel(runtime: LocalRuntime) -> Iterator[str]:
    """A fresh channel with no faults; afterwards its host leaves and its task history must be clean."""
    name = "e2e" + uuid.uuid4().hex[:10]
    emulator(runtime, "POST", "/emulator/faults", {"clear": True})
    emulator(runtime, "POST", "/emulator/webhooks", NO_WEBHOOK_FAULTS)
    yield name
    emulator(runtime, "POST", "/emulator/faults", {"clear": True})
    emulator(runtime, "POST", "/emulator/webhooks", NO_WEBHOOK_FAULTS)
    assert_history_clean(runtime, name)


# ------------------------------------------------------------------------------------------------- helpers
def _request(url: str, method: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in headers.items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            raw, status, got = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, dict(exc.headers)
    return status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw, got


def api(rt: LocalRuntime, method: str, path: str, body: Any = None, user: str = "admin") -> tuple[int, Any]:
    status, payload, _ = api_full(rt, method, path, body, user)
    return status, payload


def api_full(
    rt: LocalRuntime, method: str, path: str, body: Any = None, user: str = "admin"
) -> tuple[int, Any, dict[str, str]]:
    return _request(rt.api_url + path, method, body, {"Authorization": "Bearer " + rt.identity.issue_token(user)})


def emulator(rt: LocalRuntime, method: str, path: str, body: Any = None) -> Any:
    """The emulator's control API (``/emulator/...``) over HTTP, as a developer drives ``make run``."""
    status, payload, _ = _request(rt.emulator_url + path, method, body, {})
    assert status == 200, (path, status, payload)
    return payload


def join(rt: LocalRuntime, channel: str, uid: int = HOST_UID) -> None:
    emulator(rt, "POST", f"/emulator/channels/{channel}/join", {"uid": uid, "role": "host"})


def leave(rt: LocalRuntime, channel: str, uid: int = HOST_UID) -> None:
    emulator(rt, "POST", f"/emulator/channels/{channel}/leave", {"uid": uid})


def history(rt: LocalRuntime, channel: str) -> dict[str, Any]:
    """The channel's tasks from ``GET /emulator/history``, and the overlapping pairs that involve them."""
    whole = emulator(rt, "GET", "/emulator/history")
    tasks = [t for t in whole["tasks"] if t["cname"] == channel]
    sids = {t["sid"] for t in tasks}
    overlaps = [pair for pair in whole["overlaps"] if set(pair) & sids]
    return {"tasks": tasks, "overlaps": overlaps, "running": [t["sid"] for t in tasks if t["ended_at"] is None]}


def wait(what: str, probe: Callable[[], Any], timeout: float = WAIT, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def assert_history_clean(rt: LocalRuntime, channel: str) -> list[dict[str, Any]]:
    """No recorder of the channel still running (its recording has ended) and no two at one time."""
    wait(f"no recorder running in {channel}", lambda: not history(rt, channel)["running"])
    found = history(rt, channel)
    assert not found["overlaps"], found
    return list(found["tasks"])


@functools.cache
def _aws_client(service: str, endpoint: str | None) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint)


def aws(service: str) -> Any:
    """A boto3 client of the running stack's moto server (one per service and server: the waits poll through
    it several times a second, and a new client loads its service model again, 10% of a cases file's CPU)."""
    return _aws_client(service, os.environ.get("AWS_ENDPOINT_URL"))


def _stored(rt: LocalRuntime, key: str) -> dict[str, Any] | None:
    from service.adapters.dynamodb import from_item

    table = rt.stack.physical("RecordingRecordingsTable")  # type: ignore[union-attr]
    raw = aws("dynamodb").get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)
    return from_item(raw.get("Item"))


def item(rt: LocalRuntime, recording_id: str) -> dict[str, Any]:
    """The recording's stored item (camelCase attributes), read consistently from DynamoDB in the stack's moto."""
    from service.recordings.repository import rec_key

    found = _stored(rt, rec_key(recording_id))
    assert found is not None, recording_id
    return found


def channel_lock(rt: LocalRuntime, channel: str) -> dict[str, Any] | None:
    """The channel's lock item: which recording holds the channel."""
    from service.recordings.repository import lock_key

    return _stored(rt, lock_key(channel))


def wait_status(rt: LocalRuntime, recording_id: str, *statuses: str) -> dict[str, Any]:
    return dict(
        wait(f"{recording_id} in {statuses}", lambda: (i := item(rt, recording_id)).get("status") in statuses and i)
    )


def execution(rt: LocalRuntime, recording_id: str) -> str:
    arn = rt.stack.physical("RecordingWorkflowStateMachine").replace(":stateMachine:", ":execution:")  # type: ignore[union-attr]
    return str(aws("stepfunctions").describe_execution(executionArn=f"{arn}:{recording_id}")["status"])


def wait_ended(rt: LocalRuntime, recording_id: str) -> tuple[str, dict[str, Any]]:
    """The execution's final status and the recording's final item."""
    status = wait(
        f"the execution of {recording_id} to end", lambda: (s := execution(rt, recording_id)) != "RUNNING" and s
    )
    return str(status), item(rt, recording_id)


def start(rt: LocalRuntime, channel: str, **body: Any) -> str:
    status, payload = api(rt, "POST", "/recordings", {"channel": channel, **body})
    assert status == 202, payload
    return str(payload["recording_id"])


def stop_and_check(rt: LocalRuntime, recording_id: str) -> dict[str, Any]:
    assert api(rt, "POST", f"/recordings/{recording_id}/stop")[0] in (200, 202)
    status, done = wait_ended(rt, recording_id)
    assert status == "SUCCEEDED", done
    assert done["status"] == "STOPPED" and done["stopReason"] == "api", done
    return done


def _reconciler_runs(rt: LocalRuntime) -> int:
    """How many runs of the reconciler's schedule have ended (the local Lambda runtime records each invocation
    once it returned)."""
    assert rt.dispatcher is not None
    return sum(1 for i in list(rt.dispatcher.invocations) if i.source.startswith("schedule:RecordingReconciler"))


def fire_reconciler(rt: LocalRuntime) -> None:
    """Fire the reconciler's schedule and wait until its runs ended: the schedule invokes its targets
    asynchronously, and a probe before they ended would fire it again while it still runs."""
    before = _reconciler_runs(rt)
    status, body, _ = _request(rt.api_url + "/local/schedules/RecordingReconcilerSchedule", "POST", None, {})
    assert status == 202 and body["targets_started"] >= 1, body  # one per reconciler shard
    wait("the reconciler's runs to end", lambda: _reconciler_runs(rt) >= before + body["targets_started"])


def injected(rt: LocalRuntime) -> dict[str, int]:
    return dict(emulator(rt, "GET", "/emulator/stats")["injected"])


# --------------------------------------------------------------------------------------- ambiguous starts
@pytest.mark.parametrize("fault", ["206_65_after", "5xx_after", "timeout_after"])
def test_a_start_whose_reply_was_lost_is_adopted(runtime: LocalRuntime, channel: str, fault: str) -> None:
    """The start took effect, its reply was lost (206/65, 504/62 or no reply at all); the client's second
    attempt meets 201/7 without a sid. NCS names the sid, a query confirms it: that task is adopted, no
    second recorder, the channel never released in between."""
    join(runtime, channel)
    before = injected(runtime).get(fault, 0)
    emulator(runtime, "POST", "/emulator/faults", {"script": [f"{fault}@start"], "timeout_ms": 300})
    recording_id = start(runtime, channel)
    recording = wait_status(runtime, recording_id, "RECORDING", "FAILED", "STOPPED")
    assert recording["status"] == "RECORDING", recording
    assert injected(runtime).get(fault, 0) == before + 1
    assert [r["outcome"] for r in recording["resolutions"]] == ["adopted"], recording["resolutions"]
    found = history(runtime, channel)
    assert [t["sid"] for t in found["tasks"]] == [recording["sid"]], "the task that ran is the one adopted"
    assert (channel_lock(runtime, channel) or {}).get("recordingId") == recording_id
    done = stop_and_check(runtime, recording_id)
    assert done["outcome"] == "stopped" and "startResolution" not in done and "candidateSid" not in done
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]


def test_a_lost_start_reply_with_every_notice_lost_removes_the_recorder_before_the_channel_is_free(
    runtime: LocalRuntime, channel: str
) -> None:
    """504/62 after the effect and every NCS notice lost: the recording stays STARTING with its channel locked
    (a second POST is 409, update and layout are 409 "not recording yet"); the repeated start answers 201/7
    without a sid; after the resolve window the recorder uid is kicked, seen gone, the rule lifted; a new
    acquire starts the channel's one recorder."""
    join(runtime, channel)
    emulator(runtime, "POST", "/emulator/webhooks", {"loss": 1.0})
    emulator(runtime, "POST", "/emulator/faults", {"script": ["5xx_after@start"]})
    recording_id = start(runtime, channel, mode="mix")
    wait("the start outcome to be unknown", lambda: "startResolution" in item(runtime, recording_id))

    status, body = api(runtime, "POST", "/recordings", {"channel": channel})
    assert status == 409 and body["error"]["details"]["active_recording_id"] == recording_id, body
    update = {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": [str(HOST_UID)]}}}
    for path, change in (("update", update), ("layout", {"mixedVideoLayout": 1})):
        status, body = api(runtime, "POST", f"/recordings/{recording_id}/{path}", change)
        assert status == 409 and "not recording yet" in body["error"]["message"], (path, body)

    recording = wait_status(runtime, recording_id, "RECORDING", "FAILED", "STOPPED")
    assert recording["status"] == "RECORDING", recording
    [removed] = recording["resolutions"]
    assert removed["outcome"] == "removed" and removed["ruleLifted"] is True, removed
    first, second = history(runtime, channel)["tasks"]
    assert first["ended_at"] is not None and first["ended_at"] <= second["started_at"]
    assert int(first["uid"]) == int(removed["recorderUid"]) and second["sid"] == recording["sid"]
    assert int(second["uid"]) == int(recording["recorderUid"]) != int(first["uid"])
    assert not runtime.emulator.world.rules, "the kicking rule was lifted"
    starts = [r for r in runtime.emulator.request_log() if r.get("op") == "start"]
    assert any(r.get("status") == 201 and r.get("code") == 7 for r in starts), starts  # 201/7, no sid

    emulator(runtime, "POST", "/emulator/webhooks", NO_WEBHOOK_FAULTS)
    stop_and_check(runtime, recording_id)
    assert len(assert_history_clean(runtime, channel)) == 2


# ---------------------------------------------------------------------------- one recorder per channel
def test_a_second_post_is_409_until_the_first_recorder_is_confirmed_gone(runtime: LocalRuntime, channel: str) -> None:
    """Agora answers only 502s while a recorder runs: the stop cannot reach it, the recording is FAILED, but its
    channel stays locked (409) while the recorder runs; once Agora answers, the reconciler stops the recorder
    and frees the channel."""
    join(runtime, channel)
    recording_id = start(runtime, channel)
    recording = wait_status(runtime, recording_id, "RECORDING")
    emulator(runtime, "POST", "/emulator/faults", {"rate_502": 1.0})
    assert api(runtime, "POST", f"/recordings/{recording_id}/stop")[0] == 202
    outcome, failed = wait_ended(runtime, recording_id)
    assert outcome == "FAILED" and failed["status"] == "FAILED", failed
    assert failed["recorderUnconfirmed"] and failed["activeStatus"] == status_key("CLEANUP", recording_id), failed
    status, body = api(runtime, "POST", "/recordings", {"channel": channel})
    assert status == 409 and body["error"]["details"]["active_recording_id"] == recording_id, body
    assert history(runtime, channel)["running"] == [recording["sid"]], "the recorder still runs"

    emulator(runtime, "POST", "/emulator/faults", {"clear": True})

    def cleaned() -> bool:
        if item(runtime, recording_id).get("recorderGone"):
            return True
        fire_reconciler(runtime)
        return False

    wait("the reconciler to confirm the recorder gone", cleaned)
    done = item(runtime, recording_id)
    assert done["status"] == "FAILED" and "recorderUnconfirmed" not in done and "activeStatus" not in done, done
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]
    again = start(runtime, channel)  # the channel is free again
    wait_status(runtime, again, "RECORDING")
    stop_and_check(runtime, again)


# ------------------------------------------------------------------------------ ambiguous stop and update
def test_a_stop_whose_reply_was_lost_is_found_out_not_assumed(runtime: LocalRuntime, channel: str) -> None:
    """The stop took effect and no reply came: the repeated stop learns the task is gone (404/49)."""
    join(runtime, channel)
    recording_id = start(runtime, channel)
    recording = wait_status(runtime, recording_id, "RECORDING")
    emulator(runtime, "POST", "/emulator/faults", {"script": ["timeout_after@stop"], "timeout_ms": 300})
    done = stop_and_check(runtime, recording_id)
    assert done["outcome"] == "gone", done
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]


def test_an_update_whose_reply_was_lost_is_found_out_not_assumed(runtime: LocalRuntime, channel: str) -> None:
    """update and updateLayout take effect and their replies are lost: the API asks Agora (query) and answers
    503 "the task still runs, sending the same change again is safe"; the same change again is 200."""
    join(runtime, channel)
    recording_id = start(runtime, channel, mode="mix")
    recording = wait_status(runtime, recording_id, "RECORDING")
    update = {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": [str(HOST_UID)]}}}
    # every attempt of the API's Agora client (INTERACTIVE: 3) takes effect and loses its reply
    emulator(runtime, "POST", "/emulator/faults", {"script": ["timeout_after@update"] * 3, "timeout_ms": 300})
    status, body, headers = api_full(runtime, "POST", f"/recordings/{recording_id}/update", update)
    assert status == 503 and body["error"]["details"]["task"] == "running", body
    assert body["error"]["details"]["applied"] == "unknown" and headers.get("Retry-After")
    task = emulator(runtime, "GET", f"/emulator/tasks/{recording['sid']}")
    assert task["state"] != "exited"
    assert runtime.emulator.world.tasks[recording["sid"]].client_request["recordingConfig"]["subscribeAudioUids"] == [
        str(HOST_UID)
    ], "the update took effect although its reply was lost"
    assert api(runtime, "POST", f"/recordings/{recording_id}/update", update)[0] == 200  # the same change again

    layout = {"mixedVideoLayout": 1, "backgroundColor": "#123456"}
    emulator(runtime, "POST", "/emulator/faults", {"script": ["206_65_after@updateLayout"] * 3})
    status, body = api(runtime, "POST", f"/recordings/{recording_id}/layout", layout)
    assert status == 503 and body["error"]["details"]["task"] == "running", body
    assert runtime.emulator.world.tasks[recording["sid"]].layout == layout
    assert api(runtime, "POST", f"/recordings/{recording_id}/layout", layout)[0] == 200
    assert "opLock" not in item(runtime, recording_id)
    stop_and_check(runtime, recording_id)
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]


# ------------------------------------------------------------------------------------ 429 without Retry-After
def test_429s_without_retry_after_are_waited_out(runtime: LocalRuntime, channel: str) -> None:
    """Agora's 429 carries no Retry-After: the workflow's Retry waits them out (one task in the end); the API
    turns them into our 503 with a Retry-After of its own."""
    assert emulator(runtime, "GET", "/emulator/faults")["retry_after"] is None  # Agora's way: no header
    join(runtime, channel)
    before = injected(runtime).get("429", 0)
    emulator(runtime, "POST", "/emulator/faults", {"script": ["429@acquire"] * 3 + ["429@start"] * 3})
    recording_id = start(runtime, channel, mode="mix")
    recording = wait_status(runtime, recording_id, "RECORDING", "FAILED", "STOPPED")
    assert recording["status"] == "RECORDING" and not recording.get("resolutions"), recording
    assert injected(runtime).get("429", 0) == before + 6
    emulator(runtime, "POST", "/emulator/faults", {"script": ["429@updateLayout"] * 4})
    status, body, headers = api_full(runtime, "POST", f"/recordings/{recording_id}/layout", {"mixedVideoLayout": 1})
    assert status == 503 and headers.get("Retry-After"), (status, body, headers)
    emulator(runtime, "POST", "/emulator/faults", {"clear": True})
    assert api(runtime, "POST", f"/recordings/{recording_id}/layout", {"mixedVideoLayout": 1})[0] == 200
    stop_and_check(runtime, recording_id)
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]


# ------------------------------------------------------------------------------ lost, duplicated, late NCS
def test_duplicated_reordered_late_notices_and_a_lost_exit_the_reconciler_ends_it(
    runtime: LocalRuntime, channel: str
) -> None:
    """Every notice duplicated, some late and reordered, event 11 (the recorder's exit) lost: the host leaves,
    the recorder leaves after maxIdleTime, and only the reconciler can tell; it ends the recording."""
    emulator(runtime, "POST", "/emulator/webhooks",
             {"duplicates": 1.0, "reorder": 0.5, "delay": 0.5, "delay_ms": 1500, "lose_types": [11]})  # fmt: skip
    join(runtime, channel)
    recording_id = start(runtime, channel, recording_config={"maxIdleTime": 5})
    recording = wait_status(runtime, recording_id, "RECORDING")
    leave(runtime, channel)
    wait("the recorder to leave after maxIdleTime", lambda: not history(runtime, channel)["running"])
    assert runtime.emulator.flush_webhooks(timeout=30)
    webhooks = emulator(runtime, "GET", "/emulator/stats")["webhooks"]
    assert webhooks["duplicated"] > 0 and any(
        e.get("eventType") == 11 and e.get("sid") == recording["sid"] for e in webhooks["lost_events"]
    ), webhooks

    def ended() -> bool:
        if item(runtime, recording_id).get("status") in ("STOPPED", "FAILED"):
            return True
        fire_reconciler(runtime)
        return False

    wait("the reconciler to end the recording", ended)
    status, done = wait_ended(runtime, recording_id)
    assert status == "SUCCEEDED" and done["status"] == "STOPPED", done
    assert done["stopReason"] == "reconciler", done
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]


def test_late_and_duplicated_notices_after_an_api_stop_change_nothing(runtime: LocalRuntime, channel: str) -> None:
    """Every notice delayed and duplicated: the recording is stopped through the API before most of them
    land; when they do (the start's, the exit's, twice each), the STOPPED recording stays as it was."""
    emulator(runtime, "POST", "/emulator/webhooks", {"duplicates": 1.0, "delay": 1.0, "delay_ms": 1500})
    join(runtime, channel)
    recording_id = start(runtime, channel)
    recording = wait_status(runtime, recording_id, "RECORDING")
    done = stop_and_check(runtime, recording_id)
    leave(runtime, channel)
    assert_history_clean(runtime, channel)
    assert runtime.emulator.flush_webhooks(timeout=30)
    delivered = [e for e in runtime.emulator.events() if (e.get("payload") or {}).get("sid") == recording["sid"]]
    assert {11, 40} <= {int(e["eventType"]) for e in delivered}, delivered

    [exit_notice] = [e for e in delivered if int(e["eventType"]) == 11]

    def applied() -> bool:  # the late exit notice went through the intake and its processor
        return int(item(runtime, recording_id).get("lastSequence") or -1) >= int(exit_notice["payload"]["sequence"])

    wait("the late notices to be processed", applied)
    after = item(runtime, recording_id)
    assert after["status"] == "STOPPED" and after["stopReason"] == "api" and after["outcome"] == done["outcome"]
    assert after.get("endedAt") == done.get("endedAt")
    assert [t["sid"] for t in assert_history_clean(runtime, channel)] == [recording["sid"]]
