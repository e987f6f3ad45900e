"""The one sink for values: every write, whatever its source, passes through ``value_record``.

One transaction holds the ordering rule (a late write goes to history only), the
history row, the KPI's new value and status, and the audit event: all land or none.
A batch of values (``values_record_batch``) is many ``value_record`` calls in one
transaction, checked first. Bulk loads of past values (``history_backfill`` for demo
data, ``history_import`` for an admin's CSV file, DESIGN §14) write rows with bulk
INSERTs under the same ordering rule and status evaluation, with one audit event.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from django.db import connection, transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.models import AuditEvent
from pulseboard.audit.services import audit_event_new, audit_record
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.api_input import EARLIEST_OBSERVATION, is_object_id
from pulseboard.core.bulk_rows import values_insert
from pulseboard.core.errors import NotFound, ValidationFailed
from pulseboard.history.importing import ParsedImport, parse_history_csv
from pulseboard.history.models import KpiHistory
from pulseboard.history.selectors import (
    daily_averages,
    history_range,
    import_plan,
    value_at_or_before,
)
from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.evaluation import (
    schedule_of,
    schedules_for,
    shape_params,
    status_of,
)
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.reevaluation import (
    REEVALUATE_FIELDS,
    kpi_reevaluate,
    reevaluate_at_after_write,
)
from pulseboard.indicators.shapes import BaselineMode, Shape
from pulseboard.indicators.sparkline import WINDOW_DAYS, add_point, from_daily_averages
from pulseboard.indicators.status import Status, StatusCause, evaluate
from pulseboard.indicators.status_changes import STATUS_FIELDS, status_apply, status_transition
from pulseboard.indicators.targets import Schedule, params_over_time

# Clocks disagree a little; further ahead than this is a sender's bug, not skew.
MAX_FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ValueWrite:
    kpi: Kpi
    history: KpiHistory | None
    applied: bool  # became the current value (False for a late write)
    changed: bool  # False when a pull re-read the current value and nothing was written


def check_value(value: object) -> float:
    """A finite number, or a ValidationFailed saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed("value must be a number", errors={"value": "must be a number"})
    number = float(value)
    if not math.isfinite(number):
        raise ValidationFailed(
            "value must be a finite number", errors={"value": "must be a finite number"}
        )
    return number


def check_observed_at(when: datetime, *, now: datetime) -> datetime:
    """``when`` if a value may be observed then, or a ValidationFailed saying why not."""
    if when.tzinfo is None:
        raise ValidationFailed(
            "observed_at must include a time zone",
            errors={"observed_at": "must include a time zone offset, e.g. Z or +02:00"},
        )
    if when > now + MAX_FUTURE_SKEW:
        raise ValidationFailed(
            "observed_at is in the future",
            errors={"observed_at": "is more than 5 minutes in the future"},
        )
    return when


# The KPI columns a value write sets (``Kpi.save`` adds ``updated_at``).
VALUE_FIELDS: Final = ("current_value", "observed_at", *STATUS_FIELDS, "reevaluate_at", "sparkline")


@dataclass(frozen=True)
class ValuePlan:
    """One value write worked out on the locked KPI, nothing saved yet.

    ``kpi`` carries its new ``VALUE_FIELDS`` in memory; the rows are unsaved. ``value_record``
    saves them one by one; the webhook's fast path (``connectors/ingest.py``) inserts them
    in one statement. Either way the same Python decides status, rollup and audit.
    """

    kpi: Kpi
    history: KpiHistory
    status_change: StatusChange | None
    audit: AuditEvent  # unsaved, built from audit_args
    audit_args: dict[str, Any]  # the keyword arguments of audit_record / audit_event_new
    late: bool  # older than the current value: history only


