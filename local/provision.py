"""Provision the synthesized CloudFormation template into moto, and run the real handlers in-process.

There is no CloudFormation locally, so this module is a small, generic deployer driven by resource
types: it walks the template that ``app.py`` synthesizes, gives every resource a deterministic
physical name, creates what moto can hold (DynamoDB, SQS, S3 + notifications, SNS, Secrets Manager,
Lambda, Step Functions) through boto3, and records what moto cannot run by itself (event source
mappings, schedules, API routes) for the local stack's pumps and API server.

Works against whatever moto backend boto3 reaches: ``mock_aws`` in-process, or a moto server via
``AWS_ENDPOINT_URL``. See CONTRACTS.md section G.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import io
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.intrinsics import IntrinsicError, Resolver, substitute_definition

log = logging.getLogger("local.provision")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STACK_NAME = "AgoraServerless"
DEFAULT_CONTEXT: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
#: the value given to ``AWS::SSM::Parameter::Value<...>`` parameters (e.g. the Powertools layer ARN)
DUMMY_SSM_VALUE = "local-ssm-parameter-value"
LOCAL_ROLE_NAME = "agora-serverless-local-lambda"


# ------------------------------------------------------------------------------------------------
# synth
# ------------------------------------------------------------------------------------------------
def synth_template(context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stack's CloudFormation template as a dict (bundling skipped), synthesized once per context."""
    merged = {**DEFAULT_CONTEXT, **(context or {})}
    merged["aws:cdk:bundling-stacks"] = []
    return json.loads(_synth_cached(json.dumps(merged, sort_keys=True)))


@functools.cache
def _synth_cached(context_json: str) -> str:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aws_cdk.assertions import Template

    import app

    _, stack = app.build_app(context=json.loads(context_json))
    return json.dumps(Template.from_stack(stack).to_json())


# ------------------------------------------------------------------------------------------------
# naming
# ------------------------------------------------------------------------------------------------
_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")

#: resource type -> (max length, allowed characters pattern, lower case)
_NAME_RULES: dict[str, tuple[int, str, bool]] = {
    "AWS::DynamoDB::Table": (255, r"[^A-Za-z0-9_.-]", False),
    "AWS::DynamoDB::GlobalTable": (255, r"[^A-Za-z0-9_.-]", False),
    "AWS::SQS::Queue": (80, r"[^A-Za-z0-9_-]", False),
    "AWS::S3::Bucket": (63, r"[^a-z0-9-]", True),
    "AWS::SNS::Topic": (256, r"[^A-Za-z0-9_-]", False),
    "AWS::Lambda::Function": (64, r"[^A-Za-z0-9_-]", False),
    "AWS::StepFunctions::StateMachine": (80, r"[^A-Za-z0-9_-]", False),
    "AWS::IAM::Role": (64, r"[^A-Za-z0-9_+=,.@-]", False),
    "AWS::Events::Rule": (64, r"[^A-Za-z0-9_.-]", False),
    "AWS::Scheduler::Schedule": (64, r"[^A-Za-z0-9_.-]", False),
}


def physical_name(stack_name: str, logical_id: str, resource_type: str, *, fifo: bool = False) -> str:
    """A deterministic name in the style CloudFormation generates (``Stack-LogicalId``), within AWS limits."""
    limit, forbidden, lower = _NAME_RULES.get(resource_type, (128, r"[^A-Za-z0-9_.-]", False))
    if fifo:
        limit -= len(".fifo")
    name = re.sub(forbidden, "-", f"{stack_name}-{logical_id}".lower() if lower else f"{stack_name}-{logical_id}")
    if len(name) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: limit - 9].rstrip('-')}-{digest}"
    return name + (".fifo" if fifo else "")


def _short_id(logical_id: str, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    digest = int(hashlib.sha256(logical_id.encode()).hexdigest(), 16)
    out = []
    for _ in range(length):
        digest, i = divmod(digest, len(alphabet))
        out.append(alphabet[i])
    return "".join(out)


# ------------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    environment: dict[str, str]
    logical_id: str = ""
    arn: str = ""
    timeout: int = 3
    memory_size: int = 128


@dataclass(frozen=True)
class EventSourceSpec:
    """An ``AWS::Lambda::EventSourceMapping``: moto would not run it, so the local pumps do."""

    logical_id: str
    function: str  # function name
    source_arn: str
    kind: str  # "dynamodb" | "sqs" | "kinesis" | other service name
    batch_size: int
    report_batch_item_failures: bool
    starting_position: str | None
    filters: list[dict[str, Any]]
    maximum_batching_window: int
    maximum_retry_attempts: int
    bisect_on_error: bool
    on_failure_arn: str | None
    enabled: bool


@dataclass(frozen=True)
class ScheduleTarget:
    arn: str
    input: str | None


@dataclass(frozen=True)
class ScheduleSpec:
    logical_id: str
    name: str
    expression: str
    targets: list[ScheduleTarget]
    enabled: bool


@dataclass(frozen=True)
class AuthorizerSpec:
    logical_id: str
    issuer: str
    audience: list[str]
    identity_source: list[str]


@dataclass(frozen=True)
class RouteSpec:
    route_key: str  # "POST /recordings/{id}/stop", "$default", "ANY /{proxy+}"
    method: str  # "POST", or "ANY"
    path: str  # "/recordings/{id}/stop"
    function: str  # function name
    payload_version: str
    authorizer: AuthorizerSpec | None
    scopes: list[str]
    logical_id: str = ""


@dataclass
class Resource:
    logical_id: str
    type: str
    name: str
    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)
    created: bool = False


