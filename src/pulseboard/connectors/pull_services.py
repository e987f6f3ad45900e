"""The scheduler's writes: claiming due sources under a lease, recording each pull, releasing.

Claiming happens in one short transaction: PostgreSQL locks the chosen rows with
``SELECT … FOR UPDATE SKIP LOCKED`` so concurrent workers pick disjoint sets; SQLite runs
every write transaction as ``BEGIN IMMEDIATE`` (see settings), which lets only one claimer
in at a time. The lease (``lease_owner``, ``leased_until``) then keeps other workers away
while the pull runs outside any transaction. Recording outcomes writes, in one
transaction per batch (the worker records every outcome waiting at once), the values
(judged by ``history.services.value_plan`` like every value write, audited with the
connector as actor), the ``PullAttempt`` rows and the schedules, and clears the leases.
No failure ever touches the KPI's value.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.pull_selectors import due_filter
from pulseboard.connectors.registry import pull_kinds
from pulseboard.connectors.schedule import lease_deadline, lease_expired, next_pull_at
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.bulk_rows import rows_insert, rows_update
from pulseboard.core.errors import Conflict, DomainError, NotFound
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import (
    VALUE_FIELDS,
    check_observed_at,
    check_value,
    value_plan,
)
from pulseboard.indicators.evaluation import schedules_for
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.reevaluation import reevaluate_at_after_write
from pulseboard.indicators.targets import Schedule

logger = logging.getLogger(__name__)

# Admins read the last few attempts; older ones only grow the table.
ATTEMPTS_KEPT: Final = 20
PRUNE_ONE_IN: Final = 10
MAX_ERROR_LENGTH: Final = 500


@dataclass(frozen=True)
class PullOutcome:
    """What one pull produced: a value, or a readable error."""

    source_id: str
    kind: str
    started_at: datetime
    duration_ms: int
    value: float | None = None
    observed_at: datetime | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.error


@dataclass(frozen=True)
class PullRecord:
    """What recording an outcome did."""

    outcome: PullOutcome
    recorded: bool  # False when the source was deleted or re-bound during the pull
    changed: bool  # the pull wrote a new value (history row and audit event)
    next_pull_at: datetime | None
    consecutive_failures: int
    error: str  # the outcome's error, or why writing the value was refused


def _owned_configuration(source: Source) -> tuple[object, ...]:
    return (source.kind, source.config, source.secret_encrypted, source.connection_id)


def source_claim_due(
    *, owner: str, now: datetime, limit: int, lease_seconds: float
) -> list[Source]:
    """Lease up to ``limit`` due sources to ``owner``, oldest due first, and return them."""
    if limit <= 0:
        return []
    deadline = lease_deadline(now=now, lease_seconds=lease_seconds)
    with transaction.atomic():
        # skip_locked: a row another worker is claiming right now is simply not ours to
        # take. SQLite has no row locks; its IMMEDIATE transaction already excludes.
        ids = list(
            Source.objects.select_for_update(skip_locked=True)
            .filter(due_filter(now=now))
            .order_by("next_pull_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        Source.objects.filter(id__in=ids).update(leased_until=deadline, lease_owner=owner)
    # No select_related: a pull reads only the source's own columns (its connection, if
    # any, is loaded by ``pull_context_for``), and building three instances per row was
    # most of a claim's CPU (py-spy over bench/poll_profile.py).
    return list(Source.objects.filter(id__in=ids, lease_owner=owner))


def source_claim(*, source: Source, owner: str, now: datetime, lease_seconds: float) -> Source:
    """Lease one pull source for an immediate pull ("Pull now"), due or not.

    Raises ``Conflict`` while another worker holds a live lease on it.
    """
    if source.kind not in pull_kinds():
        raise Conflict(
            f"this KPI's source is {source.kind}, which is not pulled; "
            f"only {', '.join(pull_kinds())} sources can be pulled"
        )
    deadline = lease_deadline(now=now, lease_seconds=lease_seconds)
    with transaction.atomic():
        locked = (
            Source.objects.select_for_update()
            .filter(pk=source.pk, org_id=source.org_id)
            .values_list("leased_until", "kind")
            .first()
        )
        if locked is None:
            raise NotFound("source not found")
        leased_until, kind = locked
        if kind not in pull_kinds():
            raise Conflict("the source was re-bound to a kind that is not pulled")
        if not lease_expired(leased_until=leased_until, now=now):
            raise Conflict("a worker is pulling this source right now; try again in a few seconds")
        Source.objects.filter(pk=source.pk).update(leased_until=deadline, lease_owner=owner)
    return Source.objects.select_related("kpi", "connection").get(pk=source.pk, lease_owner=owner)


class _ValueWrites:
    """The value writes of one batch, planned in memory and saved in a few statements.

    Each value is judged by ``value_plan`` (``history/services.py``), the same Python as
    ``value_record``: status and status change, rollup, ``reevaluate_at``, audit payload,
    and the ordering rule (a late value goes to history only). The KPIs are locked in one
    ordered ``SELECT … FOR UPDATE``; their targets over time are read once per org. A
    re-read of the current value only refreshes ``observed_at`` (no history, no audit),
    as ``value_record(record_unchanged=False)`` does.
    """

    def __init__(self, sources: list[Source], *, now: datetime) -> None:
        self._now = now
        ids = sorted({source.kpi_id for source in sources})
        self._kpis: dict[str, Kpi] = (
            {
                kpi.pk: kpi
                for kpi in Kpi.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            }
            if ids
            else {}
        )
        by_org: dict[int, list[str]] = {}
        for source in sources:
            if source.kpi_id in self._kpis:
                by_org.setdefault(source.org_id, []).append(source.kpi_id)
        self._schedules: dict[str, Schedule] = {}
        for org_id, kpi_ids in by_org.items():
            self._schedules.update(schedules_for(org_id=org_id, kpi_ids=kpi_ids))
        self._history: list[KpiHistory] = []
        self._status_changes: list[StatusChange] = []
        self._audits: list[AuditEvent] = []
        self._dirty: dict[str, set[str]] = {}

    def add(self, source: Source, outcome: PullOutcome) -> bool:
        """Plan one value; True when it writes history. ``DomainError`` before any change."""
        assert outcome.value is not None
        locked = self._kpis.get(source.kpi_id)
        if locked is None or locked.org_id != source.org_id:
            raise NotFound("KPI not found")
        number = check_value(outcome.value)
        when = check_observed_at(outcome.observed_at or self._now, now=self._now)
        late = locked.observed_at is not None and when < locked.observed_at
        if not late and locked.current_value is not None and locked.current_value == number:
            locked.observed_at = when
            reevaluate_at_after_write(locked, row_at=None, now=self._now)
            self._dirty.setdefault(locked.pk, set()).update(("observed_at", "reevaluate_at"))
            return False
        plan = value_plan(
            locked,
            number=number,
            when=when,
            now=self._now,
            source=source.kind,
            actor=Actor.connector(source.kind, source.pk),
            schedule=self._schedules.get(locked.pk),
        )
        self._history.append(plan.history)
        if plan.status_change is not None:
            self._status_changes.append(plan.status_change)
        self._audits.append(plan.audit)
        self._dirty.setdefault(locked.pk, set()).update(VALUE_FIELDS)
        return True

    def save(self) -> None:
        # rows_insert: COPY on PostgreSQL; nobody reads these rows' generated ids.
        rows_insert(KpiHistory, self._history)
        rows_insert(StatusChange, self._status_changes)
        # rows_update skips Kpi.save: updated_at is set here (live pages and tiles key on it).
        groups: dict[frozenset[str], list[Kpi]] = {}
        for pk, dirty in self._dirty.items():
            kpi = self._kpis[pk]
            kpi.updated_at = self._now
            groups.setdefault(frozenset(dirty), []).append(kpi)
        for columns, kpis in groups.items():
            rows_update(Kpi, [*sorted(columns), "updated_at"], kpis)
        rows_insert(AuditEvent, self._audits)


def pull_outcome_record(*, claimed: Source, owner: str, outcome: PullOutcome) -> PullRecord:
    """Write one pull's outcome; ``pull_outcomes_record`` with a batch of one."""
    return pull_outcomes_record(items=[(claimed, outcome)], owner=owner)[0]


