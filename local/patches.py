"""Patches to moto and Powertools that make one process behave like many Lambda environments.

- ``lambda_dispatch``: moto's Lambda invocations (SDK, Step Functions tasks, S3/SNS notifications) run
  the real handlers through the ``Dispatcher``.
- ``_powertools_thread_local_events``: Powertools' current event per thread, not per process.
- ``serialized_dynamodb``: moto's DynamoDB item operations made atomic, as DynamoDB's are; a failed transaction
  puts back the items it touched (``transact_write_items``), not deep copies of whole tables.
- ``moto_definitions_validated_once``, ``moto_json_paths_parsed_once``, ``moto_dynamodb_results_fast``,
  ``moto_server_dispatch_cached``, ``moto_batch_imported_lazily``: moto's work that does not change while a process
  runs, done once.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from local.resources import LocalStack
from local.runtime import Dispatcher


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


class _ThreadLocalContext:
    """Data descriptor for a router's ``context`` dict, per thread and per router: Powertools keeps the matched
    route's arguments there (``_route_args``) between resolving a request and calling its handler, so two
    threads serving one function would read each other's. A thread starts from the router's own dict."""

    def __init__(self, store: threading.local):
        self.store = store

    def _contexts(self) -> weakref.WeakKeyDictionary[Any, dict[str, Any]]:
        contexts = getattr(self.store, "contexts", None)
        if contexts is None:
            contexts = self.store.contexts = weakref.WeakKeyDictionary()
        return contexts

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        contexts = self._contexts()
        if obj not in contexts:
            contexts[obj] = dict(obj.__dict__.get("context", {}))
        return contexts[obj]

    def __set__(self, obj: Any, value: Any) -> None:
        self._contexts()[obj] = value
        # a router created while patched (its __init__ sets ``context``) keeps one of its own after the patch
        obj.__dict__.setdefault("context", value)


@contextmanager
def _powertools_thread_local_events() -> Iterator[None]:
    """Make Powertools' process-global ``BaseRouter.current_event``/``lambda_context`` per thread, and each
    router's ``context`` per thread.

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
    type.__setattr__(BaseRouter, "context", _ThreadLocalContext(store))
    meta = type("_ThreadLocalRouterMeta", (original_meta,), {n: _ThreadLocalAttribute(n, store) for n in names})
    BaseRouter.__class__ = meta  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        BaseRouter.__class__ = original_meta  # type: ignore[assignment,method-assign]
        type.__delattr__(BaseRouter, "context")
        for n in names:
            type.__delattr__(BaseRouter, n)
            if n in saved:
                type.__setattr__(BaseRouter, n, saved[n])


class _ThreadLocalSet:
    """Data descriptor for one of Powertools' metric stores (``metric_set``, ``dimension_set``, ``metadata_set``,
    ``dimension_sets``) on ``AmazonCloudWatchEMFProvider``: per thread. Every ``Metrics()`` of a process shares
    class-level dicts (so metrics added through one instance are flushed by another's ``log_metrics``); on Lambda
    that process serves one invocation at a time, in a local stack several threads do, and one thread's flush
    iterated a dict another was adding to (``dictionary changed size during iteration``, a recording FAILED in a
    workflow test) or published the other invocation's metrics. Each thread gets its own copy of each shared
    store, so instances that share a store on Lambda still share it within an invocation."""

    def __init__(self, name: str, store: threading.local):
        self.name, self.store = name, store

    def _copies(self) -> dict[int, Any]:
        copies = getattr(self.store, "copies", None)
        if copies is None:
            copies = self.store.copies = {}
        return copies

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        shared = obj.__dict__.get(f"_shared_{self.name}", obj.__dict__.get(self.name))
        if shared is None:
            raise AttributeError(self.name)
        copies = self._copies()
        if id(shared) not in copies:
            fresh: Any = type(shared)()
            if self.name == "dimension_set":  # what the provider's __init__ and clear_metrics put there
                defaults = obj.__dict__.get("default_dimensions") or {}
                fresh.update({k: v if isinstance(v, str) else str(v) for k, v in defaults.items()})
            copies[id(shared)] = (shared, fresh)  # the shared object is kept so its id is not reused
        return copies[id(shared)][1]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[f"_shared_{self.name}"] = value
        obj.__dict__[self.name] = value  # what the provider reads once the patch is gone