class ProvisionError(RuntimeError):
    """The template holds something the local stack cannot provision (the message says what and where)."""


@dataclass
class LocalStack:
    """What ``provision`` made: physical names, functions, and the wiring moto does not run itself."""

    stack_name: str
    region: str
    account: str
    template: dict[str, Any]
    resources: dict[str, Resource] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    event_sources: list[EventSourceSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    cors: dict[str, Any] | None = None  # the HTTP API's CorsConfiguration, if any
    skipped: dict[str, list[str]] = field(default_factory=dict)  # resource type -> logical ids
    resolver: Resolver = field(default_factory=Resolver)

    # -- lookups ------------------------------------------------------------------------------
    def _find(self, logical_id_prefix: str, resource_type: str | None = None) -> Resource:
        candidates = [
            r
            for lid, r in self.resources.items()
            if lid.startswith(logical_id_prefix) and (resource_type is None or r.type == resource_type)
        ]
        exact = [r for r in candidates if r.logical_id == logical_id_prefix]
        if exact:
            return exact[0]
        hashed = [r for r in candidates if _HASH_SUFFIX.fullmatch(r.logical_id[len(logical_id_prefix) :] or "-")]
        if len(hashed) == 1:
            return hashed[0]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            known = ", ".join(sorted(self.resources)) or "none"
            raise KeyError(f"no resource whose logical id starts with {logical_id_prefix!r} (known: {known})")
        names = ", ".join(sorted(r.logical_id for r in candidates))
        raise KeyError(f"{logical_id_prefix!r} is ambiguous: {names}")

    def physical(self, logical_id_prefix: str, resource_type: str | None = None) -> str:
        """The resource's ``Ref`` value: table/bucket/function name, queue URL, topic/state machine ARN."""
        return str(self._find(logical_id_prefix, resource_type).ref)

    def arn(self, logical_id_prefix: str, resource_type: str | None = None) -> str:
        res = self._find(logical_id_prefix, resource_type)
        return str(self.resolver.get_att(res.logical_id, "Arn"))

    def attr(self, logical_id_prefix: str, attribute: str) -> Any:
        res = self._find(logical_id_prefix)
        return self.resolver.get_att(res.logical_id, attribute)

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def function(self, name_or_arn: str) -> FunctionSpec | None:
        """The function by name, ARN (qualified or not) or logical id (prefix)."""
        name = _function_name(name_or_arn)
        for spec in self.functions.values():
            if spec.name == name:
                return spec
        try:
            res = self._find(name_or_arn, "AWS::Lambda::Function")
        except KeyError:
            return None
        return self.functions.get(res.logical_id)

    def by_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == resource_type]

    # -- environment (CONTRACTS F) ------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The union of every function's environment variables (POWERTOOLS_* taken from the first)."""
        env: dict[str, str] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                env.setdefault(key, value)
        return env

    def environment_conflicts(self) -> dict[str, dict[str, str]]:
        """Variables that mean different things in different functions (a CONTRACTS F violation)."""
        seen: dict[str, dict[str, str]] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key.startswith("POWERTOOLS_"):
                    continue
                seen.setdefault(key, {})[spec.name] = value
        return {k: v for k, v in seen.items() if len(set(v.values())) > 1}

    def apply_environment(self, environ: dict[str, str] | os._Environ[str] | None = None) -> dict[str, str | None]:
        """Put the union environment into ``environ`` (default ``os.environ``); returns the previous values."""
        target = os.environ if environ is None else environ
        previous: dict[str, str | None] = {}
        for key, value in self.environment().items():
            previous[key] = target.get(key)
            target[key] = value
        return previous


def _function_name(name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        # arn:aws:lambda:region:account:function:name[:qualifier]
        return parts[6] if len(parts) > 6 else parts[-1]
    return name_or_arn.split(":", maxsplit=1)[0]


# ------------------------------------------------------------------------------------------------
# provisioning
# ------------------------------------------------------------------------------------------------
#: resource types that ``provision`` creates in moto or records for the local pumps and API
PROVISIONED_TYPES = frozenset({
    "AWS::SecretsManager::Secret", "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::SQS::Queue",
    "AWS::SNS::Topic", "AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::StepFunctions::StateMachine",
    "Custom::S3BucketNotifications", "AWS::SNS::Subscription", "AWS::Lambda::EventSourceMapping",
    "AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer",
})  # fmt: skip
_REF_BY_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::SecretsManager::Secret",
               "AWS::Lambda::LayerVersion"}  # fmt: skip


