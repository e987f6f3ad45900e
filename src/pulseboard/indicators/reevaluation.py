"""Status over time (DESIGN §12): ``Kpi.reevaluate_at`` and the worker's time pass.

``reevaluate_at`` is the next moment a KPI's status or staleness may change with no new
value (``indicators/time_triggers.py`` names the moments). This module reads what those
moments depend on and keeps the column right:

- ``reevaluate_at_after_write``: after a value write, with no query. The new moments are
  the new value's stale moment and the new history row's rolling-baseline moment; every
  moment known before stays covered by the previous ``reevaluate_at``, which is kept
  when it is earlier (even when it is due: the pass then recomputes it exactly).
- ``kpi_reevaluate``: judge the current value at ``now``, record a transition, and set
  the exact next moment (one or two queries). Imports, definition changes and changes
  to a KPI's scheduled targets call it.
- ``reevaluate_due``: the time pass. Claims up to ``limit`` KPIs whose moment has come
  (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``, so several workers share the work
  and never judge one KPI twice; SQLite's single writer needs no more), judges each
  with ``evaluation.status_of(kpi, current_value, now)``, records transitions (cause
  ``config`` when a scheduled target came into force, else ``time``; each audited),
  bumps ``updated_at`` when the status or the stale mark changed (live pages key their
  ETag on it) and sets the next moment, all in one transaction. A batch costs a bounded
  number of statements, not a few per KPI: targets read per organization, rolling
  baselines per organization and period (``rolling_reads``), transitions, audit events
  and the rows written with one statement each (docs/performance.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from django.db import transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.models import AuditEvent
from pulseboard.audit.services import audit_event_new, audit_record_many
from pulseboard.core.actors import Actor
from pulseboard.core.bulk_rows import rows_update
from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.evaluation import (
    UNREAD,
    Unread,
    schedule_of,
    schedules_for,
    status_of,
)
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.past_values import BaselineRead, reader
from pulseboard.indicators.shapes import BaselineMode, Shape
from pulseboard.indicators.status import StatusCause
from pulseboard.indicators.status_changes import status_apply, status_transition
from pulseboard.indicators.targets import Schedule
from pulseboard.indicators.time_triggers import (
    came_due,
    earliest,
    next_reevaluation,
    stale_from,
)

REEVALUATE_FIELDS: Final = ("status", "status_since", "reevaluate_at")
DEFAULT_BATCH: Final = 500
PASS_ACTOR: Final = Actor.system("status over time")


def rolling_period(kpi: Kpi) -> timedelta | None:
    """The baseline period of a rolling (prior-period) trend; None for every other KPI."""
    if kpi.shape != Shape.TREND or kpi.baseline_mode != BaselineMode.PRIOR_PERIOD:
        return None
    return _duration(kpi.baseline_period)


def expected_every(kpi: Kpi) -> timedelta | None:
    return _duration(kpi.expected_every)


def _duration(text: str) -> timedelta | None:
    if not text:
        return None
    try:
        return parse_duration(text)
    except DurationError:
        return None


def reevaluate_at_after_write(kpi: Kpi, *, row_at: datetime | None, now: datetime) -> None:
    """Lower ``kpi.reevaluate_at`` (in memory) after a value write at ``now``; no query.

    ``row_at`` is the new history row's ``observed_at`` (None when no row was written).
    A row observed before ``now`` was judged at its own time (as its history row is), or
    not at all (a late row, which may be the rolling baseline from now on): the KPI is
    due at once, so the next pass judges its value at ``now``.
    """
    moment = next_reevaluation(
        now=now,
        observed_at=kpi.observed_at,
        expected_every=expected_every(kpi),
        baseline_period=rolling_period(kpi),
        next_row_at=row_at,
        next_target_from=None,
    )
    backdated = now if row_at is not None and row_at < now else None
    kpi.reevaluate_at = earliest((kpi.reevaluate_at, moment, backdated))


def rolling_reads(kpis: Iterable[Kpi], *, now: datetime) -> dict[str, BaselineRead]:
    """The rolling baselines of ``kpis`` at ``now`` and when each next moves.

    One query per organization and distinct baseline period (``baselines_at``), however
    many KPIs share them; KPIs that are not rolling trends get no entry.
    """
    groups: dict[tuple[int, timedelta], list[str]] = defaultdict(list)
    for kpi in kpis:
        period = rolling_period(kpi)
        if period is not None:
            groups[(kpi.org_id, period)].append(kpi.pk)
    reads: dict[str, BaselineRead] = {}
    for (org_id, period), kpi_ids in groups.items():
        try:
            when = now - period
        except OverflowError:  # a period reaching before year 1: no baseline, no moment
            reads.update(dict.fromkeys(kpi_ids, BaselineRead(None, None)))
            continue
        reads.update(reader().baselines_at(org_id=org_id, kpi_ids=kpi_ids, when=when))
    return reads


def next_moment(
    kpi: Kpi, *, now: datetime, next_target_from: datetime | None, read: BaselineRead | None
) -> datetime | None:
    """The exact next moment after ``now``; ``read`` is the KPI's ``rolling_reads`` entry."""
    next_row_at = None
    if read is not None and kpi.current_value is not None:
        next_row_at = read.next_observed_at
    return next_reevaluation(
        now=now,
        observed_at=kpi.observed_at,
        expected_every=expected_every(kpi),
        baseline_period=rolling_period(kpi),
        next_row_at=next_row_at,
        next_target_from=next_target_from,
    )


