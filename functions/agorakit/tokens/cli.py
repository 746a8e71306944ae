"""``python -m agorakit token build|inspect``: mint a token from a JSON spec, or decode (and verify) one.

Only argparse/stdlib at module level; the token modules load when a command runs. Errors surface as
``TokenError`` (a ValueError) and become a one-line ``error: ...`` with exit status 1 (see ``agorakit.cli``).
``inspect --app-certificate`` exits 1 when the signature does not verify (like ``ncs verify``), after printing
the decoded token with ``"signature_valid": false``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SPEC_HELP = """\
spec (JSON): {"app_id", "app_certificate", "expire", "issue_ts"?, "salt"?, "services": [
  {"type": "rtc", "channel_name": "room", "uid": 42, "privileges": {"1": 600, "publish_audio_stream": 600}},
  {"type": "rtm", "user_id": "alice", "privileges": {"1": 600}}, ...]}
types: rtc rtm streaming fpa chat fcdn apaas rtm2 (or their numbers 1-8); privileges by wire id or name"""


STDIN = "-"
BUILD = "build"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("token", help="build or inspect Agora access tokens (007, and 006 to inspect)")
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = commands.add_parser(
        BUILD,
        help="build a 007 token from a JSON spec",
        description="Build an AccessToken2 (007) from a JSON spec and print it.",
        epilog=SPEC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--spec", required=True, metavar="FILE|-", help="JSON spec file, or - for stdin")
    build.set_defaults(func=run)

    inspect = commands.add_parser(
        "inspect",
        help="decode a 007 or 006 token as JSON",
        description="Decode a token and print it as JSON; with --app-certificate also check its signature.",
        epilog="exit status: 0 decoded (and, with a certificate, the signature verifies); "
        "1 the token is malformed or its signature does not verify with the certificate",
    )
    inspect.add_argument("token", metavar="TOKEN", help="the token, or - to read it from stdin")
    secret = inspect.add_mutually_exclusive_group()
    secret.add_argument("--app-certificate", metavar="CERT", help="verify the signature with this certificate")
    secret.add_argument(
        "--app-certificate-file", metavar="FILE", help="read the certificate from a file (keeps it out of ps)"
    )
    inspect.add_argument("--channel-name", help="006 only: the channel the token was built for")
    inspect.add_argument(
        "--uid",
        help="006 only: the uid or account the token was built for (digits are an int uid; 0 = any)",
    )
    inspect.set_defaults(func=run)


def _read_spec(source: str) -> Any:
    try:
        if source == STDIN:
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        raise OSError(f"cannot read spec {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"spec {source} is not valid JSON: {exc}") from None


def _build(args: argparse.Namespace) -> int:
    from agorakit.tokens.services import build_from_spec

    print(build_from_spec(_read_spec(args.spec)))
    return 0


def _privilege_label(names: dict[int, str], key: str) -> str:
    name = names.get(int(key)) if key.isdigit() else None
    return f"{name} ({key})" if name else f"unknown ({key})"


def _with_privilege_names(result: dict[str, Any]) -> dict[str, Any]:
    """Beside each ``privileges`` map (wire id -> expiry, kept for scripts), ``privilege_names``: the same with
    each privilege named, e.g. ``"join_channel (1)": 600``."""
    from agorakit.tokens.builder import PRIVILEGES
    from agorakit.tokens.legacy import LEGACY_PRIVILEGES

    if isinstance(result.get("privileges"), dict):  # 006: one map
        names = {wire: name for name, wire in LEGACY_PRIVILEGES.items()}
        result["privilege_names"] = {_privilege_label(names, k): v for k, v in result["privileges"].items()}
    for service in result.get("services", []):
        if isinstance(service.get("privileges"), dict):
            names = {wire: name for name, wire in PRIVILEGES.get(service.get("type"), {}).items()}
            service["privilege_names"] = {_privilege_label(names, k): v for k, v in service["privileges"].items()}
    return result


def _inspect(args: argparse.Namespace) -> int:
    from agorakit.tokens.parser import parse_token

    parsed = parse_token(sys.stdin.read().strip() if args.token == STDIN else args.token)
    result = _with_privilege_names(parsed.to_dict())
    certificate: str | None = args.app_certificate
    if args.app_certificate_file is not None:
        try:
            with open(args.app_certificate_file, encoding="utf-8") as handle:
                certificate = handle.read().strip()
        except OSError as exc:
            raise OSError(f"cannot read {args.app_certificate_file}: {exc.strerror or exc}") from None
    valid: bool | None = None
    if certificate is not None:
        if parsed.version == "006":
            uid: int | str | None = args.uid
            if isinstance(uid, str) and uid.isascii() and uid.isdigit():
                uid = int(uid)
            valid = parsed.verify(certificate, channel_name=args.channel_name, uid=uid)
        else:
            if args.channel_name is not None or args.uid is not None:
                raise ValueError("--channel-name/--uid are only used to verify 006 tokens")
            valid = parsed.verify(certificate)
    result["signature_valid"] = valid
    print(json.dumps(result, indent=2))
    if valid is False:
        print("error: the signature does not verify with this app certificate", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == BUILD:
        return _build(args)
    return _inspect(args)
