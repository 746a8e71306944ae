"""``make run``: the whole system on this machine, in one foreground process, on loopback only.

moto (as a server thread) holds the AWS resources provisioned from the synthesized template, the real
handlers run in-process (``local.provision.lambda_dispatch``), pumps feed them DynamoDB streams, SQS and
schedules, the Agora emulator plays Agora (REST, S3 uploads, signed NCS webhooks) and ``local.api_server``
plays API Gateway with a local JWT issuer; ``local.web`` serves the web example on an origin of its own
(allowed by the API's CORS configuration). Stop with Ctrl-C.

About 800 lines: the runtime's start order is one story (ports, moto, template, secrets and saved state, emulator,
API, web), each phase reported with its time, plus ``GET /health`` and the command line (local.env under the flags,
signals while starting and running); the banner lives in ``local.banner``, the servers, the template cache
(``local.synth``), local.env and real Agora mode (``local.config``), ``--state`` (``local.state``) and the infra
watcher (``local.watch``) in their own modules.

Over 400 lines on purpose: LocalRuntime, its command line and its start-up checks form the one public entry point of
the local stack.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import gc
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from emulator.options import check_option, command_line_option, parse_option
from local.config import DEFAULT_PATH as DEFAULT_CONFIG
from local.config import ConfigError, RealAgora, parse_bool
from local.config import load as load_config
from local.provision import DEFAULT_STACK_NAME, Dispatcher, LocalStack, lambda_dispatch, provision
from local.state import StateDir
from local.synth import DEFAULT_CACHE_DIR, cached_template

log = logging.getLogger("local.run")
LOOPBACK = "127.0.0.1"
DEFAULT_PORTS = {"api": 8080, "moto": 5000, "emulator": 8090, "web": 8081}
#: the option of each port and the ``make run`` variable that sets it (the busy-port hint names both)
MAKE_VARIABLES = {"--port": "PORT", "--moto-port": "MOTO_PORT", "--emulator-port": "EMULATOR_PORT",
                  "--web-port": "WEB_PORT"}  # fmt: skip
#: the emulator's URL in the cached template (the real one, with this run's port, replaces it)
EMULATOR_PLACEHOLDER = "http://agora-emulator.local-stack.invalid"
LOCAL_APP_ID = "0123456789abcdef0123456789abcdef"  # the emulator's default App ID (32 hex)
#: environment for the in-process functions that only makes sense locally (cosmetic: logs/tracing)
LOCAL_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_XRAY_SDK_ENABLED": "false",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


class StartupError(RuntimeError):
    """The local stack cannot start; ``exit_code`` 2 for a busy port, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _short(exc: BaseException, limit: int = 1500) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[:limit] + " ..."


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_port(port: int, what: str, option: str, host: str = LOOPBACK) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                hint = f"make run {MAKE_VARIABLES[option]}=PORT or {option} PORT" if option in MAKE_VARIABLES \
                    else f"{option} PORT"  # fmt: skip
                raise StartupError(
                    f"port {port} for the {what} is already in use on {host}; choose another with {hint}", 2
                ) from exc
            raise


@dataclass
class Secrets:
    """The local secret values, shared by the functions (Secrets Manager in moto) and the emulator."""

    app_certificate: str = field(default_factory=lambda: secrets.token_hex(16))
    customer_id: str = field(default_factory=lambda: "local-" + secrets.token_hex(6))
    customer_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ncs_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    storage_access_key: str = field(default_factory=lambda: "AKIALOCAL" + secrets.token_hex(6).upper())
    storage_secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))

    def documents(self) -> dict[str, dict[str, str]]:
        """Secret JSON by the env var that names it (the names the functions read; unknown ones are reported)."""
        return {
            "APP_CERTIFICATE_SECRET_NAME": {"app_certificate": self.app_certificate},
            "AGORA_REST_SECRET_NAME": {"customer_id": self.customer_id, "customer_secret": self.customer_secret},
            "NCS_SECRET_NAME": {"default": self.ncs_secret},
            "RECORDING_UPLOADER_SECRET_NAME": {
                "access_key": self.storage_access_key,
                "secret_key": self.storage_secret_key,
            },
        }


