"""``python -m agorakit``: one entry point, one subcommand module per capability.

Each subcommand module exposes ``register(subparsers)`` and imports nothing heavy at module
level, so ``--help`` and every command start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from agorakit import __version__
from agorakit.errors import AgorakitError

#: subcommand name -> module providing ``register(subparsers)``
SUBCOMMANDS: dict[str, str] = {
    "token": "agorakit.tokens.cli",
    "emulator": "emulator.cli",  # a development tool outside the Lambda code, loaded only here
    "ncs": "agorakit.ncs.cli",
    "m3u8": "agorakit.m3u8.cli",
    "console": "agorakit.agora.console_cli",
}


def plain(text: str | None) -> str | None:
    """Help text as a terminal shows it: no reST double backticks (module docstrings use them)."""
    return text.replace("``", "") if text else text


def describe_os_error(exc: OSError) -> str:
    """One line that names the file, never a bare ``[Errno 2] No such file or directory``."""
    if exc.filename is not None:
        target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
        return f"{target}: {exc.strerror or exc}"
    return str(exc)


class OneLineErrors(argparse.ArgumentParser):
    """A bad option is one line and exit 2 (``--help`` shows the usage), not the whole usage block again;
    subcommand parsers are of the same class (argparse builds them with ``type(parent)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help for usage)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="agorakit", description="Agora tools: tokens, emulator, webhooks, m3u8.")
    parser.add_argument("--version", action="version", version=f"agorakit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for _name, module_name in SUBCOMMANDS.items():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except AgorakitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)