@contextmanager
def _powertools_thread_local_metrics() -> Iterator[None]:
    """Make Powertools' metric stores per thread (``_ThreadLocalSet``) while a local stack runs."""
    try:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
    except ImportError:  # pragma: no cover - Powertools is a dependency of every handler
        yield
        return
    names = ("metric_set", "dimension_set", "metadata_set", "dimension_sets")
    if isinstance(AmazonCloudWatchEMFProvider.__dict__.get(names[0]), _ThreadLocalSet):  # nested dispatch
        yield
        return
    store = threading.local()
    for n in names:
        setattr(AmazonCloudWatchEMFProvider, n, _ThreadLocalSet(n, store))
    try:
        yield
    finally:
        for n in names:
            delattr(AmazonCloudWatchEMFProvider, n)


@contextmanager
def lambda_dispatch(
    stack: LocalStack,
    *,
    apply_environment: bool = True,
    lock_timeout: float = 30.0,
    max_concurrency: int = 10,
    reload: bool = False,
) -> Iterator[Dispatcher]:
    """Patch moto so Lambda invocations (SDK, Step Functions tasks, S3/SNS notifications) run the real handlers.

    - ``LambdaSimpleBackend.invoke`` (SDK ``Invoke``, state-machine tasks): synchronous, or queued for
      ``InvocationType=Event``; an exception becomes ``x-amz-function-error: Unhandled`` with
      ``{errorType, errorMessage}`` so Retry/Catch behave as on AWS.
    - ``LambdaFunction.invoke`` (moto's S3/SNS notifications, asynchronous on AWS): queued.
    ``reload``: the dispatcher re-imports the handlers when their source changed (``Dispatcher``).
    Functions that are not in ``stack`` keep moto's behaviour. DynamoDB is ``serialized_dynamodb`` meanwhile
    (handlers now run concurrently, so conditional writes must be atomic). Yields the ``Dispatcher``.
    """
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    moto_definitions_validated_once()
    moto_json_paths_parsed_once()
    moto_dynamodb_results_fast()
    dispatcher = Dispatcher(stack, lock_timeout=lock_timeout, max_concurrency=max_concurrency, reload=reload)
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
        with _powertools_thread_local_events(), _powertools_thread_local_metrics(), serialized_dynamodb():
            try:
                yield dispatcher
            finally:
                stop_running_executions()
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


def moto_server_dispatch_cached() -> None:
    """moto's server lists its own package directory (``os.listdir`` and an ``isdir`` per entry, some 150) on
    every request to learn its service names (``backends.list_of_moto_modules``), under the one lock that
    serializes its dispatch: 11 s of the API fuzz's 162 s of CPU, profiled. The package does not change while the
    process runs, so the list is read once. Idempotent; process-wide (the server is)."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_cached", False):
        return
    names = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return names

    list_of_moto_modules._cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]


def moto_definitions_validated_once() -> None:
    """moto's Step Functions backend parses a definition with its ANTLR grammar to validate it at every
    ``CreateStateMachine`` and discards the result: every stack (each workflow test module, each local stack)
    created the same state machines, and their validation was 5% of the workflow tier's CPU, profiled. Whether a
    definition is valid depends on its text only, so a text that passed is not parsed again; one that fails is
    parsed, and refused with moto's own error, every time. Each execution still parses its definition (its
    program is not shared between executions). Idempotent; process-wide."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    validate = StepFunctionsParserBackend._validate_definition
    if getattr(validate, "_cached", False):
        return
    valid: set[str] = set()

    def validate_once(definition: str) -> None:
        if definition in valid:
            return
        validate(definition=definition)  # raises InvalidDefinition: not remembered
        valid.add(definition)

    validate_once._cached = True  # type: ignore[attr-defined]
    validate_once._moto = validate  # type: ignore[attr-defined]  # moto's own, for the test that compares them
    StepFunctionsParserBackend._validate_definition = staticmethod(validate_once)  # type: ignore[method-assign]


