"""``RecheckQueue``: ``service.media.fakes.FakeRecheckQueue`` against ``service.media.recheck_queue.SqsRecheckQueue``
on SQS in moto. A scheduled re-check is held for its delay, then delivered once as a body that parses back to it;
a delay SQS cannot carry is refused before anything is sent.

The fake's time is a clock the test moves; SQS's is the wall clock, so the real side waits for the message (polling
``ReceiveMessage``, a one-second delay) instead of moving a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from service.media.fakes import FakeRecheckQueue
from service.media.integrity import Recheck, RecheckQueue

T0 = 1_800_000_000_000


@dataclass
class Side:
    queue: RecheckQueue
    receive: Callable[[], list[str]]  # the bodies visible now, consumed
    wait_past: Callable[[int], None]  # let this many seconds pass


@pytest.fixture
def side(backend: str) -> Iterator[Side]:
    if backend == "fake":
        now = [T0]
        fake = FakeRecheckQueue(lambda: now[0])

        def advance(seconds: int) -> None:
            now[0] += seconds * 1000

        yield Side(fake, fake.receive, advance)
        return
    import boto3
    from moto import mock_aws
    from service.media.recheck_queue import SqsRecheckQueue

    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="media")["QueueUrl"]

        def receive() -> list[str]:
            got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") or []
            for m in got:
                client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return [m["Body"] for m in got]

        def wait_past(seconds: int) -> None:
            deadline = time.monotonic() + seconds + 5
            # polls until the queue reports the delayed message visible (or gives up: the assertion then fails)
            while time.monotonic() < deadline:
                attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                if int(attrs["Attributes"]["ApproximateNumberOfMessages"]) > 0:
                    return
                time.sleep(0.05)

        yield Side(SqsRecheckQueue(url, client=client), receive, wait_past)


def test_a_recheck_is_held_for_its_delay_then_delivered_once(side: Side) -> None:
    recheck = Recheck(sid="sid-1", attempt=3, since_ms=T0 - 600_000, due_ms=T0 + 1000, delay_s=1)
    side.queue.schedule(recheck)
    assert side.receive() == []  # held
    side.wait_past(1)
    bodies = side.receive()
    assert [Recheck.parse(b) for b in bodies] == [Recheck("sid-1", 3, T0 - 600_000, T0 + 1000, 0)]
    assert side.receive() == []  # consumed


@pytest.mark.parametrize("delay", [-1, 901])
def test_a_delay_sqs_cannot_carry_is_refused_and_nothing_is_sent(side: Side, delay: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.900"):
        side.queue.schedule(Recheck(sid="s", attempt=0, since_ms=T0, due_ms=T0, delay_s=delay))
    assert side.receive() == []
