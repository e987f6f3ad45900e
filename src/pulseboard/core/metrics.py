"""Per-process Prometheus counters and histograms, and the switch to multiprocess storage.

Every package that counts (the webhook endpoint, the pull worker, the request
middleware) records here; this module sits in ``core`` so counting never makes a
domain package depend on the ops endpoints above it. ``pulseboard serve`` runs several
gunicorn processes plus the pull worker, so it switches prometheus_client to its
multiprocess mode (``enable_multiprocess``): every process writes its samples to files
in ``<data dir>/metrics/`` and a scrape (``ops.metrics``) sums them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, values

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


def multiprocess_dir() -> Path | None:
    """Where this process's samples go, or None when it keeps them in memory."""
    return _multiprocess_dir
