"""The one place a KPI's status changes (DESIGN §12): the transition, its record, its read-back.

``status_apply`` is called by every path that sets ``Kpi.status`` — value writes, imports
and backfills (``history/services.py``), a definition change (``kpi_update``) and the time
pass (``indicators/reevaluation.py``) — inside the caller's transaction: when the status
differs it writes a ``StatusChange`` (from, to, at, cause) and sets ``status`` and
``status_since`` on the row in memory; the caller saves the row with the rest of its
write (``STATUS_FIELDS`` names the two columns). ``status_changes_for`` reads the
transitions back for the detail chart's status periods, ``status_changes_newest`` for
the API (``GET /kpis/{id}/status-changes``).

Decision: transitions never go back in time. A change dated before the current status
began (a value observed earlier than the last time-based change) is dated at that
beginning instead, so the periods of a KPI's status never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db.models import QuerySet

from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.status import Status, StatusCause

STATUS_FIELDS: Final = ("status", "status_since")


def status_transition(
    kpi: Kpi, status: Status | str, *, at: datetime, cause: StatusCause
) -> StatusChange | None:
    """Move ``kpi`` (in memory) to ``status``; the unsaved ``StatusChange``, None if unchanged.

    For callers that insert many transitions at once (the time pass); others use
    ``status_apply``.
    """
    new = Status(status)
    if kpi.status == new:
        return None
    if kpi.status_since is not None and at < kpi.status_since:
        at = kpi.status_since
    change = StatusChange(
        org_id=kpi.org_id,
        kpi_id=kpi.pk,
        from_status=Status(kpi.status).value,
        to_status=new.value,
        at=at,
        cause=cause.value,
    )
    kpi.status = new.value
    kpi.status_since = at
    return change


def status_apply(kpi: Kpi, status: Status | str, *, at: datetime, cause: StatusCause) -> bool:
    """Record the transition of ``kpi`` to ``status`` (if it is one); True when it changed.

    Writes the ``StatusChange`` row; ``kpi.status`` and ``kpi.status_since`` are set but
    not saved: the caller saves them (``STATUS_FIELDS``) in the same transaction.
    """
    change = status_transition(kpi, status, at=at, cause=cause)
    if change is None:
        return False
    change.save(force_insert=True)
    return True


@dataclass(frozen=True)
class StatusPeriod:
    """One stretch of a single status: from ``start`` until ``end`` (None: still current)."""

    status: Status
    start: datetime
    end: datetime | None
    cause: StatusCause


def status_changes_for(
    *, org_id: int, kpi_id: str, since: datetime | None = None
) -> QuerySet[StatusChange]:
    """The KPI's transitions, oldest first (from ``since`` on when given)."""
    rows = StatusChange.objects.filter(org_id=org_id, kpi_id=kpi_id)
    if since is not None:
        rows = rows.filter(at__gte=since)
    return rows.order_by("at", "id")


def status_changes_newest(
    *,
    org_id: int,
    kpi_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
) -> list[StatusChange]:
    """At most ``limit`` of the KPI's transitions, newest first, ``at`` in ``[since, until)``
    (for ``GET /kpis/{id}/status-changes``)."""
    rows = StatusChange.objects.filter(org_id=org_id, kpi_id=kpi_id)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    return list(rows.order_by("-at", "-id")[:limit])


def status_periods(
    *, org_id: int, kpi_id: str, since: datetime | None = None
) -> list[StatusPeriod]:
    """The KPI's status periods overlapping ``[since, now]``, oldest first.

    The period already running at ``since`` is included, starting at ``since``.
    """
    changes = list(status_changes_for(org_id=org_id, kpi_id=kpi_id, since=since))
    if since is not None:
        before = (
            StatusChange.objects.filter(org_id=org_id, kpi_id=kpi_id, at__lt=since)
            .order_by("-at", "-id")
            .first()
        )
        if before is not None:
            before.at = since
            changes.insert(0, before)
    periods: list[StatusPeriod] = []
    for index, change in enumerate(changes):
        end = changes[index + 1].at if index + 1 < len(changes) else None
        periods.append(
            StatusPeriod(
                status=Status(change.to_status),
                start=change.at,
                end=end,
                cause=StatusCause(change.cause),
            )
        )
    return periods
