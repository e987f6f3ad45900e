"""Writes for goals: cycles, objectives and key results (create, edit, delete) and check-ins.

Each function validates everything first, then writes the rows and their audit
event in one transaction; nothing is written when validation fails. Ids sent in
data (``cycle_id``, ``objective_id``, ``kpi_id``, ``owner_id``, ``team_id``) must name objects
of the same organization, else the field is refused like any other bad value.
Who may call what (admins write, a key result's owner may check in) is checked
at the edges with ``may_check_in``; the services trust their caller on that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from django.db import transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record_of
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import Conflict, ValidationFailed
from pulseboard.goals.models import CheckIn, Cycle, KeyResult, Objective
from pulseboard.goals.progress import (
    STAY_KINDS,
    cycle_dates_error,
    key_result_errors,
    number_error,
    summary,
    weight_error,
)
from pulseboard.indicators.models import DisplayFormatChoice, Kpi, UnitTypeChoice
from pulseboard.orgs.models import Membership, Organization, Team

MAX_NAME = 120
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_NOTE = 1000
MAX_UNIT_LABEL = 20
CYCLE_FIELDS = ("name", "starts_on", "ends_on")
OBJECTIVE_FIELDS = ("title", "description", "cycle_id", "owner_id", "team_id")
KEY_RESULT_FIELDS = (
    "title",
    "kind",
    "start_value",
    "target_value",
    "kpi_id",
    "owner_id",
    "weight",
    "unit_type",
    "unit_label",
    "display_format",
)
KEY_RESULT_PATCH_FIELDS = (*KEY_RESULT_FIELDS, "objective_id")
# How many names a refusal lists before it says "and N more".
NAMES_SHOWN = 5
_Row = TypeVar("_Row", Kpi, Cycle, Objective)


def _fail(errors: dict[str, str]) -> ValidationFailed:
    return ValidationFailed(summary(errors), errors=errors)


def _unknown(data: Mapping[str, Any], allowed: tuple[str, ...], errors: dict[str, str]) -> None:
    for name in sorted(set(data) - set(allowed)):
        errors[name] = f"unknown field '{name}'"


def _text(
    name: str, raw: Any, limit: int, errors: dict[str, str], *, required: bool = False
) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        errors[name] = f"{name} must be text"
        return ""
    text = raw.strip() if required else raw
    if required and not text:
        errors[name] = f"{name} is required"
    elif len(text) > limit:
        errors[name] = f"{name} must be at most {limit} characters"
    elif "\x00" in text:
        errors[name] = f"{name} must not contain NUL characters"
    return text


def _date(name: str, raw: Any, errors: dict[str, str]) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    errors[name] = f"{name} must be a date such as 2027-01-01"
    return None


def _number(name: str, raw: Any, errors: dict[str, str], *, required: bool) -> float | None:
    value, error = number_error(name, raw, required=required)
    if error:
        errors[name] = error
    return value


def _choice(name: str, raw: Any, allowed: list[str], errors: dict[str, str]) -> str:
    if not isinstance(raw, str) or raw not in allowed:
        errors[name] = f"{name} must be one of: {', '.join(allowed)}"
        return ""
    return raw


def _owner(org: Organization, raw: Any, errors: dict[str, str]) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw.isdigit() and len(raw) < 12:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 2**63:
        errors["owner_id"] = "owner_id must be the user id of a member"
        return None
    if not Membership.objects.filter(org=org, user_id=raw).exists():
        errors["owner_id"] = "owner_id does not name a member of this organization"
        return None
    return raw


def _team(org: Organization, raw: Any, errors: dict[str, str]) -> str | None:
    """A team of ``org`` (another org's team reads as no team), or None for no team."""
    if raw is None:
        return None
    team_id = _object_id("team_id", raw, errors)
    if team_id is not None and not Team.objects.filter(org=org, pk=team_id).exists():
        errors["team_id"] = "team_id does not name a team of this organization"
        return None
    return team_id


def _object_id(name: str, raw: Any, errors: dict[str, str]) -> str | None:
    """An id that could name an object (checked before any query sees it)."""
    if not isinstance(raw, str) or not is_object_id(raw):
        errors[name] = f"{name} does not name a {name.removesuffix('_id')} of this organization"
        return None
    return raw


def _org_row(
    model: type[_Row], org: Organization, name: str, raw: Any, errors: dict[str, str], noun: str
) -> _Row | None:
    """The ``model`` row of ``org`` that the field ``name`` names; else None and its error.

    Another org's row reads as no row, so the message cannot tell them apart.
    """
    row_id = _object_id(name, raw, errors)
    row = model.objects.filter(org=org, pk=row_id).first() if row_id else None
    if row is None:
        errors[name] = f"{name} does not name {noun} of this organization"
    return row


def _kpi(org: Organization, raw: Any, errors: dict[str, str]) -> Kpi | None:
    if raw is None:
        return None
    return _org_row(Kpi, org, "kpi_id", raw, errors, "a KPI")


def _cycle(org: Organization, raw: Any, errors: dict[str, str]) -> Cycle | None:
    return _org_row(Cycle, org, "cycle_id", raw, errors, "a cycle")


def _objective(org: Organization, raw: Any, errors: dict[str, str]) -> Objective | None:
    return _org_row(Objective, org, "objective_id", raw, errors, "an objective")


def _names(items: list[str]) -> str:
    shown = ", ".join(f"“{name}”" for name in items[:NAMES_SHOWN])
    more = len(items) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


_TARGET_TYPE: dict[type, str] = {Cycle: "cycle", Objective: "objective", KeyResult: "key_result"}


def _event(
    target: Cycle | Objective | KeyResult,
    actor: Actor,
    action: Action,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """The audit event of a write to ``target`` (inside the caller's transaction)."""
    label = target.name if isinstance(target, Cycle) else target.title
    audit_record_of(
        target, _TARGET_TYPE[type(target)], label, actor, action, before=before, after=after
    )


def _apply(
    target: Any, cleaned: Mapping[str, Any], snapshot: Callable[[Any], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the cleaned fields on ``target``; (before, after) of the fields that changed."""
    before = snapshot(target)
    for name, value in cleaned.items():
        setattr(target, name, value)
    after = snapshot(target)
    changed = sorted(k for k in after if after[k] != before[k])
    return {k: before[k] for k in changed}, {k: after[k] for k in changed}


# --- cycles ---------------------------------------------------------------------------------


def cycle_snapshot(cycle: Cycle) -> dict[str, Any]:
    return {
        "name": cycle.name,
        "starts_on": cycle.starts_on.isoformat(),
        "ends_on": cycle.ends_on.isoformat(),
    }


def _clean_cycle(data: Mapping[str, Any], current: Cycle | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    _unknown(data, CYCLE_FIELDS, errors)
    cleaned: dict[str, Any] = {}
    if "name" in data:
        cleaned["name"] = _text("name", data["name"], MAX_NAME, errors, required=True).strip()
    for name in ("starts_on", "ends_on"):
        if name in data:
            cleaned[name] = _date(name, data[name], errors)
    if not errors:
        starts_on = cleaned.get("starts_on", current.starts_on if current else None)
        ends_on = cleaned.get("ends_on", current.ends_on if current else None)
        if isinstance(starts_on, date) and isinstance(ends_on, date):
            errors.update(cycle_dates_error(starts_on, ends_on))
    if errors:
        raise _fail(errors)
    return cleaned


def cycle_create(*, org: Organization, actor: Actor, data: Mapping[str, Any]) -> Cycle:
    missing = {n: f"{n} is required" for n in CYCLE_FIELDS if n not in data}
    if missing:
        raise _fail(missing)
    cycle = Cycle(org=org, **_clean_cycle(data, None))
    with transaction.atomic():
        cycle.save()
        _event(cycle, actor, Action.CYCLE_CREATED, after=cycle_snapshot(cycle))
    return cycle


def cycle_update(*, cycle: Cycle, actor: Actor, data: Mapping[str, Any]) -> Cycle:
    cleaned = _clean_cycle(data, cycle)
    before, after = _apply(cycle, cleaned, cycle_snapshot)
    if not after:
        return cycle
    with transaction.atomic():
        cycle.save()
        _event(cycle, actor, Action.CYCLE_UPDATED, before=before, after=after)
    return cycle


def cycle_delete(*, cycle: Cycle, actor: Actor) -> None:
    """Delete an empty cycle; one with objectives is refused (409) naming them."""
    with transaction.atomic():
        titles = list(
            Objective.objects.filter(org_id=cycle.org_id, cycle=cycle)
            .order_by("title")
            .values_list("title", flat=True)
        )
        if titles:
            raise Conflict(
                f"the cycle “{cycle.name}” still has {len(titles)} "
                f"objective{'s' if len(titles) != 1 else ''} ({_names(titles)}); "
                "delete them or move them to another cycle first"
            )
        _event(cycle, actor, Action.CYCLE_DELETED, before=cycle_snapshot(cycle))
        cycle.delete()


# --- objectives -----------------------------------------------------------------------------


def objective_snapshot(objective: Objective) -> dict[str, Any]:
    return {
        "title": objective.title,
        "description": objective.description,
        "cycle_id": objective.cycle_id,
        "owner_id": objective.owner_id,
        "team_id": objective.team_id,
    }


def _clean_objective(org: Organization, data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    _unknown(data, OBJECTIVE_FIELDS, errors)
    cleaned: dict[str, Any] = {}
    if "title" in data:
        cleaned["title"] = _text("title", data["title"], MAX_TITLE, errors, required=True).strip()
    if "description" in data:
        cleaned["description"] = _text("description", data["description"], MAX_DESCRIPTION, errors)
    if "cycle_id" in data:
        cleaned["cycle"] = _cycle(org, data["cycle_id"], errors)
    if "owner_id" in data:
        cleaned["owner_id"] = _owner(org, data["owner_id"], errors)
    if "team_id" in data:
        cleaned["team_id"] = _team(org, data["team_id"], errors)
    if errors:
        raise _fail(errors)
    return cleaned


def objective_create(*, org: Organization, actor: Actor, data: Mapping[str, Any]) -> Objective:
    missing = {n: f"{n} is required" for n in ("title", "cycle_id") if n not in data}
    if missing:
        raise _fail(missing)
    objective = Objective(org=org, **_clean_objective(org, data))
    with transaction.atomic():
        objective.save()
        _event(objective, actor, Action.OBJECTIVE_CREATED, after=objective_snapshot(objective))
    return objective


def objective_update(*, objective: Objective, actor: Actor, data: Mapping[str, Any]) -> Objective:
    cleaned = _clean_objective(objective.org, data)
    before, after = _apply(objective, cleaned, objective_snapshot)
    if not after:
        return objective
    with transaction.atomic():
        objective.save()
        _event(objective, actor, Action.OBJECTIVE_UPDATED, before=before, after=after)
    return objective


def objective_delete(*, objective: Objective, actor: Actor) -> None:
    """Delete an objective with its key results and their check-ins (one audit event)."""
    with transaction.atomic():
        key_results = [
            {"id": kr_id, "title": title}
            for kr_id, title in KeyResult.objects.filter(
                org_id=objective.org_id, objective=objective
            ).values_list("pk", "title")
        ]
        _event(
            objective,
            actor,
            Action.OBJECTIVE_DELETED,
            before={**objective_snapshot(objective), "key_results": key_results},
        )
        objective.delete()


# --- key results ----------------------------------------------------------------------------


def key_result_snapshot(key_result: KeyResult) -> dict[str, Any]:
    return {
        "objective_id": key_result.objective_id,
        **{name: getattr(key_result, name) for name in KEY_RESULT_FIELDS},
    }


def _clean_key_result(
    org: Organization, data: Mapping[str, Any], current: KeyResult | None
) -> dict[str, Any]:
    """Validate the fields sent, then the merged kind/start/target; raise with every error."""
    errors: dict[str, str] = {}
    _unknown(data, KEY_RESULT_PATCH_FIELDS if current else KEY_RESULT_FIELDS, errors)
    cleaned: dict[str, Any] = {}
    if "title" in data:
        cleaned["title"] = _text("title", data["title"], MAX_TITLE, errors, required=True).strip()
    if "kind" in data:
        kind = data["kind"]
        cleaned["kind"] = kind if isinstance(kind, str) else ""
    for name in ("start_value", "target_value"):
        if name in data:
            cleaned[name] = _number(name, data[name], errors, required=False)
    if "weight" in data:
        weight, error = weight_error(data["weight"])
        if error:
            errors["weight"] = error
        cleaned["weight"] = weight
    if "kpi_id" in data:
        cleaned["kpi"] = _kpi(org, data["kpi_id"], errors)
    if "owner_id" in data:
        cleaned["owner_id"] = _owner(org, data["owner_id"], errors)
    if "objective_id" in data and current is not None:
        cleaned["objective"] = _objective(org, data["objective_id"], errors)
    if "unit_type" in data:
        cleaned["unit_type"] = _choice(
            "unit_type", data["unit_type"], UnitTypeChoice.values, errors
        )
    if "unit_label" in data:
        cleaned["unit_label"] = _text("unit_label", data["unit_label"], MAX_UNIT_LABEL, errors)
    if "display_format" in data:
        cleaned["display_format"] = _choice(
            "display_format", data["display_format"], DisplayFormatChoice.values, errors
        )
    kind = cleaned.get("kind", current.kind if current else None)
    start = cleaned.get("start_value", current.start_value if current else None)
    target = cleaned.get("target_value", current.target_value if current else None)
    for name in ("kind", "start_value", "target_value"):
        if name in errors:
            break
    else:
        errors.update(key_result_errors(kind or "", start, target))
    if errors:
        raise _fail(errors)
    if kind in STAY_KINDS:
        # A stay kind holds its target all cycle: a start value would mean nothing.
        cleaned["start_value"] = None
    return cleaned


def key_result_create(*, objective: Objective, actor: Actor, data: Mapping[str, Any]) -> KeyResult:
    missing = {n: f"{n} is required" for n in ("title", "kind", "target_value") if n not in data}
    if missing:
        raise _fail(missing)
    cleaned = _clean_key_result(objective.org, data, None)
    key_result = KeyResult(org_id=objective.org_id, objective=objective, **cleaned)
    with transaction.atomic():
        key_result.save()
        _event(key_result, actor, Action.KEY_RESULT_CREATED, after=key_result_snapshot(key_result))
    return key_result


def key_result_update(*, key_result: KeyResult, actor: Actor, data: Mapping[str, Any]) -> KeyResult:
    """Edit any writable field, including moving it to another objective of the org.

    Unlinking a key result from its KPI keeps the KPI's current value as its first
    check-in, so it does not fall back to "no data".
    """
    cleaned = _clean_key_result(key_result.org, data, key_result)
    old_kpi_id = key_result.kpi_id
    before, after = _apply(key_result, cleaned, key_result_snapshot)
    if not after:
        return key_result
    with transaction.atomic():
        if old_kpi_id is not None and key_result.kpi_id is None:
            # Read now, not from the joined row: a value may have landed since.
            followed = Kpi.objects.filter(pk=old_kpi_id).values_list("title", "current_value")
            for title, value in followed:
                if value is not None:
                    _check_in(
                        key_result,
                        actor,
                        value,
                        f"Carried over from the KPI “{title}” when unlinked.",
                    )
        key_result.save()
        _event(key_result, actor, Action.KEY_RESULT_UPDATED, before=before, after=after)
    return key_result


def key_result_delete(*, key_result: KeyResult, actor: Actor) -> None:
    with transaction.atomic():
        _event(key_result, actor, Action.KEY_RESULT_DELETED, before=key_result_snapshot(key_result))
        key_result.delete()


def objectives_team_clear(*, org_id: int, team_id: str) -> int:
    """Before team ``team_id`` is deleted: leave its objectives without a team and bump
    their ``updated_at`` (one UPDATE), so the live Goals page redraws at its next poll.
    Called by ``orgs/team_hooks.py`` in the deletion's transaction."""
    return Objective.objects.filter(org_id=org_id, team_id=team_id).update(
        team=None, updated_at=clock.now()
    )


def owners_clear(*, org_id: int, user_id: int, actor: Actor) -> int:
    """Leave the objectives and key results ``user_id`` owns in the org without an owner
    (they left it; registered with ``orgs/member_hooks.py`` in ``goals/apps.py``). One
    update event each, in the caller's transaction. Returns how many were cleared."""
    rows: list[Objective | KeyResult] = [
        *Objective.objects.select_for_update()
        .filter(org_id=org_id, owner_id=user_id)
        .order_by("pk"),
        *KeyResult.objects.select_for_update()
        .filter(org_id=org_id, owner_id=user_id)
        .order_by("pk"),
    ]
    for row in rows:
        row.owner = None
        row.save(update_fields=["owner", "updated_at"])
        action = (
            Action.OBJECTIVE_UPDATED if isinstance(row, Objective) else Action.KEY_RESULT_UPDATED
        )
        _event(row, actor, action, before={"owner_id": user_id}, after={"owner_id": None})
    return len(rows)


# --- check-ins ------------------------------------------------------------------------------


def may_check_in(*, key_result: KeyResult, user_id: int | None, is_admin: bool) -> bool:
    """Admins, and the key result's owner, may check in on it."""
    return is_admin or (user_id is not None and key_result.owner_id == user_id)


def _check_in(
    key_result: KeyResult, actor: Actor, value: float, note: str, at: datetime | None = None
) -> CheckIn:
    when = at or clock.now()
    check_in = CheckIn.objects.create(
        org_id=key_result.org_id,
        key_result=key_result,
        value=value,
        note=note,
        author_id=actor.user_id,
        author_label=actor.label[:200],
        created_at=when,
    )
    # As with KPI values (DESIGN §5), an older number never replaces a newer one.
    if key_result.checked_in_at is None or when >= key_result.checked_in_at:
        key_result.current_value = value
        key_result.checked_in_at = when
    return check_in


def check_in_record(
    *,
    key_result: KeyResult,
    actor: Actor,
    value: Any,
    note: Any = "",
    at: datetime | None = None,
) -> CheckIn:
    """A check-in on a manual key result: its new current value, with an optional note.

    Refused (409) on a key result that follows a KPI: its value is the KPI's.
    Allowed after the cycle has closed: late numbers happen. ``at`` (default now)
    dates a number reported for an earlier moment (the demo's history); one older
    than the newest check-in is kept in the history without becoming current.
    """
    if key_result.kpi_id is not None:
        kpi_title = Kpi.objects.filter(pk=key_result.kpi_id).values_list("title", flat=True)
        raise Conflict(
            f"this key result follows the KPI “{kpi_title.first() or key_result.kpi_id}”: "
            "its value comes from that KPI, so it takes no check-ins; "
            "record the value on the KPI instead"
        )
    errors: dict[str, str] = {}
    number = _number("value", value, errors, required=True)
    text = _text("note", note, MAX_NOTE, errors)
    if errors or number is None:
        raise _fail(errors)
    before = key_result.current_value
    with transaction.atomic():
        check_in = _check_in(key_result, actor, number, text, at)
        key_result.save(update_fields=["current_value", "checked_in_at", "updated_at"])
        _event(
            key_result,
            actor,
            Action.KEY_RESULT_CHECKED_IN,
            before={"value": before},
            after={"value": number, "note": text},
        )
    return check_in
