"""The local stack's events: the log behind ``GET /local/events`` (cursor, long-poll, 4xx on bad input) and the
forwarder's retry policy (EventBridge's for API destinations: 429/5xx/no answer retried with backoff, other
4xx not, bounded; what is given up is a dead letter). The forwarder's HTTP call is a parameter, so these run
without sockets; the e2e events case runs it against a real endpoint."""

from __future__ import annotations

import threading

import pytest

from local.events import EventLog, Forwarder, RetryPolicy, retryable

NO_WAIT = RetryPolicy(attempts=4, base_delay_s=0.0)


def envelope(n: int) -> dict[str, object]:
    return {"id": f"e{n}", "detail-type": "Recording Started", "detail": {"n": n}}


def test_cursor_pages_through_the_log_in_order():
    log = EventLog()
    for n in range(5):
        log.append(envelope(n))
    page, cursor = log.after(0, limit=2)
    assert [e["id"] for e in page] == ["e0", "e1"] and cursor == 2
    page, cursor = log.after(cursor, limit=10)
    assert [e["id"] for e in page] == ["e2", "e3", "e4"] and cursor == 5
    assert log.after(cursor) == ([], 5)


def test_a_long_poll_returns_when_an_event_arrives():
    log = EventLog()
    started = threading.Event()
    got: list[object] = []

    def reader() -> None:
        started.set()
        got.append(log.after(0, wait=30.0))

    thread = threading.Thread(target=reader)
    thread.start()
    started.wait()
    log.append(envelope(1))
    thread.join(30.0)
    assert got == [([envelope(1)], 1)]


@pytest.mark.parametrize(
    ("query", "message"),
    [("after=x", "integers"), ("after=-1", "after >= 0"), ("limit=0", "limit"), ("wait=99", "wait"),
     ("limit=abc", "integers")],
)  # fmt: skip
def test_bad_queries_are_400_with_a_message(query, message):
    status, body = EventLog().http("GET", query)
    assert status == 400 and message in body["message"]


def test_http_answers_events_and_the_next_cursor():
    log = EventLog()
    log.append(envelope(0))
    log.append(envelope(1))
    assert log.http("GET", "after=1") == (200, {"events": [envelope(1)], "cursor": "2"})
    assert log.http("GET", "") == (200, {"events": [envelope(0), envelope(1)], "cursor": "2"})
    assert log.http("POST", "")[0] == 405


def test_retryable_statuses_are_eventbridges():
    assert [s for s in (None, 200, 400, 401, 404, 408, 429, 500, 503) if retryable(s)] == [None, 429, 500, 503]


def _forwarder(answers: list[int | Exception]) -> tuple[Forwarder, list[bytes]]:
    sent: list[bytes] = []

    def post(url: str, body: bytes, timeout: float) -> int:
        sent.append(body)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return Forwarder(EventLog(), "http://127.0.0.1:9/hook", policy=NO_WAIT, post=post, seed=3), sent


def test_5xx_and_refused_connections_are_retried_until_accepted():
    forwarder, sent = _forwarder([503, ConnectionRefusedError("down"), 429, 200])
    assert forwarder.forward(envelope(1)) is True
    assert len(sent) == 4 and forwarder.delivered == 1 and forwarder.dead_letters == []


def test_a_4xx_is_not_retried_and_becomes_a_dead_letter():
    forwarder, sent = _forwarder([400])
    assert forwarder.forward(envelope(1)) is False
    assert len(sent) == 1 and forwarder.dead_letters == [{"event": envelope(1), "status": 400}]


def test_retries_are_bounded():
    forwarder, sent = _forwarder([500] * 10)
    assert forwarder.forward(envelope(1)) is False
    assert len(sent) == NO_WAIT.attempts and forwarder.dead_letters[0]["status"] == 500


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    import random

    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=30.0)
    rng = random.Random(11)
    for attempt in range(1, 10):
        delay = policy.delay(attempt, rng)
        assert 0 <= delay <= min(30.0, 0.5 * 2**attempt)
