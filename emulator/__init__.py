"""An Agora REST emulator for tests and the local stack: a development tool, never deployed.

``from emulator import Emulator``; or ``python -m agorakit emulator --port 8090``. The names below
load on first use, so ``agorakit --help`` (which registers the ``emulator`` subcommand from
``emulator.cli``) does not import the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.model import ApiError
    from emulator.options import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET
    from emulator.server import Emulator

_EXPORTS = {
    "ApiError": "emulator.model",
    "DEFAULT_APP_ID": "emulator.options",
    "DEFAULT_CUSTOMER_ID": "emulator.options",
    "DEFAULT_CUSTOMER_SECRET": "emulator.options",
    "Emulator": "emulator.server",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["DEFAULT_APP_ID", "DEFAULT_CUSTOMER_ID", "DEFAULT_CUSTOMER_SECRET", "ApiError", "Emulator"]