def value_plan(
    locked: Kpi,
    *,
    number: float,
    when: datetime,
    now: datetime,
    source: str,
    actor: Actor,
    schedule: Schedule | None = None,
) -> ValuePlan:
    """What recording ``number`` observed at ``when`` changes; ``locked`` must be row-locked.

    One query at most (a rolling baseline, or the schedule when ``schedule`` is None).
    """
    late = locked.observed_at is not None and when < locked.observed_at
    status = status_of(locked, number, when, schedule=schedule)
    previous = locked.current_value
    history = KpiHistory(
        org_id=locked.org_id,
        kpi=locked,
        value=number,
        observed_at=when,
        recorded_at=now,
        status=status,
        source=source,
    )
    locked.sparkline = add_point(locked.sparkline, when.astimezone(UTC).date(), number)
    change = None
    if not late:
        locked.current_value = number
        locked.observed_at = when
        change = status_transition(locked, status, at=min(when, now), cause=StatusCause.VALUE)
    reevaluate_at_after_write(locked, row_at=when, now=now)
    audit_args: dict[str, Any] = dict(
        org_id=locked.org_id,
        actor=actor,
        action=Action.VALUE_RECORDED,
        target_type="kpi",
        target_id=locked.pk,
        target_label=locked.title,
        before={"value": previous},
        after={
            "value": number,
            "observed_at": when.isoformat(),
            "source": source,
            "status": status,
            "late": late,
        },
    )
    return ValuePlan(
        kpi=locked,
        history=history,
        status_change=change,
        audit=audit_event_new(**audit_args),
        audit_args=audit_args,
        late=late,
    )


def value_record(
    *,
    kpi: Kpi,
    value: float,
    observed_at: datetime | None,
    source: str,
    actor: Actor,
    record_unchanged: bool = True,
    schedule: Schedule | None = None,
) -> ValueWrite:
    """Record one observation of ``kpi``.

    ``record_unchanged=False`` (used by pull connectors) turns a re-read of the
    current value into a freshness update only: no history row, no audit event.
    The value is judged by the targets in force at ``observed_at`` (DESIGN §13);
    ``schedule`` is the KPI's, when the caller loaded it already (a batch).
    """
    number = check_value(value)
    now = clock.now()
    when = check_observed_at(observed_at or now, now=now)
    # savepoint=False: inside a caller's transaction (a webhook delivery) this joins it
    # instead of adding SAVEPOINT/RELEASE round trips; all-or-nothing either way.
    with transaction.atomic(savepoint=False):
        # The row lock serialises concurrent writers to one KPI on PostgreSQL; SQLite's
        # IMMEDIATE transactions already serialise all writers.
        locked = Kpi.objects.select_for_update().filter(pk=kpi.pk, org_id=kpi.org_id).first()
        if locked is None:
            raise NotFound("KPI not found")
        late = locked.observed_at is not None and when < locked.observed_at
        if (
            not record_unchanged
            and not late
            and locked.current_value is not None
            and locked.current_value == number
        ):
            locked.observed_at = when
            reevaluate_at_after_write(locked, row_at=None, now=now)
            locked.save(update_fields=["observed_at", "reevaluate_at"])
            return ValueWrite(kpi=locked, history=None, applied=True, changed=False)
        plan = value_plan(
            locked, number=number, when=when, now=now, source=source, actor=actor, schedule=schedule
        )
        plan.history.save(force_insert=True)
        if plan.status_change is not None:
            plan.status_change.save(force_insert=True)
        locked.save(update_fields=list(VALUE_FIELDS))
        audit_record(**plan.audit_args)
    return ValueWrite(kpi=locked, history=plan.history, applied=not plan.late, changed=True)


