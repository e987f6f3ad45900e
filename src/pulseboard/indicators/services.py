"""Writes for KPIs: create, edit (incl. shape change), publish, reorder, delete.

Each function validates everything first, then writes the row and its audit event
in one transaction; nothing is written when validation fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.evaluation import shape_params, status_of
from pulseboard.indicators.models import (
    CategoryChoice,
    DisplayFormatChoice,
    Kpi,
    ShapeChoice,
    StatusChoice,
    UnitTypeChoice,
)
from pulseboard.indicators.shapes import ShapeValidationError, validate_params
from pulseboard.orgs.models import Organization

SHAPE_FIELDS = (
    "shape",
    "threshold",
    "lower",
    "upper",
    "direction",
    "baseline",
    "baseline_mode",
    "baseline_period",
    "warn_at",
    "warn_margin",
)
NUMBER_FIELDS = ("threshold", "lower", "upper", "baseline", "warn_at", "warn_margin")
WRITABLE_FIELDS = (
    "title",
    "description",
    *SHAPE_FIELDS,
    "unit_type",
    "unit_label",
    "display_format",
    "published",
    "position",
    "category",
    "parent_id",
    "expected_every",
    "compare_period",
)
MAX_TITLE = 200
_EMPTY: dict[str, Any] = {
    name: "" if name in ("direction", "baseline_period") else None for name in SHAPE_FIELDS
}
MAX_DESCRIPTION = 2000


def kpi_snapshot(kpi: Kpi) -> dict[str, Any]:
    """The writable fields as JSON-ready values (for audit before/after)."""
    return {name: getattr(kpi, name) for name in WRITABLE_FIELDS}


def _number(name: str, raw: Any, errors: dict[str, str]) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        errors[name] = f"{name} must be a number"
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        errors[name] = f"{name} must be a number"
        return None
    if not math.isfinite(value):
        errors[name] = f"{name} must be a finite number"
        return None
    return value


def _choice(name: str, raw: Any, allowed: Sequence[str], errors: dict[str, str]) -> str:
    value = "" if raw is None else raw
    if not isinstance(value, str) or value not in allowed:
        errors[name] = f"{name} must be one of: {', '.join(a for a in allowed if a)}"
        return ""
    return value


def _duration_text(name: str, raw: Any, errors: dict[str, str], *, optional: bool) -> str:
    if raw is None or raw == "":
        if optional:
            return ""
        errors[name] = f"{name} is required"
        return ""
    if not isinstance(raw, str):
        errors[name] = f"{name} must be a duration such as 1h, 1d or 7d"
        return ""
    try:
        parse_duration(raw)
    except DurationError as exc:
        errors[name] = str(exc)
        return ""
    return raw.strip()


def _clean(org: Organization, data: Mapping[str, Any], current: Kpi | None) -> dict[str, Any]:
    """Validate writable fields; return the cleaned values or raise with every error."""
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(WRITABLE_FIELDS))
    for name in unknown:
        errors[name] = f"unknown field '{name}'"
    cleaned: dict[str, Any] = {}
    for name, raw in data.items():
        if name in unknown:
            continue
        if name == "title":
            title = raw.strip() if isinstance(raw, str) else ""
            if not title:
                errors[name] = "title is required"
            elif len(title) > MAX_TITLE:
                errors[name] = f"title must be at most {MAX_TITLE} characters"
            cleaned[name] = title
        elif name == "description":
            text = raw if isinstance(raw, str) else ("" if raw is None else None)
            if text is None:
                errors[name] = "description must be text"
            elif len(text) > MAX_DESCRIPTION:
                errors[name] = f"description must be at most {MAX_DESCRIPTION} characters"
            cleaned[name] = text or ""
        elif name in NUMBER_FIELDS:
            cleaned[name] = _number(name, raw, errors)
        elif name == "shape":
            cleaned[name] = _choice(name, raw, ShapeChoice.values, errors)
        elif name in ("direction", "baseline_mode"):
            cleaned[name] = "" if raw is None else raw
            if not isinstance(cleaned[name], str):
                errors[name] = f"{name} must be text"
        elif name == "baseline_period":
            # Checked whatever the shape: a malformed value is refused, not silently dropped.
            cleaned[name] = _duration_text(name, raw, errors, optional=True)
        elif name == "unit_type":
            cleaned[name] = _choice(name, raw, UnitTypeChoice.values, errors)
        elif name == "unit_label":
            label = "" if raw is None else raw
            if not isinstance(label, str) or len(label) > 20:
                errors[name] = "unit_label must be text of at most 20 characters"
            cleaned[name] = label if isinstance(label, str) else ""
        elif name == "display_format":
            cleaned[name] = _choice(name, raw, DisplayFormatChoice.values, errors)
        elif name == "published":
            if not isinstance(raw, bool):
                errors[name] = "published must be true or false"
            cleaned[name] = bool(raw)
        elif name == "position":
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                errors[name] = "position must be a whole number >= 0"
            cleaned[name] = raw
        elif name == "category":
            cleaned[name] = _choice(name, raw, ["", *CategoryChoice.values], errors)
        elif name == "parent_id":
            cleaned[name] = _clean_parent(org, raw, current, errors)
        elif name == "expected_every":
            cleaned[name] = _duration_text(name, raw, errors, optional=True)
        elif name == "compare_period":
            cleaned[name] = _duration_text(name, raw, errors, optional=False)
    if errors:
        raise ValidationFailed(_summary(errors), errors=errors)
    return cleaned


def _clean_parent(
    org: Organization, raw: Any, current: Kpi | None, errors: dict[str, str]
) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        errors["parent_id"] = "parent_id must be a KPI id"
        return None
    parent = Kpi.objects.filter(org=org, pk=raw).only("pk", "parent_id").first()
    if parent is None:
        errors["parent_id"] = "parent_id does not name a KPI of this organization"
        return None
    if current is not None:
        # Walk up from the proposed parent: meeting ourselves would close a cycle.
        seen: set[str] = set()
        node: Kpi | None = parent
        while node is not None and node.pk not in seen:
            if node.pk == current.pk:
                errors["parent_id"] = "a KPI cannot drive itself (the parent chain loops)"
                return None
            seen.add(node.pk)
            node = (
                Kpi.objects.filter(org=org, pk=node.parent_id).only("pk", "parent_id").first()
                if node.parent_id
                else None
            )
    return parent.pk


def _summary(errors: dict[str, str]) -> str:
    return "; ".join(f"{field}: {message}" for field, message in errors.items())


def _apply_shape(kpi: Kpi) -> None:
    """Validate the merged shape parameters and store their normalised form."""
    try:
        params = validate_params(shape_params(kpi))
    except ShapeValidationError as exc:
        raise ValidationFailed(_summary(exc.errors), errors=dict(exc.errors)) from exc
    kpi.shape = params.shape
    kpi.threshold = params.threshold
    kpi.lower = params.lower
    kpi.upper = params.upper
    kpi.direction = params.direction or ""
    kpi.baseline = params.baseline
    kpi.baseline_mode = params.baseline_mode
    kpi.baseline_period = params.baseline_period or ""
    kpi.warn_at = params.warn_at
    kpi.warn_margin = params.warn_margin


def kpi_create(*, org: Organization, actor: Actor, data: Mapping[str, Any]) -> Kpi:
    if "shape" not in data:
        raise ValidationFailed("shape: shape is required", errors={"shape": "shape is required"})
    if "title" not in data:
        raise ValidationFailed("title: title is required", errors={"title": "title is required"})
    cleaned = _clean(org, data, None)
    kpi = Kpi(org=org, **cleaned)
    _apply_shape(kpi)
    with transaction.atomic():
        if "position" not in cleaned:
            top = Kpi.objects.filter(org=org).aggregate(top=Max("position"))["top"]
            kpi.position = 0 if top is None else top + 1
        kpi.status = StatusChoice.UNKNOWN
        kpi.save()
        Source.objects.create(org=org, kpi=kpi, kind="manual")
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


def kpi_update(*, kpi: Kpi, actor: Actor, data: Mapping[str, Any]) -> Kpi:
    """Edit any writable fields; a shape/parameter change recomputes the current status."""
    cleaned = _clean(kpi.org, data, kpi)
    before = kpi_snapshot(kpi)
    if cleaned.get("shape", kpi.shape) != kpi.shape:
        # A new shape starts from its own parameters: stale ones from the old shape
        # (a stay_above warn_at on a trend) would otherwise fail validation.
        for name in SHAPE_FIELDS[1:]:
            if name not in cleaned:
                setattr(kpi, name, "fixed" if name == "baseline_mode" else _EMPTY[name])
    for name, value in cleaned.items():
        setattr(kpi, name, value)
    _apply_shape(kpi)
    after = kpi_snapshot(kpi)
    changed = {k for k in after if after[k] != before[k]}
    if not changed:
        return kpi
    shape_changed = any(name in changed for name in SHAPE_FIELDS)
    with transaction.atomic():
        if shape_changed:
            # New values use the new shape; history rows keep the status they had.
            kpi.status = status_of(kpi, kpi.current_value, clock.now())
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
    return kpi


def kpi_set_published(*, kpi: Kpi, actor: Actor, published: bool) -> Kpi:
    if kpi.published == published:
        return kpi
    with transaction.atomic():
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
