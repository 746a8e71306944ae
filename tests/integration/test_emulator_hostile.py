"""The emulator is at least as hostile as Agora: ambiguous failures after the effect, gateway errors,
429 without Retry-After, the concurrent-task limit, lost/late notifications, channels that close 30 s
after the last user leaves, idle exit only with nobody to record, expiring resource IDs, and a task
history tests can assert on ("never two recorders in one channel, none left running").

Every test drives the emulator over HTTP, as Agora's REST clients would; faults are scripted
(``kind@op``) or drawn at rate 1.0, so no test depends on chance.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator import Emulator
from emulator.options import parse_option
from tests.integration._emulator_fixtures import APP_ID, WebhookReceiver, make_emulator, wait_until
from tests.integration.test_emulator import REC, Api


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator(qps=0, time_scale=50, segment_seconds=4, exit_seconds=0.5) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.close()


def _produced(emu: Emulator, sid: str) -> bool:
    """The task has recorded a segment (before it, Agora's stop answers 206 "no recorded data")."""
    task = emu.task(sid) or {"streams": {}}
    return sum(s["segments"] for s in task["streams"].values()) > 0


def _running(emu: Emulator, cname: str) -> list[dict]:
    return [t for t in emu.task_history(cname) if t["ended_at"] is None]


# ------------------------------------------------------------------------------------------ after the effect


def test_206_65_after_the_effect_leaves_the_task_running_and_the_retry_gets_201_7(emu: Emulator, api: Api):
    emu.join("amb", 1001, "host")
    rid = api.acquire("amb")
    emu.set_faults(script=["206_65_after@start"])
    first = api.start(rid, "amb")
    assert (first.status_code, first.json()) == (206, {"code": 65, "reason": "request not completed"})
    [task] = _running(emu, "amb")  # the reply was lost, the recorder is in the channel
    assert emu.task(task["sid"])["state"] == "running"
    retry = api.start(rid, "amb")
    assert retry.status_code == 201 and retry.json()["code"] == 7 and "sid" not in retry.json()
    assert api.query(rid, task["sid"]).status_code == 200  # the sid is found another way, then queried
    # a stop before the first segment is Agora's 206 "no recorded data": wait for media (an event, not a time)
    assert wait_until(lambda: _produced(emu, task["sid"]), timeout=10)
    assert api.stop(rid, task["sid"], "amb").status_code == 200
    assert emu.stats()["injected"] == {"206_65_after": 1}


def test_a_fault_before_the_effect_changes_nothing(emu: Emulator, api: Api):
    emu.join("pre", 1001, "host")
    rid = api.acquire("pre")
    emu.set_faults(script=["5xx@start"])
    first = api.start(rid, "pre")
    assert (first.status_code, first.json()["code"]) == (504, 62)
    assert emu.task_history("pre") == []
    assert api.start(rid, "pre").status_code == 200  # the same resource ID starts it


def test_timeout_after_stop_took_effect_then_the_retry_finds_it_exiting_or_gone(emu: Emulator, api: Api):
    emu.join("tmo", 1001, "host")
    rid = api.acquire("tmo")
    sid = api.start(rid, "tmo").json()["sid"]
    emu.set_faults(script=["timeout_after@stop"], timeout_ms=200)
    with pytest.raises(httpx.TransportError):  # no reply at all: the connection closes
        api.stop(rid, sid, "tmo")
    assert emu.task(sid)["state"] in ("exiting", "exited")
    assert emu.task_history("tmo")[0]["ended_at"] is not None
    again = api.stop(rid, sid, "tmo")
    assert (again.status_code, again.json()["code"]) in ((400, 49), (404, 404))


def test_update_and_layout_can_fail_after_the_effect(emu: Emulator, api: Api):
    emu.join("upd", 1001, "host")
    rid = api.acquire("upd")
    sid = api.start(rid, "upd").json()["sid"]
    emu.set_faults(script=["5xx_after@updateLayout", "502_after@update"])
    body = {"cname": "upd", "uid": "527841", "clientRequest": {"mixedVideoLayout": 1}}
    layout = api("POST", f"{REC}/resourceid/{rid}/sid/{sid}/mode/mix/updateLayout", body)
    assert (layout.status_code, layout.json()["code"]) == (504, 62)
    with emu.world.lock:
        assert emu.world.tasks[sid].layout == {"mixedVideoLayout": 1}  # it took effect
    subscribe = {"audioUidList": {"subscribeAudioUids": ["1001"]}}
    body = {"cname": "upd", "uid": "527841", "clientRequest": {"streamSubscribe": subscribe}}
    update = api("POST", f"{REC}/resourceid/{rid}/sid/{sid}/mode/mix/update", body)
    assert update.status_code == 502 and "code" not in update.json()
    with emu.world.lock:
        assert emu.world.tasks[sid].client_request["recordingConfig"]["subscribeAudioUids"] == ["1001"]


def test_rates_with_after_effect_one_make_every_start_ambiguous():
    with make_emulator(qps=0, fault_206_65=1.0, fault_after_effect=1.0, exit_seconds=0.1) as emu:
        api = Api(emu)
        emu.set_faults(script=["slow@acquire"] * 3, slow_ms=1)  # acquires pass (a script entry wins over rates)
        for n in range(3):
            emu.join(f"r{n}", 1001, "host")
            rid = api.acquire(f"r{n}")
            assert api.start(rid, f"r{n}").json()["code"] == 65
        assert len(emu.running_tasks()) == 3 and emu.stats()["injected"]["206_65_after"] == 3
        api.close()


def test_a_script_entry_for_another_operation_waits_its_turn(emu: Emulator, api: Api):
    emu.set_faults(script=["5xx@stop"])
    assert api("GET", f"/dev/v1/channel/{APP_ID}").status_code == 200
    api.acquire("wait")
    assert emu.faults.describe()["script"] == ["5xx@stop"]
    assert emu.set_faults(clear=True)["script"] == []
    bad = httpx.post(f"{emu.url}/emulator/faults", json={"script": ["5xx@nowhere"]})
    assert bad.status_code == 400


# ------------------------------------------------------------------------------------------ gateway and limits


def test_gateway_errors_and_failed_to_allocate_worker(emu: Emulator, api: Api):
    emu.join("gw", 1001, "host")
    rid = api.acquire("gw")
    emu.set_faults(script=["502", "504", "allocate@start"])
    r502 = api("GET", f"/dev/v1/channel/{APP_ID}")
    r504 = api("GET", f"/dev/v1/channel/{APP_ID}")
    assert (r502.status_code, r502.json()) == (
        502,
        {"message": "An invalid response was received from the upstream server"},
    )
    assert (r504.status_code, r504.json()) == (504, {"message": "The upstream server is timing out"})
    allocate = api.start(rid, "gw")
    assert (allocate.status_code, allocate.json()) == (500, {"code": 502, "reason": "Failed to allocate worker"})
    assert emu.task_history("gw") == []  # nothing started


def test_a_401_fault_rejects_the_credentials_once_and_only_for_its_operation(emu: Emulator, api: Api):
    emu.set_faults(script=["401@channel.list"])
    rule = api("GET", f"/dev/v1/kicking-rule?appid={APP_ID}")
    assert rule.status_code == 200  # another operation: the fault waits
    refused = api("GET", f"/dev/v1/channel/{APP_ID}")
    assert (refused.status_code, refused.json()) == (401, {"message": "Invalid authentication credentials"})
    assert api("GET", f"/dev/v1/channel/{APP_ID}").status_code == 200  # the credentials were never changed
    assert emu.console.handle("GET", "/dev/v1/projects", headers=_console_auth(emu))[0] == 201
    emu.console.inject("401")
    assert emu.console.handle("GET", "/dev/v1/projects", headers=_console_auth(emu)) == (
        401,
        {"message": "Invalid authentication credentials"},
    )
    assert emu.console.handle("GET", "/dev/v1/projects", headers=_console_auth(emu))[0] == 201


def _console_auth(emu: Emulator) -> dict[str, str]:
    import base64

    basic = base64.b64encode(emu.credentials.encode()).decode()
    return {"Authorization": f"Basic {basic}", "Content-Type": "application/json"}


def test_429_carries_no_retry_after_unless_configured(emu: Emulator, api: Api):
    emu.set_faults(script=["429"])
    r = api("GET", f"/dev/v1/channel/{APP_ID}")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    emu.set_faults(script=["429"], retry_after=2)
    assert api("GET", f"/dev/v1/channel/{APP_ID}").headers["Retry-After"] == "2"
    with make_emulator(qps=1, retry_after=3) as limited:
        client = Api(limited)
        statuses = [client("GET", f"/dev/v1/channel/{APP_ID}") for _ in range(3)]
        assert [r.headers.get("Retry-After") for r in statuses if r.status_code == 429][:1] == ["3"]
        client.close()


def test_406_vendor_over_load_past_the_concurrent_task_limit():
    with make_emulator(qps=0, max_tasks=2, time_scale=50, exit_seconds=0.1) as emu:
        api = Api(emu)
        started = []
        for name in ("c1", "c2"):
            emu.join(name, 1001, "host")
            rid = api.acquire(name)
            started.append((rid, api.start(rid, name).json()["sid"], name))
        emu.join("c3", 1001, "host")
        over = api("POST", f"{REC}/acquire", {"cname": "c3", "uid": "527841", "clientRequest": {}})
        assert (over.status_code, over.json()) == (400, {"code": 406, "reason": "vendor_over_load"})
        rid, sid, name = started[0]
        api.stop(rid, sid, name)
        assert wait_until(lambda: emu.task(sid)["state"] == "exited", 5)
        assert api("POST", f"{REC}/acquire", {"cname": "c3", "uid": "527841", "clientRequest": {}}).status_code == 200
        api.close()


def test_resource_ids_expire():
    with make_emulator(qps=0, resource_ttl=0.2) as emu:
        api = Api(emu)
        emu.join("exp", 1001, "host")
        rid = api.acquire("exp")
        with emu.world.lock:
            emu.world.resources[rid].created_real -= 0.3  # it was acquired 0.3 s ago: past its lifetime
        late = api.start(rid, "exp")
        assert (late.status_code, late.json()["code"]) == (400, 433)
        api.close()


# ------------------------------------------------------------------------------------------ notifications


def _record_once(emu: Emulator, cname: str) -> str:
    api = Api(emu)
    emu.join(cname, 1001, "host")
    rid = api.acquire(cname)
    sid = api.start(rid, cname).json()["sid"]
    assert wait_until(lambda: sum(s["segments"] for s in emu.task(sid)["streams"].values()) > 0, 5)
    api.stop(rid, sid, cname)
    assert wait_until(lambda: emu.task(sid)["state"] == "exited", 5)
    api.close()
    return sid


def test_a_lost_event_11_never_arrives():
    receiver = WebhookReceiver()
    try:
        with make_emulator(qps=0, time_scale=50, segment_seconds=4, exit_seconds=0.1, webhook_url=receiver.url,
                           ncs_secret="s", webhook_lose_types=[11]) as emu:  # fmt: skip
            sid = _record_once(emu, "lost")
            assert emu.flush_webhooks()
            generated = [e["eventType"] for e in emu.events() if e.get("sid") == sid]
            delivered = [e["eventType"] for e in receiver.envelopes() if e.get("sid") == sid]
            assert 11 in generated and 11 not in delivered and {40, 41} <= set(delivered)
            stats = emu.stats()["webhooks"]
            assert stats["lost"] == 1 and stats["lost_events"][0]["eventType"] == 11
    finally:
        receiver.close()


def test_loss_delay_and_one_shot_loss_are_configurable_at_run_time():
    receiver = WebhookReceiver()
    try:
        with make_emulator(qps=0, time_scale=50, segment_seconds=4, exit_seconds=0.1, webhook_url=receiver.url,
                           ncs_secret="s") as emu:  # fmt: skip
            settings = httpx.post(f"{emu.url}/emulator/webhooks", json={"delay": 1.0, "delay_ms": 300}).json()
            assert settings["delay"] == 1.0 and settings["loss"] == 0.0
            assert httpx.post(f"{emu.url}/emulator/webhooks", json={"loss": 2}).status_code == 400
            _record_once(emu, "late")
            assert emu.flush_webhooks()
            assert len(receiver.envelopes()) == len(emu.events()) == emu.stats()["webhooks"]["delayed"]
            emu.set_webhooks(delay=0.0, lose_once=[103])
            emu.join("late", 2002, "host")
            emu.join("late", 3003, "host")
            assert emu.flush_webhooks()
            joins = [e["payload"]["uid"] for e in receiver.envelopes() if e["eventType"] == 103]
            assert 3003 in joins and 2002 not in joins  # only the next 103 was lost
            emu.set_webhooks(loss=1.0)
            emu.leave("late", 3003)
            assert emu.flush_webhooks()
            assert 104 not in [e["eventType"] for e in receiver.envelopes() if e["payload"].get("uid") == 3003]
    finally:
        receiver.close()


def test_delayed_notifications_are_overtaken_by_later_ones():
    receiver = WebhookReceiver()
    try:
        with make_emulator(qps=0, webhook_url=receiver.url, ncs_secret="s", webhook_delay_ms=3000) as emu:
            emu.set_webhooks(lose_once=[], delay=1.0)
            emu.join("order", 11, "host")  # 101, 103: both held
            emu.set_webhooks(delay=0.0)
            emu.join("order", 12, "host")  # 103 for uid 12: sent at once
            assert emu.flush_webhooks()
            uids = [e["payload"].get("uid") for e in receiver.envelopes() if e["eventType"] == 103]
            assert uids == [12, 11]
    finally:
        receiver.close()


# ------------------------------------------------------------------------------------------ channels and idle


def test_a_channel_closes_30_seconds_after_the_last_user_leaves():
    with make_emulator(qps=0, time_scale=10) as emu:  # 30 emulated seconds: 3 real seconds
        emu.join("close", 5, "host")
        emu.leave("close", 5)
        assert [c["cname"] for c in emu.channels()] == ["close"]  # still open, empty
        emu.join("close", 6, "host")  # back before it closed: the same channel, no second 101
        emu.leave("close", 6)
        kinds = [e["eventType"] for e in emu.events()]
        assert kinds == [101, 103, 104, 103, 104]
        assert emu.wait_for(lambda e: 102 in [x["eventType"] for x in e.events()], timeout=10)
        closed = emu.events()[-1]
        assert closed["eventType"] == 102 and closed["payload"]["lastUid"] == 6
        assert emu.channels() == []


def test_the_recorder_stays_while_a_host_is_there_and_leaves_after_max_idle_time_without_one():
    with make_emulator(qps=0, time_scale=20, segment_seconds=2, exit_seconds=0.1) as emu:
        api = Api(emu)
        emu.join("idle", 1001, "host")
        emu.join("idle", 1002, "audience")
        rid = api.acquire("idle")
        sid = api.start(rid, "idle", recordingConfig={"channelType": 1, "maxIdleTime": 5}).json()["sid"]
        # Four times maxIdleTime with a host: still recording.
        assert wait_until(lambda: sum(s["segments"] for s in emu.task(sid)["streams"].values()) >= 10, 10)
        assert emu.task(sid)["state"] == "running"
        emu.leave("idle", 1001)  # an audience member alone: nobody to record in a live channel
        left_at = emu.world.clock.now()
        assert wait_until(lambda: emu.task(sid)["state"] != "running", 10)
        [entry] = emu.task_history("idle")
        assert entry["ended_at"] - left_at > 4.5 and entry["leave_code"] & 4  # maxIdleTime 5, less one tick
        api.close()


# ------------------------------------------------------------------------------------------ task history


def test_task_history_reports_overlaps_and_running_tasks(emu: Emulator, api: Api):
    emu.join("hist", 1001, "host")
    first_rid = api.acquire("hist")
    first = api.start(first_rid, "hist").json()["sid"]
    assert wait_until(lambda: _produced(emu, first), timeout=10)
    assert api.stop(first_rid, first, "hist").status_code == 200
    second_rid = api.acquire("hist")
    # until the stopped task has exited, a start with its uid is Agora's 53 (a task with the same cname and uid)
    assert wait_until(lambda: emu.task(first)["state"] == "exited", timeout=10)
    second = api.start(second_rid, "hist").json()["sid"]
    assert emu.overlapping_tasks() == []  # one after the other
    other_rid = api.acquire("hist", uid="527842")
    other = api.start(other_rid, "hist", uid="527842").json()["sid"]  # a second recorder, another uid
    assert emu.overlapping_tasks() == [(second, other)]
    history = httpx.get(f"{emu.url}/emulator/history").json()
    assert [t["sid"] for t in history["tasks"]] == [first, second, other]
    assert history["running"] == [second, other] and history["overlaps"] == [[second, other]]
    ended = history["tasks"][0]
    assert ended["cname"] == "hist" and ended["started_ms"] <= ended["ended_ms"] and ended["leave_code"] == 16


# ------------------------------------------------------------------------------------------ configuration


def test_local_run_options_are_read_as_json_or_text():
    assert parse_option("fault_206_65=0.1") == ("fault_206_65", 0.1)
    assert parse_option("webhook-lose-types=[11]") == ("webhook_lose_types", [11])
    assert parse_option("retry_after=null") == ("retry_after", None)
    assert parse_option("s3_bucket=media") == ("s3_bucket", "media")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_option("fault")


def test_local_run_passes_emulator_options_through_by_the_emulators_own_names():
    from local.run import _parser

    argv = ["--emulator-option", "fault_206_65=0.1", "--emulator-option", "max-tasks=3"]
    options = dict(_parser().parse_args(argv).emulator_option)
    assert options == {"fault_206_65": 0.1, "max_tasks": 3}
    emulator = Emulator(**options)  # what LocalRuntime(emulator_options=...) does with them
    assert emulator.faults.describe()["rate_206_65"] == 0.1 and emulator.world.max_tasks == 3
