"""Media: the recordings bucket Agora uploads to, its m3u8 notifications, and exact durations in the MediaTable.

- RecordingsBucket: private (public access blocked), SSE-S3, TLS enforced, server access logs to a
  separate bucket, lifecycle (recordings to Infrequent Access after 30 days, incomplete multipart uploads
  aborted after 7 days, noncurrent versions expired should versioning ever be enabled). Versioning stays
  off: Agora rewrites each playlist every few seconds, and every rewrite would be kept as a version.
  SSE-S3 rather than KMS: Agora's uploader would otherwise need the key policy too (doc section 2).
- ObjectCreated of ``recordings/**.m3u8`` only -> SQS (SSE, TLS only, DLQ after 5 receives) -> the media
  function (partial batch failures reported), which writes per-file and per-sid results to the MediaTable and
  checks that a finished recording's segments are all in the bucket (integrity). Segments (``.ts``) are not
  notified: a recording found incomplete is checked again by a delayed message the function sends to the same
  queue (``sqs:SendMessage`` on it, nothing else), with backoff for up to ``mediaRecheckWindowHours``.
- The uploader: an IAM user that can only ``s3:PutObject`` under ``recordings/`` (all Agora documents it
  needs), its access key in a Secrets Manager secret as ``{"access_key", "secret_key"}`` (what the
  recording workflow reads); the secret key is a CloudFormation reference, never template text.
"""

from __future__ import annotations

from aws_cdk import Duration, SecretValue, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.function_factory import FunctionFactory
from infra.nag import acknowledge
from infra.outputs import output
from infra.retention import data_removal_policy
from infra.settings import StackSettings

RECORDINGS_PREFIX = "recordings/"
#: a transcription without a recording (service.transcriptions.captions.TRANSCRIPTS_FOLDER)
TRANSCRIPTS_PREFIX = "transcripts/"
#: where Agora's uploader may write: recordings (and the transcriptions beside them), transcriptions alone
UPLOADER_PREFIXES = (RECORDINGS_PREFIX, TRANSCRIPTS_PREFIX)
PLAYLIST_SUFFIX = ".m3u8"
FUNCTION_TIMEOUT = Duration.seconds(60)
MAX_RECEIVE_COUNT = 5
#: what service.media.repository does with the table (no Scan, no Delete)
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
#: CDK's singleton Lambda behind every bucket notification of a stack
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


def recordings_cors(origins: list[str]) -> list[s3.CorsRule] | None:
    """GET/HEAD of the presigned segment URLs from the web app's origins (``corsOrigins``); none: no CORS."""
    if not origins:
        return None
    return [
        s3.CorsRule(
            allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.HEAD],
            allowed_origins=list(origins),
            allowed_headers=["range"],
            max_age=3600,
        )
    ]


