"""Writes for KPIs: create, edit (incl. shape change and publishing), publish, reorder, delete.

Create and edit take a ``KpiSpec`` (``indicators/spec.py``) that the API and the web
form both build; ``validate_spec`` checks every rule that needs no database and this
module adds the one that does (the parent KPI), so all field errors come back at once
as one ``ValidationFailed``. Each function validates everything first, then writes the
row and its audit events in one transaction; nothing is written when validation fails.
The rows other packages keep per KPI (its manual ``Source``) are created by callbacks
they register in ``indicators/hooks.py``, inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators import hooks
from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.reevaluation import kpi_reevaluate
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape
from pulseboard.indicators.spec import (
    SHAPE_FIELDS,
    SPEC_FIELDS,
    Category,
    KpiSpec,
    KpiSpecInvalid,
    summary,
    validate_spec,
)
from pulseboard.indicators.status import Status, StatusCause
from pulseboard.orgs.models import Membership, Organization, Team

WRITABLE_FIELDS = SPEC_FIELDS
# Stored as "" when empty (CharFields); None in a spec.
_BLANK_TEXT = ("direction", "baseline_period", "category", "expected_every")


def kpi_snapshot(kpi: Kpi) -> dict[str, Any]:
    """The writable fields as JSON-ready values (for audit before/after)."""
    return {name: _plain(getattr(kpi, name)) for name in WRITABLE_FIELDS}


def _plain(value: object) -> object:
    # Enum members are str subclasses; the audit log stores their plain value.
    return str(value) if isinstance(value, str) else value


def kpi_spec(kpi: Kpi) -> KpiSpec:
    """A stored KPI's definition, as an edit starts from it."""
    return KpiSpec(
        title=kpi.title,
        description=kpi.description,
        shape=Shape(kpi.shape),
        threshold=kpi.threshold,
        lower=kpi.lower,
        upper=kpi.upper,
        direction=Direction(kpi.direction) if kpi.direction else None,
        baseline=kpi.baseline,
        baseline_mode=BaselineMode(kpi.baseline_mode or BaselineMode.FIXED),
        baseline_period=kpi.baseline_period or None,
        warn_at=kpi.warn_at,
        warn_margin=kpi.warn_margin,
        unit_type=UnitType(kpi.unit_type),
        unit_label=kpi.unit_label,
        display_format=DisplayFormat(kpi.display_format),
        published=kpi.published,
        position=kpi.position,
        category=Category(kpi.category) if kpi.category else None,
        parent_id=kpi.parent_id,
        expected_every=kpi.expected_every or None,
        compare_period=kpi.compare_period,
        owner_id=kpi.owner_id,
        team_id=kpi.team_id,
    )


def _validated(org: Organization, spec: KpiSpec, current: Kpi | None) -> KpiSpec:
    """``spec`` checked and normalised, or ValidationFailed with every field error."""
    errors: dict[str, str] = {}
    try:
        checked = validate_spec(spec)
    except KpiSpecInvalid as exc:
        errors.update(exc.errors)
        checked = spec
    if "parent_id" not in errors:
        _check_parent(org, checked.parent_id, current, errors)
    _check_owner_and_team(org, checked, current, errors)
    if errors:
        raise ValidationFailed(summary(errors), errors=errors)
    return checked


def _check_parent(
    org: Organization, parent_id: str | None, current: Kpi | None, errors: dict[str, str]
) -> None:
    if parent_id is None:
        return
    parent = Kpi.objects.filter(org=org, pk=parent_id).only("pk", "parent_id").first()
    if parent is None:
        errors["parent_id"] = "parent_id does not name a KPI of this organization"
        return
    if current is not None:
        # Walk up from the proposed parent: meeting ourselves would close a cycle.
        seen: set[str] = set()
        node: Kpi | None = parent
        while node is not None and node.pk not in seen:
            if node.pk == current.pk:
                errors["parent_id"] = "a KPI cannot drive itself (the parent chain loops)"
                return
            seen.add(node.pk)
            node = (
                Kpi.objects.filter(org=org, pk=node.parent_id).only("pk", "parent_id").first()
                if node.parent_id
                else None
            )