def _drop_variables(template: dict[str, Any], value: str) -> None:
    """Remove the functions' environment variables whose value is ``value``."""
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Lambda::Function":
            variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            for name in [name for name, v in variables.items() if v == value]:
                del variables[name]


class LocalRuntime:
    """Everything ``make run`` starts, as an object (``make demo`` and the e2e test use it too)."""

    def __init__(
        self,
        *,
        api_port: int = DEFAULT_PORTS["api"],
        moto_port: int = DEFAULT_PORTS["moto"],
        emulator_port: int = DEFAULT_PORTS["emulator"],
        stack_name: str = DEFAULT_STACK_NAME,
        env_overrides: dict[str, str] | None = None,
        emulator_options: dict[str, Any] | None = None,
        on_request: Callable[[str], None] | None = None,
        sqs_retry_delay: float | None = 2.0,
        cors_origins: list[str] | None = None,
        web_port: int | None = None,
        context: dict[str, Any] | None = None,
        forward_events: str | None = None,
        progress: Callable[[str], None] | None = None,
        template_cache: Path | None = DEFAULT_CACHE_DIR,
        reload: bool = True,
        state_dir: Path | None = None,
        real_agora: RealAgora | None = None,
    ):
        """``web_port``: serve examples/web there (0: any free port; None: not at all); its origin is added to
        ``cors_origins`` (the API's allowed browser origins, ``corsOrigins`` of the template). ``context``: CDK
        context for the synthesized template (e.g. the recording workflow's numbers, ``recordingResolveSeconds``),
        as ``cdk synth -c`` would pass it; the local App ID and the emulator as Agora's REST host always win.
        ``progress``: called with one line per start-up phase, with its time. ``template_cache``: where synthesized
        templates are kept, keyed on a hash of what they are made of (None: synthesize every time). ``reload``: an
        edit under ``functions/`` is served on the next request (the handlers are re-imported), and an edit of
        ``infra/``, ``app.py`` or ``cdk.json`` is reported through ``progress`` as needing a restart.
        ``state_dir``: secrets, the local issuer's key and the tables' and buckets' data are kept there across
        restarts (``local.state``; None: a fresh stack). ``real_agora``: a real Agora project instead of the
        emulator (``local.config.RealAgora``: tokens for its App ID, REST calls to Agora's hosts)."""
        self.host = LOOPBACK
        self.api_port, self.moto_port, self.emulator_port = api_port, moto_port, emulator_port
        self.web_port = free_port() if web_port == 0 else web_port
        own = [f"http://{self.host}:{self.web_port}", f"http://localhost:{self.web_port}"] if self.web_port else []
        self.cors_origins = list(dict.fromkeys([*(cors_origins or []), *own]))
        self.web: Any = None
        self.stack_name = stack_name
        self.context = dict(context or {})
        self.env_overrides = {**LOCAL_ENV, **(env_overrides or {})}
        self.emulator_options = emulator_options or {}
        self.on_request = on_request
        self.progress = progress
        self.template_cache = template_cache
        self.reload = reload
        self.watcher: Any = None
        self.template_cached: bool | None = None
        self.ready = self.ready_once = False
        self.timings: dict[str, float] = {}
        self.sqs_retry_delay = sqs_retry_delay
        self.state = StateDir(state_dir) if state_dir is not None else None
        self.restored: dict[str, int] = {}
        self.saved: dict[str, int] = {}
        saved = self.state.load_secrets(Secrets) if self.state is not None else None
        self.secrets = saved or Secrets()
        if self.state is not None and saved is None:
            self.state.save_secrets(self.secrets)
        self.real_agora = real_agora
        self.app_id = LOCAL_APP_ID
        if real_agora is not None:  # the real project's values win; none of them is written to the state dir
            self.app_id = real_agora.app_id
            self.secrets = dataclasses.replace(
                self.secrets, app_certificate=real_agora.app_certificate,
                customer_id=real_agora.customer_id or self.secrets.customer_id,
                customer_secret=real_agora.customer_secret or self.secrets.customer_secret,
                ncs_secret=real_agora.ncs_secret or self.secrets.ncs_secret,
            )  # fmt: skip
        self._session: Any = None
        self.stack: LocalStack | None = None
        self.dispatcher: Dispatcher | None = None
        self.emulator: Any = None
        self.emulator_error: str | None = None
        self.api: Any = None
        self.pumps: Any = None
        self.events: Any = None  # local.events.LocalEvents: the bus's events, GET /local/events
        self.forward_events = forward_events
        self.identity: Any = None
        self.seeded: dict[str, str] = {}  # secret name -> env var
        self.unseeded: dict[str, str] = {}
        self._moto: Any = None
        self._exit = contextlib.ExitStack()
        self._saved_env: dict[str, str | None] = {}

    # -- urls ---------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://{self.host}:{self.emulator_port}"

    @property
    def web_url(self) -> str | None:
        return f"http://{self.host}:{self.web_port}" if self.web_port else None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> LocalRuntime:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _phase(self, name: str, started: float, detail: str) -> float:
        """Report a finished start-up phase; returns the time the next one starts."""
        now = time.perf_counter()
        self.timings[name] = now - started
        if self.progress is not None:
            self.progress(f"  {detail} ({now - started:.1f} s)")
        return now

    def _start(self) -> None:
        t0 = time.perf_counter()
        check_port(self.api_port, "local API", "--port")
        check_port(self.moto_port, "moto server", "--moto-port")
        check_port(self.emulator_port, "Agora emulator", "--emulator-port")
        if self.web_port:
            check_port(self.web_port, "web example", "--web-port")
        self._start_moto()
        t = self._phase("moto", t0, f"AWS (moto server) on {self.moto_url}")
        template = self._template()
        t = self._phase(
            "template", t,
            "template: from the cache (.cache/local-stack)" if self.template_cached
            else "template: synthesized (infra/, app.py, cdk.json, the pins or the options changed; cached now)",
        )  # fmt: skip
        self._provision(template)
        assert self.stack is not None
        restored = (f"; restored {self.restored['items']} items, {self.restored['objects']} objects"
                    if self.restored else "")  # fmt: skip
        t = self._phase(
            "provision", t, f"provisioned in moto: {len(self.stack.functions)} functions, "
            f"{len(self.stack.routes)} routes, {len(self.seeded)} secrets{restored}"
        )  # fmt: skip
        # 3. Handlers in-process, with the stack's environment (plus local cosmetics).
        self.dispatcher = self._exit.enter_context(lambda_dispatch(self.stack, reload=self.reload))
        self._set_env(self.env_overrides)
        # 4. The Agora emulator: S3 = moto, webhooks = our API, same NCS secret and REST credentials.
        self._start_emulator()
        t = self._phase("emulator", t, f"Agora emulator on {self.emulator_url}" if self.emulator
                        else f"Agora emulator: not running ({self.emulator_error})")  # fmt: skip
        # 5. Identity, the pumps and the API; then the web example.
        self._start_api()
        t = self._phase("api", t, f"local API on {self.api_url}, {len(self.pumps.describe())} pumps")
        if self.web_port:
            self._start_web()
            t = self._phase("web", t, f"web example on {self.web_url}")
        if self.reload:
            from local.watch import InfraWatcher

            self.watcher = InfraWatcher(self.progress or log.warning)
            self.watcher.start()
        self.timings["total"] = t - t0
        self.ready = self.ready_once = True

    def _start_moto(self) -> None:
        """1. AWS: moto as a server thread; every boto3 client of this process goes there."""
        self._set_env({
            "MOTO_PORT": str(self.moto_port),  # the Step Functions interpreter calls back through it
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
        })  # fmt: skip
        os.environ.pop("AWS_PROFILE", None)
        from moto.server import ThreadedMotoServer

        from local.patches import moto_batch_imported_lazily, moto_server_dispatch_cached

        moto_server_dispatch_cached()
        moto_batch_imported_lazily()
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self._moto.start()
        self._configure_moto()
        from service.adapters.aws import reset_clients

        reset_clients()

    def _own_origins(self) -> dict[str, str]:
        """The web example's origins and the placeholders the cached template holds instead (its port varies)."""
        if not self.web_port:
            return {}
        return {f"http://{self.host}:{self.web_port}": "http://web-1.local-stack.invalid",
                f"http://localhost:{self.web_port}": "http://web-2.local-stack.invalid"}  # fmt: skip

    def template_context(self) -> dict[str, Any]:
        """The CDK context the template is synthesized with (and cached under): ``context``, and placeholders for
        what differs between runs (the App ID, the REST hosts, the web example's origins), replaced after."""
        context = {**self.context, "agoraAppId": LOCAL_APP_ID, "restBaseUrls": EMULATOR_PLACEHOLDER}
        if self.cors_origins:
            own = self._own_origins()
            context["corsOrigins"] = ",".join(own.get(o, o) for o in self.cors_origins)
        return context

    def _template(self) -> dict[str, Any]:
        """2. The template for this machine: our App ID, the emulator (or Agora's hosts) as the REST host."""
        # What differs between runs is not in the cached template but a placeholder each, replaced below (the ports,
        # the App ID, the REST hosts): other ports, and real Agora mode, read the same cached template.
        own = self._own_origins()
        rest = self.emulator_url
        if self.real_agora is not None:  # the hosts named, or none: the functions' default, Agora's own hosts
            rest = ",".join(self.real_agora.rest_base_urls)
        placeholders = {EMULATOR_PLACEHOLDER: rest, LOCAL_APP_ID: self.app_id, **{v: k for k, v in own.items()}}
        try:
            template, self.template_cached = cached_template(self.template_context(), self.template_cache)
            if not rest:  # as a template synthesized without restBaseUrls: no AGORA_REST_BASE_URLS at all
                _drop_variables(template, EMULATOR_PLACEHOLDER)
            text = json.dumps(template)
            for placeholder, value in placeholders.items():
                text = text.replace(json.dumps(placeholder)[1:-1], json.dumps(value)[1:-1])
            template = json.loads(text)
        except Exception as exc:  # jsii/cdk-nag errors: say what failed, not a 100-line trace
            raise StartupError(
                f"synthesizing the stack failed (`make synth` shows the details): {_short(exc)}"
            ) from exc
        return template

    def _provision(self, template: dict[str, Any]) -> None:
        """The template's resources in moto, the local secrets in them, and the saved data back (``--state``)."""
        from service.adapters.aws import new_boto3_session

        session = new_boto3_session()
        try:
            self.stack = provision(template, stack_name=self.stack_name, session=session)
        except Exception as exc:
            raise StartupError(f"provisioning the template in moto failed: {_short(exc)}") from exc
        self._seed_secrets(session)
        self._session = session
        if self.state is not None and self.state.has_data():
            try:
                self.restored = self.state.restore_data(session, self.stack)
            except Exception as exc:
                raise StartupError(f"restoring the saved data from {self.state.path} failed: {_short(exc)}") from exc

    def _start_api(self) -> None:
        from local.api_server import LocalApi, PortInUse
        from local.identity import LocalIdentity
        from local.pumps import Pumps

        assert self.stack is not None and self.dispatcher is not None
        authorizer = next(iter(self.stack.authorizers.values()), None)
        if authorizer is not None:
            groups_claim = self.stack.environment().get("GROUPS_CLAIM", "cognito:groups")
            saved_key = self.state.load_identity_key() if self.state is not None else None
            self.identity = LocalIdentity(
                issuer=authorizer.issuer, audience=authorizer.audience[0], groups_claim=groups_claim,
                private_key_pem=saved_key[0] if saved_key else None, key_id=saved_key[1] if saved_key else None,
            )  # fmt: skip
            if self.state is not None and saved_key is None:
                self.state.save_identity_key(self.identity.private_key_pem(), self.identity.key_id)
        from local.events import start_local_events

        self.events = start_local_events(self.stack, self._session, forward_url=self.forward_events)
        self.pumps = Pumps(self.stack, self.dispatcher, self._session, sqs_retry_delay=self.sqs_retry_delay,
                           skip_existing=bool(self.restored))  # fmt: skip
        self.pumps.start()
        routes = [r.route_key for r in self.stack.routes]
        self.api = LocalApi(
            self.stack, self.dispatcher, self.identity, host=self.host, port=self.api_port,
            fire_schedule=self.pumps.schedules.fire if self.pumps.schedules else None, on_request=self.on_request,
            health=self.health, refused=self.real_agora.refused_routes(routes) if self.real_agora else None,
        )  # fmt: skip
        self.api.events = self.events.log if self.events else None
        try:
            self.api.start()
        except PortInUse as exc:
            raise StartupError(str(exc), 2) from exc

    def _start_web(self) -> None:
        from local.api_server import PortInUse
        from local.web import WebServer, local_config

        users = [{"username": u.username, "groups": list(u.groups)} for u in self.identity.users.values()] \
            if self.identity is not None else []  # fmt: skip
        assert self.web_port is not None
        config_js = local_config(self.api_url, users, real_agora=self.real_agora is not None, app_id=self.app_id)
        self.web = WebServer(host=self.host, port=self.web_port, config_js=config_js)
        try:
            self.web.start()
        except PortInUse as exc:
            raise StartupError(str(exc), 2) from exc

    def _configure_moto(self) -> None:
        import urllib.request

        body = json.dumps({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}).encode()
        request = urllib.request.Request(f"{self.moto_url}/moto-api/config", data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/json")
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - loopback moto
                    if resp.status in (200, 201):
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise StartupError(f"the moto server on {self.moto_url} did not start") from None
                time.sleep(0.1)

    def _seed_secrets(self, session: Any) -> None:
        assert self.stack is not None
        sm = session.client("secretsmanager")
        env = self.stack.environment()
        documents = self.secrets.documents()
        in_template = {r.name for r in self.stack.by_type("AWS::SecretsManager::Secret")}
        in_template |= {str(r.ref) for r in self.stack.by_type("AWS::SecretsManager::Secret")}
        for var, name in sorted(env.items()):
            if not var.endswith(("_SECRET_NAME", "_SECRET_ARN")) or not name:
                continue
            document = documents.get(var.removesuffix("_ARN") + ("_NAME" if var.endswith("_ARN") else ""))
            if document is None:
                if name not in in_template:
                    self.unseeded[name] = var
                continue
            # the local value wins over a generated one: the emulator must hold the same credentials
            if name in in_template or name.startswith("arn:"):
                sm.put_secret_value(SecretId=name, SecretString=json.dumps(document))
            else:
                try:
                    sm.create_secret(Name=name, SecretString=json.dumps(document))
                except sm.exceptions.ResourceExistsException:
                    sm.put_secret_value(SecretId=name, SecretString=json.dumps(document))
            self.seeded[name] = var

    def _start_emulator(self) -> None:
        if self.real_agora is not None:
            self.emulator_error = f"real Agora mode: App ID {self.app_id}, REST calls go to Agora's hosts"
            return
        try:
            from emulator import Emulator
        except ImportError as exc:
            self.emulator_error = f"the Agora emulator is not available ({exc}); Agora calls will fail"
            log.warning(self.emulator_error)
            return
        options = {
            "app_id": self.app_id,
            "customer_id": self.secrets.customer_id,
            "customer_secret": self.secrets.customer_secret,
            "s3_endpoint": self.moto_url,
            "s3_bucket": self.recordings_bucket(),
            "webhook_url": f"{self.api_url}/webhooks/agora",
            "ncs_secret": self.secrets.ncs_secret,
            # the Console API's project for our App ID holds the certificate the token function signs with
            "app_certificate": self.secrets.app_certificate,
            "project_name": "local",
            **self.emulator_options,
        }
        try:
            self.emulator = Emulator(self.host, self.emulator_port, **options)
        except TypeError as exc:  # an older/newer emulator signature: say so instead of crashing
            self.emulator_error = f"the Agora emulator rejected its options ({exc})"
            log.warning(self.emulator_error)
            return
        self.emulator.start()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``GET /health``: (ready, report). Ready once every phase started and moto, the emulator and the
        functions answer: moto's own API, the emulator's ``/emulator/stats``, each handler's module found."""
        import importlib.util
        import urllib.request

        def answers(url: str) -> bool:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
                    return bool(200 <= resp.status < 300)
            except OSError:
                return False

        moto_ok = self._moto is not None and answers(f"{self.moto_url}/moto-api/config")
        emulator: dict[str, Any] = {"url": self.emulator_url}
        if self.real_agora is not None:
            emulator = {"ready": True, "mode": "real Agora (not running)", "app_id": self.app_id}
        elif self.emulator is not None:
            emulator["ready"] = answers(f"{self.emulator_url}/emulator/stats")
        else:
            emulator.update(ready=False, reason=self.emulator_error or "not started")
        functions: dict[str, Any] = {"ready": False, "count": 0}
        if self.stack is not None and self.dispatcher is not None:
            missing = []
            for spec in self.stack.functions.values():
                module = spec.handler.rpartition(".")[0]
                try:
                    found = importlib.util.find_spec(module) is not None
                except (ImportError, ValueError):
                    found = False
                if not found:
                    missing.append(f"{spec.name}: {module}")
            functions = {"ready": not missing, "count": len(self.stack.functions),
                         "imported": self.dispatcher.imported(), "missing": missing}  # fmt: skip
        ready = self.ready and moto_ok and bool(emulator["ready"]) and bool(functions["ready"])
        report = {
            "status": "ready" if ready else ("starting" if not self.ready else "degraded"),
            "api": self.api_url,
            "moto": {"ready": moto_ok, "url": self.moto_url},
            "emulator": emulator,
            "functions": functions,
            "template": "cached" if self.template_cached else "synthesized",
            "startup_seconds": {k: round(v, 2) for k, v in self.timings.items()},
        }
        return ready, report

    def recordings_bucket(self) -> str | None:
        assert self.stack is not None
        env = self.stack.environment()
        for key in ("RECORDINGS_BUCKET", "RECORDINGS_BUCKET_NAME", "MEDIA_BUCKET"):
            if env.get(key):
                return env[key]
        buckets = self.stack.by_type("AWS::S3::Bucket")
        named = [b for b in buckets if "recording" in b.logical_id.lower()]
        chosen = named or buckets
        return chosen[0].name if chosen else None

    def stop(self) -> None:
        self.ready = False
        self._signal_threads()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.pumps is not None:
            self.pumps.stop()
            self.pumps = None
        if self.events is not None:
            self.events.stop()
            self.events = None
        self._save_state()
        if self.emulator is not None:
            try:
                self.emulator.stop()
            except Exception:  # stopping must go on
                log.exception("stopping the emulator failed")
            self.emulator = None
        try:
            self._exit.close()
        except Exception:
            log.exception("stopping the in-process Lambda runtime failed")
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        from service.adapters.aws import reset_clients

        reset_clients()  # the clients cached while it ran point at its stopped moto server

    def _signal_threads(self) -> None:
        """Tell the pumps and the event threads to stop; ``stop`` waits for each later. Their last waits (a queue's
        or the event capture's long poll, up to 1 s each) then overlap, and overlap the servers' shutdowns, instead
        of adding up one after the other."""
        for threads in (self.pumps, self.events):
            if threads is not None:
                threads.signal_stop()

    def _save_state(self) -> None:
        """``--state``: the tables' and buckets' data, once the stack ran (not after a failed start)."""
        if self.state is None or not self.ready_once or self.stack is None or self._moto is None:
            return
        try:
            if self.dispatcher is not None:
                self.dispatcher.drain(timeout=10)
            self.saved = self.state.save_data(self._session, self.stack)
        except Exception:  # the stop goes on; the previous save stays
            log.exception("saving the stack's data to %s failed", self.state.path)

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what to tell people ------------------------------------------------------------------
    def banner(self) -> str:
        from local.banner import banner

        assert self.stack is not None
        return banner(self)


def quiet_third_party_logs() -> None:
    """moto's server and ASL interpreter log every request and dump internals for expected failures."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


class OneLineErrors(argparse.ArgumentParser):
    """A bad option is one line and exit 2 (``--help`` shows the usage), not the whole usage block again."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help for usage)\n")


