"""The local stack in-process (``LocalRuntime``, what ``make run`` starts): routes that need the whole stack.

``/projects`` reaches the Console API through the emulator (``restBaseUrls`` points there), with the
local App ID as a project whose certificate is the one the token function signs with. One stack for
the module: synthesizing it takes about a minute.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.run import LocalRuntime, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    rt = LocalRuntime(
        api_port=free_port(), moto_port=free_port(), emulator_port=free_port(), sqs_retry_delay=0.2,
        web_port=0,  # as make run: the same template (synthesized once, cached) as test_local_run.py's and the demo's
        emulator_options={"time_scale": 20.0},  # a 15 s segment every 0.75 s
        # the media function's first integrity re-check 1 s (not 60 s) after a recording is found incomplete
        env_overrides={"RECHECK_FIRST_DELAY_SECONDS": "1"},
    )  # fmt: skip
    try:
        rt.start()
        yield rt
    finally:
        rt.stop()


def call(rt: LocalRuntime, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        rt.api_url + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Bearer " + rt.identity.issue_token(user))
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw[:1] in (b"{", b"[") else raw


def test_projects_reach_the_emulated_console_and_rotation_reaches_the_token_secret(runtime: LocalRuntime) -> None:
    status, body = call(runtime, "GET", "/projects", "owner")
    assert status == 200, body
    [own] = [p for p in body["projects"] if p["app_id"] == runtime.app_id]
    assert own["serves_this_deployment"] and own["certificate"]["sign_key"] == "********"
    assert runtime.secrets.app_certificate not in json.dumps(body)
    assert call(runtime, "GET", "/projects", "admin")[0] == 403  # owners only
    status, one = call(runtime, "GET", f"/projects/{runtime.app_id}", "owner")
    assert status == 200 and one["project_id"] == own["project_id"]

    status, rotated = call(
        runtime, "POST", f"/projects/{own['project_id']}/certificate/reset", "owner", {"confirm": runtime.app_id}
    )
    assert status == 200, rotated
    new = runtime.emulator.console.project(own["project_id"], runtime.secrets.customer_id)["sign_key"]
    assert new != runtime.secrets.app_certificate
    import boto3

    name = runtime.stack.environment()["APP_CERTIFICATE_SECRET_NAME"]
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    assert stored["app_certificate"] == new
    assert new not in json.dumps(rotated)


def wait(what: str, probe: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def test_after_a_rotation_every_token_the_stack_signs_verifies_with_the_new_certificate(runtime: LocalRuntime) -> None:
    """Issue 21, the whole stack as deployed (the synthesized CERTIFICATE_CHECK_SECONDS: warm token function
    trusting a confirmed version for 1 s, the rotation waiting it out): after the reset answers, a user token,
    the recorder token the workflow sends to the emulator's start, and a renewal all verify with the new
    certificate only."""
    from agorakit.tokens import verify

    def certificate() -> str:
        project = runtime.emulator.console.project(own["project_id"], runtime.secrets.customer_id)
        return str(project["sign_key"])

    status, body = call(runtime, "GET", "/projects", "owner")
    [own] = [p for p in body["projects"] if p["app_id"] == runtime.app_id]
    old = certificate()
    status, before = call(runtime, "POST", "/tokens", "host-1", {"channel": "rotation", "rtm": True})
    assert status == 200 and verify(before["rtc_token"], old)  # the token function is warm

    status, rotated = call(
        runtime, "POST", f"/projects/{own['project_id']}/certificate/reset", "owner", {"confirm": runtime.app_id}
    )
    assert status == 200, rotated
    new = certificate()
    assert new != old and rotated["tokens"]["token_function_picks_up_within_seconds"] == 0
    assert rotated["tokens"]["waited_seconds"] >= 1

    status, minted = call(runtime, "POST", "/tokens", "host-1", {"channel": "rotation", "rtm": True})
    assert status == 200 and verify(minted["rtc_token"], new) and verify(minted["rtm_token"], new)
    assert not verify(minted["rtc_token"], old) and not verify(before["rtc_token"], new)

    runtime.emulator.join("rotation", 1001, role="host")
    status, started = call(runtime, "POST", "/recordings", "admin", {"channel": "rotation", "mode": "mix"})
    assert status in (200, 201, 202), started
    task = wait(
        "the recorder's start", lambda: next((t for t in runtime.emulator.tasks() if t["cname"] == "rotation"), None)
    )
    assert verify(task["token"], new) and not verify(task["token"], old)  # what Agora's start received

    status, renewed = call(runtime, "POST", "/tokens", "host-1", {"channel": "rotation"})
    assert status == 200 and renewed["uid"] == minted["uid"] and verify(renewed["rtc_token"], new)
    assert call(runtime, "POST", f"/recordings/{started['recording_id']}/stop", "admin")[0] in (200, 202)


def test_playlist_plays_from_local_s3_and_integrity_follows_a_late_upload(runtime: LocalRuntime) -> None:
    """A mix recording on the emulator: its playlist through the API, every presigned URL fetched from moto's
    S3 and compared with the object; one segment removed before the end makes it ``incomplete``, its late
    upload (no notification: segments are not notified) makes it ``complete`` at the function's delayed re-check,
    a message on the media queue that the local pump delivers once its delay is over."""
    import boto3

    s3 = boto3.client("s3")
    bucket = runtime.recordings_bucket()
    runtime.emulator.join("playback", 1001, role="host")
    status, started = call(runtime, "POST", "/recordings", "admin", {"channel": "playback", "mode": "mix"})
    assert status in (200, 201, 202), started
    rec_id = started["recording_id"]
    folder = "recordings/playback/" + rec_id.replace("-", "") + "/"

    def segments() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents") or []
        return sorted(o["Key"] for o in listed if o["Key"].endswith(".ts"))

    wait("3 uploaded segments", lambda: len(segments()) >= 3)
    wait("the playlist", lambda: call(runtime, "GET", f"/recordings/{rec_id}/playlist", "admin")[0] == 200)
    status, text = call(runtime, "GET", f"/recordings/{rec_id}/playlist?expires_in=120", "admin")
    assert status == 200
    playlist = text.decode()
    assert playlist.startswith("#EXTM3U") and "#EXT-X-ENDLIST" not in playlist  # still recording
    urls = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert len(urls) >= 2 and all(
        u.startswith(runtime.moto_url) and "X-Amz-Signature=" in u and "X-Amz-Expires=120" in u for u in urls
    )
    for url in urls:
        key = url.split("?", 1)[0].split(f"/{bucket}/", 1)[1]
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.read() == s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert call(runtime, "GET", f"/recordings/{rec_id}/playlist", "host-1")[0] == 403
    assert call(runtime, "GET", f"/recordings/{rec_id}/playlist?offset=-1", "admin")[0] in (400, 422)

    # a window: two segments, the media sequence moved to the first of them
    status, window = call(runtime, "GET", f"/recordings/{rec_id}/playlist?offset=1&limit=2", "admin")
    assert status == 200
    assert "#EXT-X-MEDIA-SEQUENCE:1" in window.decode()
    assert len([line for line in window.decode().splitlines() if line and not line.startswith("#")]) == 2

    # integrity: a segment disappears before the end, then lands late
    victim = segments()[1]
    saved = s3.get_object(Bucket=bucket, Key=victim)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=victim)
    assert call(runtime, "POST", f"/recordings/{rec_id}/stop", "admin")[0] in (200, 202)

    def integrity(expected: str) -> dict[str, Any] | None:
        found = call(runtime, "GET", f"/recordings/{rec_id}", "admin")[1].get("integrity")
        return found if found and found["status"] == expected else None

    incomplete = wait("integrity incomplete", lambda: integrity("incomplete"))
    assert incomplete["missing"] == [victim.rsplit("/", 1)[1]] and incomplete["missing_count"] == 1
    assert incomplete["ended"] is True and incomplete["recheck"] == "scheduled"
    s3.put_object(Bucket=bucket, Key=victim, Body=saved)
    complete = wait("integrity complete after the late upload", lambda: integrity("complete"))
    assert (
        complete["missing_count"] == 0 and complete["segments"] >= 3 and complete["rechecks"] >= 1
    )  # found by a re-check
    status, final = call(runtime, "GET", f"/recordings/{rec_id}/playlist", "admin")
    assert status == 200 and final.decode().rstrip().endswith("#EXT-X-ENDLIST")


def test_screenshots_reach_the_recording_through_ncs_and_play_from_local_s3(runtime: LocalRuntime) -> None:
    """An individual recording with ``snapshot_config`` on the emulator: its JPGs land in moto's S3 under Agora's
    names, their events 45 go through the real webhook intake and processor onto the recording, and every
    presigned URL of ``GET /recordings/{id}/snapshots`` serves the object's bytes."""
    import boto3

    s3 = boto3.client("s3")
    bucket = runtime.recordings_bucket()
    runtime.emulator.join("shots", 1001, role="host")
    body = {"channel": "shots", "mode": "individual", "snapshot_config": {"captureInterval": 5}}
    status, started = call(runtime, "POST", "/recordings", "admin", body)
    assert status == 202, started
    rec_id = started["recording_id"]
    folder = "recordings/shots/" + rec_id.replace("-", "") + "/"

    def jpgs() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents") or []
        return sorted(o["Key"] for o in listed if o["Key"].endswith(".jpg"))

    wait("3 screenshots in the bucket", lambda: len(jpgs()) >= 3)
    assert call(runtime, "POST", f"/recordings/{rec_id}/stop", "admin")[0] in (200, 202)
    wait("stopped", lambda: call(runtime, "GET", f"/recordings/{rec_id}", "admin")[1]["status"] == "STOPPED")
    # every event 45 arrives through NCS (none lost here): the recording lists exactly the bucket's files
    reported = lambda: call(runtime, "GET", f"/recordings/{rec_id}", "admin")[1]["snapshots"]  # noqa: E731
    keys = wait("every event 45 applied", lambda: (found := jpgs()) == reported() and found)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents") or []
    assert all(o["Key"].endswith(".jpg") for o in listed), "screenshots only: no HLS"
    status, page = call(runtime, "GET", f"/recordings/{rec_id}/snapshots?limit=1000&expires_in=120", "admin")
    assert status == 200, page
    assert page["total"] == len(keys) and page["not_notified"] == 0 and page["next_after"] is None
    assert [folder + shot["file"] for shot in page["snapshots"]] == keys
    for shot in page["snapshots"]:
        assert shot["url"].startswith(runtime.moto_url) and "X-Amz-Expires=120" in shot["url"]
        with urllib.request.urlopen(shot["url"], timeout=10) as resp:
            data = resp.read()
        assert data == s3.get_object(Bucket=bucket, Key=folder + shot["file"])["Body"].read()
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9" and shot["uid"] == 1001


