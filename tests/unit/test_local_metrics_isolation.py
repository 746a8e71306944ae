"""Powertools' metric stores are per thread while a local stack runs (``local.patches._ThreadLocalSet``).

Every ``Metrics()`` of a process shares class-level dicts. One Lambda process serves one invocation at a time;
a local stack (and the workflow tests) serves several in threads of one process, where one thread's flush
published another invocation's metrics and, when the two interleaved, iterated a dict the other was adding to
(a recording FAILED with ``dictionary changed size during iteration``).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from local.patches import _powertools_thread_local_metrics


def _two_invocations(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Thread A adds ``FromA`` and waits; thread B adds ``FromB`` and flushes; then A flushes."""
    first = Metrics(namespace="Test", service="a")
    second = Metrics(namespace="Test", service="b")
    a_added, b_flushed = threading.Event(), threading.Event()

    def a() -> None:
        first.add_metric("FromA", MetricUnit.Count, 1)
        a_added.set()
        assert b_flushed.wait(10)
        first.flush_metrics()

    def b() -> None:
        assert a_added.wait(10)
        second.add_metric("FromB", MetricUnit.Count, 1)
        second.flush_metrics()
        b_flushed.set()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _names(blob: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_each_invocation_thread_flushes_only_its_own_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    with _powertools_thread_local_metrics():
        blobs = _two_invocations(capsys)
    assert [_names(b) for b in blobs] == [{"FromB"}, {"FromA"}]


def test_without_the_patch_one_flush_publishes_the_other_threads_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    """The failure the patch exists for, shown on Powertools as it is (one process-wide store)."""
    blobs = _two_invocations(capsys)
    # B's flush carries A's metric (and whatever else this process's earlier tests left in the shared store)
    assert {"FromA", "FromB"} <= _names(blobs[0])


def test_the_patch_is_undone_and_metrics_created_under_it_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    with _powertools_thread_local_metrics():
        metrics = Metrics(namespace="Test", service="c")
    metrics.add_metric("After", MetricUnit.Count, 1)
    metrics.flush_metrics()
    assert [_names(json.loads(capsys.readouterr().out.splitlines()[-1]))] == [{"After"}]
