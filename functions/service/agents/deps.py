"""The deployed adapters of the agent functions: the AgentsTable, Agora (Conversational AI on the shared client and
limiter), the history bucket, the app certificate for bot tokens, the profiles' secrets, and the events port.

Events: the apps' events come from the agents table's stream (``service.events.agents``, docs/events.md), after
each write is durable. ``LoggedEvents`` only writes the use cases' own ``AgentEvent`` trace lines to the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from service.adapters.aws import LazyClient
from service.agents.profiles import parse_profiles
from service.agents.settings import AgentEventSettings, AgentSettings
from service.agents.usecases import AgentDeps

if TYPE_CHECKING:
    from service.adapters.agora import CallBudget

logger = logging.getLogger(__name__)
#: bots publish audio: the agent speaks in the channel
AGENT_ROLE: Final = "publisher"


class S3History:
    """Conversations as JSON objects in the history bucket (SSE-S3, no public access: the construct's bucket)."""

    def __init__(self, bucket: str, *, client: Any = None):
        self.bucket = bucket
        self._client = client

    client = LazyClient("s3")

    def put_json(self, key: str, document: Mapping[str, Any]) -> None:
        body = json.dumps(dict(document), separators=(",", ":"), sort_keys=True).encode()
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json",
                               ServerSideEncryption="AES256")  # fmt: skip


class LoggedEvents:
    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        logger.info("AgentEvent %s", detail_type, extra={"detailType": detail_type, "detail": dict(detail)})


def token_minter(settings: AgentSettings, secrets: Any) -> Any:
    """Bot tokens signed with the app certificate (from Secrets Manager, read when a token is made: rotation-safe)."""

    def mint(channel: str, uid: int, seconds: int) -> str:
        if not settings.app_certificate_secret_name:
            return ""  # an App ID without a certificate: Agora accepts an empty token
        from agorakit.tokens import build_rtc_token

        secret = secrets.get_json(settings.app_certificate_secret_name)
        certificate = secret.get("app_certificate") or secret.get("value")
        if not certificate:
            raise RuntimeError("the app certificate secret has no 'app_certificate' field")
        return build_rtc_token(app_id=settings.agora_app_id, app_certificate=str(certificate), channel_name=channel,
                               uid=uid, role=AGENT_ROLE, expire=seconds)  # fmt: skip

    return mint


def lifecycle_starter(settings: AgentSettings) -> Any:
    """Start the agent's lifecycle execution (named by the agent id: a repeated start is the same execution)."""
    arn = settings.agents_state_machine_arn
    if not arn:
        return None

    def start(agent_id: str) -> None:
        from service.adapters.aws import client

        payload = json.dumps({"agentId": agent_id}, separators=(",", ":"))
        try:
            client("stepfunctions").start_execution(stateMachineArn=arn, name=agent_id, input=payload)
        except Exception as exc:
            if "ExecutionAlreadyExists" not in type(exc).__name__ + str(getattr(exc, "response", "")):
                raise

    return start


def build_dependencies(settings: AgentSettings, budget: CallBudget | None = None) -> AgentDeps:
    """``budget``: ``INTERACTIVE`` (the default) behind API Gateway; the lifecycle and the reconciler pass
    ``BACKGROUND`` (patient, and no lane of its own: each step names its lane, ``service.agents.tasks_handler``)."""
    from agorakit.agora.convoai import ConvoAIClient

    from service.adapters.agora import INTERACTIVE, build_agora_client
    from service.adapters.secrets import SecretsManagerStore
    from service.agents.repository import AgentsRepository

    if not settings.agents_history_bucket:
        raise RuntimeError("AGENTS_HISTORY_BUCKET is required: conversations must outlive the agent")
    secrets = SecretsManagerStore(max_age=settings.secret_cache_seconds)
    return AgentDeps(
        store=AgentsRepository(settings.agents_table),
        agora=ConvoAIClient(build_agora_client(settings, secrets, budget=budget or INTERACTIVE)),
        history=S3History(settings.agents_history_bucket),
        events=LoggedEvents(),
        profiles=parse_profiles(settings.agents_profiles),
        mint_token=token_minter(settings, secrets),
        secrets=secrets,
        max_seconds=settings.agents_max_seconds,
        min_seconds=settings.agents_min_seconds,
        default_max_seconds=settings.agents_default_max_seconds,
        renew_margin_seconds=settings.agents_renew_margin_seconds,
        resolve_looks=settings.agents_resolve_looks,
        reconcile_grace_seconds=settings.agents_reconcile_grace_seconds,
        start_lifecycle=lifecycle_starter(settings),
        max_running=settings.agents_max_running,
    )


class NoAgora:
    """The NCS processor's Agora: applying product 17 (state, history from event 103) never calls Agora, and the
    processor holds no Agora credentials; a call would be a bug, reported as one."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the NCS processor does not call Agora (agora.{name})")


def build_event_dependencies(settings: AgentEventSettings) -> AgentDeps:
    """What ``service.webhooks.processor`` applies NCS product 17 with: the table and the history bucket."""
    from service.agents.repository import AgentsRepository

    if not settings.agents_history_bucket:
        raise RuntimeError("AGENTS_HISTORY_BUCKET is required: conversations must outlive the agent")

    def no_token(channel: str, uid: int, seconds: int) -> str:
        raise RuntimeError("the NCS processor mints no bot token")

    return AgentDeps(
        store=AgentsRepository(settings.agents_table),
        agora=NoAgora(),  # type: ignore[arg-type]
        history=S3History(settings.agents_history_bucket),
        events=LoggedEvents(),
        profiles={},
        mint_token=no_token,
    )
