"""The in-process Lambda runtime: runs a stack's real handlers as Lambda would, in this process.

Like Lambda, a function serves concurrent invocations from several execution environments, each
handling one event at a time; see ``Dispatcher``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.resources import FunctionSpec, LocalStack

log = logging.getLogger("local.runtime")


class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, *, request_id: str | None = None, log_stream_name: str | None = None):
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = log_stream_name or _log_stream_name()
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _log_stream_name() -> str:
    return time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex


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
    environment: int = 0  # which execution environment of the function ran it (1, 2, ...)
    cold: bool = False  # the environment's first invocation


@dataclass
class Environment:
    """One execution environment of a function: it serves one event at a time, and keeps its log stream."""

    function: str
    index: int
    log_stream_name: str = field(default_factory=_log_stream_name)
    invocations: int = 0


class _Pool:
    """A function's execution environments: at most ``size``, the most recently used taken first."""

    def __init__(self, function: str, size: int):
        self.function, self.size = function, size
        self.idle: list[Environment] = []
        self.created = 0
        self.cond = threading.Condition()

    def acquire(self, timeout: float | None) -> Environment | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                if self.idle:
                    return self.idle.pop()
                if self.created < self.size:
                    self.created += 1
                    return Environment(self.function, self.created)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def release(self, env: Environment) -> None:
        with self.cond:
            self.idle.append(env)
            self.cond.notify()


_PER_FUNCTION_ENV = ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE")


def _name_the_service(module: Any, own: dict[str, str]) -> None:
    """A module imported earlier in this process (a test that built its app directly, another stack) made its
    Logger and Metrics under that moment's environment: give them this function's service name and namespace,
    as its own Lambda process would have."""
    service, namespace = own.get("POWERTOOLS_SERVICE_NAME"), own.get("POWERTOOLS_METRICS_NAMESPACE")
    metrics, logger = getattr(module, "metrics", None), getattr(module, "logger", None)
    if service and hasattr(metrics, "service"):
        metrics.service = service
    if namespace and hasattr(metrics, "namespace"):
        metrics.namespace = namespace
    if service and hasattr(logger, "append_keys"):
        logger.append_keys(service=service)