def _baseline(read: BaselineRead | None) -> float | Literal[Unread.UNREAD] | None:
    # A rolling trend always has a read (None value: no history that far back); the
    # baseline of any other KPI is not read at all (status_of ignores it).
    return read.value if read is not None else UNREAD


def kpi_reevaluate(kpi: Kpi, *, now: datetime, cause: StatusCause) -> bool:
    """Judge ``kpi``'s current value at ``now`` and set its next moment; True if status changed.

    Sets ``status``, ``status_since`` and ``reevaluate_at`` in memory (``REEVALUATE_FIELDS``)
    and writes the ``StatusChange``; the caller saves the row in its transaction. Two
    queries at most: the KPI's scheduled targets and, for a rolling trend, its baseline.
    """
    schedule = schedule_of(kpi)
    read = rolling_reads([kpi], now=now).get(kpi.pk)
    status = status_of(kpi, kpi.current_value, now, schedule=schedule, baseline=_baseline(read))
    changed = status_apply(kpi, status, at=now, cause=cause)
    upcoming = earliest((entry.effective_from for entry in schedule.entries), after=now)
    kpi.reevaluate_at = next_moment(kpi, now=now, next_target_from=upcoming, read=read)
    return changed


def kpi_reevaluate_save(*, kpi: Kpi, now: datetime, cause: StatusCause) -> bool:
    """``kpi_reevaluate`` on the locked row, saved: for writes that change what time does
    to a KPI without touching the row otherwise (a new schedule of targets)."""
    with transaction.atomic():
        locked = Kpi.objects.select_for_update().get(pk=kpi.pk, org_id=kpi.org_id)
        changed = kpi_reevaluate(locked, now=now, cause=cause)
        fields = [*REEVALUATE_FIELDS, "updated_at"] if changed else ["reevaluate_at"]
        locked.save(update_fields=fields)
    kpi.status, kpi.status_since = locked.status, locked.status_since
    kpi.reevaluate_at = locked.reevaluate_at
    return changed


@dataclass(frozen=True)
class PassOutcome:
    claimed: int  # KPIs whose moment had come
    changed: int  # status transitions recorded
    touched: int  # KPIs whose status or stale mark changed (updated_at bumped)


