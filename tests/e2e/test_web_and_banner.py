"""The first hour, as a newcomer meets it: ``make run``'s banner pasted into a shell, and the web example in a
real browser (headless Chromium) on its own origin: sign-in -> tokens -> renewal, admins' recordings, and a page
on an origin the API does not allow being refused by the browser.

One stack for the module (``python -m local.run`` in a child process, as ``make run`` starts it).
``WEB_EXAMPLE_SCREENSHOT=path`` saves a screenshot of the signed-in page (docs/images/web-example.png).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.banner import commands

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self, tmp: Path):
        self.api, self.moto, self.emulator, self.web = (_free_port() for _ in range(4))
        self.log_path = tmp / "run.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local.run", "--port", str(self.api), "--moto-port", str(self.moto),
             "--emulator-port", str(self.emulator), "--web-port", str(self.web), "--quiet"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while "Ctrl-C stops it" not in self.output() or "Schedules" not in self.output():
            assert self.proc.poll() is None, self.output()[-3000:]
            assert time.monotonic() < deadline, "the local stack did not start in 300 s"
            time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("run"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


# ---- the banner -------------------------------------------------------------------------------------
CURL_RECORDER = """
curl() {  # the real curl, plus one line per call in $STATUSES: the HTTP status and the URL
  local headers rc url=""
  headers=$(mktemp)
  command curl -D "$headers" "$@"; rc=$?
  for arg in "$@"; do case "$arg" in http*) url="$arg";; esac; done
  echo "$(head -1 "$headers" | cut -d' ' -f2) $url" >> "$STATUSES"
  rm -f "$headers"
  return $rc
}
"""


def test_the_banner_works_when_pasted_top_to_bottom(stack: Stack, tmp_path: Path) -> None:
    banner = stack.output()
    lines = commands(banner)
    assert lines, banner
    assert not [line for line in lines if "no walkthrough line yet" in line], "a route has no banner line"
    statuses = tmp_path / "statuses"
    script = "set -eu -o pipefail\n" + CURL_RECORDER + "\n".join(lines) + "\n"
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "STATUSES": str(statuses)},
    )  # fmt: skip
    calls = statuses.read_text().splitlines() if statuses.exists() else []
    assert result.returncode == 0, f"{result.stderr[-2000:]}\n{calls}"
    failed = [c for c in calls if not c.startswith("2")]
    assert not failed, f"{failed}\n{result.stdout[-3000:]}"
    routes = json.loads(urllib.request.urlopen(f"{stack.api_url}/local/routes", timeout=10).read())["routes"]
    called = {re.sub(r"\?.*", "", c.split(" ", 1)[1]) for c in calls}
    for route in routes:  # every route of the stack was called by at least one line, and answered 2xx
        _method, path = route["route"].split(" ", 1)
        pattern = re.escape(stack.api_url) + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        assert any(re.fullmatch(pattern, url) for url in called), route["route"]
    assert "webhooks/agora" in result.stdout or any("/webhooks/agora" in c for c in calls)


# ---- the web example in a real browser ---------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        reason = "chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1400", "--no-proxy-server"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: Any, what: str, timeout: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    def check(d: Any) -> Any:
        error = d.find_element("id", "error")
        if error.is_displayed() and "expected_error" not in what:
            raise AssertionError(f"the page shows an error while waiting for {what}: {error.text}")
        return condition(d)

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(check, message=what)


def _text(driver: Any, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


def _sign_in(driver: Any, url: str, username: str) -> None:
    from selenium.webdriver.support.ui import Select

    driver.get(url)
    driver.execute_script("sessionStorage.clear()")
    driver.get(url)
    Select(driver.find_element("id", "signin-user")).select_by_value(username)
    driver.find_element("id", "signin-btn").click()


def test_web_example_signs_in_mints_and_renews_tokens(stack: Stack, browser: Any) -> None:
    _sign_in(browser, f"{stack.web_url}/", "host-1")
    _wait(browser, lambda d: _text(d, "signed-in") == "host-1", "sign-in as host-1")
    assert "hosts" in _text(browser, "groups")
    assert not browser.find_element("id", "admin-section").is_displayed()  # not an admin
    ttl = browser.find_element("id", "ttl")
    ttl.clear()
    ttl.send_keys("6")  # renewal at half the life of such a short token: 3 s after minting
    browser.find_element("id", "mint-btn").click()
    _wait(browser, lambda d: _text(d, "uid").isdigit(), "a uid")
    uid = _text(browser, "uid")
    assert _text(browser, "rtc-token").startswith("007") and _text(browser, "rtm-token").startswith("007")
    first_expiry = int(browser.find_element("id", "expires-at").get_attribute("data-epoch"))
    _wait(browser, lambda d: int(_text(d, "renewals")) >= 1, "a renewal before expiry", timeout=30)
    renewed_expiry = int(browser.find_element("id", "expires-at").get_attribute("data-epoch"))
    assert renewed_expiry > first_expiry and _text(browser, "uid") == uid  # same user, later expiry
    log = _text(browser, "log")
    assert "rtc.renewToken(007" in log and "rtm.renewToken(007" in log
    # the renewal happened before the first token expired (the page renews ahead, never after)
    renewed_at = browser.execute_script(
        "return [...document.querySelectorAll('#log li')].filter(li => li.textContent.includes('renewed:')).length"
    )
    assert renewed_at >= 1


def test_web_example_admin_lists_starts_and_stops_a_recording(stack: Stack, browser: Any) -> None:
    _sign_in(browser, f"{stack.web_url}/", "admin")
    _wait(browser, lambda d: d.find_element("id", "admin-section").is_displayed(), "the admin section")
    channel = browser.find_element("id", "rec-channel")
    channel.clear()
    channel.send_keys("web-room")
    browser.find_element("id", "rec-start").click()
    _wait(browser, lambda d: "web-room" in _text(d, "rec-list"), "the new recording's row")
    assert len(browser.find_elements("css selector", "#rec-list tr")) == 1
    browser.find_element("css selector", "#rec-list tr .rec-open").click()
    _wait(browser, lambda d: '"recording_id"' in _text(d, "rec-detail"), "the recording's JSON")
    browser.find_element("css selector", "#rec-list tr .rec-stop").click()
    _wait(browser, lambda d: "stop of" in _text(d, "log"), "the stop answer")
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "role")).select_by_value("subscriber")  # admins are not hosts: no publishing
    browser.find_element("id", "mint-btn").click()
    _wait(browser, lambda d: _text(d, "uid").isdigit(), "the admin's uid")
    if path := os.environ.get("WEB_EXAMPLE_SCREENSHOT"):
        browser.save_screenshot(path)


def test_a_page_on_an_origin_the_api_does_not_allow_is_refused(stack: Stack, browser: Any) -> None:
    from local.web import WebServer, local_config

    users = [{"username": "host-1", "groups": ["hosts"]}]
    other = WebServer(host="127.0.0.1", port=0, config_js=local_config(stack.api_url, users))
    other.start()
    try:
        _sign_in(browser, f"{other.url}/", "host-1")
        _wait(browser, lambda d: d.find_element("id", "error").is_displayed(), "expected_error: a refusal")
        assert "CORS" in _text(browser, "error") and other.url in _text(browser, "error")
        assert _text(browser, "signed-in") == "no"
    finally:
        other.stop()
    # the same call from the allowed origin's page succeeds (the refusal is the origin's, not the API's)
    _sign_in(browser, f"{stack.web_url}/", "host-1")
    _wait(browser, lambda d: _text(d, "signed-in") == "host-1", "sign-in from the allowed origin")


# ---- last: after every call above, the output has no metric or logical-id noise -----------------------
def test_the_banner_has_no_metric_or_logical_id_noise(stack: Stack) -> None:
    output = stack.output()
    assert '{"_aws"' not in output
    assert not re.search(r"[A-Za-z]{40,}[0-9A-F]{8}", output.split("Schedules")[0]), output[:3000]
