"""Reads of KPI history: point lookups, ranges, downsampled series, an import's plan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db.models import Avg, Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncDate

from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import NotFound
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.past_values import BaselineRead


def value_at_or_before(*, org_id: int, kpi_id: str, when: datetime) -> float | None:
    row = (
        KpiHistory.objects.filter(org_id=org_id, kpi_id=kpi_id, observed_at__lte=when)
        .order_by("-observed_at", "-id")
        .values_list("value", flat=True)
        .first()
    )
    return row


def first_observed_after(*, org_id: int, kpi_id: str, after: datetime) -> datetime | None:
    """When the KPI's first history row after ``after`` was observed (None: no such row)."""
    return (
        KpiHistory.objects.filter(org_id=org_id, kpi_id=kpi_id, observed_at__gt=after)
        .order_by("observed_at")
        .values_list("observed_at", flat=True)
        .first()
    )


def values_at_or_before(*, org_id: int, kpi_ids: Iterable[str], when: datetime) -> dict[str, float]:
    """The latest value at or before ``when`` for each KPI, in one query.

    Driven from the KPI table with a correlated ``LIMIT 1`` subquery, so each KPI
    costs one probe of the (kpi, observed_at) index however long its history is.
    """
    ids = list(kpi_ids)
    if not ids:
        return {}
    latest = (
        KpiHistory.objects.filter(kpi_id=OuterRef("pk"), observed_at__lte=when)
        .order_by("-observed_at", "-id")
        .values("value")[:1]
    )
    rows = (
        Kpi.objects.filter(org_id=org_id, pk__in=ids)
        .annotate(previous=Subquery(latest))
        .values_list("pk", "previous")
    )
    return {kpi_id: value for kpi_id, value in rows if value is not None}


def baselines_at(*, org_id: int, kpi_ids: Iterable[str], when: datetime) -> dict[str, BaselineRead]:
    """For each KPI of ``org_id``: its newest value at or before ``when`` and the
    ``observed_at`` of its first row after ``when``, in one query.

    What a rolling baseline ``period`` back from ``now`` needs (``when = now - period``):
    the baseline itself and the moment it next moves. Two correlated ``LIMIT 1``
    subqueries from the KPI table, each one probe of the (kpi, observed_at) index.
    Every id of the org gets an entry (``BaselineRead(None, None)`` with no history).
    """
    ids = list(dict.fromkeys(kpi_ids))
    if not ids:
        return {}
    latest = (
        KpiHistory.objects.filter(kpi_id=OuterRef("pk"), observed_at__lte=when)
        .order_by("-observed_at", "-id")
        .values("value")[:1]
    )
    following = (
        KpiHistory.objects.filter(kpi_id=OuterRef("pk"), observed_at__gt=when)
        .order_by("observed_at")
        .values("observed_at")[:1]
    )
    rows = (
        Kpi.objects.filter(org_id=org_id, pk__in=ids)
        .annotate(previous=Subquery(latest), following=Subquery(following))
        .values_list("pk", "previous", "following")
    )
    return {kpi_id: BaselineRead(value, moves) for kpi_id, value, moves in rows}


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


def daily_averages(*, org_id: int, kpi_id: str, since: datetime) -> list[tuple[date, float, int]]:
    """(day, average, count) per UTC day since ``since``, aggregated in SQL."""
    rows = (
        KpiHistory.objects.filter(org_id=org_id, kpi_id=kpi_id, observed_at__gte=since)
        .annotate(day=TruncDate("observed_at", tzinfo=UTC))
        .values("day")
        .annotate(avg=Avg("value"), n=Count("id"))
        .order_by("day")
        .values_list("day", "avg", "n")
    )
    return [(day, float(avg), int(n)) for day, avg, n in rows]


def observed_times(*, org_id: int, kpi_id: str, first: datetime, last: datetime) -> set[datetime]:
    """The instants in [first, last] at which the KPI already has a history row."""
    rows = KpiHistory.objects.filter(
        org_id=org_id, kpi_id=kpi_id, observed_at__gte=first, observed_at__lte=last
    ).values_list("observed_at", flat=True)
    return {moment.astimezone(UTC) for moment in rows.iterator(chunk_size=5000)}


@dataclass(frozen=True)
class ImportPlan:
    """What importing ``points`` into a KPI would do, as of now (DESIGN §14)."""

    new: list[tuple[datetime, float]]  # oldest first
    skipped: int  # points at an instant the KPI's history already holds
    applies: bool  # the newest new point is newer than the current value: it becomes it


def import_plan(*, kpi: Kpi, points: list[tuple[datetime, float]]) -> ImportPlan:
    """Split sorted ``points`` into new ones and ones already in history (read only)."""
    if not points:
        return ImportPlan(new=[], skipped=0, applies=False)
    taken = observed_times(org_id=kpi.org_id, kpi_id=kpi.pk, first=points[0][0], last=points[-1][0])
    new = [point for point in points if point[0] not in taken]
    applies = bool(new) and (kpi.observed_at is None or new[-1][0] > kpi.observed_at)
    return ImportPlan(new=new, skipped=len(points) - len(new), applies=applies)


def kpi_by_id(*, kpi_id: str) -> Kpi:
    """A KPI by its id alone, for operators' shell commands (``pulseboard import``).

    KPI ids are unique across organizations; the web and the API never use this, they
    look KPIs up within the caller's org.
    """
    kpi = Kpi.objects.filter(pk=kpi_id).first() if is_object_id(kpi_id) else None
    if kpi is None:
        raise NotFound("no KPI has this id")
    return kpi