def reevaluate_due(*, now: datetime, limit: int = DEFAULT_BATCH) -> PassOutcome:
    """One batch of the time pass: up to ``limit`` due KPIs judged at ``now``, one transaction.

    A bounded number of statements whatever ``limit`` is: the claim, the scheduled
    targets (one query per organization), the rolling baselines (one per organization
    and baseline period), then one insert of the transitions, one of their audit events
    and one update of the claimed rows.
    """
    if limit <= 0:
        return PassOutcome(0, 0, 0)
    with transaction.atomic():
        kpis = list(
            # skip_locked: a KPI another worker (or a value write) holds is not ours to judge
            # now; it stays due. SQLite ignores row locks: its IMMEDIATE transaction excludes.
            Kpi.objects.select_for_update(skip_locked=True)
            .filter(reevaluate_at__lte=now)
            .order_by("reevaluate_at", "id")[:limit]
        )
        if not kpis:
            return PassOutcome(0, 0, 0)
        # The scheduled targets of the batch, one query per organization: they judge the
        # values (status_of), say whether one came into force and when the next one does.
        by_org: dict[int, list[str]] = defaultdict(list)
        for kpi in kpis:
            by_org[kpi.org_id].append(kpi.pk)
        schedules: dict[str, Schedule] = {}
        for org_id, kpi_ids in by_org.items():
            schedules.update(schedules_for(org_id=org_id, kpi_ids=kpi_ids))
        reads = rolling_reads(kpis, now=now)
        changes: list[StatusChange] = []
        events: list[AuditEvent] = []
        touched = 0
        for kpi in kpis:
            due = kpi.reevaluate_at
            assert due is not None
            schedule = schedules[kpi.pk]
            starts = [entry.effective_from for entry in schedule.entries]
            target = any(came_due(start, since=due, now=now) for start in starts)
            cause = StatusCause.CONFIG if target else StatusCause.TIME
            before = kpi.status
            read = reads.get(kpi.pk)
            status = status_of(
                kpi, kpi.current_value, now, schedule=schedule, baseline=_baseline(read)
            )
            change = status_transition(kpi, status, at=now, cause=cause)
            stale_turned = came_due(
                stale_from(kpi.observed_at, expected_every(kpi)), since=due, now=now
            )
            if change is not None:
                changes.append(change)
                events.append(
                    audit_event_new(
                        org_id=kpi.org_id,
                        actor=PASS_ACTOR,
                        action=Action.KPI_STATUS_CHANGED,
                        target_type="kpi",
                        target_id=kpi.pk,
                        target_label=kpi.title,
                        before={"status": before},
                        after={"status": kpi.status, "cause": cause.value},
                    )
                )
            if change is not None or stale_turned:
                kpi.updated_at = now
                touched += 1
            upcoming = earliest(starts, after=now)
            kpi.reevaluate_at = next_moment(kpi, now=now, next_target_from=upcoming, read=read)
        StatusChange.objects.bulk_create(changes)
        audit_record_many(events)
        _write_back(kpis)
    return PassOutcome(claimed=len(kpis), changed=len(changes), touched=touched)


def _write_back(kpis: list[Kpi]) -> None:
    """Save ``status``, ``status_since``, ``reevaluate_at`` and ``updated_at`` of ``kpis``
    in one statement (``core/bulk_rows.rows_update``).

    ``bulk_update`` would do the same with a ``CASE`` per column, whose building in
    Python cost more than all the pass's SQL (docs/performance.md). ``updated_at`` is
    written as it stands in memory: moved by the pass only when the status or the stale
    mark changed (``auto_now`` does not apply here).
    """
    rows_update(Kpi, ["status", "status_since", "reevaluate_at", "updated_at"], kpis)


def reevaluate_all_due(*, now: datetime, batch: int = DEFAULT_BATCH) -> PassOutcome:
    """The whole time pass: batches of ``reevaluate_due`` until none is left due at ``now``."""
    claimed = changed = touched = 0
    while True:
        outcome = reevaluate_due(now=now, limit=batch)
        claimed += outcome.claimed
        changed += outcome.changed
        touched += outcome.touched
        if outcome.claimed < batch:
            return PassOutcome(claimed=claimed, changed=changed, touched=touched)