def _check_owner_and_team(
    org: Organization, spec: KpiSpec, current: Kpi | None, errors: dict[str, str]
) -> None:
    """The owner must be a member of the KPI's org and the team one of its teams (§13).

    Checked when they change only: an edit of another field never trips over them.
    """
    owner_id = spec.owner_id
    if (
        "owner_id" not in errors
        and owner_id is not None
        and (current is None or owner_id != current.owner_id)
        and not Membership.objects.filter(org=org, user_id=owner_id).exists()
    ):
        errors["owner_id"] = "owner_id does not name a member of this organization"
    team_id = spec.team_id
    if (
        "team_id" not in errors
        and team_id is not None
        and (current is None or team_id != current.team_id)
        and not Team.objects.filter(org=org, pk=team_id).exists()
    ):
        errors["team_id"] = "team_id does not name a team of this organization"


def kpi_owner_clear(*, org_id: int, user_id: int, actor: Actor) -> int:
    """Leave the KPIs ``user_id`` owns in the org without an owner (they left it); one
    ``kpi.updated`` event per KPI, in the caller's transaction. Returns how many."""
    kpis = list(
        Kpi.objects.select_for_update().filter(org_id=org_id, owner_id=user_id).order_by("pk")
    )
    for kpi in kpis:
        kpi.owner = None
        kpi.save(update_fields=["owner", "updated_at"])
        audit_record(
            org_id=org_id,
            actor=actor,
            action=Action.KPI_UPDATED,
            target_type="kpi",
            target_id=kpi.pk,
            target_label=kpi.title,
            before={"owner_id": user_id},
            after={"owner_id": None},
        )
    return len(kpis)


def kpis_team_clear(*, org_id: int, team_id: str) -> int:
    """Before team ``team_id`` is deleted: leave its KPIs without a team and bump their
    ``updated_at`` (one UPDATE), so live boards redraw at their next poll. Called by
    ``orgs/team_hooks.py`` in the deletion's transaction, whose event lists the KPIs."""
    return Kpi.objects.filter(org_id=org_id, team_id=team_id).update(
        team=None, updated_at=clock.now()
    )


def _assign(kpi: Kpi, spec: KpiSpec) -> None:
    """Copy a checked spec onto the row; ``published`` is left to ``_publish``."""
    for name in SPEC_FIELDS:
        if name == "published" or (name == "position" and spec.position is None):
            continue
        value = getattr(spec, name)
        if name in _BLANK_TEXT and value is None:
            value = ""
        setattr(kpi, name, _plain(value))


def _publish(kpi: Kpi, actor: Actor, published: bool) -> None:
    """Set and audit the published flag; the caller holds the transaction."""
    kpi.published = published
    kpi.save(update_fields=["published", "updated_at"])
    audit_record(
        org_id=kpi.org_id,
        actor=actor,
        action=Action.KPI_PUBLISHED if published else Action.KPI_UNPUBLISHED,
        target_type="kpi",
        target_id=kpi.pk,
        target_label=kpi.title,
        before={"published": not published},
        after={"published": published},
    )


def kpi_create(*, org: Organization, actor: Actor, spec: KpiSpec) -> Kpi:
    checked = _validated(org, spec, None)
    kpi = Kpi(org=org, published=checked.published)
    _assign(kpi, checked)
    with transaction.atomic():
        if checked.position is None:
            top = Kpi.objects.filter(org=org).aggregate(top=Max("position"))["top"]
            kpi.position = 0 if top is None else top + 1
        kpi.status = Status.UNKNOWN.value
        kpi.save()
        hooks.kpi_created(kpi)
        audit_record(
            org_id=org.pk,
            actor=actor,
            action=Action.KPI_CREATED,
            target_type="kpi",
            target_id=kpi.pk,
            target_label=kpi.title,
            after=kpi_snapshot(kpi),
        )
    return kpi


