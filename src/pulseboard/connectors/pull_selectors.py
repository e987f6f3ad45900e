"""Reads of the pull scheduler across all organizations: what is due, and a summary for ops.

These are the only cross-org reads in the code base: the worker serves every org, and the
ops gauges count sources, never show them. Each query mirrors ``schedule.is_due`` so the
database and the pure rule agree on what "due" means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from pulseboard.connectors.models import Source
from pulseboard.connectors.registry import pull_kinds
from pulseboard.connectors.schedule import due_lag


def due_filter(*, now: datetime) -> Q:
    """Pull sources whose time has come and that no live lease holds (``schedule.is_due``)."""
    return Q(kind__in=pull_kinds(), next_pull_at__isnull=False, next_pull_at__lte=now) & (
        Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    )


@dataclass(frozen=True)
class KindState:
    kind: str
    sources: int
    failing: int
    due: int
    lag: timedelta


def source_state_by_kind(*, now: datetime) -> list[KindState]:
    """Per pull kind: sources bound, failing, due and unclaimed, and the oldest one's lag."""
    due = due_filter(now=now)
    rows = (
        Source.objects.filter(kind__in=pull_kinds())
        .values("kind")
        .annotate(
            # Prefixed names: Source has a ``failing`` property an annotation must not shadow.
            n_sources=Count("id"),
            n_failing=Count("id", filter=Q(consecutive_failures__gt=0)),
            n_due=Count("id", filter=due),
            oldest_due=Min("next_pull_at", filter=due),
        )
        .order_by("kind")
    )
    found = {
        row["kind"]: KindState(
            kind=row["kind"],
            sources=row["n_sources"],
            failing=row["n_failing"],
            due=row["n_due"],
            lag=due_lag(next_pull_at=row["oldest_due"], now=now),
        )
        for row in rows
    }
    return [
        found.get(kind, KindState(kind=kind, sources=0, failing=0, due=0, lag=timedelta(0)))
        for kind in pull_kinds()
    ]
