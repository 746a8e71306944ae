"""Agora REST client: Cloud Recording and channel management, with Agora's error semantics and rate limiting.

Importing this package is cheap: httpx is imported when an AgoraClient is constructed.
"""

from agorakit.agora.client import AgoraClient
from agorakit.agora.errors import (
    AgoraAlreadyStartedError,
    AgoraAuthError,
    AgoraCapacityError,
    AgoraConflictError,
    AgoraError,
    AgoraNotFoundError,
    AgoraParameterError,
    AgoraRateLimitedError,
    AgoraResourceExpiredError,
    AgoraServerError,
    AgoraUnavailableError,
)
from agorakit.agora.models import QueryResult, StartResult, StopResult, StorageConfig
from agorakit.agora.ratelimit import LocalTokenBucket, RateLimiter, bucket_for_qps

__all__ = [
    "AgoraAlreadyStartedError",
    "AgoraAuthError",
    "AgoraCapacityError",
    "AgoraClient",
    "AgoraConflictError",
    "AgoraError",
    "AgoraNotFoundError",
    "AgoraParameterError",
    "AgoraRateLimitedError",
    "AgoraResourceExpiredError",
    "AgoraServerError",
    "AgoraUnavailableError",
    "LocalTokenBucket",
    "QueryResult",
    "RateLimiter",
    "StartResult",
    "StopResult",
    "StorageConfig",
    "bucket_for_qps",
]