def history_backfill(
    *,
    kpi: Kpi,
    points: list[tuple[datetime, float]],
    actor: Actor,
    source: str,
) -> int:
    """Bulk-import past observations (demo data, imports) with one audit event.

    Each row gets the status its value had under the KPI's current shape; for a
    rolling baseline that is computed from the imported points themselves.
    """
    if not points:
        return 0
    rows = sorted((when, check_value(value)) for when, value in points)
    now = clock.now()
    times = [when for when, _ in rows]
    period = _baseline_period(kpi)
    schedule = schedule_of(kpi)
    params_at = params_over_time(shape_params(kpi), schedule)
    history = []
    for when, value in rows:
        baseline = None
        if period is not None:
            index = bisect_right(times, when - period) - 1
            baseline = rows[index][1] if index >= 0 else None
        status = (
            evaluate(params_at(when), value, baseline=baseline)
            if period is not None
            else status_of(kpi, value, when, schedule=schedule)
        )
        history.append(
            KpiHistory(
                org_id=kpi.org_id,
                kpi_id=kpi.pk,
                value=value,
                observed_at=when,
                recorded_at=now,
                status=status,
                source=source,
            )
        )
    with transaction.atomic():
        locked = Kpi.objects.select_for_update().get(pk=kpi.pk, org_id=kpi.org_id)
        KpiHistory.objects.bulk_create(history, batch_size=1000)
        newest_at, newest = rows[-1]
        for when, value in rows:
            locked.sparkline = add_point(locked.sparkline, when.astimezone(UTC).date(), value)
        if locked.observed_at is None or newest_at >= locked.observed_at:
            locked.current_value = newest
            locked.observed_at = newest_at
            since = _status_run_start(times, [row.status for row in history])
            status_apply(locked, history[-1].status, at=since, cause=StatusCause.VALUE)
        kpi_reevaluate(locked, now=now, cause=StatusCause.VALUE)
        locked.save(update_fields=["current_value", "observed_at", *REEVALUATE_FIELDS, "sparkline"])
        audit_record(
            org_id=locked.org_id,
            actor=actor,
            action=Action.HISTORY_BACKFILLED,
            target_type="kpi",
            target_id=locked.pk,
            target_label=locked.title,
            after={"rows": len(history), "from": times[0].isoformat(), "to": times[-1].isoformat()},
        )
    kpi.refresh_from_db()
    return len(history)


def _status_run_start(times: Sequence[datetime], statuses: Sequence[str]) -> datetime:
    """When the last run of equal statuses began: the newest row's status holds since then."""
    index = len(statuses) - 1
    while index > 0 and statuses[index - 1] == statuses[-1]:
        index -= 1
    return times[index]


def _baseline_period(kpi: Kpi) -> timedelta | None:
    if kpi.shape != Shape.TREND or kpi.baseline_mode != BaselineMode.PRIOR_PERIOD:
        return None
    try:
        return parse_duration(kpi.baseline_period)
    except DurationError:
        return None


def sparkline_rebuild(*, kpi: Kpi) -> None:
    """Recompute the sparkline rollup from history (after bulk loads), downsampled in SQL."""
    with transaction.atomic():
        locked = Kpi.objects.select_for_update().get(pk=kpi.pk, org_id=kpi.org_id)
        newest = locked.observed_at or clock.now()
        rows = daily_averages(
            org_id=locked.org_id,
            kpi_id=locked.pk,
            since=newest - timedelta(days=WINDOW_DAYS),
        )
        locked.sparkline = from_daily_averages(rows)
        locked.save(update_fields=["sparkline"])


# --- history import (DESIGN §14) -----------------------------------------------------------

IMPORT_BATCH: Final = 2000  # rows per INSERT; progress is reported per batch


@dataclass(frozen=True)
class ImportOutcome:
    kpi: Kpi
    imported: int  # new history rows
    skipped: int  # rows at an instant the KPI's history already held
    applied: bool  # the newest imported row became the current value
    first: datetime | None  # the file's time range (all rows, skipped ones too)
    last: datetime | None


def history_import_parse(chunks: Iterable[bytes]) -> ParsedImport:
    """Read and check an import file with the rules of value writes (future skew, 1970)."""
    return parse_history_csv(
        chunks, now=clock.now(), max_future=MAX_FUTURE_SKEW, earliest=EARLIEST_OBSERVATION
    )


