"""The restart workflow's task (``service.transcriptions.workflow_handler.handler``): Step Functions waits (a Wait
state until ``restartAt``, never a sleeping Lambda) and then calls this to join the next agent before Agora's
72-hour end; the answer says when to wake again or ``done``.

``create_app(service)`` binds the use cases (tests pass fakes or moto/emulator-backed ones); ``handler`` builds the
default one from the environment on its first call, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp

if TYPE_CHECKING:
    from service.transcriptions.usecases import TranscriptionService

logger = Logger()


@dataclass(frozen=True)
class RestartTask:
    service: TranscriptionService

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        result = self.service.restart_step(str(event["transcriptionId"]))
        logger.info("restart step", extra=result)
        return result


def create_app(service: TranscriptionService) -> RestartTask:
    return RestartTask(service)


def _from_env() -> RestartTask:
    from service.adapters.agora import BACKGROUND
    from service.transcriptions.handler import build_service
    from service.transcriptions.settings import TranscriptionsSettings

    return create_app(build_service(TranscriptionsSettings.from_env(), budget=BACKGROUND))


_default = DefaultApp(_from_env)
default_app = _default.get
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event)
