"""Tracing without the X-Ray SDK in the cold start, unless a function opts in.

Instantiating Powertools' Tracer imports the X-Ray SDK and botocore (about 200 ms measured here,
more than the rest of the token handler; the media handler imported in 283 ms with it, 109 ms without).
So every function relies on Lambda's active tracing (``TracingConfig: Active``, one segment per
invocation, no SDK) and these decorators are no-ops; ``XRAY_SDK=true`` gives the real Powertools Tracer
(subsegments for every AWS call) to a function that needs them, at that cold-start cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _NoSdkTracer:
    """Same decorator surface as Powertools' Tracer, for functions traced by Lambda alone."""

    def capture_lambda_handler(self, fn: F | None = None, **_: Any) -> Any:
        return fn if fn is not None else (lambda f: f)

    def capture_method(self, fn: F | None = None, **_: Any) -> Any:
        return fn if fn is not None else (lambda f: f)

    def put_annotation(self, key: str, value: Any) -> None:
        return None


def make_tracer(enabled: bool | None = None) -> Any:
    if enabled is None:
        enabled = os.environ.get("XRAY_SDK", "false").strip().lower() in ("1", "true", "yes", "on")
    if not enabled:
        return _NoSdkTracer()
    from aws_lambda_powertools import Tracer

    return Tracer()
