"""Cloud recording: the RecordingsTable, the workflow (``recording_workflow``), its task function, the
reconciler on a schedule, and the ``/recordings*`` API routes.

Least privilege: the state machine can invoke only the task function; the API function can start
executions of this state machine only; every function gets exactly the table actions it uses.
"""

from __future__ import annotations

from aws_cdk import Annotations, ArnFormat, Duration, Stack, Token
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from service.recordings import logic

from infra.constructs.agora_access import AgoraAccess
from infra.constructs.api import Api
from infra.constructs.function_factory import FunctionFactory, retention
from infra.constructs.media import RECORDINGS_PREFIX
from infra.constructs.recording_workflow import SERVICE_NAME, RecordingTuning, RecordingWorkflow
from infra.grants import grant_secret_value, grant_task_success
from infra.nag import acknowledge
from infra.outputs import output
from infra.retention import data_removal_policy
from infra.settings import StackSettings

#: what the recording code does with its table (no Scan, no BatchWrite)
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)
#: the listings (the reconciler's, the API's) read the rows behind the keys-only indexes
LISTING_ACTIONS = (*TABLE_ACTIONS, "dynamodb:BatchGetItem")
EVENT_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query")
#: EventBridge allows 5 targets per rule: the reconciler's shards are spread over ceil(shards / 5) rules
TARGETS_PER_RULE = 5
#: the recorder token's certificate version is confirmed at every start (one DescribeSecret; starts are rare)
RECORDER_CERTIFICATE_CHECK_SECONDS = 0
#: what RecordingsRepository.by_sid reads from the bySid index (then it reads the row itself)
BY_SID_ATTRIBUTES = ("recordingId",)
RECONCILER_MAX_EVENT_AGE_SECONDS = 60
#: Agora tokens live at most 24 hours; the recorder's token is minted for the wait's timeout plus the margin
#: (both from the domain: ``service.recordings.logic``), so the wait must end that much earlier.
MAX_TOKEN_SECONDS = logic.MAX_TOKEN_SECONDS
TOKEN_MARGIN_SECONDS = logic.TOKEN_MARGIN_SECONDS


def max_recording_seconds(max_hours: int) -> int:
    """The wait's timeout for ``recordingMaxHours``: at 24 h it is 23 h 45 min, so the recorder's token
    (at most 24 h) still outlives the recording by the margin."""
    return min(max_hours * 3600, MAX_TOKEN_SECONDS - TOKEN_MARGIN_SECONDS)


