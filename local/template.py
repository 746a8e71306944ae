"""How a template's resources are named and refer to each other, before anything exists.

Deterministic physical names in CloudFormation's style, ARNs, each resource's ``Ref`` and attributes,
the dependency order between resources, and ``dry_routes``: a template's functions and API routes
without any AWS call (for tools that only import handlers, such as the OpenAPI generator).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from local.intrinsics import IntrinsicError, Resolver
from local.resources import DEFAULT_STACK_NAME, AuthorizerSpec, FunctionSpec, ProvisionError, Resource, RouteSpec

#: the value given to ``AWS::SSM::Parameter::Value<...>`` parameters (e.g. the Powertools layer ARN)
DUMMY_SSM_VALUE = "local-ssm-parameter-value"


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


def initial_resource(  # noqa: PLR0912 - one case per resource type
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


def dependencies(value: Any) -> set[str]:
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
                found |= dependencies(v)
            else:
                found |= dependencies(v)
    elif isinstance(value, list):
        for v in value:
            found |= dependencies(v)
    return found


def topological(logical_ids: list[str], template_resources: dict[str, Any]) -> list[str]:
    """Order ids so that each comes after the ids (of this same set) it depends on."""
    pending = list(logical_ids)
    ordered: list[str] = []
    while pending:
        progressed = False
        for lid in list(pending):
            body = template_resources[lid]
            deps = (dependencies(body.get("Properties", {})) | set(as_list(body.get("DependsOn")))) & set(pending)
            deps.discard(lid)
            if not deps:
                ordered.append(lid)
                pending.remove(lid)
                progressed = True
        if not progressed:
            raise ProvisionError(f"circular references between {pending}")
    return ordered


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def dry_routes(
    template: dict[str, Any], *, stack_name: str = DEFAULT_STACK_NAME
) -> tuple[dict[str, FunctionSpec], list[RouteSpec]]:
    """Functions (env resolved with deterministic names) and API routes of a template, without any AWS call.

    For tools that only need to import handlers (the OpenAPI generator): a moto-free ``provision``.
    """
    env = {"partition": "aws", "region": "us-east-1", "account": "123456789012"}
    resources = template.get("Resources", {})
    initial = {lid: initial_resource(stack_name, lid, b.get("Type", ""), b.get("Properties") or {}, env)
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
            environment={k: env_str(v) for k, v in variables.items()},
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