def moto_json_paths_parsed_once() -> None:
    """moto's Step Functions interpreter parses each JSONPath (``InputPath``, ``ResultSelector``'s ``.$`` fields,
    ``ResultPath``) with jsonpath_ng at every state of every execution, and jsonpath_ng builds its parser (PLY's
    tables) at every call: 4% of a local stack's CPU in the hostile e2e cases, profiled. A path's parse depends on
    its text only and the expression is only read (``find``, ``update``), so each text is parsed once (a failing
    one is parsed, and fails, every time). Idempotent; process-wide."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        if not getattr(module.parse, "cache_info", None):
            module.parse = functools.lru_cache(maxsize=4096)(module.parse)  # type: ignore[assignment]


#: DynamoDB's item operations: their results are items, keys and counts (no timestamp, and a binary value is
#: bytes, which JSON refuses, so it takes moto's own path)
_FAST_DYNAMODB_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "TransactGetItems",
})  # fmt: skip
#: ``AGORA_MOTO_SERIALIZER_CHECK=1``: every fast answer is also serialized by moto, and a difference fails the request
SERIALIZER_CHECK = "AGORA_MOTO_SERIALIZER_CHECK"
#: the answers given by the fast path, by operation (its test shows each one was taken)
fast_answers: Counter[str] = Counter()


def fast_dynamodb_result(result: Any, operation: str, members: Iterable[str]) -> str | None:
    """The JSON body moto's serializer gives ``result`` (an item operation's, ``dynamo_to_dict``'s plain values;
    ``members``: the output shape's), or None where this cannot be sure it is the same: another operation, a value
    JSON refuses (bytes, a datetime), a None (moto's serializer leaves it out). Like moto's, it keeps only the
    shape's members (moto's results carry others, e.g. ``ConsumedCapacityUnits``). Key order may differ (the
    shape's against the result's); a JSON reader sees the same document
    (``tests/integration/test_moto_dynamodb_serializer.py``)."""
    if operation not in _FAST_DYNAMODB_OPERATIONS or not isinstance(result, dict):
        return None
    known = set(members)
    try:
        body = json.dumps({k: v for k, v in result.items() if k in known}, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return None if "null" in body else body


class _Unsure(Exception):
    """A value the plain walk below does not know moto's serializer would give unchanged: moto's path serializes it."""


#: scalar shapes moto's JSON serializer writes as they are, when the value is exactly of these types
_UNCHANGED = {"string": (str,), "boolean": (bool,), "integer": (int,), "long": (int,)}


def _plain(value: Any, shape: Any, timestamps: Any, xform_name: Callable[[str], str]) -> Any:
    """``value`` as moto's JSON serializer writes it for ``shape``, for what it surely writes unchanged: structures
    of their members spelled as in the model (moto's picker also tries snake_case spellings: unsure), lists, maps,
    strings, booleans, numbers, bytes base64-encoded as moto's ``_base64`` does, and timestamps through moto's own
    ``TimestampSerializer``. Anything else: unsure."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return _plain_structure(value, shape, timestamps, xform_name)
    if kind == "list" and isinstance(value, list):
        return [_plain(v, shape.member, timestamps, xform_name) for v in value]
    if kind == "map" and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, shape.value, timestamps, xform_name) for k, v in value.items()}
    return _plain_scalar(value, kind, shape, timestamps)


def _plain_scalar(value: Any, kind: str, shape: Any, timestamps: Any) -> Any:
    if type(value) in _UNCHANGED.get(kind, ()):
        return value
    if kind in ("float", "double") and type(value) in (int, float):
        return float(value)
    if kind == "blob" and isinstance(value, bytes):  # as moto's ``_base64``
        return base64.b64encode(value).strip().decode()
    if kind != "timestamp" or not isinstance(value, datetime):
        raise _Unsure(kind)
    wrapper: dict[str, Any] = {}
    timestamps.serialize(wrapper, value, shape, "t")
    return wrapper["t"]


def _plain_structure(value: dict[str, Any], shape: Any, timestamps: Any, xform_name: Callable[[str], str]) -> Any:
    out = {}
    for name, member in shape.members.items():
        if name not in value:
            if xform_name(name) in value:
                raise _Unsure(name)
            continue
        if value[name] is not None:  # moto's serializer leaves a None member out
            out[member.serialization.get("name", name)] = _plain(value[name], member, timestamps, xform_name)
    return out


def fast_stream_records(result: Any, output_shape: Any) -> str | None:
    """DynamoDB Streams' ``GetRecords`` answer as moto's serializer writes it (``_plain``), or None where unsure."""
    from botocore import xform_name
    from moto.core.serialize import BaseJSONSerializer, TimestampSerializer

    timestamps = TimestampSerializer(BaseJSONSerializer.DEFAULT_TIMESTAMP_FORMAT)
    try:
        plain = _plain(result, output_shape, timestamps, xform_name)
        return json.dumps(plain, allow_nan=False)
    except (_Unsure, TypeError, ValueError):
        return None