def _parser() -> argparse.ArgumentParser:
    summary = __doc__.split("\n\n")[0].replace("``", "") if __doc__ else None
    p = OneLineErrors(prog="python -m local.run", description=summary)
    p.add_argument("--port", type=int, default=DEFAULT_PORTS["api"], help="local API port (default 8080)")
    p.add_argument("--moto-port", type=int, default=DEFAULT_PORTS["moto"], help="moto server port (default 5000)")
    p.add_argument(
        "--emulator-port", type=int, default=DEFAULT_PORTS["emulator"], help="Agora emulator port (default 8090)"
    )
    p.add_argument("--emulator-option", action="append", default=[], metavar="NAME=VALUE", type=command_line_option,
                   help="an Agora emulator setting, e.g. fault_206_65=0.1 or webhook_lose_types=[11] (repeatable; "
                   "see docs/local-stack.md)")  # fmt: skip
    p.add_argument(
        "--web-port", type=int, default=DEFAULT_PORTS["web"], help="web example port, 0 for none (default 8081)"
    )
    p.add_argument(
        "--cors-origins",
        default=os.environ.get("CORS_ORIGINS", ""),
        metavar="ORIGINS",
        help="comma-separated browser origins the API allows besides the web example's own "
        "(default: $CORS_ORIGINS, else none; '*' is refused)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print one line per API request")
    p.add_argument(
        "--forward-events", metavar="URL", default=None,
        help="POST every event of the bus to URL (an HTTP endpoint of yours), retried as EventBridge does (bounded)",
    )  # fmt: skip
    p.add_argument(
        "--function-logs", action="store_true", help="show the functions' Powertools INFO logs and EMF metric lines"
    )
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                   help="the local.env file to read (default: local.env at the repository's root, when it exists; "
                   "flags override it; local.env.example lists every key)")  # fmt: skip
    p.add_argument("--state", type=Path, default=None, metavar="DIR",
                   help="keep secrets, the local users' signing key and the tables' and buckets' data in DIR "
                   "across restarts (default: a fresh stack every time)")  # fmt: skip
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, metavar="DIR",
                   help="where synthesized templates are kept, keyed on a hash of what they are made of "
                   "(default: .cache/local-stack in the repository)")  # fmt: skip
    p.add_argument("--no-reload", dest="reload", action="store_false",
                   help="do not re-import the functions when a file under functions/ changes")  # fmt: skip
    real = p.add_argument_group("real Agora mode (instead of the emulator; better in local.env than on a command line)")
    real.add_argument("--agora-app-id", metavar="HEX32", help="a real project's App ID: tokens are minted for it")
    real.add_argument("--agora-app-certificate", metavar="HEX32", help="its App Certificate (required with the App ID)")
    real.add_argument("--agora-customer-id", metavar="ID", help="RESTful API customer id (Agora's REST calls)")
    real.add_argument("--agora-customer-secret", metavar="SECRET", help="RESTful API customer secret")
    real.add_argument("--agora-ncs-secret", metavar="SECRET", help="the NCS secret webhooks are verified with")
    real.add_argument("--agora-rest-urls", metavar="URLS", help="Agora REST hosts (default: Agora's global hosts)")
    return p