def _import_statuses(kpi: Kpi, rows: list[tuple[datetime, float]]) -> list[Status]:
    """Each row's status under the KPI's current shape, as ``value_record`` would give it:
    by the targets in force at the row's time (the schedule read once).

    A rolling (prior-period) baseline is the KPI's value one period before each row,
    looked up in the history already stored and the imported rows together.
    """
    params = params_over_time(shape_params(kpi), schedule_of(kpi))
    period = _baseline_period(kpi)
    if period is None:
        # Fixed baseline (from the parameters in force) or none: no query.
        return [evaluate(params(when), value) for when, value in rows]
    low, high = rows[0][0] - period, rows[-1][0] - period
    timeline: list[tuple[datetime, float]] = []
    before = value_at_or_before(org_id=kpi.org_id, kpi_id=kpi.pk, when=low)
    if before is not None:
        timeline.append((low, before))
    stored = history_range(org_id=kpi.org_id, kpi_id=kpi.pk, since=low, until=high)
    timeline += stored.values_list("observed_at", "value")
    timeline += [row for row in rows if row[0] <= high]
    timeline.sort(key=lambda row: row[0])
    times = [when for when, _ in timeline]
    statuses: list[Status] = []
    for when, value in rows:
        index = bisect_right(times, when - period) - 1
        baseline = timeline[index][1] if index >= 0 else None
        statuses.append(evaluate(params(when), value, baseline=baseline))
    return statuses


_INSERT_FIELDS: Final = ("org", "kpi", "value", "observed_at", "recorded_at", "status", "source")


