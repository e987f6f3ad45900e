"""Writes of targets over time (DESIGN §13): replacing a KPI's schedule, audited.

``kpi_targets_replace`` is the one write: the API's ``PUT /kpis/{id}/targets`` and the
web's "Targets over time" form both call it. The rules of a schedule live in the pure
``indicators/targets.py``; reads in ``indicators/evaluation.py`` (``schedule_of``,
``schedules_for``).

Decisions:
- A PUT replaces the whole schedule: what it does not list is removed. The schedule is
  checked against the shape of the KPI row locked for the write, so a shape change
  racing with it cannot slip an entry of the old shape in.
- A schedule equal to the stored one writes nothing and records no event.
- After the write the KPI's current value is judged again by the targets in force now
  (a transition has cause ``config``), and ``reevaluate_at`` is recomputed exactly
  (``reevaluation.kpi_reevaluate``), so the time pass re-judges the KPI when the next
  entry comes into force. All of it, the entries and the audit event commit together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.db import transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import NotFound, ValidationFailed
from pulseboard.indicators.evaluation import schedule_of, shape_params
from pulseboard.indicators.models import Kpi, TargetEntry
from pulseboard.indicators.reevaluation import REEVALUATE_FIELDS, kpi_reevaluate
from pulseboard.indicators.status import StatusCause
from pulseboard.indicators.targets import Schedule, ScheduleInvalid, validate_schedule


class TargetsInvalid(ValidationFailed):
    """A schedule that breaks a rule: 422, ``errors`` keyed ``"<index>.<field>"``."""


def schedule_checked(kpi: Kpi, entries: object) -> Schedule:
    """``entries`` validated against ``kpi``'s shape, or ``TargetsInvalid`` naming each error."""
    try:
        return validate_schedule(shape_params(kpi), entries)
    except ScheduleInvalid as exc:
        detail = "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
        raise TargetsInvalid(f"the schedule was not saved: {detail}", errors=exc.errors) from None


def _dump(schedule: Schedule) -> list[dict[str, object]]:
    return [entry.as_dict() for entry in schedule.entries]


def kpi_targets_replace(*, kpi: Kpi, actor: Actor, entries: Sequence[object]) -> Schedule:
    """Make ``entries`` the KPI's whole schedule of targets; the stored schedule back.

    ``entries`` are mappings with ``effective_from`` and the parameters of the KPI's
    shape (see ``targets.validate_schedule``). Nothing is written when any entry is
    wrong (``TargetsInvalid``) or when the schedule does not change.
    """
    with transaction.atomic():
        locked = Kpi.objects.select_for_update().filter(pk=kpi.pk, org_id=kpi.org_id).first()
        if locked is None:
            raise NotFound("KPI not found")
        schedule = schedule_checked(locked, entries)
        before = schedule_of(locked)
        if before.entries == schedule.entries:
            return before
        TargetEntry.objects.filter(org_id=locked.org_id, kpi=locked).delete()
        TargetEntry.objects.bulk_create(
            TargetEntry(org_id=locked.org_id, kpi=locked, **dataclasses.asdict(entry))
            for entry in schedule.entries
        )
        # The targets in force now may differ: judge the current value again (cause
        # config) and set the moment the next entry comes into force.
        kpi_reevaluate(locked, now=clock.now(), cause=StatusCause.CONFIG)
        # updated_at too: the target phrase changed, and live pages key on it.
        locked.save(update_fields=[*REEVALUATE_FIELDS, "updated_at"])
        audit_record(
            org_id=locked.org_id,
            actor=actor,
            action=Action.KPI_TARGETS_CHANGED,
            target_type="kpi",
            target_id=locked.pk,
            target_label=locked.title,
            before={"targets": _dump(before)},
            after={"targets": _dump(schedule), "status": locked.status},
        )
    kpi.status, kpi.status_since = locked.status, locked.status_since
    kpi.reevaluate_at = locked.reevaluate_at
    return schedule