#: local.env key -> the parser's destination (``local.config.KEYS`` names the flags)
_CONFIG_DEST = {
    "PORT": "port", "WEB_PORT": "web_port", "MOTO_PORT": "moto_port", "EMULATOR_PORT": "emulator_port",
    "CORS_ORIGINS": "cors_origins", "STATE": "state", "AGORA_APP_ID": "agora_app_id",
    "AGORA_APP_CERTIFICATE": "agora_app_certificate", "AGORA_CUSTOMER_ID": "agora_customer_id",
    "AGORA_CUSTOMER_SECRET": "agora_customer_secret", "AGORA_NCS_SECRET": "agora_ncs_secret",
    "AGORA_REST_URLS": "agora_rest_urls",
}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line over local.env over the defaults (ConfigError for an unusable local.env)."""
    parser = _parser()
    first, _ = parser.parse_known_args(argv)
    values = {key: value for key, value in load_config(first.config).items() if value != ""}  # empty: default
    defaults: dict[str, Any] = {dest: values[key] for key, dest in _CONFIG_DEST.items() if key in values}
    if "STATE" in values:
        defaults["state"] = Path(values["STATE"]) if values["STATE"] else None
    if "RELOAD" in values:
        defaults["reload"] = parse_bool("RELOAD", values["RELOAD"])
    if values.get("EMULATOR_OPTIONS", "").strip():
        try:
            options = [parse_option(item) for item in values["EMULATOR_OPTIONS"].split()]
            defaults["emulator_option"] = [(name, check_option(name, value)) for name, value in options]
        except ValueError as exc:
            raise ConfigError(f"EMULATOR_OPTIONS: {exc}") from None
    parser.set_defaults(**defaults)
    return parser.parse_args(argv)


class _DropMetricLines:
    """stdout without the EMF lines Powertools prints for the cold-start metric even when metrics are disabled."""

    def __init__(self, stream: Any):
        self._stream, self._dropped = stream, False

    def write(self, text: str) -> int:
        if text.startswith('{"_aws":'):
            self._dropped = True
            return len(text)
        if self._dropped and text == "\n":
            self._dropped = False
            return len(text)
        self._dropped = False
        return int(self._stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM while the stack was still starting."""


