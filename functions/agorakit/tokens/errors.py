"""Token errors: one hierarchy so callers (the Lambda, the CLI) can map every failure in one place.

``TokenError`` is also a ``ValueError`` because every failure here is bad input: a builder given values Agora
would reject, or a string that is not a well-formed token. Nothing here ever returns an empty string instead.
"""

from __future__ import annotations

from agorakit.errors import AgorakitError


class TokenError(AgorakitError, ValueError):
    """Base of every token error."""


class TokenValidationError(TokenError):
    """A builder input (or a verify argument) breaks Agora's rules; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class TokenParseError(TokenError):
    """The string is not a well-formed 007 or 006 token (bad prefix, base64, zlib stream or layout)."""
