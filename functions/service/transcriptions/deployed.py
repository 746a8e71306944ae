"""The deployed pieces of the transcriptions function: Agora's STT client built on first use (not at cold start),
the bot's RTC token signer (the App Certificate from Secrets Manager) and the caption storage (the recordings
bucket with the uploader's keys, which Agora uses to write transcripts and captions)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agorakit.agora.models import StorageConfig
    from agorakit.agora.stt import SttAgent, SttClient, SttJoin

    from service.adapters.secrets import SecretStore
    from service.transcriptions.record import Transcription
    from service.transcriptions.settings import TranscriptionsSettings


class LazyStt:
    """``SttAgora`` whose client (its secret read, its httpx pool) is built on the first call."""

    def __init__(self, factory: Callable[[], SttClient]):
        self._factory = factory
        self._client: SttClient | None = None

    @property
    def client(self) -> SttClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def join(self, request: SttJoin) -> SttAgent:
        return self.client.join(request)

    def get(self, agent_id: str) -> SttAgent:
        return self.client.get(agent_id)

    def leave(self, agent_id: str) -> bool:
        return self.client.leave(agent_id)

    def update(
        self,
        agent_id: str,
        sequence_id: int,
        *,
        languages: Sequence[str] | None = None,
        subscribe_uids: Sequence[int] | None = None,
        translate: Mapping[str, Sequence[str]] | None = None,
    ) -> SttAgent:
        return self.client.update(agent_id, sequence_id, languages=languages, subscribe_uids=subscribe_uids,
                                  translate=translate)  # fmt: skip

    def list_agents(self, *, channel: str | None = None, state: str = "RUNNING", limit: int = 100) -> list[SttAgent]:
        return self.client.list_agents(channel=channel, state=state, limit=limit)

    def find_running(self, name: str, channel: str) -> SttAgent | None:
        return self.client.find_running(name, channel)


def bot_token_signer(
    settings: TranscriptionsSettings, secrets: SecretStore
) -> Callable[[str, int, int, int], str | None]:
    """The bot's RTC token (publisher), ``seconds`` from ``issued_at_s``: the use cases pick both, so the
    stored expiry is the token's own."""

    def sign(channel: str, uid: int, issued_at_s: int, seconds: int) -> str | None:
        if not settings.app_certificate_secret_name:
            return None  # an App ID without certificate: Agora accepts no token
        from agorakit.tokens import build_rtc_token

        secret: Mapping[str, Any] = secrets.get_json(settings.app_certificate_secret_name)
        certificate = secret.get("app_certificate") or secret.get("value")
        if not certificate:
            raise RuntimeError("the app certificate secret has no 'app_certificate' field")
        return build_rtc_token(app_id=settings.agora_app_id, app_certificate=str(certificate), channel_name=channel,
                               uid=uid, role="publisher", expire=seconds, issue_ts=issued_at_s)  # fmt: skip

    return sign


def caption_storage(
    settings: TranscriptionsSettings, secrets: SecretStore
) -> Callable[[Transcription], StorageConfig | None]:
    """Transcripts and captions in the recordings bucket: in the recording's own folder when the transcription
    goes with a recording (``recordings/<channel>/<recording id>/``, beside its playlist), else
    ``transcripts/<channel>/<transcription id>/``."""

    def storage(record: Transcription) -> StorageConfig | None:
        if not settings.recordings_bucket or not settings.recording_uploader_secret_name:
            return None
        from agorakit.agora.models import StorageConfig

        from service.transcriptions.captions import caption_prefix

        prefix = caption_prefix(record)
        keys = secrets.get_json(settings.recording_uploader_secret_name)
        access_key, secret_key = keys.get("access_key"), keys.get("secret_key")
        if not access_key or not secret_key:
            raise RuntimeError("the uploader secret must be JSON with access_key and secret_key")
        return StorageConfig(vendor=1, region=settings.recordings_bucket_region, bucket=settings.recordings_bucket,
                             access_key=str(access_key), secret_key=str(secret_key),
                             file_name_prefix=prefix)  # fmt: skip

    return storage


def restart_scheduler(settings: TranscriptionsSettings) -> Callable[[Transcription, int], None] | None:
    """Start the restart workflow of a transcription (execution name = its id: a repeated start is the same
    execution, never a second one); None when no state machine is configured."""
    arn = settings.transcription_state_machine_arn
    if not arn:
        return None

    def schedule(record: Transcription, due_ms: int) -> None:
        import json

        from service.adapters.aws import client
        from service.transcriptions.usecases import iso_ms

        payload = json.dumps({"transcriptionId": record.id, "restartAt": iso_ms(due_ms)}, separators=(",", ":"))
        try:
            client("stepfunctions").start_execution(stateMachineArn=arn, name=record.id, input=payload)
        except Exception as exc:
            if "ExecutionAlreadyExists" not in type(exc).__name__ + str(getattr(exc, "response", "")):
                raise

    return schedule