class Recording(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: FunctionFactory,
        agora: AgoraAccess,
        bucket: s3.IBucket | None = None,
        uploader_secret: secretsmanager.ISecret | None = None,
        media_table: dynamodb.ITableV2 | None = None,
        tuning: RecordingTuning | None = None,
    ):
        super().__init__(scope, construct_id)
        self.settings = settings
        self.tuning = tuning or RecordingTuning.from_context(self)
        max_duration = self.tuning.max_duration_seconds or max_recording_seconds(settings.recording_max_hours)
        self.table = self._table()
        certificate = secretsmanager.Secret.from_secret_name_v2(
            self, "AppCertificate", settings.app_certificate_secret_name
        )
        env = {
            "RECORDINGS_TABLE": self.table.table_name,
            "GROUPS_CLAIM": settings.groups_claim,
            "ADMIN_GROUP": settings.admin_group,
            "RECORDING_MAX_HOURS": str(settings.recording_max_hours),
            "RECORDING_MAX_DURATION_SECONDS": str(max_duration),
            "RECORDING_ASYNC_STOP": "true" if settings.recording_async_stop else "false",
            "RECORDING_RESOURCE_MAX_AGE_SECONDS": str(self.tuning.resource_max_age_seconds),
            "RECORDING_AGORA_MAX_ATTEMPTS": str(self.tuning.agora_max_attempts),
            "RECORDING_HA_GRACE_SECONDS": str(self.tuning.ha_grace_seconds),
            "RECORDING_STALE_SECONDS": str(self.tuning.stale_seconds),
            "RECORDING_RESOLVE_SECONDS": str(self.tuning.resolve_seconds),
            "RECORDING_RESOLVE_POLL_SECONDS": str(self.tuning.resolve_poll_seconds),
            "RECORDING_THROTTLE_MAX_SECONDS": str(self.tuning.throttle_max_seconds),
            "RECORDER_CERTIFICATE_CHECK_SECONDS": str(RECORDER_CERTIFICATE_CHECK_SECONDS),
            # admission control: the API queues past the task limit; finalize, fail and the reconciler admit
            "AGORA_MAX_TASKS": str(settings.agora_max_tasks),
            "ADMISSION_QUEUE_CAP": str(settings.admission_queue_cap),
        }
        if bucket is not None:
            env["RECORDINGS_BUCKET"] = bucket.bucket_name
            env["RECORDINGS_BUCKET_REGION"] = Stack.of(self).region
        if uploader_secret is not None:
            env["RECORDING_UPLOADER_SECRET_NAME"] = uploader_secret.secret_name
        if media_table is not None:
            env["MEDIA_TABLE"] = media_table.table_name
        if bucket is None or uploader_secret is None:
            Annotations.of(self).add_warning_v2(
                "agora-serverless:recording-storage",
                "Recording has no bucket/uploader secret yet: starts will fail until the media construct is wired",
            )

        # -- the workflow and its task function ---------------------------------------------
        self.task_function = functions.create(
            self, "TaskFunction", handler="service.recordings.workflow_tasks_handler.handler",
            description="Recording workflow steps: acquire, start, resolve, wait, stop, finalize, fail",
            service_name=SERVICE_NAME, memory_size=512, timeout=Duration.seconds(60), environment=env,
        )  # fmt: skip
        self.workflow = RecordingWorkflow(
            self, "Workflow", task_function=self.task_function, tuning=self.tuning, max_duration_seconds=max_duration,
            log_retention=retention(settings.log_retention_days),
        )  # fmt: skip
        self.state_machine = self.workflow.state_machine
        acknowledge(
            self.state_machine,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.task_function)}.Arn>:*]",
            "The state machine invokes only the recording task function; ':*' covers that same function's "
            "versions and aliases (CDK's LambdaInvoke grant), no other function.",
        )
        self._grant_table(self.task_function, TABLE_ACTIONS)
        agora.grant(self.task_function)
        grant_secret_value(self.task_function, certificate, describe=True)
        if uploader_secret is not None:
            grant_secret_value(self.task_function, uploader_secret)
        # A separate policy: the function's default policy may not reference the state machine, which
        # references the function (a dependency cycle). StartExecution: finalize and fail start the next QUEUED
        # recording's execution when they give a task slot back (service.recordings.admission).
        iam.Policy(
            self, "TaskCallbackPolicy", roles=[self.task_function.role] if self.task_function.role else [],
            statements=[iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:StartExecution"],
                                            resources=[self.state_machine.state_machine_arn])],
        )  # fmt: skip

        # -- the reconciler -----------------------------------------------------------------
        # Fan-out: every 5 minutes, one invocation per shard ({"shard": i, "shards": n}, see
        # service.recordings.reconciler_handler.shard_of), each with its part of the rows, its own 4-minute
        # budget and the limiter's reconcile lane. One reserved concurrency per shard: the shards run side by
        # side, a shard never overlaps itself (its 4-minute timeout ends before its next 5-minute run).
        self.reconciler = functions.create(
            self, "ReconcilerFunction", handler="service.recordings.reconciler_handler.handler",
            description=f"Every 5 minutes, {settings.reconciler_shards} shard(s): completes recordings whose "
            "recorder exited unseen",
            service_name=SERVICE_NAME, timeout=Duration.minutes(4), environment=env,
            # No retry of a failed run (the next scheduled run repairs the same recordings), and an invocation
            # that could not start within a minute is dropped rather than run late.
            reserved_concurrent_executions=settings.reconciler_shards,
            retry_attempts=0, max_event_age=Duration.seconds(RECONCILER_MAX_EVENT_AGE_SECONDS),
        )  # fmt: skip
        self._grant_table(self.reconciler, LISTING_ACTIONS)
        agora.grant(self.reconciler)
        # StartExecution: the admission queue's safety net (its pump) starts the next QUEUED recordings
        grant_task_success(self.reconciler, self.state_machine, start=True)
        stack = Stack.of(self)
        executions = stack.format_arn(
            service="states", resource="execution", resource_name=f"{self.workflow.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )  # fmt: skip
        self.reconciler.add_to_role_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
        )
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        partition = "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition
        acknowledge(
            self.reconciler.role,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::arn:{partition}:states:{region}:<AWS::AccountId>:execution:"
            f"{self.workflow.state_machine_name}:*]",
            "DescribeExecution on this state machine's executions only (execution names are recording ids, "
            "unknown in advance); the reconciler repairs recordings whose execution ended early.",
        )
        self.schedules = self._reconciler_schedules(settings.reconciler_shards)
        output(
            self, "StateMachineArn", self.state_machine.state_machine_arn,
            "Recording workflow (one execution per recording, named by the recording id)",
        )  # fmt: skip

        # -- the API ------------------------------------------------------------------------
        self.api_function = functions.create(
            self, "ApiFunction", handler="service.recordings.api_handler.handler",
            description="/recordings API: start, list, read, stop, update and layout recordings",
            service_name=SERVICE_NAME, memory_size=512, timeout=Duration.seconds(29),  # HTTP API waits 30 s
            environment={**env, "RECORDING_STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
        )  # fmt: skip
        self._grant_table(self.api_function, LISTING_ACTIONS)
        agora.grant(self.api_function)
        grant_task_success(self.api_function, self.state_machine, start=True)
        if media_table is not None:
            media_table.grant(self.api_function, "dynamodb:GetItem", "dynamodb:Query")
        get, post = apigw.HttpMethod.GET, apigw.HttpMethod.POST
        api.add_route("/recordings", [get, post], self.api_function)
        api.add_route("/recordings/{id}", [get], self.api_function)
        for action in ("stop", "update", "layout"):
            api.add_route(f"/recordings/{{id}}/{action}", [post], self.api_function)
        self._playback(api, bucket)

    def _playback(self, api: Api, bucket: s3.IBucket | None) -> None:
        """GET /recordings/{id}/playlist lists the recording's folder, reads its playlist and presigns
        GetObject URLs for the segments; GET /recordings/{id}/snapshots lists its JPGs and presigns them
        (a presigned URL carries the signer's permissions)."""
        if bucket is None:
            return
        api.add_route("/recordings/{id}/playlist", [apigw.HttpMethod.GET], self.api_function)
        api.add_route("/recordings/{id}/snapshots", [apigw.HttpMethod.GET], self.api_function)
        # live transcription's WebVTT tracks and transcripts in the recording's folder (service.transcriptions)
        api.add_route("/recordings/{id}/captions", [apigw.HttpMethod.GET], self.api_function)
        prefix = f"{RECORDINGS_PREFIX}*"
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(prefix)])
        )
        self.api_function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [prefix]}},
            )
        )  # fmt: skip
        assert self.api_function.role is not None
        bucket_id = Stack.of(self).resolve(bucket.bucket_arn)["Fn::GetAtt"][0]
        acknowledge(
            self.api_function.role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}]",
            "Playback presigns the segments of a recording under recordings/; their names (sid, channel, uid, "
            "time) are only known from the playlist, so the object ARN can only be the prefix.",
        )

    def _reconciler_schedules(self, shards: int) -> list[events.Rule]:
        """Every 5 minutes, one reconciler invocation per shard, its input ``{"shard": i, "shards": n}``; a rule
        holds at most 5 targets, so shards 0-4 are on ``ReconcilerSchedule``, 5-9 on ``ReconcilerSchedule1``..."""
        rules = []
        for first in range(0, shards, TARGETS_PER_RULE):
            mine = range(first, min(first + TARGETS_PER_RULE, shards))
            rule_targets: list[events.IRuleTarget] = [
                targets.LambdaFunction(
                    self.reconciler,
                    retry_attempts=0,
                    event=events.RuleTargetInput.from_object({"shard": index, "shards": shards}),
                )
                for index in mine
            ]
            rules.append(
                events.Rule(
                    self,
                    "ReconcilerSchedule" if first == 0 else f"ReconcilerSchedule{first // TARGETS_PER_RULE}",
                    description=f"Run the recording reconciler, shards {mine[0]} to {mine[-1]} of {shards}",
                    schedule=events.Schedule.rate(Duration.minutes(5)),
                    targets=rule_targets,
                )
            )
        return rules

    def _table(self) -> dynamodb.TableV2:
        string, number = dynamodb.AttributeType.STRING, dynamodb.AttributeType.NUMBER
        return dynamodb.TableV2(
            self,
            "RecordingsTable",
            partition_key=dynamodb.Attribute(name="pk", type=string),
            # the events publisher reads every change (infra/constructs/events.py)
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute="expiresAt",
            global_secondary_indexes=[
                # by_sid reads only recordingId from the index, then GetItem: an update that leaves sid and
                # recordingId alone writes nothing to this index
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="bySid",
                    partition_key=dynamodb.Attribute(name="sid", type=string),
                    projection_type=dynamodb.ProjectionType.INCLUDE,
                    non_key_attributes=list(BY_SID_ATTRIBUTES),
                ),
                # byChannel (GET /recordings?channel=) and byStatus (the reconciler, GET /recordings) hold keys
                # only: their readers take the ids and BatchGetItem the rows (RecordingsRepository._rows). With
                # ALL, every update of a recording (events, checks, progress) was written again to both indexes;
                # now only a status change writes byStatus and nothing after creation writes byChannel (its keys
                # never change). Reads cost 0.5 RCU a row instead; writes cost 5 times reads (docs/scale.md).
                # byStatus's key is write-sharded, "<status>#<k>" (repository.status_key): 16 partitions.
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="byChannel",
                    partition_key=dynamodb.Attribute(name="channel", type=string),
                    sort_key=dynamodb.Attribute(name="createdAt", type=number),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                ),
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="byStatus",
                    partition_key=dynamodb.Attribute(name="activeStatus", type=string),
                    sort_key=dynamodb.Attribute(name="createdAt", type=number),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                ),
            ],
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not self.settings.dev,
            # recording metadata (sids, files, outcomes) is the only record of what was recorded
            removal_policy=data_removal_policy(self.settings),
        )

    def _logical_id(self, fn: lambda_.Function) -> str:
        child = fn.node.default_child
        assert child is not None
        return Stack.of(self).get_logical_id(child)  # type: ignore[arg-type]

    def _grant_table(self, fn: lambda_.Function, actions: tuple[str, ...]) -> None:
        self.table.grant(fn, *actions)
        acknowledge(
            fn.role or fn,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self.table.node.default_child)}.Arn>/index/*]",  # type: ignore[arg-type]
            "Query on the RecordingsTable's own GSIs (bySid, byChannel, byStatus); the wildcard is this table's "
            "index namespace only.",
        )

    def grant_events(self, fn: lambda_.Function) -> None:
        """What ``service.recordings.events.apply_recording_event`` needs in another function (webhooks):
        the table (read/update via bySid), completing the workflow's wait, and RECORDINGS_TABLE."""
        self._grant_table(fn, EVENT_TABLE_ACTIONS)
        grant_task_success(fn, self.state_machine)
        fn.add_environment("RECORDINGS_TABLE", self.table.table_name)
