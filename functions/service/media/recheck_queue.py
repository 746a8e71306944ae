"""``RecheckQueue`` on the media queue itself (a module of its own: only the media function sends to the queue).

``SendMessage`` with ``DelaySeconds``: SQS holds the message, durably, for up to 900 s, then the function's event
source mapping delivers it like an S3 notification (``service.media.handler`` tells them apart).
"""

from __future__ import annotations

from typing import Any

from service.adapters.aws import LazyClient
from service.media.integrity import Recheck, check_delay


class SqsRecheckQueue:
    def __init__(self, queue_url: str, *, client: Any = None):
        self._queue_url = queue_url
        self._client = client

    client = LazyClient("sqs")

    def schedule(self, recheck: Recheck) -> None:
        check_delay(recheck.delay_s)
        self.client.send_message(QueueUrl=self._queue_url, MessageBody=recheck.body(), DelaySeconds=recheck.delay_s)
