"""The scheduler's writes: claiming due sources under a lease, recording each pull, releasing.

Claiming happens in one short transaction: PostgreSQL locks the chosen rows with
``SELECT … FOR UPDATE SKIP LOCKED`` so concurrent workers pick disjoint sets; SQLite runs
every write transaction as ``BEGIN IMMEDIATE`` (see settings), which lets only one claimer
in at a time. The lease (``lease_owner``, ``leased_until``) then keeps other workers away
while the pull runs outside any transaction. Recording an outcome writes, in one
transaction, the value (through ``history.services.value_record``, audited with the
connector as actor), a ``PullAttempt`` row and the schedule, and clears the lease. No
failure ever touches the KPI's value.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import transaction

from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.pull_selectors import due_filter
from pulseboard.connectors.registry import pull_kinds
from pulseboard.connectors.schedule import lease_deadline, lease_expired, next_pull_at
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, DomainError, NotFound
from pulseboard.history.services import value_record

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
    return list(
        Source.objects.select_related("kpi", "connection").filter(id__in=ids, lease_owner=owner)
    )


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


def pull_outcome_record(*, claimed: Source, owner: str, outcome: PullOutcome) -> PullRecord:
    """Write one pull's outcome: value (if any), attempt row, schedule; clear the lease.

    ``claimed`` is the source as it was when the pull started. When an admin changed the
    binding meanwhile (another kind, URL, token or connection), the outcome belongs to a
    configuration that no longer exists and is dropped. When the lease ran out and another
    worker took the source, the value and the attempt are still written (they are true),
    but the schedule is left to the worker that holds the source now.
    """
    now = clock.now()
    with transaction.atomic():
        # Lock order Source then Kpi (value_record locks the KPI), as everywhere else.
        current = (
            Source.objects.select_for_update().select_related("kpi").filter(pk=claimed.pk).first()
        )
        if current is None or _owned_configuration(current) != _owned_configuration(claimed):
            if current is not None and current.lease_owner == owner:
                Source.objects.filter(pk=current.pk).update(leased_until=None, lease_owner="")
            return PullRecord(
                outcome=outcome,
                recorded=False,
                changed=False,
                next_pull_at=current.next_pull_at if current is not None else None,
                consecutive_failures=current.consecutive_failures if current is not None else 0,
                error="the source was removed or re-bound during the pull; outcome dropped",
            )
        error = outcome.error
        changed = False
        if outcome.ok and outcome.value is not None:
            try:
                # No savepoint: value_record raises its DomainErrors before it writes.
                write = value_record(
                    kpi=current.kpi,
                    value=outcome.value,
                    observed_at=outcome.observed_at,
                    source=current.kind,
                    actor=Actor.connector(current.kind, current.pk),
                    record_unchanged=False,
                )
                changed = write.changed
            except DomainError as exc:
                error = f"value refused: {exc.message}"
        ok = not error
        error = error[:MAX_ERROR_LENGTH]
        PullAttempt.objects.create(
            org_id=current.org_id,
            source=current,
            started_at=outcome.started_at,
            duration_ms=max(outcome.duration_ms, 0),
            ok=ok,
            value=outcome.value if ok else None,
            error=error,
        )
        # Pruning on a sample keeps a DELETE off most pulls; a source holds at most about
        # ATTEMPTS_KEPT + PRUNE_ONE_IN rows, and admins are shown the newest ATTEMPTS_KEPT.
        if PRUNE_ONE_IN <= 1 or secrets.randbelow(PRUNE_ONE_IN) == 0:
            _attempts_prune(current)
        holds = current.lease_owner == owner or lease_expired(
            leased_until=current.leased_until, now=now
        )
        if not holds:
            logger.warning(
                "source %s: lease lost during the pull (now held by another worker); "
                "value and attempt recorded, schedule left to the new holder",
                current.pk,
            )
            return PullRecord(
                outcome=outcome,
                recorded=True,
                changed=changed,
                next_pull_at=current.next_pull_at,
                consecutive_failures=current.consecutive_failures,
                error=error,
            )
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
        Source.objects.filter(pk=current.pk).update(**fields)
    return PullRecord(
        outcome=outcome,
        recorded=True,
        changed=changed,
        next_pull_at=upcoming,
        consecutive_failures=failures,
        error=error,
    )


def _attempts_prune(source: Source) -> None:
    oldest_kept = list(
        PullAttempt.objects.filter(source=source)
        .order_by("-started_at")
        .values_list("started_at", flat=True)[ATTEMPTS_KEPT - 1 : ATTEMPTS_KEPT]
    )
    if oldest_kept:
        PullAttempt.objects.filter(source=source, started_at__lt=oldest_kept[0]).delete()


def lease_release(*, owner: str) -> int:
    """Give back every lease ``owner`` still holds (a worker stopping); returns how many.

    The sources keep their ``next_pull_at``, so another worker takes them at once.
    """
    return Source.objects.filter(lease_owner=owner).update(leased_until=None, lease_owner="")
