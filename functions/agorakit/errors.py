"""The root of every error that agorakit raises on bad input or a failed call.

The CLI turns any of these into a one-line message and a non-zero exit; the service layer maps
them to HTTP responses in one place (``service.errors``).
"""


class AgorakitError(Exception):
    """Base class of agorakit's domain errors."""
