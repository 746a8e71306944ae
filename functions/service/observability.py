"""Tracing without the X-Ray SDK in the cold start, unless a function opts in; and the metric sink use cases
publish through.

Instantiating Powertools' Tracer imports the X-Ray SDK and botocore (about 200 ms measured here,
more than the rest of the token handler; the media handler imported in 283 ms with it, 109 ms without).
So every function relies on Lambda's active tracing (``TracingConfig: Active``, one segment per
invocation, no SDK) and these decorators are no-ops; ``XRAY_SDK=true`` gives the real Powertools Tracer
(subsegments for every AWS call) to a function that needs them, at that cold-start cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

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


# -- metrics --------------------------------------------------------------------------------------------


class MetricSink(Protocol):
    """How use cases publish a metric without knowing Powertools: ``sink("NoticesAccepted")``,
    ``sink("NoticeBytes", 812, unit="Bytes")``, ``sink("RecordingsEnded", dimensions={"StopReason": "api"})``."""

    def __call__(
        self, name: str, value: float = 1, *, unit: str = "Count", dimensions: Mapping[str, str] | None = None
    ) -> None: ...


def no_metric(name: str, value: float = 1, *, unit: str = "Count", dimensions: Mapping[str, str] | None = None) -> None:
    """The sink of tests and tools that publish nothing."""


def metric_sink(metrics: Any) -> MetricSink:
    """A sink into a handler's Powertools ``Metrics`` (EMF on stdout, flushed by ``log_metrics``; no IAM).

    A metric with dimensions of its own (``StopReason``, ``Reason``) goes out at once as its own EMF document
    (``single_metric``): the dimensions of a ``Metrics`` flush apply to every metric in it."""

    def sink(name: str, value: float = 1, *, unit: str = "Count", dimensions: Mapping[str, str] | None = None) -> None:
        if not dimensions:
            metrics.add_metric(name=name, unit=unit, value=value)
            return
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(
            name=name,
            unit=MetricUnit(unit),
            value=value,
            namespace=metrics.namespace,
            default_dimensions={"service": metrics.service, **dimensions},
        ):
            pass

    return sink


#: the limiter's wait before each Agora request (ms, 0 when a slot was free): its samples count the requests
LIMITER_WAIT_METRIC = "AgoraLimiterWaitMs"
AGORA_REQUESTS_METRIC = "AgoraRequests"


def limiter_wait_observer(sink: MetricSink) -> Callable[[float], None]:
    """``on_wait`` for ``service.adapters.agora.build_agora_client``: one request to Agora, and its wait."""

    def observe(seconds: float) -> None:
        sink(AGORA_REQUESTS_METRIC)
        sink(LIMITER_WAIT_METRIC, round(seconds * 1000, 3), unit="Milliseconds")

    return observe
