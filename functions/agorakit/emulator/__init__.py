"""An Agora REST emulator for tests and the local stack (a dev tool; never deployed).

``from agorakit.emulator import Emulator``; or ``python -m agorakit emulator --port 8765``.
"""

from agorakit.emulator.server import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, Emulator
from agorakit.emulator.world import ApiError

__all__ = ["DEFAULT_APP_ID", "DEFAULT_CUSTOMER_ID", "DEFAULT_CUSTOMER_SECRET", "ApiError", "Emulator"]