def _answered_fast(operation: str, fast: Any, moto_answer: Callable[[], Any]) -> Any:
    """``fast`` (status, headers, body), counted; under ``SERIALIZER_CHECK``, first compared with ``moto_answer()``
    (status, headers and the parsed document): a difference fails the request."""
    fast_answers[operation] += 1
    if os.environ.get(SERIALIZER_CHECK) == "1":
        slow = moto_answer()
        same = (slow[0], slow[1], json.loads(slow[2])) == (fast[0], fast[1], json.loads(fast[2]))
        assert same, f"{operation}: moto's serializer gives {slow!r}, the fast path {fast!r}"
    return fast


def moto_dynamodb_results_fast() -> None:
    """moto serializes every DynamoDB answer by walking the operation's output shape, member by member, trying
    each member's spellings on the result with a new picker per attribute: about a quarter of the CPU of the
    webhook tests, for results that are already in DynamoDB's JSON form (``dynamo_to_dict``). For the item
    operations (``fast_dynamodb_result``) the body is that JSON; anything else, and every error, takes moto's
    serializer. Idempotent; process-wide (moto's backends are)."""
    from moto import settings
    from moto.dynamodb.responses import DynamoResult

    generic = DynamoResult.execute_result
    if getattr(generic, "_fast", False):
        return

    def execute_result(self: Any, context: Any) -> Any:
        operation = str(context.operation_model.name)
        shape = context.operation_model.output_shape
        members = shape.members if shape is not None else ()
        body = None if settings.PRETTIFY_RESPONSES else fast_dynamodb_result(self.result, operation, members)
        if body is None:
            return generic(self, context)
        status = context.operation_model.http.get("responseCode", 200)
        version = context.service_model.metadata.get("jsonVersion", "1.0")
        fast = status, {"Content-Type": f"application/x-amz-json-{version}"}, body
        return _answered_fast(operation, fast, lambda: generic(self, context))

    execute_result._fast = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    _stream_records_fast()


def _stream_records_fast() -> None:
    """The same for DynamoDB Streams' ``GetRecords`` (every stream pump's poll: 5 ms of moto's serializer each, the
    largest serializer cost left in a local stack, profiled), through ``fast_stream_records``."""
    from moto import settings
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    generic = DynamoDBStreamsHandler.serialized
    if getattr(generic, "_fast", False):
        return

    def serialized(self: Any, action_result: Any) -> Any:
        plain = type(action_result).__name__ == "ActionResult"  # not an error, not a paginated or empty result
        if self._get_action() != "GetRecords" or settings.PRETTIFY_RESPONSES or not plain:
            return generic(self, action_result)
        from moto.core.responses import get_service_model

        model = get_service_model(self.boto3_service_name)
        operation = model.operation_model("GetRecords")
        body = fast_stream_records(action_result.result, operation.output_shape)
        if body is None:
            return generic(self, action_result)
        version = model.metadata.get("jsonVersion", "1.0")
        fast = 200, {"Content-Type": f"application/x-amz-json-{version}", **self.response_headers}, body
        return _answered_fast("GetRecords", fast, lambda: generic(self, action_result))

    serialized._fast = True  # type: ignore[attr-defined]
    DynamoDBStreamsHandler.serialized = serialized  # type: ignore[method-assign]


def moto_batch_imported_lazily() -> None:
    """moto's Step Functions interpreter imports ``moto.batch.utils`` (one enum, for its Batch task integration), and
    the package's ``__init__`` imports Batch's models, which import all of EC2's: region and instance-type tables
    read at import, 1.7 s of CPU at every local stack's start (its first state machine), for a service the stack
    never calls. The package is registered without running its ``__init__`` (its submodules import as usual) and
    its attributes (``batch_backends``, all the ``__init__`` exports) are read from ``moto.batch.models`` when first
    asked for: a Batch request still reaches moto's real backend. Idempotent; a no-op once ``moto.batch`` is
    imported (before any of its names are used, the two are indistinguishable to moto)."""
    import importlib
    import importlib.util
    import sys
    import types

    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType("moto.batch")
    package.__spec__, package.__file__, package.__package__ = spec, spec.origin, "moto.batch"
    package.__path__ = list(spec.submodule_search_locations)

    def exported(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module("moto.batch.models"), name)

    package.__getattr__ = exported  # type: ignore[method-assign]
    sys.modules["moto.batch"] = package