def parse_origins(value: str) -> list[str]:
    """``--cors-origins``, checked by the same rules as the ``corsOrigins`` setting (ValueError with the reason)."""
    from pydantic import ValidationError

    from infra.settings import StackSettings

    try:
        return StackSettings.model_validate({"cors_origins": value}).cors_origins
    except ValidationError as exc:
        raise ValueError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        real_agora = RealAgora.from_values(
            app_id=args.agora_app_id, app_certificate=args.agora_app_certificate,
            customer_id=args.agora_customer_id, customer_secret=args.agora_customer_secret,
            ncs_secret=args.agora_ncs_secret, rest_urls=args.agora_rest_urls,
            emulator_options=bool(args.emulator_option),
        )  # fmt: skip
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ports = [(args.port, "--port"), (args.moto_port, "--moto-port"), (args.emulator_port, "--emulator-port")]
    if args.web_port:
        ports.append((args.web_port, "--web-port"))
    for port, name in ports:
        if not 1 <= port <= 65535:
            print(f"error: {name} {port} is not a TCP port", file=sys.stderr)
            return 2
    if len({port for port, _ in ports}) != len(ports):
        print(f"error: {', '.join(name for _, name in ports)} must differ", file=sys.stderr)
        return 2
    try:
        origins = parse_origins(args.cors_origins)
    except ValueError as exc:
        print(f"error: --cors-origins: {exc}", file=sys.stderr)
        return 2
    return _serve(args, origins, real_agora)


