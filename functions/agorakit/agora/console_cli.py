"""``python -m agorakit console``: Agora's Console API (projects, App Certificate, usage) from a shell.

Credentials come from the environment (``AGORA_CUSTOMER_ID``, ``AGORA_CUSTOMER_SECRET``), never from
arguments (they would show in ``ps``). Output is JSON. The App Certificate is masked unless
``--reveal-certificate`` is given to ``reset-signkey`` (the one command whose point is the new value).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agorakit.agora.console import ConsoleClient

DEFAULT_BASE_URL = "https://api.agora.io"


#: the longest a Console request may be given, seconds
MAX_TIMEOUT = 300.0


def _timeout(raw: str) -> float:
    """``--timeout``: seconds in (0, 300], a finite number (argparse's one-line error otherwise, exit 2)."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not 0 < value <= MAX_TIMEOUT:  # also false for nan
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {raw}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "console",
        help="Agora Console API: projects, App Certificate, usage",
        description="Agora Console REST API. Credentials: AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET.",
    )
    p.add_argument(
        "--base-url",
        action="append",
        help="REST host (repeatable; default: AGORA_REST_BASE_URLS or https://api.agora.io)",
    )
    p.add_argument("--timeout", type=_timeout, default=10.0, help="seconds per request, at most 300 (default 10)")
    sub = p.add_subparsers(dest="console_command", required=True, metavar="ACTION")

    sub.add_parser("projects", help="list the account's projects").set_defaults(func=run, action="projects")
    get = sub.add_parser("project", help="one project, by project id or App ID")
    get.add_argument("project", help="project id or App ID (32 hex)")
    get.set_defaults(func=run, action="project")

    create = sub.add_parser("create", help="create a project")
    create.add_argument("name")
    create.add_argument("--no-certificate", action="store_true", help="create it without the primary certificate")
    create.set_defaults(func=run, action="create")

    for action, text in (("enable", "enable a project"), ("disable", "disable a project (its users cannot join)")):
        cmd = sub.add_parser(action, help=text)
        cmd.add_argument("project", help="project id or App ID")
        cmd.set_defaults(func=run, action=action)

    rec = sub.add_parser("recording-config", help="set the on-premise recording server (SDK <= 1.9.0)")
    rec.add_argument("project")
    rec.add_argument("recording_server", metavar="HOST:PORT")
    rec.set_defaults(func=run, action="recording-config")

    sign = sub.add_parser("signkey", help="turn the primary App Certificate on or off")
    sign.add_argument("project")
    sign.add_argument("state", choices=("on", "off"))
    sign.set_defaults(func=run, action="signkey")

    reset = sub.add_parser(
        "reset-signkey",
        help="reset the primary App Certificate: every token signed before stops verifying",
    )
    reset.add_argument("project")
    reset.add_argument("--yes", action="store_true", help="confirm: tokens signed with the old certificate break")
    reset.add_argument("--reveal-certificate", action="store_true", help="print the new certificate in clear")
    reset.set_defaults(func=run, action="reset-signkey")

    usage = sub.add_parser("usage", help="daily usage (seconds) for a date range")
    usage.add_argument("project", help="project id or App ID")
    usage.add_argument("--from", dest="from_date", required=True, metavar="YYYY-MM-DD")
    usage.add_argument("--to", dest="to_date", required=True, metavar="YYYY-MM-DD")
    usage.add_argument("--business", default="default")
    usage.set_defaults(func=run, action="usage")


def _client(args: argparse.Namespace, environ: Mapping[str, str]) -> ConsoleClient:
    from agorakit.agora.console import ConsoleClient
    from agorakit.agora.ratelimit import LocalTokenBucket, bucket_for_qps

    customer_id = environ.get("AGORA_CUSTOMER_ID", "")
    customer_secret = environ.get("AGORA_CUSTOMER_SECRET", "")
    if not customer_id or not customer_secret:
        raise ValueError("set AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET (Agora Console -> RESTful API)")
    urls = args.base_url or [u for u in environ.get("AGORA_REST_BASE_URLS", "").split(",") if u.strip()]
    rate, burst = bucket_for_qps(10)
    return ConsoleClient(
        customer_id=customer_id,
        customer_secret=customer_secret,
        base_urls=urls or [DEFAULT_BASE_URL],
        timeout=args.timeout,
        rate_limiter=LocalTokenBucket(rate, burst),
    )


def execute(args: argparse.Namespace, client: ConsoleClient) -> Any:  # noqa: PLR0911 - one branch per action
    """The action's JSON result (certificates masked unless revealed on purpose)."""
    action = args.action
    if action == "projects":
        return [p.public() for p in client.list_projects()]
    if action == "create":
        return client.create_project(args.name, enable_sign_key=not args.no_certificate).public()
    if action == "usage":
        project = client.find_project(args.project)
        report = client.usage(project.id, args.from_date, args.to_date, business=args.business)
        return {
            "project_id": report.project_id,
            "app_id": project.vendor_key,
            "business": report.business,
            "meta": report.meta,
            "days": [{"date": d.day.isoformat(), "usage": d.usage} for d in report.days],
        }
    project = client.find_project(args.project)
    if action == "project":
        return project.public()
    if action in ("enable", "disable"):
        return client.set_project_status(project.id, action == "enable").public()
    if action == "recording-config":
        return client.set_recording_server(project.id, args.recording_server).public()
    if action == "signkey":
        return client.set_sign_key(project.id, args.state == "on").public()
    if action == "reset-signkey":
        if not args.yes:
            raise ValueError("reset-signkey breaks every token signed with the current certificate: add --yes")
        new = client.reset_sign_key(project.id, previous=project.sign_key or None)
        result = new.public()
        result["warning"] = "tokens signed with the previous certificate no longer verify"
        if args.reveal_certificate:
            result["certificate"]["sign_key"] = new.sign_key
        return result
    raise ValueError(f"unknown action {action!r}")


def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None, client: ConsoleClient | None = None) -> int:
    own = client is None
    console = client if client is not None else _client(args, os.environ if environ is None else environ)
    try:
        result = execute(args, console)
    finally:
        if own:
            console.close()
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
