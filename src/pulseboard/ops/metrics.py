"""Prometheus metrics: what each process counts, what the database tells, and how to scrape both.

Per-process counters and histograms (pulls by kind and outcome, pull latency, webhook
outcomes, request latency) live in ``PROCESS_REGISTRY``. ``pulseboard serve`` runs several
gunicorn processes plus the pull worker, so it switches prometheus_client to its
multiprocess mode (``enable_multiprocess``): every process writes its samples to files in
``<data dir>/metrics/`` and a scrape of ``/metrics`` on any web process sums them all. The
state of the pull sources (how many, failing, due, and how late the oldest due one is)
is read from the database at scrape time, so it is the same cluster-wide truth whichever
process answers and however many workers run. A standalone ``pulseboard worker`` (other
machines) serves its own counters with ``--metrics-port``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from pulseboard.core import clock
from pulseboard.worker.selectors import source_state_by_kind

PULL_OUTCOMES: Final = ("ok", "error")
WEBHOOK_OUTCOMES: Final = ("accepted", "replayed", "unauthorized", "too_large", "invalid")
HTTP_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The pull deadline is 10 s, so the buckets stop there; requests are mostly sub-second.
PULL_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REQUEST_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

PROCESS_REGISTRY: Final = CollectorRegistry(auto_describe=True)

PULLS: Final = Counter(
    "pulseboard_pulls",
    "Pulls done by the worker, by connector kind and outcome (ok, error).",
    ["kind", "outcome"],
    registry=PROCESS_REGISTRY,
)
PULL_SECONDS: Final = Histogram(
    "pulseboard_pull_duration_seconds",
    "Time from the start of a pull to its outcome (HTTP and parsing), by connector kind.",
    ["kind"],
    buckets=PULL_BUCKETS,
    registry=PROCESS_REGISTRY,
)
WEBHOOKS: Final = Counter(
    "pulseboard_webhook_deliveries",
    "Inbound webhook requests by outcome: " + ", ".join(WEBHOOK_OUTCOMES) + ".",
    ["outcome"],
    registry=PROCESS_REGISTRY,
)
REQUEST_SECONDS: Final = Histogram(
    "pulseboard_http_request_duration_seconds",
    "Time to produce a response (to the first byte for streamed ones), by route and status.",
    ["method", "view", "status"],
    buckets=REQUEST_BUCKETS,
    registry=PROCESS_REGISTRY,
)

_multiprocess_dir: Path | None = None


def record_pull(*, kind: str, ok: bool, seconds: float) -> None:
    """Count one pull outcome and its latency."""
    PULLS.labels(kind=kind, outcome="ok" if ok else "error").inc()
    PULL_SECONDS.labels(kind=kind).observe(max(seconds, 0.0))


def record_webhook(outcome: str) -> None:
    """Count one inbound webhook request; ``outcome`` is one of ``WEBHOOK_OUTCOMES``.

    Anything else is counted as ``other`` so a caller's typo cannot grow the label set.
    """
    WEBHOOKS.labels(outcome=outcome if outcome in WEBHOOK_OUTCOMES else "other").inc()


def record_request(*, method: str, view: str, status: int, seconds: float) -> None:
    """Observe one HTTP request's latency."""
    REQUEST_SECONDS.labels(
        method=method if method in HTTP_METHODS else "other",
        view=view,
        status=str(status),
    ).observe(max(seconds, 0.0))


def enable_multiprocess(directory: Path) -> None:
    """Make every metric of this process and of its children go to files in ``directory``.

    Called by ``pulseboard serve`` in the gunicorn master before it forks: forked web
    processes inherit the switch, and the worker child process inherits the environment
    variable. Stale files from an earlier run are removed so counters start from zero
    (Prometheus reads a drop as a counter reset).
    """
    import os

    global _multiprocess_dir
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    # prometheus_client picks its storage from this variable in every process it runs in
    # (the worker child reads it when it starts): a library contract, not a setting.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    # All our metrics have labels, so no value exists before the first ``labels()``
    # call: switching the value class now covers every sample this process will write.
    values.ValueClass = values.MultiProcessValue()
    _multiprocess_dir = directory


class SourceStateCollector(Collector):
    """Gauges read from the database at scrape time: the same answer on every process."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "pulseboard_database_up", "1 when the database answered this scrape, else 0."
        )
        sources = GaugeMetricFamily(
            "pulseboard_pull_sources", "Pull sources bound, by kind.", labels=["kind"]
        )
        failing = GaugeMetricFamily(
            "pulseboard_pull_sources_failing",
            "Pull sources whose last pull failed, by kind.",
            labels=["kind"],
        )
        due = GaugeMetricFamily(
            "pulseboard_pull_sources_due",
            "Pull sources due now and not claimed by a worker, by kind.",
            labels=["kind"],
        )
        lag = GaugeMetricFamily(
            "pulseboard_due_source_lag_seconds",
            "How long the oldest unclaimed due source has been waiting, by kind "
            "(0 when the workers keep up).",
            labels=["kind"],
        )
        try:
            states = source_state_by_kind(now=clock.now())
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for state in states:
            sources.add_metric([state.kind], state.sources)
            failing.add_metric([state.kind], state.failing)
            due.add_metric([state.kind], state.due)
            lag.add_metric([state.kind], state.lag.total_seconds())
        yield from (up, sources, failing, due, lag)


def multiprocess_registry(directory: Path) -> CollectorRegistry:
    """A registry summing the samples every process wrote into ``directory``."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return registry


def scrape_registry() -> CollectorRegistry:
    """What ``/metrics`` exposes: all processes' counters (or this one's) plus DB gauges."""
    registry = (
        multiprocess_registry(_multiprocess_dir)
        if _multiprocess_dir is not None
        else CollectorRegistry()
    )
    if _multiprocess_dir is None:
        registry.register(PROCESS_REGISTRY)
    registry.register(SourceStateCollector())
    return registry


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(scrape_registry()), CONTENT_TYPE_LATEST


class RequestMetricsMiddleware:
    """Times every request; the label is the URL pattern's name, never the raw path."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or "unnamed") if match is not None else "unmatched"
        record_request(
            method=request.method or "",
            view=view,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response