def _arn_for(res_type: str, name: str, partition: str, region: str, account: str) -> str:  # noqa: PLR0911, PLR0912
    p, r, a = partition, region, account
    match res_type:
        case "AWS::DynamoDB::Table" | "AWS::DynamoDB::GlobalTable":
            return f"arn:{p}:dynamodb:{r}:{a}:table/{name}"
        case "AWS::SQS::Queue":
            return f"arn:{p}:sqs:{r}:{a}:{name}"
        case "AWS::S3::Bucket":
            return f"arn:{p}:s3:::{name}"
        case "AWS::SNS::Topic":
            return f"arn:{p}:sns:{r}:{a}:{name}"
        case "AWS::Lambda::Function":
            return f"arn:{p}:lambda:{r}:{a}:function:{name}"
        case "AWS::StepFunctions::StateMachine":
            return f"arn:{p}:states:{r}:{a}:stateMachine:{name}"
        case "AWS::IAM::Role":
            return f"arn:{p}:iam::{a}:role/{name}"
        case "AWS::IAM::ManagedPolicy":
            return f"arn:{p}:iam::{a}:policy/{name}"
        case "AWS::Logs::LogGroup":
            return f"arn:{p}:logs:{r}:{a}:log-group:{name}:*"
        case "AWS::SecretsManager::Secret":
            return f"arn:{p}:secretsmanager:{r}:{a}:secret:{name}"
        case "AWS::Events::Rule":
            return f"arn:{p}:events:{r}:{a}:rule/{name}"
        case "AWS::Scheduler::Schedule":
            return f"arn:{p}:scheduler:{r}:{a}:schedule/default/{name}"
        case "AWS::Cognito::UserPool":
            return f"arn:{p}:cognito-idp:{r}:{a}:userpool/{name}"
        case "AWS::KMS::Key":
            return f"arn:{p}:kms:{r}:{a}:key/{name}"
        case "AWS::Lambda::LayerVersion":
            return f"arn:{p}:lambda:{r}:{a}:layer:{name}:1"
        case "AWS::Events::EventBus":
            return f"arn:{p}:events:{r}:{a}:event-bus/{name}"
    service = res_type.split("::")[1].lower() if res_type.count("::") == 2 else "local"
    return f"arn:{p}:{service}:{r}:{a}:{name}"


