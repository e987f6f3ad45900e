"""Reads of KPI history: point lookups, ranges, downsampled series."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from django.db import connection
from django.db.models import Avg, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncDate

from pulseboard.history.models import KpiHistory


def value_at_or_before(*, org_id: int, kpi_id: str, when: datetime) -> float | None:
    row = (
        KpiHistory.objects.filter(org_id=org_id, kpi_id=kpi_id, observed_at__lte=when)
        .order_by("-observed_at", "-id")
        .values_list("value", flat=True)
        .first()
    )
    return row


def values_at_or_before(*, org_id: int, kpi_ids: Iterable[str], when: datetime) -> dict[str, float]:
    """The latest value at or before ``when`` for each KPI, in one query."""
    ids = list(kpi_ids)
    if not ids:
        return {}
    rows = (
        KpiHistory.objects.filter(org_id=org_id, kpi_id__in=ids, observed_at__lte=when)
        .order_by("kpi_id", "-observed_at", "-id")
        .values_list("kpi_id", "value", "observed_at")
    )
    if _supports_distinct_on():
        rows = rows.distinct("kpi_id")
        return {kpi_id: value for kpi_id, value, _ in rows}
    # SQLite has no DISTINCT ON: a correlated subquery per KPI keeps it to one query.
    latest = (
        KpiHistory.objects.filter(kpi_id=OuterRef("kpi_id"), observed_at__lte=when)
        .order_by("-observed_at", "-id")
        .values("id")[:1]
    )
    picked = KpiHistory.objects.filter(
        org_id=org_id, kpi_id__in=ids, id=Subquery(latest)
    ).values_list("kpi_id", "value")
    return dict(picked)


def _supports_distinct_on() -> bool:
    return bool(connection.features.can_distinct_on_fields)


def history_range(
    *,
    org_id: int,
    kpi_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[KpiHistory]:
    rows = KpiHistory.objects.filter(org_id=org_id, kpi_id=kpi_id)
    if since is not None:
        rows = rows.filter(observed_at__gte=since)
    if until is not None:
        rows = rows.filter(observed_at__lt=until)
    return rows.order_by("observed_at", "id")


def daily_series(
    *, org_id: int, kpi_ids: Iterable[str], since: datetime
) -> dict[str, list[tuple[date, float]]]:
    """One averaged point per KPI per day, downsampled in SQL, for all KPIs in one query."""
    ids = list(kpi_ids)
    series: dict[str, list[tuple[date, float]]] = defaultdict(list)
    if not ids:
        return series
    rows = (
        KpiHistory.objects.filter(org_id=org_id, kpi_id__in=ids, observed_at__gte=since)
        .annotate(day=TruncDate("observed_at"))
        .values("kpi_id", "day")
        .annotate(avg=Avg("value"))
        .order_by("kpi_id", "day")
        .values_list("kpi_id", "day", "avg")
    )
    for kpi_id, day, avg in rows:
        series[kpi_id].append((day, float(avg)))
    return series
