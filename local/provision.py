"""The local stack's deployer and Lambda runtime, under the names other code has always imported.

The code lives in modules split along their seams:

- ``local.synth``: the stack's template, synthesized in-process;
- ``local.resources``: the resource model (``LocalStack``, function/event source/schedule/route records);
- ``local.template``: deterministic names, ARNs and references, before anything exists (``dry_routes``);
- ``local.provisioner`` and ``local.wiring``: the template created in moto, and the wiring moto does not run;
- ``local.runtime``: the in-process Lambda runtime (``Dispatcher``, ``LambdaContext``);
- ``local.patches``: the patches to moto and Powertools (``lambda_dispatch``, ``serialized_dynamodb``).

This module only re-exports their public names; see docs/local-stack.md.
"""

from __future__ import annotations

from local.patches import lambda_dispatch, serialized_dynamodb
from local.provisioner import LOCAL_ROLE_NAME, provision
from local.resources import (
    DEFAULT_STACK_NAME,
    AuthorizerSpec,
    EventSourceSpec,
    FunctionSpec,
    LocalStack,
    ProvisionError,
    Resource,
    RouteSpec,
    ScheduleSpec,
    ScheduleTarget,
)
from local.runtime import Dispatcher, FunctionError, Invocation, LambdaContext
from local.synth import synth_template
from local.template import DUMMY_SSM_VALUE, PROVISIONED_TYPES, dry_routes, physical_name

__all__ = [
    "DEFAULT_STACK_NAME",
    "DUMMY_SSM_VALUE",
    "LOCAL_ROLE_NAME",
    "PROVISIONED_TYPES",
    "AuthorizerSpec",
    "Dispatcher",
    "EventSourceSpec",
    "FunctionError",
    "FunctionSpec",
    "Invocation",
    "LambdaContext",
    "LocalStack",
    "ProvisionError",
    "Resource",
    "RouteSpec",
    "ScheduleSpec",
    "ScheduleTarget",
    "dry_routes",
    "lambda_dispatch",
    "physical_name",
    "provision",
    "serialized_dynamodb",
    "synth_template",
]