def stop_running_executions() -> int:
    """Stop every execution moto is still running in this process (in any account and region); return how many.

    moto runs each execution in a thread of its own that outlives ``mock_aws`` and its backends' reset. A
    stack torn down with executions in flight (a test module that leaves recordings running, a local stack
    stopped mid-recording) would otherwise keep their threads going: their next Lambda task invokes a function
    by name, and the next stack in the process has functions of the same names, so the old executions' steps
    ran in the new stack, against its limiter and its dispatcher's ten slots (a workflow test's execution,
    starved, was still RUNNING after 120 s in CI). Stopping sets the program's stop event: a Wait ends at once,
    a task waiting for its token is woken (moto then records it FAILED, States.Timeout, rather than ABORTED), no
    further state runs; a Lambda task already running finishes (``Dispatcher.drain`` waits for it).
    ``tests/workflow/test_stack_teardown.py``: the threads end and no step runs after the stack."""
    from datetime import UTC, datetime

    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    stopped = 0
    for _account, regions in list(stepfunctions_parser_backends.items()):
        for _region, backend in list(regions.items()):
            for machine in list(backend.state_machines):
                for execution in list(getattr(machine, "executions", ())):
                    worker = getattr(execution, "exec_worker", None)
                    if worker is None or getattr(execution, "status", None) != "RUNNING":
                        continue  # never run (execute_state_machine off) or already ended
                    worker.stop(stop_date=datetime.now(UTC), error="LocalStackStopped", cause="the stack stopped")
                    # a task waiting for its token (WaitForStop) does not see the stop: wake it (moto keeps its
                    # callbacks in a private pool; without it the thread waits out the task's timeout, idle)
                    pool = getattr(getattr(worker.env, "callback_pool_manager", None), "_pool", {})
                    for endpoint in list(pool.values()):
                        endpoint.interrupt_all()
                    stopped += 1
    return stopped


#: moto's DynamoDB backend operations that read or write items (batch operations call these per item)
_DYNAMODB_OPERATIONS = (
    "put_item", "get_item", "query", "scan", "update_item", "delete_item", "transact_write_items",
    "execute_statement", "execute_transaction", "batch_execute_statement",
)  # fmt: skip
_dynamodb_lock = threading.RLock()
_dynamodb_patch_lock = threading.Lock()
_dynamodb_patch_depth = 0
_dynamodb_originals: dict[str, Any] = {}