def test_postponed_transcoding_lands_after_the_end_through_ncs(runtime: LocalRuntime) -> None:
    """``postponed`` on the local stack: the emulator records individual HLS, and after the recording has
    ended uploads one Agora-named MP4 per uid into moto's S3 and sends NCS 80/81/1001, which go through the real
    webhook intake and processor onto the recording (``GET /recordings/{id}`` ``postponed``)."""
    import boto3

    s3 = boto3.client("s3")
    bucket = runtime.recordings_bucket()
    runtime.emulator.world.postpone_seconds = 60.0  # emulated: 1.5-3 s real at time_scale 20
    for uid in (1001, 1002):
        runtime.emulator.join("later", uid, role="host")
    body = {"channel": "later", "mode": "individual", "postponed": {"mode": "transcoding"}}
    status, started = call(runtime, "POST", "/recordings", "admin", body)
    assert status == 202, started
    rec_id = started["recording_id"]
    folder = "recordings/later/" + rec_id.replace("-", "") + "/"

    def keys(suffix: str) -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=folder).get("Contents") or []
        return sorted(o["Key"] for o in listed if o["Key"].endswith(suffix))

    wait("segments in the bucket", lambda: len(keys(".ts")) >= 4)
    assert call(runtime, "POST", f"/recordings/{rec_id}/stop", "admin")[0] in (200, 202)
    wait("stopped", lambda: call(runtime, "GET", f"/recordings/{rec_id}", "admin")[1]["status"] == "STOPPED")
    postponed = lambda: call(runtime, "GET", f"/recordings/{rec_id}", "admin")[1]["postponed"]  # noqa: E731
    # 81 already says "completed" (all_success) and 1001 (total_success) is the final word: the processor may apply
    # them in either order, so wait for both
    view = wait("events 81 and 1001 applied",
                lambda: (v := postponed())["result"] == "total_success" and len(v["uids"]) == 2 and v)  # fmt: skip
    mp4 = keys(".mp4")
    assert len(mp4) == 2 and view["files"] == mp4 and view["status"] == "completed", view
    assert [u["uid"] for u in view["uids"]] == ["1001", "1002"] and view["finished_at"] is not None
    for key in mp4:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read()[4:12] == b"ftypisom"


