"""Step Functions behind ``service.recordings.ports.WorkflowControl``: the three calls recordings make.

Sending a task token twice is harmless: Step Functions answers the late one with TaskTimedOut,
InvalidToken or TaskDoesNotExist, which here means "already done" (``complete_wait`` returns False).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from service.adapters.aws import LazyClient
from service.adapters.dynamodb import error_code

logger = logging.getLogger(__name__)

#: Step Functions errors that mean the token's task is already over (completed, timed out or gone)
FINISHED_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class StepFunctionsControl:
    def __init__(self, *, client: Any = None):
        self._client = client

    client = LazyClient("stepfunctions")

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> None:
        self.client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))

    def complete_wait(self, task_token: str, reason: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.send_task_success(taskToken=task_token, output=json.dumps({"reason": reason}))
        except ClientError as exc:
            code = error_code(exc)
            if code in FINISHED_TOKEN_ERRORS:
                logger.info("the wait was already over (%s)", code)
                return False
            raise
        return True

    def execution_status(self, execution_arn: str) -> str:
        from botocore.exceptions import ClientError

        try:
            return str(self.client.describe_execution(executionArn=execution_arn).get("status"))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return "MISSING"
            raise