@contextmanager
def serialized_dynamodb() -> Iterator[None]:
    """Give moto's DynamoDB the atomicity of the real one, while the context is open (nestable).

    moto takes no lock: two concurrent conditional writes on one item can both pass their checks, and a
    transaction restores deep copies of whole tables on failure (losing other threads' writes). DynamoDB
    makes each request atomic and transactions serializable. One process-wide lock around moto's item
    operations restores that, in-process (``mock_aws``) and in a moto server thread alike. The same lock spans
    each whole request of moto's DynamoDB handler (``DynamoHandler.call_action``): ``get_item`` hands the live
    item to the response layer, which serialized it after the operation's lock was released while another
    thread's update changed it (``dictionary changed size during iteration``, a workflow test on Python 3.13).
    """
    global _dynamodb_patch_depth  # noqa: PLW0603 - the patch is process-wide, like the class it patches
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    def locked(original: Any) -> Any:
        def operation(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return original(self, *args, **kwargs)

        return operation

    with _dynamodb_patch_lock:
        if _dynamodb_patch_depth == 0:
            for name in _DYNAMODB_OPERATIONS:
                _dynamodb_originals[name] = DynamoDBBackend.__dict__[name]
                replacement = transact_write_items if name == "transact_write_items" else _dynamodb_originals[name]
                setattr(DynamoDBBackend, name, locked(replacement))
            _dynamodb_originals["call_action"] = DynamoHandler.__dict__["call_action"]
            DynamoHandler.call_action = locked(_dynamodb_originals["call_action"])  # type: ignore[method-assign]
        _dynamodb_patch_depth += 1
    try:
        yield
    finally:
        with _dynamodb_patch_lock:
            _dynamodb_patch_depth -= 1
            if _dynamodb_patch_depth == 0:
                for name, original in _dynamodb_originals.items():
                    setattr(DynamoHandler if name == "call_action" else DynamoDBBackend, name, original)
                _dynamodb_originals.clear()


class _TouchedItems:
    """What a transaction may change, taken before it runs: each item it names (a deep copy, or absent) and each
    touched table's stream records (the list, shallow: records are never changed once appended)."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]):
        import copy

        from moto.dynamodb.models.dynamo_type import DynamoType

        self.items: list[tuple[Any, Any, Any, bool, Any]] = []  # (table, hash, range, hash present, item or None)
        self.streams: dict[str, tuple[Any, list[Any]]] = {}
        for entry in transact_items:
            op = next(iter(entry.values()), None)
            if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
                continue
            table = backend.tables[op["TableName"]]
            key = op.get("Key") if "Key" in op else op.get("Item")
            if not isinstance(key, dict) or table.hash_key_attr not in key:
                continue  # moto refuses it before any write
            if table.range_key_attr is not None and table.range_key_attr not in key:
                continue
            try:
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                present = hash_value in table.items
                if range_value is None:
                    current = table.items.get(hash_value)
                else:
                    current = table.items[hash_value].get(range_value) if present else None
            except Exception:  # noqa: S112 - a malformed key: moto refuses the operation before it writes
                continue
            self.items.append((table, hash_value, range_value, present, copy.deepcopy(current)))
            if table.stream_shard is not None and table.name not in self.streams:
                self.streams[table.name] = (table.stream_shard, list(table.stream_shard.items))

    def restore(self) -> None:
        for table, hash_value, range_value, present, item in reversed(self.items):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
                continue
            if item is not None:
                table.items[hash_value][range_value] = item
                continue
            if hash_value in table.items:
                table.items[hash_value].pop(range_value, None)
                if not present and not table.items[hash_value]:
                    del table.items[hash_value]
        for shard, records in self.streams.values():
            shard.items = records


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``DynamoDBBackend.transact_write_items`` (moto 5.2, Apache-2.0), rolling back by item.

    moto deep-copies every table the transaction names before it runs, items and stream records included, and
    puts the copies back on failure: the cost grows with the table and its stream (a 300-item table: 0.5 s a
    transaction, against 16 ms an UpdateItem), and the whole-table put-back loses other requests' writes made in
    between. This takes a copy of the items the transaction names and of the stream's record list, and puts
    back exactly those. Everything else is moto's code; tests/integration/test_moto_transactions.py runs the
    same transactions through both and compares tables, streams and errors.
    """
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    touched = _TouchedItems(self, transact_items)
    target_items: set[tuple[str, str]] = set()
    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            _transact_one(self, item, target_items)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            touched.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), getattr(e, "transaction_item", None)))  # type: ignore[arg-type]
        except Exception as e:
            errors.append((type(e).__name__, str(e), None))  # type: ignore[arg-type]
    if any(code is not None for code, _, _ in errors):
        touched.restore()
        raise TransactionCanceledException(errors)


def _transact_one(backend: Any, item: dict[str, Any], target_items: set[tuple[str, str]]) -> None:
    """One operation of a transaction, as moto's loop body runs it (a failed condition carries the item)."""
    from moto.dynamodb.exceptions import ConditionalCheckFailed, MultipleTransactionsException
    from moto.dynamodb.models import get_filter_expression

    op_type, op = next(iter(item.items()))
    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    table_name = op["TableName"]
    condition_expression = op.get("ConditionExpression")
    names = op.get("ExpressionAttributeNames")
    values = op.get("ExpressionAttributeValues")
    if op_type == "Put":
        attrs = op["Item"]
        table = backend.get_table(table_name)
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
    else:
        key = op["Key"]
    unique = (str(table_name), str(dict(sorted(key.items()))))
    if unique in target_items:
        raise MultipleTransactionsException()
    target_items.add(unique)
    current = backend.get_item(table_name, key)
    if condition_expression is not None and not get_filter_expression(condition_expression, names, values).expr(
        current
    ):
        original = None
        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
            original = current.to_json()["Attributes"]
        failed = ConditionalCheckFailed(item=original)
        failed.transaction_item = original  # type: ignore[attr-defined]
        raise failed
    common = {"condition_expression": condition_expression, "expression_attribute_names": names,
              "expression_attribute_values": values}  # fmt: skip
    if op_type == "Put":
        backend.put_item(table_name, op["Item"], **common)
    elif op_type == "Delete":
        backend.delete_item(table_name, key, **common)
    elif op_type == "Update":
        backend.update_item(table_name, key, update_expression=op["UpdateExpression"], **common)
