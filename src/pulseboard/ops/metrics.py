"""The ``/metrics`` scrape: every process's counters plus what the database tells.

The counters themselves live in ``core.metrics`` (packages below count there). The
state of the pull sources (how many, failing, due, and how late the oldest due one is)
is read from the database at scrape time, so it is the same cluster-wide truth whichever
process answers and however many workers run. A standalone ``pulseboard worker`` (other
machines) serves its own counters with ``--metrics-port``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from pulseboard.connectors.pull_selectors import source_state_by_kind
from pulseboard.core import clock
from pulseboard.core.metrics import PROCESS_REGISTRY, multiprocess_dir, record_request


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
    directory = multiprocess_dir()
    registry = multiprocess_registry(directory) if directory is not None else CollectorRegistry()
    if directory is None:
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