class Media(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        functions: FunctionFactory,
    ):
        super().__init__(scope, construct_id)
        self.settings = settings
        # Access logs delivered under a bucket policy (the logging service principal), not the legacy
        # LogDeliveryWrite ACL, so both buckets keep ACLs disabled (BucketOwnerEnforced).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.access_logs = self._access_log_bucket()
        self.bucket = self._recordings_bucket(self.access_logs)
        self.table = dynamodb.TableV2(
            self,
            "MediaTable",
            partition_key=dynamodb.Attribute(name="sid", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="key", type=dynamodb.AttributeType.STRING),
            # the events publisher reads every change (infra/constructs/events.py)
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            billing=dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # durations can be recomputed from the bucket, but the API shows them: keep them
            removal_policy=data_removal_policy(settings),
            deletion_protection=not settings.dev,
        )

        # -- S3 -> SQS ----------------------------------------------------------------------
        self.dlq = sqs.Queue(
            self,
            "PlaylistEventsDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "PlaylistEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS's advice for Lambda sources: at least six times the function's timeout
            visibility_timeout=Duration.seconds(6 * FUNCTION_TIMEOUT.to_seconds()),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(self.queue),
            s3.NotificationKeyFilter(prefix=RECORDINGS_PREFIX, suffix=PLAYLIST_SUFFIX),
        )
        # Segments are not notified (half the queue's messages at 15 s slices): a late upload (Agora's backup
        # after event 32) is found by the function's own delayed re-checks (service.media.integrity).
        self._acknowledge_notifications_handler()

        # -- the function -----------------------------------------------------------------
        self.function = functions.create(
            self,
            "MediaFunction",
            handler="service.media.handler.handler",
            description="Exact durations of Agora's m3u8 playlists (S3 -> SQS) into the MediaTable",
            service_name="media",
            memory_size=512,
            timeout=FUNCTION_TIMEOUT,
            environment={
                "MEDIA_TABLE": self.table.table_name,
                "RECORDINGS_PREFIX": RECORDINGS_PREFIX,
                "MEDIA_QUEUE_URL": self.queue.queue_url,
                "RECHECK_WINDOW_HOURS": str(settings.media_recheck_window_hours),
            },
        )
        self.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=10,
                # Agora rewrites a playlist every few seconds: a short window lets one batch carry
                # several rewrites of a key, of which only the newest is read.
                max_batching_window=Duration.seconds(5),
                report_batch_item_failures=True,
                # at most this many batches at once: a backlog waits in the queue (4 days) instead of taking
                # up to 1,000 of the account's concurrency (mediaMaxConcurrency)
                max_concurrency=settings.media_max_concurrency,
            )
        )
        self.table.grant(self.function, *TABLE_ACTIONS)
        # re-checks of incomplete recordings: delayed messages to its own queue (SSE-SQS: no KMS grant)
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects(f"{RECORDINGS_PREFIX}*")]
            )
        )
        # Without ListBucket, S3 answers a missing key with 403 AccessDenied, not 404 NoSuchKey: the
        # "playlist gone" branch would never run and the message would end in the DLQ (moto does not
        # model this). Limited to the recordings/ prefix.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{RECORDINGS_PREFIX}*"]}},
            )
        )  # fmt: skip
        assert self.function.role is not None
        acknowledge(
            self.function.role,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.bucket)}.Arn>/{RECORDINGS_PREFIX}*]",
            "The function reads the playlists Agora writes under recordings/; their names (sid, channel, "
            "uid) are only known when the event arrives, so the object ARN can only be the prefix.",
        )

        # -- Agora's uploader -------------------------------------------------------------
        self.uploader = iam.User(self, "UploaderUser")
        self.uploader.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{prefix}*") for prefix in UPLOADER_PREFIXES],
            )
        )
        acknowledge(
            self.uploader,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.bucket)}.Arn>/{RECORDINGS_PREFIX}*]",
            "Agora Cloud Recording writes objects named after each session (fileNamePrefix/sid_channel...) "
            "under recordings/; PutObject on that prefix is the narrowest grant that lets it upload.",
        )
        acknowledge(
            self.uploader,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.bucket)}.Arn>/{TRANSCRIPTS_PREFIX}*]",
            "Agora Real-Time STT writes a transcription's files (agent_channel_lang.vtt, the transcript JSON) "
            "under transcripts/<channel>/<id>/ when no recording goes with it; the names are Agora's.",
        )
        access_key = iam.AccessKey(self, "UploaderAccessKey", user=self.uploader)
        self.uploader_secret = secretsmanager.Secret(
            self,
            "UploaderSecret",
            # an explicit name: the recording workflow reads it by name (RECORDING_UPLOADER_SECRET_NAME)
            secret_name=f"{settings.stack_name}/recording-uploader",
            description="Access key of the IAM user Agora Cloud Recording uploads to the recordings bucket with",
            secret_object_value={
                "access_key": SecretValue.unsafe_plain_text(access_key.access_key_id),  # an id, not a secret
                "secret_key": access_key.secret_access_key,
            },
        )
        output(self, "RecordingsBucketName", self.bucket.bucket_name, "Bucket Agora Cloud Recording uploads to")
        output(
            self, "UploaderSecretName", self.uploader_secret.secret_name,
            "Secrets Manager secret with the access key Agora uploads with (read it, never log it)",
        )  # fmt: skip
        acknowledge(
            self.uploader_secret,
            "AwsSolutions-SMG4",
            "The value is an IAM access key, which Secrets Manager cannot rotate without a custom rotation "
            "function; running recordings keep the key they started with. Rotate by replacing the "
            "UploaderAccessKey resource (a new key and secret value) once no recording uses the old one.",
        )

        # -- alarm: playlists whose events keep failing (throttling, outages) -----------------
        self.dlq_alarm = cloudwatch.Alarm(
            self,
            "PlaylistEventsDlqAlarm",
            metric=self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="m3u8 events failed 5 times (see the media function's logs); redrive the DLQ once fixed",
        )

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(365)),
                s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
            removal_policy=data_removal_policy(self.settings),
            auto_delete_objects=self.settings.dev,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This bucket is the destination of the recordings bucket's server access logs; logging its own "
            "access would need a third bucket, and logging into itself would log every log delivery.",
        )
        return bucket

    def _recordings_bucket(self, access_logs: s3.IBucket) -> s3.Bucket:
        return s3.Bucket(
            self,
            "RecordingsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="recordings-bucket/",
            # a web app on an allowed origin plays the presigned playlist's segments (hls.js fetches them)
            cors=recordings_cors(self.settings.cors_origins),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="RecordingsToInfrequentAccess",
                    prefix=RECORDINGS_PREFIX,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)
                        )
                    ],
                ),
                s3.LifecycleRule(id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)),
                s3.LifecycleRule(id="ExpireNoncurrentVersions", noncurrent_version_expiration=Duration.days(7)),
            ],
            removal_policy=data_removal_policy(self.settings),
            auto_delete_objects=self.settings.dev,
        )

    def _acknowledge_notifications_handler(self) -> None:
        """Findings on CDK's own notifications Lambda (one per stack, created by add_event_notification)."""
        handler = Stack.of(self).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        if handler is None:
            return
        acknowledge(
            handler,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketNotificationsHandler (a deploy-time custom resource that sets the bucket's "
            "notification configuration) only writes its own logs with this AWS managed policy.",
        )

    @staticmethod
    def _logical_id(construct: Construct) -> str:
        child = construct.node.default_child
        assert child is not None
        return Stack.of(construct).get_logical_id(child)  # type: ignore[arg-type]