def kpi_update(*, kpi: Kpi, actor: Actor, spec: KpiSpec) -> Kpi:
    """Make ``kpi`` what ``spec`` says, published state included, in one transaction.

    A shape/parameter change recomputes the current status and is audited as
    ``kpi.shape_changed``, other changes as ``kpi.updated``; a change of ``published``
    gets its own ``kpi.published`` / ``kpi.unpublished`` event, as the publish button's.
    """
    checked = _validated(kpi.org, spec, kpi)
    before = kpi_snapshot(kpi)
    _assign(kpi, checked)
    after = kpi_snapshot(kpi)
    changed = {k for k in after if after[k] != before[k]}
    publish = checked.published != kpi.published
    if not changed and not publish:
        return kpi
    shape_changed = any(name in changed for name in SHAPE_FIELDS)
    with transaction.atomic():
        if changed:
            if shape_changed or "expected_every" in changed:
                # New values use the new shape; history rows keep the status they had.
                # The definition also decides what time does next (DESIGN §12).
                kpi_reevaluate(kpi, now=clock.now(), cause=StatusCause.CONFIG)
            kpi.save()
            audit_record(
                org_id=kpi.org_id,
                actor=actor,
                action=Action.KPI_SHAPE_CHANGED if shape_changed else Action.KPI_UPDATED,
                target_type="kpi",
                target_id=kpi.pk,
                target_label=kpi.title,
                before={k: before[k] for k in sorted(changed)},
                after={k: after[k] for k in sorted(changed)},
            )
        if publish:
            _publish(kpi, actor, checked.published)
    return kpi


def kpi_set_published(*, kpi: Kpi, actor: Actor, published: bool) -> Kpi:
    if kpi.published == published:
        return kpi
    with transaction.atomic():
        _publish(kpi, actor, published)
    return kpi


def kpi_delete(*, kpi: Kpi, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(
            org_id=kpi.org_id,
            actor=actor,
            action=Action.KPI_DELETED,
            target_type="kpi",
            target_id=kpi.pk,
            target_label=kpi.title,
            before=kpi_snapshot(kpi),
        )
        kpi.delete()


def kpi_reorder(*, org: Organization, actor: Actor, ordered_ids: Sequence[str]) -> None:
    """Set Home order: the given ids first, in that order; any others keep their order after."""
    if len(set(ordered_ids)) != len(ordered_ids):
        raise ValidationFailed("ids: each KPI may appear once", errors={"ids": "duplicate id"})
    with transaction.atomic():
        kpis = {k.pk: k for k in Kpi.objects.filter(org=org).order_by("position", "created_at")}
        missing = [kpi_id for kpi_id in ordered_ids if kpi_id not in kpis]
        if missing:
            raise ValidationFailed(
                "ids: unknown KPI id(s)", errors={"ids": f"unknown KPI id(s): {', '.join(missing)}"}
            )
        rest = [k for k in kpis if k not in set(ordered_ids)]
        before = list(kpis)
        order = [*ordered_ids, *rest]
        for position, kpi_id in enumerate(order):
            kpi = kpis[kpi_id]
            if kpi.position != position:
                kpi.position = position
                kpi.save(update_fields=["position"])
        audit_record(
            org_id=org.pk,
            actor=actor,
            action=Action.KPI_REORDERED,
            target_type="org",
            target_id=str(org.pk),
            target_label=org.name,
            before={"order": before},
            after={"order": order},
        )


def kpi_move(*, kpi: Kpi, actor: Actor, offset: int) -> None:
    """Move one KPI up (negative) or down (positive) in Home order."""
    order = list(
        Kpi.objects.filter(org_id=kpi.org_id)
        .order_by("position", "created_at")
        .values_list("pk", flat=True)
    )
    index = order.index(kpi.pk)
    target = max(0, min(len(order) - 1, index + offset))
    if target == index:
        return
    order.insert(target, order.pop(index))
    kpi_reorder(org=kpi.org, actor=actor, ordered_ids=order)