def _initial_resource(  # noqa: PLR0912 - one case per resource type
    stack_name: str, logical_id: str, res_type: str, props: dict[str, Any], env: dict[str, str]
) -> Resource:
    """Deterministic name, Ref and attributes for a resource, before anything is created."""
    p, r, a = env["partition"], env["region"], env["account"]
    explicit = {
        "AWS::DynamoDB::Table": "TableName", "AWS::DynamoDB::GlobalTable": "TableName", "AWS::SQS::Queue": "QueueName",
        "AWS::S3::Bucket": "BucketName", "AWS::SNS::Topic": "TopicName", "AWS::Lambda::Function": "FunctionName",
        "AWS::StepFunctions::StateMachine": "StateMachineName", "AWS::IAM::Role": "RoleName",
        "AWS::Logs::LogGroup": "LogGroupName", "AWS::SecretsManager::Secret": "Name", "AWS::Events::Rule": "Name",
        "AWS::Scheduler::Schedule": "Name",
    }.get(res_type)  # fmt: skip
    name = props.get(explicit) if explicit else None
    if not isinstance(name, str):  # absent, or an intrinsic: resolved later if needed
        fifo = res_type == "AWS::SQS::Queue" and str(props.get("FifoQueue", "")).lower() == "true"
        fifo = fifo or (res_type == "AWS::SNS::Topic" and str(props.get("FifoTopic", "")).lower() == "true")
        name = physical_name(stack_name, logical_id, res_type, fifo=fifo)
    attrs: dict[str, Any] = {}
    ref: Any = name
    match res_type:
        case "AWS::Cognito::UserPool":
            name = f"{r}_{_short_id(logical_id, 9, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789')}"
            ref = name
            attrs = {"ProviderName": f"cognito-idp.{r}.amazonaws.com/{name}",
                     "ProviderURL": f"https://cognito-idp.{r}.amazonaws.com/{name}", "UserPoolId": name}  # fmt: skip
        case "AWS::Cognito::UserPoolClient":
            name = ref = _short_id(logical_id, 26)
            attrs = {"ClientId": name}
        case "AWS::ApiGatewayV2::Api":
            name = ref = _short_id(logical_id, 10)
            attrs = {"ApiId": name, "ApiEndpoint": f"https://{name}.execute-api.{r}.amazonaws.com"}
        case t if t.startswith("AWS::ApiGatewayV2::"):
            name = ref = _short_id(logical_id, 7)
        case "AWS::SQS::Queue":
            ref = f"https://sqs.{r}.amazonaws.com/{a}/{name}"
            attrs = {"QueueName": name, "QueueUrl": ref}
        case "AWS::KMS::Key":
            name = ref = str(uuid.UUID(hashlib.sha256(logical_id.encode()).hexdigest()[:32]))
            attrs = {"KeyId": name}
        case "AWS::IAM::AccessKey":  # fake, deterministic keys: moto accepts any
            name = ref = "AKIA" + _short_id(logical_id, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            alphabet64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            attrs = {"SecretAccessKey": _short_id(logical_id + "/secret", 40, alphabet64)}
        case "AWS::S3::Bucket":
            attrs = {"DomainName": f"{name}.s3.amazonaws.com", "RegionalDomainName": f"{name}.s3.{r}.amazonaws.com",
                     "WebsiteURL": f"http://{name}.s3-website-{r}.amazonaws.com"}  # fmt: skip
        case "AWS::SNS::Topic":
            attrs = {"TopicName": name}
        case "AWS::StepFunctions::StateMachine":
            attrs = {"Name": name}
    arn = _arn_for(res_type, name, p, r, a)
    if res_type in _REF_BY_ARN:
        ref = arn
    attrs.setdefault("Arn", arn)
    if res_type == "AWS::SNS::Topic":
        attrs["TopicArn"] = arn
    if res_type == "AWS::IAM::Role":
        attrs["RoleId"] = "AROA" + _short_id(logical_id, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return Resource(logical_id=logical_id, type=res_type, name=name, ref=ref, attrs=attrs)


def _dependencies(value: Any) -> set[str]:
    """Logical ids a property value refers to (Ref, GetAtt, ${X} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v.split(".")[0] if isinstance(v, str) else str(v[0]))
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]*)\}", str(text)))
                found |= _dependencies(v)
            else:
                found |= _dependencies(v)
    elif isinstance(value, list):
        for v in value:
            found |= _dependencies(v)
    return found


def _topological(logical_ids: list[str], template_resources: dict[str, Any]) -> list[str]:
    """Order ids so that each comes after the ids (of this same set) it depends on."""
    pending = list(logical_ids)
    ordered: list[str] = []
    while pending:
        progressed = False
        for lid in list(pending):
            body = template_resources[lid]
            deps = (_dependencies(body.get("Properties", {})) | set(_as_list(body.get("DependsOn")))) & set(pending)
            deps.discard(lid)
            if not deps:
                ordered.append(lid)
                pending.remove(lid)
                progressed = True
        if not progressed:
            raise ProvisionError(f"circular references between {pending}")
    return ordered


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "The local stack runs this function's real handler in-process.\n")
    return buf.getvalue()


class _Provisioner:
    def __init__(self, template: dict[str, Any], *, stack_name: str, session: Any, parameters: Mapping[str, Any]):
        self.template = template
        self.session = session
        self.region = session.region_name or "us-east-1"
        self.clients: dict[str, Any] = {}
        account = self.client("sts").get_caller_identity()["Account"]
        self.stack = LocalStack(stack_name=stack_name, region=self.region, account=account, template=template)
        partition = "aws-cn" if self.region.startswith("cn-") else "aws"
        self.env = {"partition": partition, "region": self.region, "account": account}
        self.resources_tpl: dict[str, Any] = template.get("Resources", {})
        resolver = Resolver(
            pseudo={
                "AWS::Region": self.region,
                "AWS::AccountId": account,
                "AWS::Partition": partition,
                "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
                "AWS::StackName": stack_name,
                "AWS::NotificationARNs": [],
                "AWS::StackId": f"arn:{partition}:cloudformation:{self.region}:{account}:stack/{stack_name}/"
                + str(uuid.UUID(hashlib.sha256(stack_name.encode()).hexdigest()[:32])),
            },
            parameters=self._parameters(parameters),
            conditions=template.get("Conditions", {}),
            mappings=template.get("Mappings", {}),
            attr_fallback=self._attr_fallback,
        )
        self.stack.resolver = resolver
        self.resolver = resolver
        for lid, body in self.resources_tpl.items():
            res = _initial_resource(stack_name, lid, body.get("Type", ""), body.get("Properties") or {}, self.env)
            self.stack.resources[lid] = res
            resolver.refs[lid] = res.ref

    # -- helpers ------------------------------------------------------------------------------
    def client(self, name: str) -> Any:
        if name not in self.clients:
            self.clients[name] = self.session.client(name)
        return self.clients[name]

    def _parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            if name in given:
                values[name] = given[name]
            elif str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
                values[name] = DUMMY_SSM_VALUE
            elif "Default" in spec:
                values[name] = spec["Default"]
            else:
                raise ProvisionError(f"template parameter {name} has no default: pass parameters={{{name!r}: ...}}")
            is_list = str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList"
            if is_list and isinstance(values[name], str):
                values[name] = values[name].split(",")
        return values

    def _attr_fallback(self, logical_id: str, attribute: str) -> Any:
        res = self.stack.resources.get(logical_id)
        if res is None:
            raise IntrinsicError(f"Fn::GetAtt to unknown logical id {logical_id!r}")
        if attribute in res.attrs:
            return res.attrs[attribute]
        if attribute == "StreamArn":
            raise IntrinsicError(f"{logical_id} has no stream (StreamSpecification missing?)")
        if res.type not in PROVISIONED_TYPES:
            # a resource the local stack does not create (IAM, logs, ...): any stable value will do
            return f"local-{logical_id}-{attribute}"
        return None

    def props(self, logical_id: str) -> dict[str, Any]:
        raw = dict(self.resources_tpl[logical_id].get("Properties") or {})
        if str(self.resources_tpl[logical_id].get("Type", "")).startswith("Custom::"):
            raw.pop("ServiceToken", None)  # the provider function is CloudFormation's business, not ours
        try:
            resolved = self.resolver.resolve(copy.deepcopy(raw))
        except IntrinsicError as exc:
            raise ProvisionError(f"{logical_id}: {exc}") from exc
        return resolved

    def ids(self, *types: str) -> list[str]:
        out = []
        for lid, body in self.resources_tpl.items():
            if body.get("Type") not in types:
                continue
            cond = body.get("Condition")
            if cond and not self.resolver.condition(cond):
                continue
            out.append(lid)
        return out

    # -- run ----------------------------------------------------------------------------------
    def run(self) -> LocalStack:
        handled = PROVISIONED_TYPES
        self.secrets()
        self.tables()
        self.queues()
        self.topics()
        self.buckets()
        self.lambdas()
        self.state_machines()
        self.bucket_notifications()
        self.subscriptions()
        self.event_source_mappings()
        self.schedules()
        self.api()
        for lid, body in self.resources_tpl.items():
            if body.get("Type") not in handled:
                self.stack.skipped.setdefault(body.get("Type", "?"), []).append(lid)
        return self.stack

    def _done(self, lid: str, *, ref: Any = None, **attrs: Any) -> None:
        res = self.stack.resources[lid]
        if ref is not None:
            res.ref = ref
            self.resolver.refs[lid] = ref
        for key, value in attrs.items():
            res.attrs[key] = value
            self.resolver.attrs[(lid, key)] = value
        res.created = True

    def secrets(self) -> None:
        sm = None
        for lid in self.ids("AWS::SecretsManager::Secret"):
            sm = sm or self.client("secretsmanager")
            props = self.props(lid)
            name = props.get("Name") or self.stack.resources[lid].name
            if "SecretString" in props:
                value = props["SecretString"]
            else:
                gen = props.get("GenerateSecretString") or {}
                import secrets as _secrets

                generated = _secrets.token_urlsafe(int(gen.get("PasswordLength", 32)))[
                    : int(gen.get("PasswordLength", 32))
                ]
                if gen.get("SecretStringTemplate") and gen.get("GenerateStringKey"):
                    doc = json.loads(gen["SecretStringTemplate"])
                    doc[gen["GenerateStringKey"]] = generated
                    value = json.dumps(doc)
                else:
                    value = generated
            arn = sm.create_secret(Name=name, SecretString=value, Description=props.get("Description", ""))["ARN"]
            self._done(lid, ref=arn, Arn=arn, Id=arn)
            self.stack.resources[lid].name = name

    def tables(self) -> None:
        ddb = None
        for lid in self.ids("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            ddb = ddb or self.client("dynamodb")
            props = self.props(lid)
            name = props.get("TableName") or self.stack.resources[lid].name
            billing = props.get("BillingMode") or (
                "PROVISIONED"
                if "ProvisionedThroughput" in props or "WriteProvisionedThroughputSettings" in props
                else "PAY_PER_REQUEST"
            )
            throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            kw: dict[str, Any] = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": billing,
            }
            if billing == "PROVISIONED":
                kw["ProvisionedThroughput"] = throughput
            gsis = []
            for gsi in props.get("GlobalSecondaryIndexes") or []:
                item = {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection") if k in gsi}
                item.setdefault("Projection", {"ProjectionType": "ALL"})
                if billing == "PROVISIONED":
                    item["ProvisionedThroughput"] = gsi.get("ProvisionedThroughput") or throughput
                gsis.append(item)
            if gsis:
                kw["GlobalSecondaryIndexes"] = gsis
            lsis = [
                {k: lsi[k] for k in ("IndexName", "KeySchema", "Projection") if k in lsi}
                for lsi in props.get("LocalSecondaryIndexes") or []
            ]
            if lsis:
                kw["LocalSecondaryIndexes"] = lsis
            stream = props.get("StreamSpecification") or {}
            if stream.get("StreamViewType"):
                kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
            desc = ddb.create_table(**kw)["TableDescription"]
            ttl = props.get("TimeToLiveSpecification") or {}
            if ttl.get("Enabled") in (True, "true") and ttl.get("AttributeName"):
                ddb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
                )
            attrs: dict[str, Any] = {"Arn": desc["TableArn"]}
            if desc.get("LatestStreamArn"):
                attrs["StreamArn"] = desc["LatestStreamArn"]
            self.stack.resources[lid].name = name
            self._done(lid, ref=name, **attrs)

    def queues(self) -> None:
        ids = self.ids("AWS::SQS::Queue")
        if not ids:
            return
        sqs = self.client("sqs")
        int_attrs = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                     "VisibilityTimeout", "KmsDataKeyReusePeriodSeconds")  # fmt: skip
        for lid in _topological(ids, self.resources_tpl):
            props = self.props(lid)
            name = props.get("QueueName") or self.stack.resources[lid].name
            attributes: dict[str, str] = {}
            for key in int_attrs:
                if key in props:
                    attributes[key] = str(props[key])
            for key in ("FifoQueue", "ContentBasedDeduplication"):
                if key in props:
                    attributes[key] = str(props[key]).lower()
            for key in ("DeduplicationScope", "FifoThroughputLimit"):
                if key in props:
                    attributes[key] = str(props[key])
            for key in ("RedrivePolicy", "RedriveAllowPolicy"):
                if key in props:
                    value = props[key]
                    attributes[key] = value if isinstance(value, str) else json.dumps(value)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.stack.resources[lid].name = name
            self._done(lid, ref=url, Arn=arn, QueueUrl=url, QueueName=name)

    def topics(self) -> None:
        for lid in self.ids("AWS::SNS::Topic"):
            sns = self.client("sns")
            props = self.props(lid)
            name = props.get("TopicName") or self.stack.resources[lid].name
            attributes = {}
            for key in ("FifoTopic", "ContentBasedDeduplication"):
                if key in props:
                    attributes[key] = str(props[key]).lower()
            arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
            self._done(lid, ref=arn, Arn=arn, TopicArn=arn, TopicName=name)
            for sub in props.get("Subscription") or []:
                sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])

    def buckets(self) -> None:
        for lid in self.ids("AWS::S3::Bucket"):
            s3 = self.client("s3")
            props = self.props(lid)
            name = props.get("BucketName") or self.stack.resources[lid].name
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
            status = (props.get("VersioningConfiguration") or {}).get("Status")
            if status:
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
            self.stack.resources[lid].name = name
            self._done(lid, ref=name)

    def lambdas(self) -> None:
        ids = self.ids("AWS::Lambda::Function")
        if not ids:
            return
        lam = self.client("lambda")
        role_arn = self._local_role()
        code = _dummy_zip()
        for lid in ids:
            raw_code = (self.resources_tpl[lid].get("Properties") or {}).get("Code") or {}
            if "ZipFile" in raw_code:  # inline code: a CDK/CloudFormation custom-resource provider
                self.stack.skipped.setdefault("AWS::Lambda::Function (inline code)", []).append(lid)
                continue
            props = self.props(lid)
            name = props.get("FunctionName") or self.stack.resources[lid].name
            handler = props.get("Handler")
            if not handler:
                self.stack.skipped.setdefault("AWS::Lambda::Function (no Handler: image or inline code)", []).append(
                    lid
                )
                continue
            env = {k: _env_str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
            timeout = int(props.get("Timeout", 3))
            memory = int(props.get("MemorySize", 128))
            kw: dict[str, Any] = {
                "FunctionName": name, "Runtime": props.get("Runtime", "python3.12"), "Role": role_arn,
                "Handler": handler, "Code": {"ZipFile": code}, "Timeout": timeout, "MemorySize": memory,
                "Description": str(props.get("Description", ""))[:256], "Environment": {"Variables": env},
            }  # fmt: skip
            if props.get("Architectures"):
                kw["Architectures"] = props["Architectures"]
            arn = lam.create_function(**kw)["FunctionArn"]
            self._done(lid, ref=name, Arn=arn)
            self.stack.functions[lid] = FunctionSpec(
                name=name, handler=handler, environment=env, logical_id=lid, arn=arn, timeout=timeout,
                memory_size=memory,
            )  # fmt: skip

    def _local_role(self) -> str:
        iam = self.client("iam")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}  # fmt: skip
        try:
            return iam.get_role(RoleName=LOCAL_ROLE_NAME)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            return iam.create_role(RoleName=LOCAL_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    def state_machines(self) -> None:
        ids = self.ids("AWS::StepFunctions::StateMachine")
        if not ids:
            return
        sfn = self.client("stepfunctions")
        role_arn = self._local_role()
        for lid in ids:
            props = self.props(lid)
            name = props.get("StateMachineName") or self.stack.resources[lid].name
            if "DefinitionString" in props:
                definition = props["DefinitionString"]
            elif "Definition" in props:
                definition = json.dumps(props["Definition"])
            else:
                raise ProvisionError(f"{lid}: only DefinitionString/Definition are supported locally")
            if props.get("DefinitionSubstitutions"):
                definition = substitute_definition(definition, props["DefinitionSubstitutions"])
            json.loads(definition)  # fail here, clearly, rather than inside moto
            kw: dict[str, Any] = {"name": name, "definition": definition, "roleArn": role_arn}
            if props.get("StateMachineType"):
                kw["type"] = props["StateMachineType"]
            arn = sfn.create_state_machine(**kw)["stateMachineArn"]
            self._done(lid, ref=arn, Arn=arn, Name=name)
            self.stack.state_machines[lid] = arn

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
                    function=_function_name(str(props["FunctionName"])),
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


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


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


def provision(
    template: dict[str, Any],
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    session: Any = None,
    parameters: Mapping[str, Any] | None = None,
) -> LocalStack:
    """Create the template's resources in the moto backend that boto3 reaches; see the module docstring."""
    if session is None:
        import boto3

        session = boto3.session.Session()
    return _Provisioner(template, stack_name=stack_name, session=session, parameters=parameters or {}).run()


def dry_routes(
    template: dict[str, Any], *, stack_name: str = DEFAULT_STACK_NAME
) -> tuple[dict[str, FunctionSpec], list[RouteSpec]]:
    """Functions (env resolved with deterministic names) and API routes of a template, without any AWS call.

    For tools that only need to import handlers (the OpenAPI generator): a moto-free ``provision``.
    """
    env = {"partition": "aws", "region": "us-east-1", "account": "123456789012"}
    resources = template.get("Resources", {})
    initial = {lid: _initial_resource(stack_name, lid, b.get("Type", ""), b.get("Properties") or {}, env)
               for lid, b in resources.items()}  # fmt: skip

    def fallback(lid: str, attribute: str) -> Any:
        res = initial.get(lid)
        if res is None:
            raise IntrinsicError(f"Fn::GetAtt to unknown logical id {lid!r}")
        if attribute == "StreamArn":
            return f"{res.attrs['Arn']}/stream/1970-01-01T00:00:00.000"
        return res.attrs.get(attribute)

    resolver = Resolver(
        refs={lid: r.ref for lid, r in initial.items()},
        pseudo={"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack_name, "AWS::NotificationARNs": []},
        parameters={name: DUMMY_SSM_VALUE if "SSM" in str(spec.get("Type")) else spec.get("Default", "")
                    for name, spec in (template.get("Parameters") or {}).items()},
        conditions=template.get("Conditions", {}),
        mappings=template.get("Mappings", {}),
        attr_fallback=fallback,
    )  # fmt: skip
    functions: dict[str, FunctionSpec] = {}
    for lid, body in resources.items():
        props = body.get("Properties") or {}
        if (
            body.get("Type") != "AWS::Lambda::Function"
            or not props.get("Handler")
            or "ZipFile" in (props.get("Code") or {})
        ):
            continue
        variables = resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
        functions[lid] = FunctionSpec(
            name=initial[lid].name, handler=str(props["Handler"]), logical_id=lid, arn=str(initial[lid].attrs["Arn"]),
            environment={k: _env_str(v) for k, v in variables.items()},
        )  # fmt: skip
    by_arn = {f.arn: f for f in functions.values()}
    integrations = {}
    for lid, body in resources.items():
        if body.get("Type") == "AWS::ApiGatewayV2::Integration":
            uri = str(resolver.resolve((body.get("Properties") or {}).get("IntegrationUri", "")))
            if uri in by_arn:
                integrations[str(initial[lid].ref)] = by_arn[uri]
    authorizers = {}
    for lid, body in resources.items():
        if body.get("Type") == "AWS::ApiGatewayV2::Authorizer":
            jwt = resolver.resolve((body.get("Properties") or {}).get("JwtConfiguration") or {})
            authorizers[str(initial[lid].ref)] = AuthorizerSpec(
                lid, str(jwt.get("Issuer", "")), list(jwt.get("Audience") or []), []
            )
    routes = []
    for lid, body in resources.items():
        if body.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        props = resolver.resolve(body.get("Properties") or {})
        fn = integrations.get(str(props.get("Target", "")).removeprefix("integrations/"))
        if fn is None:
            continue
        key = str(props["RouteKey"])
        method, _, path = key.partition(" ") if " " in key else ("ANY", "", key)
        auth = authorizers.get(str(props.get("AuthorizerId"))) if props.get("AuthorizationType") == "JWT" else None
        routes.append(
            RouteSpec(
                key, method.upper(), path, fn.name, "2.0", auth, list(props.get("AuthorizationScopes") or []), lid
            )
        )
    return functions, routes


# ------------------------------------------------------------------------------------------------
# in-process Lambda runtime
# ------------------------------------------------------------------------------------------------
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, *, request_id: str | None = None):
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """An invocation raised: ``error_type`` and ``error_message`` as Lambda reports them."""

    def __init__(self, function: str, error_type: str, error_message: str):
        super().__init__(f"{function}: {error_type}: {error_message}")
        self.function, self.error_type, self.error_message = function, error_type, error_message


@dataclass
class Invocation:
    function: str
    source: str
    ok: bool
    duration_ms: float
    error: str | None = None


_PER_FUNCTION_ENV = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")


class Dispatcher:
    """Runs a stack's handlers in this process, one invocation at a time per function (a warm instance).

    Per-function serialization models Lambda's one-event-per-instance rule, which the module-level state
    of handlers (Powertools resolvers, loggers) relies on. A wait longer than ``lock_timeout`` (a handler
    that synchronously causes another invocation of itself) runs concurrently rather than deadlocking.
    """

    def __init__(self, stack: LocalStack, *, lock_timeout: float = 30.0, max_async_workers: int = 8):
        self.stack = stack
        self.lock_timeout = lock_timeout
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._locks: dict[str, threading.Lock] = {spec.name: threading.Lock() for spec in stack.functions.values()}
        self._import_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=max_async_workers, thread_name_prefix="lambda-async")
        self._pending: set[Future[Any]] = set()
        self._pending_lock = threading.Lock()
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []
        #: ``active`` is True on a thread while it runs a handler (lets a caller tell handler output apart)
        self.current = threading.local()

    def spec(self, name_or_arn: str) -> FunctionSpec:
        spec = self.stack.function(name_or_arn)
        if spec is None:
            raise KeyError(f"function {name_or_arn!r} is not part of the local stack")
        return spec

    def handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        """The handler callable, imported on first use (a cold start).

        While importing, the function's own service name and metrics namespace are in the environment:
        those are the POWERTOOLS_* values that legitimately differ between functions (CONTRACTS F), and
        Powertools reads them when the module creates its Logger and Metrics.
        """
        with self._import_lock:
            if spec.name not in self._handlers:
                module_name, _, attr = spec.handler.rpartition(".")
                own = {k: v for k, v in spec.environment.items() if k in _PER_FUNCTION_ENV}
                saved = {k: os.environ.get(k) for k in own}
                os.environ.update(own)
                try:
                    module = importlib.import_module(module_name)
                finally:
                    for key, value in saved.items():
                        if value is None:
                            os.environ.pop(key, None)
                        else:
                            os.environ[key] = value
                self._handlers[spec.name] = getattr(module, attr)
            return self._handlers[spec.name]

    def invoke(self, name_or_arn: str, event: Any, *, source: str = "direct") -> Any:
        """Call the handler with ``event``; its return value, or FunctionError when it raised."""
        spec = self.spec(name_or_arn)
        lock = self._locks.setdefault(spec.name, threading.Lock())
        acquired = lock.acquire(timeout=self.lock_timeout)
        if not acquired:
            log.warning("%s busy for %.0fs: running a concurrent invocation", spec.name, self.lock_timeout)
        started = time.perf_counter()
        outer = getattr(self.current, "active", False)
        self.current.active = True
        try:
            fn = self.handler(spec)
            result = fn(event, LambdaContext(spec))
        except Exception as exc:
            record = Invocation(
                spec.name, source, False, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}"
            )
            self._record(record)
            log.debug("handler %s failed:\n%s", spec.name, traceback.format_exc())
            raise FunctionError(spec.name, type(exc).__name__, str(exc)) from exc
        finally:
            self.current.active = outer
            if acquired:
                lock.release()
        self._record(Invocation(spec.name, source, True, (time.perf_counter() - started) * 1000))
        return result

    def invoke_payload(self, name_or_arn: str, payload: bytes | str | None, *, source: str) -> tuple[bytes, bool]:
        """Lambda's wire view: JSON in, (JSON out, errored)."""
        try:
            text = payload.decode() if isinstance(payload, bytes) else (payload or "")
            event = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            return json.dumps({"errorType": "InvalidRequestContentException", "errorMessage": str(exc)}).encode(), True
        try:
            result = self.invoke(name_or_arn, event, source=source)
        except FunctionError as exc:
            return json.dumps({"errorType": exc.error_type, "errorMessage": exc.error_message}).encode(), True
        try:
            return json.dumps(result, default=str).encode(), False
        except (TypeError, ValueError) as exc:
            return json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}).encode(), True

    def invoke_async(self, name_or_arn: str, payload: bytes | str | None, *, source: str) -> None:
        """Lambda's ``Event`` invocation: queued, run on a worker thread."""

        def run() -> None:
            out, errored = self.invoke_payload(name_or_arn, payload, source=source)
            if errored:
                log.warning("async invocation of %s (%s) failed: %s", name_or_arn, source, out.decode()[:500])

        future = self._executor.submit(run)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[Any]) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until no asynchronous invocation is pending; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._pending_lock:
                pending = list(self._pending)
            if not pending:
                return True
            for future in pending:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: S112 - failures were logged by the worker
                    continue
        with self._pending_lock:
            return not self._pending

    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        for listener in list(self.listeners):
            try:
                listener(invocation)
            except Exception:  # a printing listener must never break an invocation
                log.exception("invocation listener failed")

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    try:
        value = headers.get(name)
    except AttributeError:
        value = None
    if value is None:
        for key, val in dict(headers).items():
            if str(key).lower() == name.lower():
                return str(val)
    return None if value is None else str(value)


