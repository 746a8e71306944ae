"""ConsoleClient against the Console emulator (httpx MockTransport): every endpoint, the documented errors,
the 201-for-reads and milliseconds quirks, ambiguous failures, the shared limiter and the secrecy of sign_key."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from agorakit.agora.console import BUSINESSES, ConsoleClient, Project, UsageReport, is_app_id, parse_day
from agorakit.agora.errors import (
    AgoraAuthError,
    AgoraConflictError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraRateLimitedError,
    AgoraServerError,
)

from emulator.console import DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, ConsoleEmulator
from tests.support.console import mock_transport

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()
APP_ID = "0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    slept: list[float]


@pytest.fixture
def clock() -> Clock:
    c = Clock()
    c.slept = []
    return c


@pytest.fixture
def emu(clock) -> ConsoleEmulator:
    return ConsoleEmulator(qps=10, clock=lambda: NOW, monotonic=clock, seed=3)


def client_for(emu: ConsoleEmulator, clock: Clock, **kwargs) -> ConsoleClient:
    options = {
        "customer_id": DEFAULT_CUSTOMER_ID,
        "customer_secret": DEFAULT_CUSTOMER_SECRET,
        "base_urls": ["https://api.agora.io"],
        "transport": mock_transport(emu),
        "sleep": clock.sleep,
        "rng": lambda: 1.0,
        "max_attempts": 3,
    }
    options.update(kwargs)
    return ConsoleClient(**options)


@pytest.fixture
def console(emu, clock) -> ConsoleClient:
    return client_for(emu, clock)


def test_list_and_find_projects_parse_milliseconds_and_keep_the_certificate_private(emu, console):
    made = emu.add_project("prod", project_id="7sdnf3xRH", vendor_key=APP_ID, created_ms=1_700_000_000_123)
    emu.add_project("staging", sign_key_enabled=False)
    projects = console.list_projects()
    assert [p.name for p in projects] == ["prod", "staging"]
    prod = projects[0]
    assert prod.created == datetime.fromtimestamp(1_700_000_000.123, UTC)
    assert prod.sign_key == made["sign_key"] and prod.certificate_enabled
    assert not projects[1].certificate_enabled and projects[1].sign_key == ""
    assert made["sign_key"] not in repr(prod) and made["sign_key"] not in str(prod)
    assert made["sign_key"] not in repr(console)
    public = prod.public()
    assert made["sign_key"] not in str(public)
    assert public["certificate"] == {
        "enabled": True,
        "sign_key": "********",
        "fingerprint": prod.certificate_fingerprint,
    }
    assert public["project_id"] == "7sdnf3xRH" and public["app_id"] == APP_ID
    # by project id, by App ID (any case), and a clear message when neither matches
    assert console.find_project("7sdnf3xRH").id == "7sdnf3xRH"
    assert console.find_project(APP_ID.upper()).id == "7sdnf3xRH"
    with pytest.raises(AgoraNotFoundError, match="App ID"):
        console.find_project("f" * 32)
    with pytest.raises(AgoraNotFoundError, match="project id"):
        console.find_project("nope")


def test_created_in_seconds_is_accepted_too():
    project = Project.from_body({"id": "x", "name": "n", "vendor_key": APP_ID, "status": 1, "created": 1464165672})
    assert project.created == datetime.fromtimestamp(1464165672, UTC)


def test_get_project_needs_id_and_name_and_answers_an_array(emu, console):
    emu.add_project("prod", project_id="p1")
    assert console.get_project("p1", "prod").id == "p1"
    with pytest.raises(AgoraNotFoundError):
        console.get_project("p1", "other-name")
    with pytest.raises(AgoraParameterError):
        console.get_project("p1", "")
    # the emulator refuses a lookup without the name, as Agora does
    status, body = emu.handle(
        "GET", "/dev/v1/project", {"id": ["p1"]}, None, {**_auth(), "Content-Type": "application/json"}
    )
    assert status == 400 and "name" in body["message"]


def _auth() -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{DEFAULT_CUSTOMER_ID}:{DEFAULT_CUSTOMER_SECRET}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_create_project_and_its_documented_400s(emu, console):
    project = console.create_project("demo", enable_sign_key=True)
    assert project.enabled and project.certificate_enabled and len(project.vendor_key) == 32
    assert is_app_id(project.vendor_key) and not is_app_id(project.id)
    with pytest.raises(AgoraConflictError, match="already exists"):
        console.create_project("demo")
    emu.max_projects = 1
    with pytest.raises(AgoraParameterError) as info:
        console.create_project("second")
    assert info.value.http_status == 400 and info.value.reason == "too many projects"
    calls = dict(emu.calls)
    with pytest.raises(AgoraParameterError):
        console.create_project("x" * 256)
    with pytest.raises(AgoraParameterError):
        console.create_project("")
    assert dict(emu.calls) == calls  # rejected before any request


def test_create_after_an_ambiguous_500_is_not_repeated(emu, console):
    emu.inject("500_after")
    project = console.create_project("once")
    assert [p["name"] for p in emu.state()["projects"][DEFAULT_CUSTOMER_ID]] == ["once"]
    assert project.name == "once"
    assert emu.calls["create_project"] == 1


def test_status_signkey_recording_config_and_the_legacy_404(emu, console):
    emu.add_project("prod", project_id="p1")
    assert not console.set_project_status("p1", False).enabled
    with pytest.raises(AgoraNotFoundError) as info:
        console.set_sign_key("p1", False)  # 2020 CN text: a disabled project "does not exist" for these
    assert info.value.reason == "project not exist" and info.value.http_status == 404
    assert console.set_project_status("p1", True).enabled
    off = console.set_sign_key("p1", False)
    assert not off.certificate_enabled and off.sign_key == ""
    on = console.set_sign_key("p1", True)
    assert on.sign_key == emu.project("p1")["sign_key"] != ""
    assert console.set_recording_server("p1", "10.12.1.5:8080").recording_server == "10.12.1.5:8080"
    for bad in ("10.12.1.5", "host:99999", "a b:80"):
        with pytest.raises(AgoraParameterError):
            console.set_recording_server("p1", bad)
    with pytest.raises(AgoraNotFoundError):
        console.set_project_status("missing", True)


def test_reset_gives_a_new_certificate_and_enables_a_disabled_one(emu, console):
    before = emu.add_project("prod", project_id="p1", sign_key_enabled=False)
    project = console.reset_sign_key("p1")
    assert project.certificate_enabled and project.sign_key == emu.project("p1")["sign_key"]
    assert project.sign_key != before["sign_key"]


def test_reset_after_an_ambiguous_500_reads_back_instead_of_resetting_twice(emu, console):
    old = emu.add_project("prod", project_id="p1")["sign_key"]
    emu.inject("500_after")
    project = console.reset_sign_key("p1", previous=old)
    assert emu.calls["reset_signkey"] == 1
    assert project.sign_key == emu.project("p1")["sign_key"] != old


def test_reset_without_previous_retries_and_returns_the_final_certificate(emu, console):
    emu.add_project("prod", project_id="p1")
    emu.inject("500_after")
    project = console.reset_sign_key("p1")
    assert emu.calls["reset_signkey"] == 2
    assert project.sign_key == emu.project("p1")["sign_key"]


def test_usage_days_zero_days_partial_today_and_both_date_forms(emu, console, clock):
    emu.add_project(
        "prod", project_id="p1", vendor_key=APP_ID, created_ms=int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
    )
    emu.set_usage("p1", date(2026, 11, 20), {"durationAudioAll": 779, "durationVideoHd": 60})
    emu.set_usage("p1", date(2026, 11, 29), {"durationAudioAll": 1000})
    report = console.usage("p1", "2026-10-30", date(2026, 11, 30))
    assert isinstance(report, UsageReport) and report.business == "default"
    assert "durationAudioAll" in report.meta
    days = {d.day: d.usage for d in report.days}
    assert min(days) == date(2026, 10, 30) and max(days) == date(2026, 11, 29)  # nothing after today
    assert all(v == 0 for v in days[date(2026, 10, 31)].values())  # before the project existed
    assert days[date(2026, 11, 20)] == {"durationAudioAll": 779, "durationVideoHd": 60}
    assert days[date(2026, 11, 29)] == {"durationAudioAll": 500}  # today, at noon UTC: half a day so far
    assert any(any(v for v in u.values()) for u in days.values() if u is not days[date(2026, 11, 20)])
    epoch = ConsoleEmulator(clock=lambda: NOW, monotonic=clock, date_format="epoch")
    epoch.add_project("prod", project_id="p1")
    epoch.set_usage("p1", date(2026, 11, 20), {"durationAudioAll": 5})
    same = client_for(epoch, clock).usage("p1", "2026-11-20", "2026-11-20", business="cloudRecording")
    assert len(same.days) == 1 and same.days[0].usage != {"durationAudioAll": 5}  # set for "default" only
    same = client_for(epoch, clock).usage("p1", "2026-11-20", "2026-11-20")
    assert [(d.day, d.usage) for d in same.days] == [(date(2026, 11, 20), {"durationAudioAll": 5})]


def test_usage_rejects_the_app_id_and_bad_parameters(emu, console):
    emu.add_project("prod", project_id="p1", vendor_key=APP_ID)
    with pytest.raises(AgoraNotFoundError) as info:
        console.usage(APP_ID, "2026-11-01", "2026-11-02")
    assert info.value.reason == "Project not found"
    calls = dict(emu.calls)
    for args, kwargs in (
        (("p1", "2026-11-02", "2026-11-01"), {}),
        (("p1", "2026-13-01", "2026-11-01"), {}),
        (("p1", "2026-11-01", "2026-11-02"), {"business": "video"}),
        (("", "2026-11-01", "2026-11-02"), {}),
    ):
        with pytest.raises(AgoraParameterError):
            console.usage(*args, **kwargs)
    assert dict(emu.calls) == calls
    assert set(BUSINESSES) >= {"default", "cloudRecording"}


def test_parse_day_reads_iso_strings_and_timestamps():
    assert parse_day("2021-10-13T00:00:00.000Z") == date(2021, 10, 13)
    assert parse_day(1634083200) == date(2021, 10, 13)
    assert parse_day(1634083200000) == date(2021, 10, 13)
    assert parse_day("1634083200") == date(2021, 10, 13)
    assert parse_day("soon") is None and parse_day(None) is None and parse_day(True) is None


def test_wrong_credentials_are_an_auth_error(emu, clock):
    bad = client_for(emu, clock, customer_secret="wrong")
    with pytest.raises(AgoraAuthError) as info:
        bad.list_projects()
    assert info.value.http_status == 401


def test_429_without_retry_after_is_waited_out_and_every_attempt_takes_a_limiter_slot(emu, clock):
    emu.qps = 2

    class Counting:
        def __init__(self) -> None:
            self.taken = 0

        def acquire(self, permits: int = 1) -> None:
            self.taken += permits

    limiter = Counting()
    console = client_for(emu, clock, rate_limiter=limiter)
    for _ in range(3):
        console.list_projects()
    assert emu.statuses[429] == 1  # the third call met the per-API window
    assert limiter.taken == 4  # three calls + one retry
    assert clock.slept == [1.0]  # no Retry-After: the client's own backoff
    # another API has its own window
    emu.add_project("p", project_id="p1")
    console.usage("p1", "2026-11-01", "2026-11-01")
    assert emu.statuses[429] == 1


def test_429_on_every_attempt_raises_rate_limited(emu, console):
    emu.inject("429", "429", "429")
    with pytest.raises(AgoraRateLimitedError):
        console.list_projects()


def test_an_answer_without_the_project_is_a_server_error(emu, clock):
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"weird": True})

    console = client_for(emu, clock, transport=httpx.MockTransport(handler))
    with pytest.raises(AgoraServerError):
        console.set_project_status("p1", True)


def test_2020_success_bodies_are_read_back(emu, clock):
    import httpx

    emu.add_project("prod", project_id="p1")
    inner = mock_transport(emu)

    def handler(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        if request.url.path == "/dev/v1/signkey":
            response.read()
            return httpx.Response(201, json={"success": True})
        return response

    console = client_for(emu, clock, transport=httpx.MockTransport(handler))
    assert not console.set_sign_key("p1", False).certificate_enabled


def test_the_certificate_is_never_logged(emu, console, caplog):
    caplog.set_level(logging.DEBUG)
    emu.add_project("prod", project_id="p1")
    emu.inject("500")
    old = console.find_project("p1").sign_key
    emu.inject("500_after")
    new = console.reset_sign_key("p1", previous=old).sign_key
    console.set_sign_key("p1", True)
    assert caplog.records  # the retries were logged
    assert old not in caplog.text and new not in caplog.text


def test_the_emulator_wants_json_content_type_on_every_request(emu):
    status, body = emu.handle("GET", "/dev/v1/projects", {}, None, _auth())
    assert status == 415 and "application/json" in body["message"]
    status, _ = emu.handle("GET", "/dev/v1/nothing", {}, None, _auth())
    assert status == 404
    status, body = emu.handle("POST", "/dev/v1/project", {}, b"{", {**_auth(), "content-type": "application/json"})
    assert status == 400 and body == {"message": "invalid JSON body"}
    assert emu.handles("GET", "/dev/v3/usage") and not emu.handles("GET", "/dev/v1/channel/x")