def test_web_recording_cdn_statuses_arrive_through_ncs_and_follow_an_update(runtime: LocalRuntime) -> None:
    """A web recording with CDN push on the whole stack: the emulator's events 100 come through the signed
    webhook, the intake and the processor; the update route moves the push; the stop disconnects it."""
    first, second = "rtmp://live.example.com/app/first", "rtmps://live.example.com/app/second"
    body = {"channel": "cdn board", "mode": "web", "web": {"url": "https://example.com/board"},
            "cdn": {"outputs": [first]}}  # fmt: skip
    status, started = call(runtime, "POST", "/recordings", "admin", body)
    assert status == 202, started
    path = f"/recordings/{started['recording_id']}"

    def pushes() -> list[tuple[str, Any, bool]]:
        return [(c["url"], c["status"], c["current"]) for c in call(runtime, "GET", path, "admin")[1]["cdn"]]

    wait("publishing to the first address", lambda: pushes() == [(first, "publishing", True)])
    change = {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": second}]}}
    status, view = call(runtime, "POST", path + "/update", "admin", change)
    assert status == 200, view
    wait("moved", lambda: pushes() == [(second, "publishing", True), (first, "disconnected", False)])
    assert call(runtime, "POST", path + "/stop", "admin")[0] in (200, 202)
    wait("stopped", lambda: call(runtime, "GET", path, "admin")[1]["status"] == "STOPPED")
    wait("disconnected", lambda: pushes() == [(second, "disconnected", True), (first, "disconnected", False)])
