"""The restart workflow's task (``service.transcriptions.workflow_handler.handler``): Step Functions waits (a Wait
state until ``restartAt``, never a sleeping Lambda) and then calls this to join the next agent before Agora's
72-hour end; the answer says when to wake again or ``done``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp

logger = Logger()


def _from_env() -> Any:
    from service.transcriptions.handler import build_service
    from service.transcriptions.settings import TranscriptionsSettings

    return build_service(TranscriptionsSettings.from_env())


_default = DefaultApp(_from_env)
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    transcription_id = str(event["transcriptionId"])
    result: dict[str, Any] = _default.get().restart_step(transcription_id)
    logger.info("restart step", extra=result)
    return result
