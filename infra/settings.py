"""Deployment settings: one validated model, read from CDK context first, then the environment.

Every setting has a context key (``cdk deploy -c agoraAppId=...``) and an environment variable
(``AGORA_APP_ID``). Secret *names* are settings; secret *values* never are: they live only in
Secrets Manager.

A bad value or an unknown key is a one-line ``SettingsError`` naming the key and what it accepts
(``app.py`` prints it and exits 2): a misspelled key (``agoraQPS``) must not be silently ignored.
Keys with ``:`` or ``/`` in them belong to the CDK (feature flags, lookups, ``aws:cdk:*``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PLACEHOLDER_APP_ID = "0" * 32

#: field name -> (context key, environment variable)
KEYS: dict[str, tuple[str, str]] = {
    "stack_name": ("stackName", "AGORA_STACK_NAME"),
    "account": ("account", "CDK_DEFAULT_ACCOUNT"),
    "region": ("region", "CDK_DEFAULT_REGION"),
    "agora_app_id": ("agoraAppId", "AGORA_APP_ID"),
    "app_certificate_secret_name": ("appCertificateSecretName", "AGORA_APP_CERTIFICATE_SECRET_NAME"),
    "rest_secret_name": ("restSecretName", "AGORA_REST_SECRET_NAME"),
    "ncs_secret_name": ("ncsSecretName", "AGORA_NCS_SECRET_NAME"),
    "rest_base_urls": ("restBaseUrls", "AGORA_REST_BASE_URLS"),
    "agora_qps": ("agoraQps", "AGORA_QPS"),
    "auth_issuer": ("authIssuer", "AUTH_ISSUER"),
    "auth_audience": ("authAudience", "AUTH_AUDIENCE"),
    "groups_claim": ("groupsClaim", "AUTH_GROUPS_CLAIM"),
    "publisher_group": ("publisherGroup", "AUTH_PUBLISHER_GROUP"),
    "admin_group": ("adminGroup", "AUTH_ADMIN_GROUP"),
    "owners_group": ("ownersGroup", "AUTH_OWNERS_GROUP"),
    "publisher_denied": ("publisherDenied", "AUTH_PUBLISHER_DENIED"),
    "abnormal_leave_action": ("abnormalLeaveAction", "ABNORMAL_LEAVE_ACTION"),
    "token_default_ttl": ("tokenDefaultTtl", "TOKEN_DEFAULT_TTL"),
    "recording_max_hours": ("recordingMaxHours", "RECORDING_MAX_HOURS"),
    "recording_async_stop": ("recordingAsyncStop", "RECORDING_ASYNC_STOP"),
    "log_retention_days": ("logRetentionDays", "LOG_RETENTION_DAYS"),
    "alarm_email": ("alarmEmail", "ALARM_EMAIL"),
    "callback_urls": ("callbackUrls", "AUTH_CALLBACK_URLS"),
    "logout_urls": ("logoutUrls", "AUTH_LOGOUT_URLS"),
    "hosted_ui_domain_prefix": ("hostedUiDomainPrefix", "AUTH_HOSTED_UI_DOMAIN_PREFIX"),
    "tags": ("tags", "AGORA_STACK_TAGS"),
    "dev": ("dev", "AGORA_DEV"),
    "cors_origins": ("corsOrigins", "CORS_ORIGINS"),
    "api_docs": ("apiDocs", "API_DOCS"),
    "fast_aws_client": ("fastAwsClient", "FAST_AWS_CLIENT"),
    "event_archive_days": ("eventArchiveDays", "EVENT_ARCHIVE_DAYS"),
    "event_targets": ("eventTargets", "EVENT_TARGETS"),
    "intake_concurrency": ("intakeConcurrency", "WEBHOOK_INTAKE_CONCURRENCY"),
    "media_max_concurrency": ("mediaMaxConcurrency", "MEDIA_MAX_CONCURRENCY"),
    "media_recheck_window_hours": ("mediaRecheckWindowHours", "MEDIA_RECHECK_WINDOW_HOURS"),
    "account_concurrency_alarm": ("accountConcurrencyAlarm", "ACCOUNT_CONCURRENCY_ALARM"),
    "reconciler_shards": ("reconcilerShards", "RECONCILER_SHARDS"),
    "agora_lane_shares": ("agoraLaneShares", "AGORA_LANE_SHARES"),
    "agora_limiter_shards": ("agoraLimiterShards", "AGORA_LIMITER_SHARDS"),
    # admission control (service.recordings.admission)
    "agora_max_tasks": ("agoraMaxTasks", "AGORA_MAX_TASKS"),
    "admission_queue_cap": ("admissionQueueCap", "ADMISSION_QUEUE_CAP"),
    # Conversational AI agents (infra/constructs/agents.py) and live transcription (infra/constructs/transcriptions.py)
    "agents_profiles": ("agentsProfiles", "AGORA_AGENTS_PROFILES"),
    "agents_group": ("agentsGroup", "AGORA_AGENTS_GROUP"),
    "agents_min_duration_seconds": ("agentsMinDurationSeconds", "AGORA_AGENTS_MIN_DURATION_SECONDS"),
    "agents_max_running": ("agentsMaxRunning", "AGORA_AGENTS_MAX_RUNNING"),
    "transcription_lifetime_seconds": ("transcriptionLifetimeSeconds", "AGORA_TRANSCRIPTION_LIFETIME_SECONDS"),
    "transcription_restart_margin_seconds": (
        "transcriptionRestartMarginSeconds",
        "AGORA_TRANSCRIPTION_RESTART_MARGIN_SECONDS",
    ),
    "transcriptions_max_running": ("transcriptionsMaxRunning", "AGORA_TRANSCRIPTIONS_MAX_RUNNING"),
}

#: Lambda's default account concurrency is 1,000 and 100 of it can never be reserved; the reconciler reserves one per
#: shard (at least 1), so intakeConcurrency + reconcilerShards must stay at or under 900
RESERVABLE_CONCURRENCY = 900
MAX_INTAKE_CONCURRENCY = RESERVABLE_CONCURRENCY - 1

#: what each key accepts, as the one-line error says it
ALLOWED: dict[str, str] = {
    "stack_name": "1-128 letters, digits and hyphens, starting with a letter",
    "account": "a 12-digit AWS account id",
    "region": "an AWS region name such as us-east-1",
    "agora_app_id": "32 hexadecimal characters (Agora console -> project -> App ID)",
    "app_certificate_secret_name": "a Secrets Manager secret name",
    "rest_secret_name": "a Secrets Manager secret name",
    "ncs_secret_name": "a Secrets Manager secret name",
    "rest_base_urls": "comma-separated https:// URLs",
    "agora_qps": "an integer from 1 to 100",
    "auth_issuer": "an https:// OIDC issuer URL (with authAudience)",
    "auth_audience": "the audience (client id) the issuer puts in tokens (with authIssuer)",
    "groups_claim": "a JWT claim name",
    "publisher_group": "a group name",
    "admin_group": "a group name",
    "owners_group": "a group name",
    "publisher_denied": "one of forbid, downgrade",
    "abnormal_leave_action": "one of none, kick",
    "token_default_ttl": "an integer from 1 to 86400 (seconds)",
    "recording_max_hours": "an integer from 1 to 24",
    "recording_async_stop": "true or false",
    "log_retention_days": "one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653",
    "alarm_email": "an e-mail address",
    "callback_urls": "comma-separated https:// URLs (http://localhost allowed)",
    "logout_urls": "comma-separated https:// URLs (http://localhost allowed)",
    "hosted_ui_domain_prefix": "3-63 lower-case letters, digits and hyphens (no 'aws', 'amazon' or 'cognito')",
    "tags": 'key=value pairs separated by commas, or a JSON object {"key": "value"}',
    "dev": "true or false",
    "api_docs": "true or false (serve GET /openapi.json and Swagger UI at GET /docs, without sign-in)",
    "fast_aws_client": "true or false (DynamoDB, Secrets Manager, Step Functions and S3 reads without botocore)",
    "event_archive_days": "an integer from 0 to 3650 (days the event archive keeps events; 0: forever)",
    "event_targets": (
        'a JSON list of subscribers: {"type": "sqs", "arn": ...}, {"type": "lambda", "arn": ...} or '
        '{"type": "https", "url": "https://...", "apiKeySecretName": ..., "apiKeyHeader": ...}, each with an '
        'optional "name" and "detailTypes" (docs/events.md)'
    ),
    "intake_concurrency": (
        f"an integer from 1 to {MAX_INTAKE_CONCURRENCY} (reserved concurrency of the webhook intake; at the default "
        "account quota of 1,000 Lambda keeps 100 unreserved and the reconciler reserves 1)"
    ),
    "media_max_concurrency": "an integer from 2 to 1000 (MaximumConcurrency of the media queue's event source)",
    "media_recheck_window_hours": (
        "a number of hours above 0, at most 96 (how long a recording found incomplete is checked again, "
        "docs/playback-and-integrity.md)"
    ),
    "account_concurrency_alarm": "an integer from 1 to 100000 (account ConcurrentExecutions that raises an alarm)",
    "reconciler_shards": (
        "an integer from 1 to 64 (reconciler invocations per 5-minute run, each with its part of the recordings; "
        "the default 16 covers 10,000 recordings, docs/scale.md)"
    ),
    "agora_lane_shares": (
        "comma-separated lane=share pairs, lanes interactive, stop, start, reconcile, shares in (0, 1] not "
        "increasing in that order, such as interactive=1,stop=0.5,start=0.25,reconcile=0.125"
    ),
    "agora_limiter_shards": "an integer from 1 to 64 (DynamoDB items the Agora rate limit is split over)",
    "agora_max_tasks": "an integer from 1 to 100000 (Agora's concurrent-task limit for the App ID; 50 by default)",
    "admission_queue_cap": "an integer from 0 to 1000000 (recordings QUEUED at once before POST /recordings is 429)",
    "agents_group": "a group name ('' or unset: admins only)",
    "agents_min_duration_seconds": "an integer from 1 to 3600 (the shortest maxDurationSeconds a start may ask)",
    "agents_max_running": (
        "an integer from 1 to 10000 (agents active at once in the stack; past it POST /agents is 429)"
    ),
    "transcription_lifetime_seconds": (
        "an integer from 10 to 259200 (seconds one Real-Time STT task lives: Agora's 72 hours; smaller only in tests)"
    ),
    "transcription_restart_margin_seconds": (
        "an integer from 1 to 86400, below transcriptionLifetimeSeconds (how long before a task's end the next joins)"
    ),
    "transcriptions_max_running": (
        "an integer from 1 to 10000 (transcriptions active at once in the stack; past it POST /transcriptions is 429)"
    ),
    "cors_origins": (
        "comma-separated browser origins, scheme://host[:port] with no path, such as https://app.example.com "
        "('*' is refused)"
    ),
}
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
DEFAULT_CALLBACK_URL = "http://localhost:3000/auth/callback"
DEFAULT_LOGOUT_URL = "http://localhost:3000/"


class SettingsError(ValueError):
    """A configuration mistake, said in one line: the key, the value, what the key accepts."""


#: an origin as browsers send it: scheme, host, optional port; no path, no trailing slash
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class EventTarget(BaseModel):
    """One subscriber of the events bus (``-c eventTargets='[...]'``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: Literal["sqs", "lambda", "https"]
    name: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9]{0,39}$")
    arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:(sqs|lambda):[a-z0-9-]+:\d{12}:\S+$")
    url: str | None = Field(default=None, pattern=r"^https://[^\s]+$")
    api_key_secret_name: str | None = Field(default=None, alias="apiKeySecretName")
    api_key_header: str = Field(default="x-api-key", alias="apiKeyHeader", pattern=r"^[A-Za-z0-9-]{1,64}$")
    rate_per_second: int = Field(default=10, alias="ratePerSecond", ge=1, le=300)
    detail_types: list[str] = Field(default_factory=list, alias="detailTypes")

    @model_validator(mode="after")
    def _fields_of_type(self) -> EventTarget:
        if self.type == "https":
            if not self.url or not self.api_key_secret_name:
                raise ValueError("an https event target needs url and apiKeySecretName")
        elif not self.arn or f":{self.type}:" not in self.arn:
            raise ValueError(f"an {self.type} event target needs the {self.type} arn")
        return self


class StackSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack_name: str = "AgoraServerless"
    account: str | None = None
    region: str = "us-east-1"
    agora_app_id: str = PLACEHOLDER_APP_ID
    app_certificate_secret_name: str = "agora-serverless/app-certificate"  # noqa: S105 - a name, not a value
    rest_secret_name: str = "agora-serverless/rest-credentials"  # noqa: S105 - a name, not a value
    ncs_secret_name: str = "agora-serverless/ncs-secrets"  # noqa: S105 - a name, not a value
    rest_base_urls: list[str] = Field(default_factory=list)
    agora_qps: int = Field(default=10, ge=1, le=100)
    auth_issuer: str | None = None
    auth_audience: str | None = None
    groups_claim: str = "cognito:groups"
    publisher_group: str = "hosts"
    admin_group: str = "admins"
    owners_group: str = "owners"  # project management and App Certificate rotation
    publisher_denied: Literal["forbid", "downgrade"] = "forbid"
    #: leave reason 999 (abnormal user): nothing, or a one-time kick by the webhook processor (Agora's advice)
    abnormal_leave_action: Literal["none", "kick"] = "none"
    token_default_ttl: int = Field(default=3600, ge=1, le=86400)
    recording_max_hours: int = Field(default=4, ge=1, le=24)
    recording_async_stop: bool = True
    log_retention_days: int = 30
    alarm_email: str | None = None
    callback_urls: list[str] = Field(default_factory=lambda: [DEFAULT_CALLBACK_URL])
    logout_urls: list[str] = Field(default_factory=lambda: [DEFAULT_LOGOUT_URL])
    hosted_ui_domain_prefix: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    #: development stacks: every table and bucket is destroyed with the stack (default: retained)
    dev: bool = False
    #: the deployed API serves its OpenAPI document and Swagger UI (public routes; off by default)
    api_docs: bool = False
    #: hot-path AWS calls through awsfast instead of botocore (cold start; docs/decisions.md)
    fast_aws_client: bool = True
    #: how long the events bus's archive keeps events for replay (0: forever)
    event_archive_days: int = Field(default=30, ge=0, le=3650)
    #: subscribers of the events bus: one rule, target and DLQ each (docs/events.md)
    event_targets: list[EventTarget] = Field(default_factory=list)

    @field_validator("event_targets", mode="before")
    @classmethod
    def _event_targets(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = json.loads(v) if v.strip() else []
        if isinstance(v, list):
            names = [t.get("name") for t in v if isinstance(t, dict) and t.get("name")]
            if len(names) != len(set(names)):
                raise ValueError("event target names must be unique")
        return v

    #: reserved concurrency of the webhook intake: a burst of NCS notices cannot take the account's concurrency
    #: (Agora retries a throttled notice: 3 times, within its 10 s answer window each)
    intake_concurrency: int = Field(default=50, ge=1, le=MAX_INTAKE_CONCURRENCY)
    #: MaximumConcurrency of the media queue's SQS event source (a backlog waits in the queue, 4 days' retention)
    media_max_concurrency: int = Field(default=20, ge=2, le=1000)
    #: a recording found incomplete is checked again (delayed messages on the media queue, backoff to 15 min) until
    #: this long after the first finding; at most 96 h: the queue keeps a message 4 days
    media_recheck_window_hours: float = Field(default=24.0, gt=0, le=96)
    #: alarm when the account's ConcurrentExecutions reaches this (80% of the default quota of 1,000)
    account_concurrency_alarm: int = Field(default=800, ge=1, le=100_000)
    #: the reconciler's fan-out: this many invocations per run, each with its shard of the recordings, its own
    #: 4-minute budget and one reserved concurrency (docs/scale.md, "The reconciler")
    reconciler_shards: int = Field(default=16, ge=1, le=64)
    #: each limiter lane's share of the queue (agorakit.agora.ratelimit.Lanes); empty: the defaults
    agora_lane_shares: str = ""
    #: DynamoDB items the account's Agora rate limit is split over (each at qps / N); 1 up to a few hundred QPS
    agora_limiter_shards: int = Field(default=1, ge=1, le=64)

    @field_validator("agora_lane_shares")
    @classmethod
    def _lane_shares(cls, v: str) -> str:
        from agorakit.agora.ratelimit import Lanes

        Lanes.parse(v)  # raises ValueError with the reason
        return v.replace(" ", "")

    @model_validator(mode="after")
    def _reserved_concurrency(self) -> StackSettings:
        if self.intake_concurrency + self.reconciler_shards > RESERVABLE_CONCURRENCY:
            raise ValueError(
                f"intakeConcurrency ({self.intake_concurrency}) + reconcilerShards ({self.reconciler_shards}) "
                f"reserve more than the {RESERVABLE_CONCURRENCY} a default account can reserve"
            )
        return self

    #: Agora's concurrent-task limit (PCW) of the App ID: recordings past it are QUEUED and start as slots free
    agora_max_tasks: int = Field(default=50, ge=1, le=100_000)
    #: the most recordings QUEUED at once; past it POST /recordings answers 429 with Retry-After
    admission_queue_cap: int = Field(default=1000, ge=0, le=1_000_000)

    #: Conversational AI profiles (JSON object; None: the construct's one ``assistant`` profile)
    agents_profiles: dict[str, Any] | None = None
    #: a group allowed ``/agents*`` besides the admins ("": admins only)
    agents_group: str = ""
    #: the shortest ``maxDurationSeconds`` a start may ask (None: the function's 60; scaled down by workflow tests)
    agents_min_duration_seconds: int | None = Field(default=None, ge=1, le=3600)
    #: the most agents active at once in the stack; past it ``POST /agents`` is 429 (docs/agents.md, Running cap)
    agents_max_running: int = Field(default=20, ge=1, le=10_000)
    #: one Real-Time STT task's lifetime (Agora's 72 hours) and how long before its end the next agent joins
    transcription_lifetime_seconds: int = Field(default=259_200, ge=10, le=259_200)
    transcription_restart_margin_seconds: int = Field(default=600, ge=1, le=86_400)
    #: the most transcriptions active at once; past it ``POST /transcriptions`` is 429 (docs/transcriptions.md)
    transcriptions_max_running: int = Field(default=50, ge=1, le=10_000)

    @field_validator("agents_profiles", mode="before")
    @classmethod
    def _agents_profiles(cls, v: Any) -> Any:
        """Checked as the agent functions will read them (``service.agents.profiles``): a wrong profile is refused
        at synth, with its reason, not at an agent's first start. (No ALLOWED entry: the reason is the message.)"""
        from service.agents.profiles import parse_profiles

        text = v if isinstance(v, str) else json.dumps(v)
        if isinstance(v, str) and not v.strip():
            return None
        try:
            profiles = parse_profiles(text)
        except ValueError as exc:
            raise ValueError(f"agentsProfiles: {str(exc).replace('AGENTS_PROFILES', 'the document')}") from None
        if not profiles:
            raise ValueError("agentsProfiles: at least one profile (or leave it unset for the default 'assistant')")
        return json.loads(text)

    @model_validator(mode="after")
    def _restart_before_the_end(self) -> StackSettings:
        if self.transcription_restart_margin_seconds >= self.transcription_lifetime_seconds:
            raise ValueError(
                f"transcriptionRestartMarginSeconds ({self.transcription_restart_margin_seconds}) must be below "
                f"transcriptionLifetimeSeconds ({self.transcription_lifetime_seconds}): the next agent joins that "
                "long before a task's end"
            )
        return self

    @field_validator("stack_name")
    @classmethod
    def _stack_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", v):
            raise ValueError("not a CloudFormation stack name")
        return v

    @field_validator("account")
    @classmethod
    def _account(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d{12}", v):
            raise ValueError("not an account id")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", v):
            raise ValueError("not a region name")
        return v

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError("not a CloudWatch Logs retention period")
        return v

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("not an e-mail address")
        return v

    @field_validator("callback_urls", "logout_urls", mode="before")
    @classmethod
    def _url_list(cls, v: Any) -> Any:
        urls = [u.strip() for u in v.split(",") if u.strip()] if isinstance(v, str) else v
        if isinstance(urls, list):
            for url in urls:
                if not isinstance(url, str) or not re.match(r"(https://|http://localhost[:/])", url + "/"):
                    raise ValueError(f"{url!r} is not https:// (or http://localhost)")
            if not urls:
                raise ValueError("at least one URL")
        return urls

    @field_validator("hosted_ui_domain_prefix")
    @classmethod
    def _domain_prefix(cls, v: str | None) -> str | None:
        if v is not None and (
            not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])", v) or re.search("aws|amazon|cognito", v)
        ):
            raise ValueError("not a Cognito domain prefix")
        return v

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> Any:
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("{"):
                v = json.loads(text)
            else:
                pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
                if any(len(p) != 2 or not p[0].strip() for p in pairs):
                    raise ValueError("not key=value pairs")
                v = {k.strip(): val.strip() for k, val in pairs}
        if isinstance(v, dict):
            for key, value in v.items():
                if not isinstance(value, str) or not 1 <= len(str(key)) <= 128 or len(value) > 256:
                    raise ValueError("tag keys are 1-128 characters, values strings of at most 256")
                if str(key).lower().startswith("aws:"):
                    raise ValueError("the aws: tag prefix is reserved")
        return v

    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("agora_app_id")
    @classmethod
    def _app_id(cls, v: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{32}", v):
            raise ValueError("agoraAppId must be 32 hexadecimal characters (Agora console -> project -> App ID)")
        return v

    @field_validator("rest_base_urls", mode="before")
    @classmethod
    def _urls(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v: Any) -> Any:
        items = [o.strip() for o in v.split(",")] if isinstance(v, str) else list(v or [])
        origins = [str(o).strip() for o in items if str(o).strip()]
        for origin in origins:
            if origin == "*":
                raise ValueError(
                    "corsOrigins '*' is refused: name each web app origin (e.g. https://app.example.com); "
                    "a wildcard would let any site call the API with a user's token"
                )
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"corsOrigins: {origin!r} is not an origin: scheme://host[:port], no path or trailing slash "
                    "(e.g. https://app.example.com or http://127.0.0.1:8081)"
                )
        return origins

    @model_validator(mode="after")
    def _issuer_and_audience(self) -> StackSettings:
        if bool(self.auth_issuer) != bool(self.auth_audience):
            raise ValueError("authIssuer and authAudience go together: set both (external issuer) or neither (Cognito)")
        return self

    @property
    def uses_cognito(self) -> bool:
        return not self.auth_issuer

    @property
    def uses_placeholder_app_id(self) -> bool:
        return self.agora_app_id == PLACEHOLDER_APP_ID

    @property
    def uses_default_callback_urls(self) -> bool:
        return self.callback_urls == [DEFAULT_CALLBACK_URL]

    @classmethod
    def load(
        cls,
        get_context: Callable[[str], Any],
        environ: Mapping[str, str] | None = None,
        *,
        context_keys: Iterable[str] = (),
        extra_keys: Iterable[str] = (),
    ) -> StackSettings:
        """Validate the settings; ``context_keys`` (every key given) are checked against the known keys plus
        ``extra_keys`` (read elsewhere, e.g. the recording tuning keys)."""
        check_keys(context_keys, extra_keys)
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for field, (ctx_key, env_key) in KEYS.items():
            value = get_context(ctx_key)
            sources[field] = ctx_key
            if value is None or value == "":
                value = env.get(env_key) or None
                sources[field] = env_key
            if value is not None:
                values[field] = value
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_one_line(exc, values, sources)) from None


def is_cdk_key(key: str) -> bool:
    """Feature flags (``@aws-cdk/...``), ``aws:cdk:*``, lookups cache entries: the CDK's, not ours."""
    return ":" in key or "/" in key or key.startswith("@") or key in {"acknowledged-issue-numbers"}


def check_keys(context_keys: Iterable[str], extra_keys: Iterable[str] = ()) -> None:
    known = {ctx for ctx, _ in KEYS.values()} | set(extra_keys)
    for key in context_keys:
        if key in known or is_cdk_key(key):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or [k for k in known if k.lower() == key.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SettingsError(f"unknown context key {key!r}{hint}; known keys: {', '.join(sorted(known))}")


def _one_line(exc: ValidationError, values: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    if field in ALLOWED:
        return f"{sources.get(field, field)}={values.get(field)!r} is not allowed: expected {ALLOWED[field]}"
    return str(error["msg"]).removeprefix("Value error, ")