class _ThreadLocalAttribute:
    """Data descriptor holding a per-thread value (see ``_powertools_thread_local_events``)."""

    def __init__(self, name: str, store: threading.local):
        self.name, self.store = name, store

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        try:
            return getattr(self.store, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(self.store, self.name, value)

    def __delete__(self, obj: Any) -> None:
        delattr(self.store, self.name)


@contextmanager
def _powertools_thread_local_events() -> Iterator[None]:
    """Make Powertools' process-global ``BaseRouter.current_event``/``lambda_context`` per thread.

    On Lambda one process serves one event at a time, so Powertools keeps the current event in a class
    attribute. Hosting several functions in one process (threads) would let one request read another's
    event (and caller identity); per-thread storage restores Lambda's isolation.
    """
    try:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    except ImportError:  # pragma: no cover - Powertools is a dependency of every handler
        yield
        return
    if type(BaseRouter).__name__ == "_ThreadLocalRouterMeta":  # already patched (nested dispatch)
        yield
        return
    store = threading.local()
    names = ("current_event", "lambda_context")
    saved = {n: BaseRouter.__dict__[n] for n in names if n in BaseRouter.__dict__}
    original_meta = type(BaseRouter)
    for n in names:
        type.__setattr__(BaseRouter, n, _ThreadLocalAttribute(n, store))
    meta = type("_ThreadLocalRouterMeta", (original_meta,), {n: _ThreadLocalAttribute(n, store) for n in names})
    BaseRouter.__class__ = meta  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        BaseRouter.__class__ = original_meta  # type: ignore[assignment,method-assign]
        for n in names:
            type.__delattr__(BaseRouter, n)
            if n in saved:
                type.__setattr__(BaseRouter, n, saved[n])


@contextmanager
def lambda_dispatch(
    stack: LocalStack, *, apply_environment: bool = True, lock_timeout: float = 30.0
) -> Iterator[Dispatcher]:
    """Patch moto so Lambda invocations (SDK, Step Functions tasks, S3/SNS notifications) run the real handlers.

    - ``LambdaSimpleBackend.invoke`` (SDK ``Invoke``, state-machine tasks): synchronous, or queued for
      ``InvocationType=Event``; an exception becomes ``x-amz-function-error: Unhandled`` with
      ``{errorType, errorMessage}`` so Retry/Catch behave as on AWS.
    - ``LambdaFunction.invoke`` (moto's S3/SNS notifications, asynchronous on AWS): queued.
    Functions that are not in ``stack`` keep moto's behaviour. Yields the ``Dispatcher``.
    """
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    dispatcher = Dispatcher(stack, lock_timeout=lock_timeout)
    original_simple = LambdaSimpleBackend.invoke
    original_function = LambdaFunction.invoke

    def simple_invoke(  # noqa: PLR0917 - moto's signature
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes | str | None:
        if stack.function(function_name) is None:
            return original_simple(self, function_name, qualifier, body, headers, response_headers)
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "Event":
            dispatcher.invoke_async(function_name, body, source="invoke:Event")
            return b""
        if invocation_type == "DryRun":
            return b""
        payload, errored = dispatcher.invoke_payload(function_name, body, source="invoke")
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    def function_invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes | str:
        if stack.function(self.function_name) is None:
            return original_function(self, body, request_headers, response_headers)
        dispatcher.invoke_async(self.function_name, body, source="notification")
        return b""

    previous_env: dict[str, str | None] = stack.apply_environment() if apply_environment else {}
    LambdaSimpleBackend.invoke = simple_invoke  # type: ignore[method-assign]
    LambdaFunction.invoke = function_invoke  # type: ignore[method-assign]
    try:
        with _powertools_thread_local_events():
            yield dispatcher
            dispatcher.drain(timeout=10)
    finally:
        LambdaSimpleBackend.invoke = original_simple  # type: ignore[method-assign]
        LambdaFunction.invoke = original_function  # type: ignore[method-assign]
        dispatcher.shutdown()
        for key, value in previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