def pull_outcomes_record(
    *, items: Sequence[tuple[Source, PullOutcome]], owner: str
) -> list[PullRecord]:
    """Write many pulls' outcomes in one transaction; one ``PullRecord`` per item, in order.

    For each item, as for a single pull: value (if any), attempt row, schedule; the lease
    cleared. ``claimed`` is the source as it was when the pull started. When an admin
    changed the binding meanwhile (another kind, URL, token or connection), the outcome
    belongs to a configuration that no longer exists and is dropped. When the lease ran
    out and another worker took the source, the value and the attempt are still written
    (they are true), but the schedule is left to the worker that holds the source now.

    The batch costs a fixed number of statements, whatever its size: one locking read of
    its sources, one of their KPIs (both ordered by id, and sources before KPIs as
    everywhere else, so concurrent batches cannot deadlock), the targets over time (one
    query per org), one multi-row INSERT each for history, status changes, audit events
    and attempts (``core/bulk_rows``), and one UPDATE each for the KPIs and the sources
    (per set of columns written). Every value is judged by the same ``value_plan`` as
    ``value_record``; a refused value (``DomainError``, raised before anything is planned)
    is that item's error, not the batch's. A rolling baseline still costs its own query.
    """
    if not items:
        return []
    now = clock.now()
    ids = sorted({claimed.pk for claimed, _ in items})
    records: list[PullRecord] = []
    attempts: list[PullAttempt] = []
    changes: dict[str, dict[str, object]] = {}
    pruned: set[str] = set()  # ids of the sources whose old attempts go
    with transaction.atomic():
        # Lock order Source then Kpi (value_record locks the KPI), as everywhere else.
        current_of = {
            source.pk: source
            for source in Source.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        valued = [
            current_of[claimed.pk]
            for claimed, outcome in items
            if claimed.pk in current_of
            and _owned_configuration(current_of[claimed.pk]) == _owned_configuration(claimed)
            and outcome.ok
        ]
        values = _ValueWrites(valued, now=now)
        for claimed, outcome in items:
            current = current_of.get(claimed.pk)
            if current is None or _owned_configuration(current) != _owned_configuration(claimed):
                if current is not None and current.lease_owner == owner:
                    changes[current.pk] = {"leased_until": None, "lease_owner": ""}
                    current.lease_owner = ""
                records.append(
                    PullRecord(
                        outcome=outcome,
                        recorded=False,
                        changed=False,
                        next_pull_at=current.next_pull_at if current is not None else None,
                        consecutive_failures=current.consecutive_failures
                        if current is not None
                        else 0,
                        error="the source was removed or re-bound during the pull; outcome dropped",
                    )
                )
                continue
            error = outcome.error
            changed = False
            if outcome.ok and outcome.value is not None:
                try:
                    changed = values.add(current, outcome)
                except DomainError as exc:
                    error = f"value refused: {exc.message}"
            ok = not error
            error = error[:MAX_ERROR_LENGTH]
            attempts.append(
                PullAttempt(
                    org_id=current.org_id,
                    source=current,
                    started_at=outcome.started_at,
                    duration_ms=max(outcome.duration_ms, 0),
                    ok=ok,
                    value=outcome.value if ok else None,
                    error=error,
                )
            )
            # Pruning on a sample keeps a DELETE off most pulls; a source holds at most
            # about ATTEMPTS_KEPT + PRUNE_ONE_IN rows; admins see the newest ATTEMPTS_KEPT.
            if PRUNE_ONE_IN <= 1 or secrets.randbelow(PRUNE_ONE_IN) == 0:
                pruned.add(current.pk)
            holds = current.lease_owner == owner or lease_expired(
                leased_until=current.leased_until, now=now
            )
            if not holds:
                logger.warning(
                    "source %s: lease lost during the pull (now held by another worker); "
                    "value and attempt recorded, schedule left to the new holder",
                    current.pk,
                )
                records.append(
                    PullRecord(
                        outcome=outcome,
                        recorded=True,
                        changed=changed,
                        next_pull_at=current.next_pull_at,
                        consecutive_failures=current.consecutive_failures,
                        error=error,
                    )
                )
                continue
            failures = 0 if ok else current.consecutive_failures + 1
            upcoming = next_pull_at(
                started_at=outcome.started_at,
                interval_seconds=current.interval_seconds,
                consecutive_failures=failures,
            )
            fields: dict[str, object] = {
                "leased_until": None,
                "lease_owner": "",
                "last_pulled_at": now,
                "consecutive_failures": failures,
                "next_pull_at": upcoming,
            }
            if ok:
                fields.update(last_success_at=now, last_error="", last_error_at=None)
            else:
                fields.update(last_error=error, last_error_at=now)
            changes[current.pk] = fields
            # A later item of the same batch for this source sees what this one wrote.
            for name, value in fields.items():
                setattr(current, name, value)
            records.append(
                PullRecord(
                    outcome=outcome,
                    recorded=True,
                    changed=changed,
                    next_pull_at=upcoming,
                    consecutive_failures=failures,
                    error=error,
                )
            )
        values.save()
        rows_insert(PullAttempt, attempts)
        _attempts_prune(sorted(pruned))
        _sources_update(changes)
    return records


# Every column a recorded outcome may set on its source.
_SCHEDULE_FIELDS: Final = (
    "leased_until",
    "lease_owner",
    "last_pulled_at",
    "consecutive_failures",
    "next_pull_at",
    "last_success_at",
    "last_error",
    "last_error_at",
)


def _sources_update(changes: dict[str, dict[str, object]]) -> None:
    """Set each source's new schedule columns: one UPDATE per set of columns written."""
    if not changes:
        return
    rows = []
    for pk, fields in changes.items():
        row = Source(pk=pk)
        for name, value in fields.items():
            setattr(row, name, value)
        rows.append((row, frozenset(fields)))
    # Rows setting the same columns go together: a column a row does not set keeps its value.
    groups: dict[frozenset[str], list[Source]] = {}
    for row, names in rows:
        groups.setdefault(names, []).append(row)
    for names, group in groups.items():
        rows_update(Source, [name for name in _SCHEDULE_FIELDS if name in names], group)


def _attempts_prune(source_ids: Sequence[str]) -> None:
    """Keep the newest ``ATTEMPTS_KEPT`` attempts of each source: two statements per batch."""
    if not source_ids:
        return
    newest_first = [F("started_at").desc(), F("id").desc()]
    old = list(
        PullAttempt.objects.filter(source_id__in=source_ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("source_id")], order_by=newest_first))
        .filter(rank__gt=ATTEMPTS_KEPT)
        .values_list("id", flat=True)
    )
    if old:
        PullAttempt.objects.filter(id__in=old).delete()


def lease_release(*, owner: str) -> int:
    """Give back every lease ``owner`` still holds (a worker stopping); returns how many.

    The sources keep their ``next_pull_at``, so another worker takes them at once.
    """
    return Source.objects.filter(lease_owner=owner).update(leased_until=None, lease_owner="")
