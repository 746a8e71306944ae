"""``python -m agorakit ncs``: sign and verify NCS webhook bodies, for testing a receiver or debugging a 401.

The signature is over the exact bytes of FILE (use - for stdin). Editors often add a final newline
that Agora never sent; --strip-newline removes one trailing newline (LF or CRLF) before signing.
The secret comes from --secret or the NCS_SECRET environment variable (keeps it out of shell history).
``sign --only v2`` prints just the Agora-Signature-V2 value, for a curl -H line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

SECRET_ENV = "NCS_SECRET"  # noqa: S105 - the name of a variable, not a secret


def register(subparsers: Any) -> None:
    from agorakit.cli import plain

    parser = subparsers.add_parser(
        "ncs", help="sign or verify NCS webhook bodies", description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sub = parser.add_subparsers(dest="ncs_command", required=True, metavar="ACTION")

    sign = sub.add_parser("sign", help="print both signature headers of a body as JSON")
    _common(sign)
    sign.add_argument(
        "--only",
        choices=("v2", "v1"),
        help="print only this header's value: v2 = Agora-Signature-V2, v1 = Agora-Signature",
    )
    sign.set_defaults(func=run)

    verify = sub.add_parser("verify", help="check a body against a signature (exit 0 valid, 1 invalid)")
    _common(verify)
    group = verify.add_mutually_exclusive_group(required=True)
    group.add_argument("--signature-v2", metavar="HEX", help="the Agora-Signature-V2 header (HMAC-SHA256)")
    group.add_argument("--signature", metavar="HEX", help="the Agora-Signature header (HMAC-SHA1)")
    verify.set_defaults(func=run)
    parser.set_defaults(func=run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret", help=f"the product's NCS secret (default: ${SECRET_ENV})")
    parser.add_argument("--strip-newline", action="store_true", help="drop one trailing newline of the body")
    parser.add_argument("file", metavar="FILE", help="the raw request body, or - for stdin")


def _read(path: str, strip_newline: bool) -> bytes:
    if path == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as handle:
            body = handle.read()
    if strip_newline:
        if body.endswith(b"\r\n"):
            body = body[:-2]
        elif body.endswith(b"\n"):
            body = body[:-1]
    return body


def _secret(args: argparse.Namespace) -> str:
    secret = args.secret if args.secret is not None else os.environ.get(SECRET_ENV)
    if not secret:
        raise ValueError(f"no secret: pass --secret or set {SECRET_ENV}")
    return secret


def run(args: argparse.Namespace) -> int:
    from agorakit.ncs.signature import HEADER_V1, HEADER_V2, signature_headers, verify

    action = getattr(args, "ncs_command", None)
    secret = _secret(args)
    body = _read(args.file, args.strip_newline)
    if action == "sign":
        headers = signature_headers(secret, body)
        if args.only:
            print(headers[HEADER_V2 if args.only == "v2" else HEADER_V1])
        else:
            print(json.dumps(headers))
        return 0
    if args.signature_v2 is not None:
        headers, label = {HEADER_V2: args.signature_v2}, HEADER_V2
    else:
        headers, label = {HEADER_V1: args.signature}, HEADER_V1
    if verify(body, headers, [secret]):
        print(f"valid: {label} matches the {len(body)}-byte body")
        return 0
    print(
        f"invalid: {label} does not match the {len(body)}-byte body with this secret "
        "(wrong secret, or the body is not the exact bytes that were signed)",
        file=sys.stderr,
    )
    return 1
