"""What moto does not run by itself, recorded for the local pumps and API server.

S3 bucket notifications and SNS subscriptions are put into moto; event source mappings, schedules,
and the HTTP API's routes, authorizers and CORS are recorded on the ``LocalStack``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from local.resources import (
    AuthorizerSpec,
    EventSourceSpec,
    LocalStack,
    ProvisionError,
    RouteSpec,
    ScheduleSpec,
    ScheduleTarget,
    function_name,
)


class Wiring:
    """The second half of the provisioner (``local.provisioner._Provisioner``), once resources exist."""

    stack: LocalStack

    if TYPE_CHECKING:

        def client(self, name: str) -> Any: ...

        def props(self, logical_id: str) -> dict[str, Any]: ...

        def ids(self, *types: str) -> list[str]: ...

        def _done(self, lid: str, *, ref: Any = None, **attrs: Any) -> None: ...

    def bucket_notifications(self) -> None:
        configs: dict[str, dict[str, list[Any]]] = {}
        for lid in self.ids("AWS::S3::Bucket"):
            cfn = self.props(lid).get("NotificationConfiguration")
            if cfn:
                bucket = self.stack.resources[lid].name
                merged = configs.setdefault(bucket, {})
                for key, value in _cfn_notifications_to_api(cfn).items():
                    if isinstance(value, list):
                        merged.setdefault(key, []).extend(value)
                    else:
                        merged[key] = value
        for lid in self.ids("Custom::S3BucketNotifications"):
            props = self.props(lid)
            custom_bucket = props.get("BucketName")
            if not custom_bucket:
                continue
            bucket = str(custom_bucket)
            merged = configs.setdefault(bucket, {})
            for key, value in (props.get("NotificationConfiguration") or {}).items():
                if isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
                else:
                    merged[key] = value
            self._done(lid)
        for bucket, config in configs.items():
            self.client("s3").put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=config, SkipDestinationValidation=True
            )

    def subscriptions(self) -> None:
        for lid in self.ids("AWS::SNS::Subscription"):
            props = self.props(lid)
            attributes = {}
            for key in ("RawMessageDelivery",):
                if key in props:
                    attributes[key] = str(props[key]).lower()
            for key in ("FilterPolicy", "RedrivePolicy"):
                if key in props:
                    attributes[key] = json.dumps(props[key]) if not isinstance(props[key], str) else props[key]
            arn = self.client("sns").subscribe(
                TopicArn=props["TopicArn"],
                Protocol=props["Protocol"],
                Endpoint=props["Endpoint"],
                Attributes=attributes,
            )["SubscriptionArn"]
            self._done(lid, ref=arn)

    def event_source_mappings(self) -> None:
        for lid in self.ids("AWS::Lambda::EventSourceMapping"):
            props = self.props(lid)
            source = str(props.get("EventSourceArn", ""))
            kind = source.split(":")[2] if source.startswith("arn:") else "unknown"
            filters = [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters") or []]
            on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            default_batch = 10 if kind == "sqs" else 100
            self.stack.event_sources.append(
                EventSourceSpec(
                    logical_id=lid,
                    function=function_name(str(props["FunctionName"])),
                    source_arn=source,
                    kind=kind,
                    batch_size=int(props.get("BatchSize", default_batch)),
                    report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    starting_position=props.get("StartingPosition"),
                    filters=filters,
                    maximum_batching_window=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                    on_failure_arn=on_failure,
                    enabled=props.get("Enabled", True) not in (False, "false"),
                )
            )
            self._done(lid, ref=str(uuid.UUID(hashlib.sha256(lid.encode()).hexdigest()[:32])))

    def schedules(self) -> None:
        for lid in self.ids("AWS::Events::Rule"):
            props = self.props(lid)
            expression = props.get("ScheduleExpression")
            if not expression:
                self.stack.skipped.setdefault("AWS::Events::Rule (event pattern: not routed locally)", []).append(lid)
                continue
            targets = [ScheduleTarget(arn=t["Arn"], input=t.get("Input")) for t in props.get("Targets") or []]
            self.stack.schedules.append(
                ScheduleSpec(
                    lid, self.stack.resources[lid].name, expression, targets, props.get("State", "ENABLED") == "ENABLED"
                )
            )
            self._done(lid)
        for lid in self.ids("AWS::Scheduler::Schedule"):
            props = self.props(lid)
            target = props.get("Target") or {}
            self.stack.schedules.append(
                ScheduleSpec(
                    lid,
                    self.stack.resources[lid].name,
                    props["ScheduleExpression"],
                    [ScheduleTarget(arn=target.get("Arn", ""), input=target.get("Input"))],
                    props.get("State", "ENABLED") == "ENABLED",
                )
            )
            self._done(lid)

    def api(self) -> None:
        for lid in self.ids("AWS::ApiGatewayV2::Api"):
            cors = self.props(lid).get("CorsConfiguration")
            if cors:
                self.stack.cors = cors
        for lid in self.ids("AWS::ApiGatewayV2::Authorizer"):
            props = self.props(lid)
            if props.get("AuthorizerType") != "JWT":
                self.stack.skipped.setdefault("AWS::ApiGatewayV2::Authorizer (not JWT)", []).append(lid)
                continue
            jwt = props.get("JwtConfiguration") or {}
            self.stack.authorizers[lid] = AuthorizerSpec(
                logical_id=lid, issuer=str(jwt.get("Issuer", "")), audience=[str(a) for a in jwt.get("Audience") or []],
                identity_source=list(props.get("IdentitySource") or ["$request.header.Authorization"]),
            )  # fmt: skip
            self._done(lid)
        integrations: dict[str, tuple[str, str]] = {}  # integration id -> (function name, payload version)
        for lid in self.ids("AWS::ApiGatewayV2::Integration"):
            props = self.props(lid)
            uri = str(props.get("IntegrationUri", ""))
            spec = self.stack.function(uri) if ":function:" in uri or not uri.startswith("arn:") else None
            if spec is None and ":lambda:path/" in uri and "/functions/" in uri:
                spec = self.stack.function(uri.split("/functions/")[1].split("/invocations", maxsplit=1)[0])
            if spec is None:
                self.stack.skipped.setdefault("AWS::ApiGatewayV2::Integration (not a local Lambda)", []).append(lid)
                continue
            integrations[str(self.stack.resources[lid].ref)] = (
                spec.name,
                str(props.get("PayloadFormatVersion", "2.0")),
            )
            self._done(lid)
        by_authorizer_ref = {str(self.stack.resources[a].ref): spec for a, spec in self.stack.authorizers.items()}
        for lid in self.ids("AWS::ApiGatewayV2::Route"):
            props = self.props(lid)
            target = str(props.get("Target", ""))
            integration = integrations.get(target.removeprefix("integrations/"))
            if integration is None:
                self.stack.skipped.setdefault("AWS::ApiGatewayV2::Route (no Lambda integration)", []).append(lid)
                continue
            route_key = str(props["RouteKey"])
            method, _, path = route_key.partition(" ") if " " in route_key else ("ANY", "", route_key)
            authorizer = None
            if props.get("AuthorizationType") == "JWT":
                authorizer = by_authorizer_ref.get(str(props.get("AuthorizerId")))
                if authorizer is None:
                    raise ProvisionError(f"{lid}: JWT route whose authorizer {props.get('AuthorizerId')} is unknown")
            self.stack.routes.append(
                RouteSpec(
                    route_key=route_key,
                    method=method.upper(),
                    path=path,
                    function=integration[0],
                    payload_version=integration[1],
                    authorizer=authorizer,
                    scopes=[str(s) for s in props.get("AuthorizationScopes") or []],
                    logical_id=lid,
                )
            )
            self._done(lid)


def _cfn_notifications_to_api(cfn: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration shape -> the S3 API's shape."""

    def filt(entry: dict[str, Any]) -> dict[str, Any]:
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        return (
            {"Filter": {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}}
            if rules
            else {}
        )

    out: dict[str, Any] = {}
    for entry in cfn.get("QueueConfigurations") or []:
        out.setdefault("QueueConfigurations", []).append(
            {"QueueArn": entry["Queue"], "Events": [entry["Event"]], **filt(entry)}
        )
    for entry in cfn.get("LambdaConfigurations") or []:
        out.setdefault("LambdaFunctionConfigurations", []).append(
            {"LambdaFunctionArn": entry["Function"], "Events": [entry["Event"]], **filt(entry)}
        )
    for entry in cfn.get("TopicConfigurations") or []:
        out.setdefault("TopicConfigurations", []).append(
            {"TopicArn": entry["Topic"], "Events": [entry["Event"]], **filt(entry)}
        )
    if "EventBridgeConfiguration" in cfn:
        out["EventBridgeConfiguration"] = {}
    return out
