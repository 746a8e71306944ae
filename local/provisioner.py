"""Provision the synthesized CloudFormation template into moto.

There is no CloudFormation locally, so this module is a small, generic deployer driven by resource
types: it walks the template that ``app.py`` synthesizes, gives every resource a deterministic
physical name, creates what moto can hold (DynamoDB, SQS, S3, SNS, Secrets Manager, Lambda, Step
Functions) through boto3, and (``local.wiring``) records what moto cannot run by itself (event source
mappings, schedules, API routes) for the local stack's pumps and API server.

Works against whatever moto backend boto3 reaches: ``mock_aws`` in-process, or a moto server via
``AWS_ENDPOINT_URL``. See docs/local-stack.md.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Mapping
from typing import Any

from local.intrinsics import IntrinsicError, Resolver, substitute_definition
from local.resources import DEFAULT_STACK_NAME, FunctionSpec, LocalStack, ProvisionError
from local.template import DUMMY_SSM_VALUE, PROVISIONED_TYPES, env_str, initial_resource, topological
from local.wiring import Wiring

LOCAL_ROLE_NAME = "agora-serverless-local-lambda"


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "The local stack runs this function's real handler in-process.\n")
    return buf.getvalue()


class _Provisioner(Wiring):
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
            res = initial_resource(stack_name, lid, body.get("Type", ""), body.get("Properties") or {}, self.env)
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
        for lid in topological(ids, self.resources_tpl):
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
            env = {k: env_str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
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


def provision(
    template: dict[str, Any],
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    session: Any = None,
    parameters: Mapping[str, Any] | None = None,
) -> LocalStack:
    """Create the template's resources in the moto backend that boto3 reaches; see the module docstring."""
    if session is None:
        from service.adapters.aws import new_boto3_session

        session = new_boto3_session()
    return _Provisioner(template, stack_name=stack_name, session=session, parameters=parameters or {}).run()
