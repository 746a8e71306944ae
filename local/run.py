"""``make run``: the whole system on this machine, in one foreground process, on loopback only.

moto (as a server thread) holds the AWS resources provisioned from the synthesized template, the real
handlers run in-process (``local.provision.lambda_dispatch``), pumps feed them DynamoDB streams, SQS and
schedules, the Agora emulator plays Agora (REST, S3 uploads, signed NCS webhooks) and ``local.api_server``
plays API Gateway with a local JWT issuer; ``local.web`` serves the web example on an origin of its own
(allowed by the API's CORS configuration). Stop with Ctrl-C.

About 500 lines: the runtime's start order is one story (ports, moto, synth, secrets, emulator, API, web); the
banner lives in ``local.banner`` and the servers in their own modules.

Over 400 lines on purpose: LocalRuntime, its command line and its start-up checks form the one public entry point of
the local stack.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
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
from typing import Any, NoReturn

from emulator.options import command_line_option
from local.provision import DEFAULT_STACK_NAME, Dispatcher, LocalStack, lambda_dispatch, provision, synth_template

log = logging.getLogger("local.run")
LOOPBACK = "127.0.0.1"
DEFAULT_PORTS = {"api": 8080, "moto": 5000, "emulator": 8090, "web": 8081}
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
                raise StartupError(
                    f"port {port} for the {what} is already in use on {host}; choose another with {option} PORT", 2
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
    ):
        """``web_port``: serve examples/web there (0: any free port; None: not at all); its origin is added to
        ``cors_origins`` (the API's allowed browser origins, ``corsOrigins`` of the template). ``context``: CDK
        context for the synthesized template (e.g. the recording workflow's numbers, ``recordingResolveSeconds``),
        as ``cdk synth -c`` would pass it; the local App ID and the emulator as Agora's REST host always win."""
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
        self.sqs_retry_delay = sqs_retry_delay
        self.secrets = Secrets()
        self.app_id = LOCAL_APP_ID
        self.stack: LocalStack | None = None
        self.dispatcher: Dispatcher | None = None
        self.emulator: Any = None
        self.emulator_error: str | None = None
        self.api: Any = None
        self.pumps: Any = None
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

    def _start(self) -> None:
        check_port(self.api_port, "local API", "--port")
        check_port(self.moto_port, "moto server", "--moto-port")
        check_port(self.emulator_port, "Agora emulator", "--emulator-port")
        if self.web_port:
            check_port(self.web_port, "web example", "--web-port")
        # 1. AWS: moto as a server thread; every boto3 client of this process goes there.
        self._set_env({
            "MOTO_PORT": str(self.moto_port),  # the Step Functions interpreter calls back through it
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
        })  # fmt: skip
        os.environ.pop("AWS_PROFILE", None)
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.moto_port, verbose=False)
        self._moto.start()
        self._configure_moto()
        from service.adapters.aws import reset_clients

        reset_clients()
        # 2. The template, synthesized for this machine: our App ID, the emulator as Agora's REST host.
        try:
            context = {**self.context, "agoraAppId": self.app_id, "restBaseUrls": self.emulator_url}
            if self.cors_origins:
                context["corsOrigins"] = ",".join(self.cors_origins)
            template = synth_template(context)
        except Exception as exc:  # jsii/cdk-nag errors: say what failed, not a 100-line trace
            raise StartupError(
                f"synthesizing the stack failed (`make synth` shows the details): {_short(exc)}"
            ) from exc
        import boto3

        session = boto3.session.Session()
        try:
            self.stack = provision(template, stack_name=self.stack_name, session=session)
        except Exception as exc:
            raise StartupError(f"provisioning the template in moto failed: {_short(exc)}") from exc
        self._seed_secrets(session)
        # 3. Handlers in-process, with the stack's environment (plus local cosmetics).
        self.dispatcher = self._exit.enter_context(lambda_dispatch(self.stack))
        self._set_env(self.env_overrides)
        # 4. The Agora emulator: S3 = moto, webhooks = our API, same NCS secret and REST credentials.
        self._start_emulator()
        # 5. Identity and the API.
        from local.api_server import LocalApi, PortInUse
        from local.identity import LocalIdentity

        authorizer = next(iter(self.stack.authorizers.values()), None)
        if authorizer is not None:
            groups_claim = self.stack.environment().get("GROUPS_CLAIM", "cognito:groups")
            self.identity = LocalIdentity(
                issuer=authorizer.issuer, audience=authorizer.audience[0], groups_claim=groups_claim
            )
        from local.pumps import Pumps

        self.pumps = Pumps(self.stack, self.dispatcher, session, sqs_retry_delay=self.sqs_retry_delay)
        self.pumps.start()
        self.api = LocalApi(
            self.stack, self.dispatcher, self.identity, host=self.host, port=self.api_port,
            fire_schedule=self.pumps.schedules.fire if self.pumps.schedules else None, on_request=self.on_request,
        )  # fmt: skip
        try:
            self.api.start()
        except PortInUse as exc:
            raise StartupError(str(exc), 2) from exc
        if self.web_port:
            self._start_web()

    def _start_web(self) -> None:
        from local.api_server import PortInUse
        from local.web import WebServer, local_config

        users = [{"username": u.username, "groups": list(u.groups)} for u in self.identity.users.values()] \
            if self.identity is not None else []  # fmt: skip
        assert self.web_port is not None
        self.web = WebServer(host=self.host, port=self.web_port, config_js=local_config(self.api_url, users))
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
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.pumps is not None:
            self.pumps.stop()
            self.pumps = None
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
        "--function-logs", action="store_true", help="show the functions' Powertools INFO logs and EMF metric lines"
    )
    return p


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


def _quiet_node_end_of_life() -> None:
    """jsii prints a 12-line box when Node.js is past its end of life; the local stack only synthesizes with it
    (``make synth`` and ``make deploy`` still show the warning)."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None or "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" in os.environ:
        return
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return
    major = version.strip().lstrip("v").split(".")[0]
    if major.isdigit():
        os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = major


def parse_origins(value: str) -> list[str]:
    """``--cors-origins``, checked by the same rules as the ``corsOrigins`` setting (ValueError with the reason)."""
    from pydantic import ValidationError

    from infra.settings import StackSettings

    try:
        return StackSettings.model_validate({"cors_origins": value}).cors_origins
    except ValidationError as exc:
        raise ValueError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("local").setLevel(logging.INFO)
    quiet_third_party_logs()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if not args.function_logs:
        sys.stdout = _DropMetricLines(sys.stdout)  # type: ignore[assignment]
    _quiet_node_end_of_life()
    print("starting: synthesizing the stack and provisioning it in moto ...", flush=True)
    runtime = LocalRuntime(
        api_port=args.port, moto_port=args.moto_port, emulator_port=args.emulator_port,
        web_port=args.web_port or None, cors_origins=origins,
        env_overrides={} if args.function_logs else {"POWERTOOLS_LOG_LEVEL": "WARNING"},
        on_request=None if args.quiet else (lambda line: print(f"  {line}", flush=True)),
        emulator_options=dict(args.emulator_option),
    )  # fmt: skip
    try:
        runtime.start()
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        print(runtime.banner(), flush=True)
        while not stop.wait(0.5):
            pass
        print("\nstopping ...", flush=True)
    finally:
        runtime.stop()
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