def _history_insert(rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT history rows given as ``_INSERT_FIELDS`` tuples, past the ORM.

    For an import of 100,000 rows ``bulk_create`` spends about four times longer building
    model instances and SQL than the database spends inserting, and psycopg's
    ``executemany`` still costs a Python round per row (measured with
    bench/history_import.py): ``values_insert`` sends them through ``COPY`` on
    PostgreSQL and ``executemany`` (a loop in C) on SQLite.
    """
    values_insert(KpiHistory, _INSERT_FIELDS, rows)


def history_import(
    *,
    kpi: Kpi,
    points: Sequence[tuple[datetime, float]],
    actor: Actor,
    source: str,
    progress: Callable[[int], object] | None = None,
) -> ImportOutcome:
    """Add past observations to ``kpi``'s history in one transaction with one audit event.

    ``points`` come checked from ``history_import_parse``; they are checked again here
    (finite, aware, not in the future) so no caller can write what a value write could
    not. Points at an instant the history already holds are skipped and counted. Each
    new row gets the status its value has under the KPI's current shape. The current
    value changes only when the newest new row is newer than it (the ordering rule of
    ``value_record``). ``progress`` is called with the number of rows each INSERT wrote.
    """
    now = clock.now()
    rows = sorted((check_observed_at(when, now=now), check_value(value)) for when, value in points)
    if not rows:
        raise ValidationFailed("nothing to import", errors={"rows": "the import holds no rows"})
    with transaction.atomic():
        # Serialises with value writes to this KPI (see value_record), so the skip check
        # and the current-value rule see every committed row.
        locked = Kpi.objects.select_for_update().filter(pk=kpi.pk, org_id=kpi.org_id).first()
        if locked is None:
            raise NotFound("KPI not found")
        plan = import_plan(kpi=locked, points=rows)
        outcome = ImportOutcome(
            kpi=locked,
            imported=len(plan.new),
            skipped=plan.skipped,
            applied=plan.applies,
            first=rows[0][0],
            last=rows[-1][0],
        )
        if not plan.new:
            return outcome
        statuses = _import_statuses(locked, plan.new)
        adapt = connection.ops.adapt_datetimefield_value
        recorded_at = adapt(now)
        history = [
            (locked.org_id, locked.pk, value, adapt(when), recorded_at, status, source)
            for (when, value), status in zip(plan.new, statuses, strict=True)
        ]
        for start in range(0, len(history), IMPORT_BATCH):
            batch = history[start : start + IMPORT_BATCH]
            _history_insert(batch)
            if progress is not None:
                progress(len(batch))
        previous = locked.current_value
        if plan.applies:
            locked.current_value = plan.new[-1][1]
            locked.observed_at = plan.new[-1][0]
            since = _status_run_start([when for when, _ in plan.new], statuses)
            status_apply(locked, statuses[-1], at=since, cause=StatusCause.VALUE)
        # Judged now as well: imported rows may be the rolling baseline from now on.
        kpi_reevaluate(locked, now=now, cause=StatusCause.VALUE)
        locked.save(update_fields=["current_value", "observed_at", *REEVALUATE_FIELDS])
        audit_record(
            org_id=locked.org_id,
            actor=actor,
            action=Action.HISTORY_IMPORTED,
            target_type="kpi",
            target_id=locked.pk,
            target_label=locked.title,
            before={"value": previous},
            after={
                "rows": len(history),
                "skipped": plan.skipped,
                "from": plan.new[0][0].isoformat(),
                "to": plan.new[-1][0].isoformat(),
                "source": source,
                "value": locked.current_value,
                "applied": plan.applies,
            },
        )
        # The per-day rollup behind sparklines, recomputed in SQL over its window.
        sparkline_rebuild(kpi=locked)
    locked.refresh_from_db()
    return replace(outcome, kpi=locked)


# --- batch values (DESIGN §14) -------------------------------------------------------------

MAX_BATCH: Final = 1000


@dataclass(frozen=True)
class BatchItem:
    kpi_id: str
    value: float
    observed_at: datetime | None = None


def values_record_batch(
    *, org_id: int, items: Sequence[BatchItem], actor: Actor, source: str
) -> list[ValueWrite]:
    """Record many values at once: all or nothing, each through ``value_record``.

    Every item is checked before anything is written; the errors come back together,
    keyed ``"<index>.<field>"``. A KPI id that is not one of ``org_id``'s KPIs is "no
    such KPI", whether it exists elsewhere or not. Each value is written and audited
    exactly like a single write, inside one transaction.
    """
    if not items:
        raise ValidationFailed("the batch is empty", errors={"body": "send 1 to 1000 items"})
    if len(items) > MAX_BATCH:
        raise ValidationFailed(
            f"a batch holds at most {MAX_BATCH} items; this one has {len(items)}: split it",
            errors={"body": f"at most {MAX_BATCH} items"},
        )
    now = clock.now()
    ids = {item.kpi_id for item in items if is_object_id(item.kpi_id)}
    kpis = {kpi.pk: kpi for kpi in Kpi.objects.filter(org_id=org_id, pk__in=ids)}
    # Targets over time, read once for every KPI of the batch.
    schedules = schedules_for(org_id=org_id, kpi_ids=kpis)
    errors: dict[str, str] = {}
    for index, item in enumerate(items):
        if item.kpi_id not in kpis:
            errors[f"{index}.kpi_id"] = "no such KPI"
        try:
            check_value(item.value)
        except ValidationFailed as exc:
            errors[f"{index}.value"] = exc.errors.get("value", exc.message)
        if item.observed_at is not None:
            try:
                check_observed_at(item.observed_at, now=now)
            except ValidationFailed as exc:
                errors[f"{index}.observed_at"] = exc.errors.get("observed_at", exc.message)
    if errors:
        raise ValidationFailed(_batch_summary(errors, len(items)), errors=errors)
    writes = []
    with transaction.atomic():
        for index, item in enumerate(items):
            try:
                writes.append(
                    value_record(
                        kpi=kpis[item.kpi_id],
                        value=item.value,
                        observed_at=item.observed_at,
                        source=source,
                        actor=actor,
                        schedule=schedules[item.kpi_id],
                    )
                )
            except NotFound:
                # Deleted since the check above: the whole batch rolls back.
                gone = {f"{index}.kpi_id": "no such KPI"}
                raise ValidationFailed(_batch_summary(gone, len(items)), errors=gone) from None
    return writes


def _batch_summary(errors: dict[str, str], total: int) -> str:
    bad = len({key.split(".", 1)[0] for key in errors})
    noun = "item is" if bad == 1 else "items are"
    return f"{bad} of {total} {noun} invalid; nothing was recorded"
