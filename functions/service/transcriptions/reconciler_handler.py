"""The transcriptions reconciler (``service.transcriptions.reconciler_handler.handler``), run by an EventBridge
schedule: Agora's list of live Real-Time STT agents against the TranscriptionsTable
(``TranscriptionService.reconcile``): ours that Agora no longer runs end here, agents under our names that the
table does not know are told to leave, anything else's agents are left alone.

``create_app(service)`` binds the use cases (tests pass emulator-backed ones); ``handler`` builds the default one
from the environment on its first call, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agorakit.agora.ratelimit import Lane, lane
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from service.apps import DefaultApp

if TYPE_CHECKING:
    from service.transcriptions.usecases import TranscriptionService

logger = Logger()


@dataclass(frozen=True)
class Reconciler:
    service: TranscriptionService

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        with lane(Lane.RECONCILE):  # the lowest lane: the reconciler yields to every other Agora call
            report = self.service.reconcile()
        result = {"ended": report.ended, "stopped": report.stopped, "kept": report.kept, "foreign": report.foreign,
                  "errors": report.errors}  # fmt: skip
        logger.info("transcriptions reconciled", extra=result)
        return result


def create_app(service: TranscriptionService) -> Reconciler:
    return Reconciler(service)


def _from_env() -> Reconciler:
    from service.adapters.agora import BACKGROUND
    from service.transcriptions.handler import build_service
    from service.transcriptions.settings import TranscriptionsSettings

    # a scheduled job nobody waits for: the patient budget (retries and waits of a background call)
    return create_app(build_service(TranscriptionsSettings.from_env(), budget=BACKGROUND))


_default = DefaultApp(_from_env)
default_app = _default.get
reset = _default.reset


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_app()(event)