class Dispatcher:
    """Runs a stack's handlers in this process, concurrently as Lambda does.

    Each function has a pool of up to ``max_concurrency`` execution environments; an invocation takes
    an idle one (the most recently used first, as Lambda reuses warm environments) or creates one, and
    holds it until the handler returns, so one environment serves one event at a time. When all are
    busy for ``lock_timeout`` seconds the invocation is throttled (``TooManyRequestsException``), as
    Lambda throttles past a function's concurrency; asynchronous invocations wait instead (Lambda keeps
    throttled events queued). The handler's module is imported once per process (Python cannot give each
    environment its own module state); the Powertools patch in ``local.patches`` keeps each
    invocation's event to its own thread.

    ``reload``: before each invocation, the ``.py`` files under the directories the handlers were imported from
    (``functions/``) are checked (size and modification time); when one changed, every module from those
    directories is dropped and the next invocation imports the handler again (a cold start), so an edit is
    served without a restart. State outside the modules (moto, the emulator) is kept.
    """

    def __init__(
        self,
        stack: LocalStack,
        *,
        lock_timeout: float = 30.0,
        max_async_workers: int = 8,
        max_concurrency: int = 10,
        reload: bool = False,
    ):
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.stack = stack
        self.lock_timeout = lock_timeout
        self.max_concurrency = max_concurrency
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._pools: dict[str, _Pool] = {}
        self._pools_lock = threading.Lock()
        self._import_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=max_async_workers, thread_name_prefix="lambda-async")
        self._pending: set[Future[Any]] = set()
        self._pending_lock = threading.Lock()
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []
        #: ``active`` is True on a thread while it runs a handler (lets a caller tell handler output apart)
        self.current = threading.local()
        self.reload = reload
        self.reloads: list[list[str]] = []  # the changed files of each reload, oldest first
        self._roots: set[Path] = set()
        self._sources: dict[str, tuple[int, int]] = {}

    def imported(self) -> int:
        """How many functions' handlers are imported (warm) right now."""
        return len(self._handlers)

    # -- reload on change -----------------------------------------------------------------------
    def _scan(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for root in self._roots:
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
                for name in files:
                    if name.endswith(".py"):
                        path = os.path.join(folder, name)
                        try:
                            st = os.stat(path)
                        except OSError:
                            continue
                        found[path] = (st.st_mtime_ns, st.st_size)
        return found

    def _watch(self, module: Any, module_name: str) -> None:
        """Watch the directory ``module`` was imported from (its top package's parent)."""
        file = getattr(module, "__file__", None)
        if not file:
            return
        path = Path(file).resolve()
        depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
        root = path.parents[depth]
        if root not in self._roots:
            self._roots.add(root)
            self._sources = self._scan()

    def _reload_if_changed(self) -> None:
        """Under the import lock: drop the modules of the watched directories if a source file changed."""
        if not self._roots:
            return
        now = self._scan()
        if now == self._sources:
            return
        changed = sorted(p for p in set(now) | set(self._sources) if now.get(p) != self._sources.get(p))
        self._sources = now
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and any(Path(file).resolve().is_relative_to(root) for root in self._roots):
                del sys.modules[name]
        importlib.invalidate_caches()
        self._handlers.clear()
        self.reloads.append(changed)
        log.info("reloading the functions: %s changed", ", ".join(os.path.relpath(p) for p in changed[:5]))

    def environments(self, name_or_arn: str) -> int:
        """How many execution environments the function has had so far."""
        pool = self._pools.get(self.spec(name_or_arn).name)
        return pool.created if pool else 0

    def _pool(self, spec: FunctionSpec) -> _Pool:
        with self._pools_lock:
            pool = self._pools.get(spec.name)
            if pool is None:
                pool = self._pools[spec.name] = _Pool(spec.name, self.max_concurrency)
            return pool

    def spec(self, name_or_arn: str) -> FunctionSpec:
        spec = self.stack.function(name_or_arn)
        if spec is None:
            raise KeyError(f"function {name_or_arn!r} is not part of the local stack")
        return spec

    def handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        """The handler callable, imported on first use (a cold start).

        While importing, the function's own service name and metrics namespace are in the environment:
        those are the POWERTOOLS_* values that legitimately differ between functions, and
        Powertools reads them when the module creates its Logger and Metrics.
        """
        with self._import_lock:
            if self.reload:
                self._reload_if_changed()
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
                _name_the_service(module, own)
                reset = getattr(module, "reset", None)
                if callable(reset):  # imported earlier (another stack, a test): this stack is a new environment
                    reset()
                self._handlers[spec.name] = getattr(module, attr)
                if self.reload:
                    self._watch(module, module_name)
            return self._handlers[spec.name]

    def invoke(self, name_or_arn: str, event: Any, *, source: str = "direct", wait: bool = False) -> Any:
        """Call the handler with ``event``; its return value, or FunctionError when it raised or was throttled.

        ``wait``: wait for a free execution environment however long it takes (asynchronous invocations).
        """
        spec = self.spec(name_or_arn)
        pool = self._pool(spec)
        env = pool.acquire(None if wait else self.lock_timeout)
        if env is None:
            log.warning("%s: all %d environments busy for %.0fs: throttled", spec.name, pool.size, self.lock_timeout)
            self._record(Invocation(spec.name, source, False, 0.0, "TooManyRequestsException: Rate Exceeded."))
            raise FunctionError(spec.name, "TooManyRequestsException", "Rate Exceeded.")
        cold = env.invocations == 0
        env.invocations += 1
        started = time.perf_counter()
        outer = getattr(self.current, "active", False)
        self.current.active = True
        try:
            fn = self.handler(spec)
            result = fn(event, LambdaContext(spec, log_stream_name=env.log_stream_name))
        except Exception as exc:
            record = Invocation(
                spec.name, source, False, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}",
                env.index, cold,
            )  # fmt: skip
            self._record(record)
            log.debug("handler %s failed:\n%s", spec.name, traceback.format_exc())
            raise FunctionError(spec.name, type(exc).__name__, str(exc)) from exc
        finally:
            self.current.active = outer
            pool.release(env)
        self._record(Invocation(spec.name, source, True, (time.perf_counter() - started) * 1000, None, env.index, cold))
        return result

    def invoke_payload(
        self, name_or_arn: str, payload: bytes | str | None, *, source: str, wait: bool = False
    ) -> tuple[bytes, bool]:
        """Lambda's wire view: JSON in, (JSON out, errored)."""
        try:
            text = payload.decode() if isinstance(payload, bytes) else (payload or "")
            event = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            return json.dumps({"errorType": "InvalidRequestContentException", "errorMessage": str(exc)}).encode(), True
        try:
            result = self.invoke(name_or_arn, event, source=source, wait=wait)
        except FunctionError as exc:
            return json.dumps({"errorType": exc.error_type, "errorMessage": exc.error_message}).encode(), True
        try:
            return json.dumps(result, default=str).encode(), False
        except (TypeError, ValueError) as exc:
            return json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}).encode(), True

    def invoke_async(self, name_or_arn: str, payload: bytes | str | None, *, source: str) -> None:
        """Lambda's ``Event`` invocation: queued, run on a worker thread."""

        def run() -> None:
            out, errored = self.invoke_payload(name_or_arn, payload, source=source, wait=True)
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