def _serve(args: argparse.Namespace, origins: list[str], real_agora: RealAgora | None) -> int:
    """Start, print the banner, wait for Ctrl-C or SIGTERM (also while starting), stop cleanly."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("local").setLevel(logging.INFO)
    quiet_third_party_logs()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stop, running = threading.Event(), threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        first = not stop.is_set()
        stop.set()
        if first and not running.is_set():  # still starting: abandon the start (its cleanup runs)
            raise _Interrupted

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if not args.function_logs:
        sys.stdout = _DropMetricLines(sys.stdout)  # type: ignore[assignment]
    print("starting the local stack (one line per phase, with its time) ...", flush=True)
    try:
        runtime = LocalRuntime(
            api_port=args.port, moto_port=args.moto_port, emulator_port=args.emulator_port,
            web_port=args.web_port or None, cors_origins=origins,
            env_overrides={} if args.function_logs else {"POWERTOOLS_LOG_LEVEL": "WARNING"},
            on_request=None if args.quiet else (lambda line: print(f"  {line}", flush=True)),
            emulator_options=dict(args.emulator_option), progress=lambda line: print(line, flush=True),
            state_dir=args.state, real_agora=real_agora, reload=args.reload, template_cache=args.cache_dir,
            forward_events=args.forward_events,
        )  # fmt: skip
        runtime.start()
        running.set()
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except _Interrupted:
        print("\ninterrupted while starting; stopped.", flush=True)
        return 130
    try:
        print(runtime.banner(), flush=True)
        print(f"ready in {runtime.timings['total']:.1f} s (GET {runtime.api_url}/health)", flush=True)
        while not stop.wait(0.5):
            pass
        print("\nstopping ...", flush=True)
    finally:
        runtime.stop()
    if runtime.saved:
        print(f"saved {runtime.saved['items']} items and {runtime.saved['objects']} objects to {args.state}")
    print("stopped.", flush=True)
    return 0


def exit_quickly(code: int) -> NoReturn:
    """Exit once the stack is stopped, with the interpreter's last garbage collection skipped: moto's backends and
    the handlers leave ~400,000 tracked objects, and collecting them at exit took 2-4 s of CPU after "stopped."
    was printed (the streams are flushed and ``atexit`` handlers run as usual; the process's memory goes anyway)."""
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    exit_quickly(main())
