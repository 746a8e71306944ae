"""The stack composes one construct per capability; it holds no resources of its own."""

from __future__ import annotations

from aws_cdk import Annotations, Stack
from constructs import Construct

from infra.constructs.agents import Agents
from infra.constructs.agora_access import AgoraAccess
from infra.constructs.api import Api
from infra.constructs.api_docs import ApiDocs
from infra.constructs.channels import Channels
from infra.constructs.events import Events
from infra.constructs.function_factory import FunctionFactory
from infra.constructs.media import Media
from infra.constructs.monitoring import Monitoring, Watched
from infra.constructs.projects import Projects
from infra.constructs.recording import Recording
from infra.constructs.tokens import Tokens
from infra.constructs.transcriptions import Transcriptions
from infra.constructs.webhooks import Webhooks
from infra.settings import StackSettings


class AgoraServerlessStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        if settings.uses_placeholder_app_id:
            Annotations.of(self).add_warning_v2(
                "agora-serverless:placeholder-app-id",
                "agoraAppId is the placeholder; set -c agoraAppId=<your App ID> (or AGORA_APP_ID) before deploying.",
            )
        self.settings = settings
        self.functions = FunctionFactory(self, "Functions", settings=settings)
        self.api = Api(self, "Api", settings=settings)
        # Capability constructs are composed below, each in one line or a few.
        self.tokens = Tokens(self, "Tokens", settings=settings, api=self.api, functions=self.functions)
        self.agora = AgoraAccess(
            self, "AgoraAccess", app_id=settings.agora_app_id, rest_secret_name=settings.rest_secret_name,
            rest_base_urls=settings.rest_base_urls, qps=settings.agora_qps,
            lane_shares=settings.agora_lane_shares, limiter_shards=settings.agora_limiter_shards,
        )  # fmt: skip
        self.media = Media(self, "Media", settings=settings, functions=self.functions)
        self.recording = Recording(
            self, "Recording", settings=settings, api=self.api, functions=self.functions, agora=self.agora,
            bucket=self.media.bucket, uploader_secret=self.media.uploader_secret, media_table=self.media.table,
        )  # fmt: skip
        self.webhooks = Webhooks(
            self, "Webhooks", settings=settings, api=self.api, functions=self.functions, recording=self.recording
        )
        self.channels = Channels(
            self, "Channels", settings=settings, api=self.api, functions=self.functions, agora=self.agora,
            presence_table=self.webhooks.presence,
        )  # fmt: skip
        self.projects = Projects(
            self, "Projects", settings=settings, api=self.api, functions=self.functions, agora=self.agora
        )
        self.webhooks.enable_abnormal_leave_action(settings, self.agora)
        # live transcription (Real-Time STT v7): its API, and NCS product 20 in the webhook processor
        self.transcriptions = Transcriptions(
            self, "Transcriptions", settings=settings, api=self.api, functions=self.functions, agora=self.agora,
            bucket=self.media.bucket, uploader_secret=self.media.uploader_secret,
        )  # fmt: skip
        self.transcriptions.grant_events(self.webhooks.processor)
        self.transcriptions.grant_recordings(
            self.recording.task_function, self.recording.reconciler, self.recording.api_function
        )
        # Conversational AI agents: their API, lifecycle workflow, reconciler, and NCS product 17 in the processor
        self.agents = Agents(
            self, "Agents", settings=settings, api=self.api, functions=self.functions, agora=self.agora,
            bucket=self.media.bucket,
        )  # fmt: skip
        self.agents.grant_events(self.webhooks.processor)
        self.events = Events(
            self, "Events", settings=settings, functions=self.functions, recordings=self.recording.table,
            media=self.media.table, presence=self.webhooks.presence, kicking_rules=self.channels.rules,
            agents=self.agents.table, transcriptions=self.transcriptions.table,
            direct_publishers=(self.projects.function,),
        )  # fmt: skip
        self.api_docs = ApiDocs(self, "ApiDocs", api=self.api, functions=self.functions) if settings.api_docs else None
        watched = Watched(
            functions=dict(self.functions.created), log_groups=dict(self.functions.log_groups),
            agora_callers=("TaskFunction", "ReconcilerFunction", "ApiFunction", "ChannelsFunction", "ProjectsFunction"),
            http_api=self.api.http_api, route_keys=tuple(self.api.route_keys),
            state_machine=self.recording.state_machine, stream_consumer=self.webhooks.processor,
            dead_letter_queues={"WebhookProcessing": self.webhooks.dlq},
            tables={
                "Users": self.tokens.table, "Recordings": self.recording.table, "Inbox": self.webhooks.inbox,
                "Presence": self.webhooks.presence, "Media": self.media.table, "KickingRules": self.channels.rules,
                "RateLimit": self.agora.table, "ProjectsUsage": self.projects.usage,
                "Transcriptions": self.transcriptions.table, "Agents": self.agents.table,
            },
            queues={"PlaylistEvents": self.media.queue},
        )  # fmt: skip
        self.monitoring = Monitoring(
            self, "Monitoring", watched=watched,
            alarms=[self.media.dlq_alarm, *self.recording.workflow.alarms, *self.events.alarms],
            alarm_email=settings.alarm_email, account_concurrency_alarm=settings.account_concurrency_alarm,
        )  # fmt: skip
        self.monitoring.dashboard.add_widgets(*self.events.widgets)
