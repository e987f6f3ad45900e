"""Writes of goals (goals/services.py): validation, tenancy of every id, audit in the same
transaction, nothing written on a refusal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db.models import ProtectedError
from tests.factories import (
    KeyResultFactory,
    KpiFactory,
    MembershipFactory,
    ObjectiveFactory,
    OrganizationFactory,
)

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, ValidationFailed
from pulseboard.goals.models import CheckIn, Cycle, KeyResult, Objective
from pulseboard.goals.services import (
    check_in_record,
    cycle_create,
    cycle_delete,
    cycle_update,
    key_result_create,
    key_result_delete,
    key_result_update,
    may_check_in,
    objective_create,
    objective_delete,
    objective_update,
)
from pulseboard.history.services import value_record
from pulseboard.indicators.services import kpi_delete

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
Q1 = {"name": "Q1 2027", "starts_on": "2027-01-01", "ends_on": "2027-03-31"}


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("created_at", "id"))


def snapshot() -> tuple[int, ...]:
    """Row counts of everything a goals write could touch."""
    return (
        Cycle.objects.count(),
        Objective.objects.count(),
        KeyResult.objects.count(),
        CheckIn.objects.count(),
        AuditEvent.objects.count(),
    )


def refused(call: Any, **kwargs: Any) -> ValidationFailed:
    before = snapshot()
    with pytest.raises(ValidationFailed) as caught:
        call(**kwargs)
    assert snapshot() == before, "a refused write must write nothing"
    return caught.value


# --- cycles -------------------------------------------------------------------------------


def test_cycle_create_is_audited() -> None:
    org = OrganizationFactory()
    cycle = cycle_create(org=org, actor=ACTOR, data=Q1)
    assert (cycle.starts_on, cycle.ends_on) == (date(2027, 1, 1), date(2027, 3, 31))
    (event,) = events("cycle.created")
    assert event.org_id == org.pk and event.target_id == cycle.pk
    assert event.after == {"name": "Q1 2027", "starts_on": "2027-01-01", "ends_on": "2027-03-31"}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({**Q1, "ends_on": "2026-12-31"}, "ends_on", "on or after starts_on"),
        ({**Q1, "starts_on": "2027-13-01"}, "starts_on", "a date such as"),
        ({**Q1, "starts_on": 20270101}, "starts_on", "a date such as"),
        ({**Q1, "ends_on": "9999-12-31"}, "ends_on", "between"),
        ({**Q1, "name": "  "}, "name", "required"),
        ({**Q1, "name": "x" * 121}, "name", "at most 120"),
        ({**Q1, "name": "Q1\x00"}, "name", "NUL"),
        ({**Q1, "colour": "red"}, "colour", "unknown field"),
        ({"name": "Q1"}, "starts_on", "required"),
    ],
)
def test_cycle_create_refuses_bad_input(data: dict[str, Any], field: str, words: str) -> None:
    error = refused(cycle_create, org=OrganizationFactory(), actor=ACTOR, data=data)
    assert words in error.errors[field]


def test_cycle_update_checks_the_merged_dates_and_audits_only_changes() -> None:
    cycle = cycle_create(org=OrganizationFactory(), actor=ACTOR, data=Q1)
    error = refused(cycle_update, cycle=cycle, actor=ACTOR, data={"starts_on": "2027-04-01"})
    assert "on or after" in error.errors["ends_on"]
    cycle_update(cycle=cycle, actor=ACTOR, data={"name": "Q1 2027"})  # no change: no event
    assert events("cycle.updated") == []
    cycle_update(cycle=cycle, actor=ACTOR, data={"ends_on": "2027-04-15"})
    (event,) = events("cycle.updated")
    assert event.before == {"ends_on": "2027-03-31"} and event.after == {"ends_on": "2027-04-15"}


def test_a_cycle_with_objectives_is_not_deleted_and_the_refusal_names_them() -> None:
    objective = ObjectiveFactory(title="Grow retention")
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        cycle_delete(cycle=objective.cycle, actor=ACTOR)
    assert "Grow retention" in caught.value.message
    assert snapshot() == before
    objective_delete(objective=objective, actor=ACTOR)
    cycle_delete(cycle=objective.cycle, actor=ACTOR)
    assert not Cycle.objects.exists() and len(events("cycle.deleted")) == 1


# --- objectives ---------------------------------------------------------------------------


def test_objective_create_with_owner_is_audited() -> None:
    membership = MembershipFactory()
    cycle = cycle_create(org=membership.org, actor=ACTOR, data=Q1)
    objective = objective_create(
        org=membership.org,
        actor=ACTOR,
        data={"title": "Delight customers", "cycle_id": cycle.pk, "owner_id": membership.user_id},
    )
    assert objective.owner_id == membership.user_id and objective.cycle_id == cycle.pk
    (event,) = events("objective.created")
    assert event.after["title"] == "Delight customers"  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "T", "cycle_id": "nope-not-here"}, "cycle_id"),
        ({"title": "T", "cycle_id": "bad\x00id"}, "cycle_id"),
        ({"title": "T", "cycle_id": 7}, "cycle_id"),
        ({"title": "", "cycle_id": "{cycle}"}, "title"),
        ({"title": "T", "cycle_id": "{cycle}", "owner_id": 999999}, "owner_id"),
        ({"title": "T", "cycle_id": "{cycle}", "owner_id": True}, "owner_id"),
        ({"title": "T", "cycle_id": "{cycle}", "owner_id": "{outsider}"}, "owner_id"),
        ({"title": "T", "cycle_id": "{other_cycle}"}, "cycle_id"),
        ({"title": "T"}, "cycle_id"),
    ],
)
def test_objective_create_refuses_bad_input_and_other_orgs_ids(
    data: dict[str, Any], field: str
) -> None:
    org = OrganizationFactory()
    cycle = cycle_create(org=org, actor=ACTOR, data=Q1)
    other = cycle_create(org=OrganizationFactory(), actor=ACTOR, data=Q1)
    outsider = MembershipFactory()  # a member of another org
    values = {"cycle": cycle.pk, "other_cycle": other.pk, "outsider": outsider.user_id}
    filled = {
        k: (int(v.format(**values)) if k == "owner_id" else v.format(**values))
        if isinstance(v, str) and "{" in v
        else v
        for k, v in data.items()
    }
    error = refused(objective_create, org=org, actor=ACTOR, data=filled)
    assert field in error.errors


def test_objective_moves_to_another_cycle_of_its_org_only() -> None:
    objective = ObjectiveFactory()
    org = objective.org
    later = cycle_create(org=org, actor=ACTOR, data={**Q1, "name": "Q2"})
    theirs = cycle_create(org=OrganizationFactory(), actor=ACTOR, data=Q1)
    refused(objective_update, objective=objective, actor=ACTOR, data={"cycle_id": theirs.pk})
    objective_update(objective=objective, actor=ACTOR, data={"cycle_id": later.pk})
    objective.refresh_from_db()
    assert objective.cycle_id == later.pk
    (event,) = events("objective.updated")
    assert event.after == {"cycle_id": later.pk}


def test_objective_delete_takes_its_key_results_and_says_so_in_the_audit() -> None:
    key_result = KeyResultFactory(title="Ship it")
    CheckIn.objects.create(
        org=key_result.org,
        key_result=key_result,
        value=1,
        author_label="x",
        created_at=key_result.created_at,
    )
    objective_delete(objective=key_result.objective, actor=ACTOR)
    assert not KeyResult.objects.exists() and not CheckIn.objects.exists()
    (event,) = events("objective.deleted")
    assert event.before["key_results"] == [{"id": key_result.pk, "title": "Ship it"}]  # type: ignore[index]


# --- key results --------------------------------------------------------------------------


def kr_data(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Retention to 92%",
        "kind": "increase_to",
        "start_value": 85,
        "target_value": 92,
        **changes,
    }


def test_key_result_create_is_audited() -> None:
    objective = ObjectiveFactory()
    key_result = key_result_create(objective=objective, actor=ACTOR, data=kr_data(weight=2))
    assert (key_result.start_value, key_result.target_value, key_result.weight) == (85, 92, 2)
    assert key_result.org_id == objective.org_id
    (event,) = events("key_result.created")
    assert event.after["kind"] == "increase_to"  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"target_value": 85}, "target_value", "nothing to move"),
        ({"kind": "decrease_to"}, "target_value", "below start_value"),
        ({"kind": "grow_to"}, "kind", "must be one of"),
        ({"kind": 3}, "kind", "must be one of"),
        ({"start_value": float("nan")}, "start_value", "finite"),
        ({"target_value": float("inf")}, "target_value", "finite"),
        ({"target_value": 1e300}, "target_value", "between"),
        ({"start_value": None}, "start_value", "required"),
        ({"weight": 0}, "weight", "above 0"),
        ({"weight": float("nan")}, "weight", "finite"),
        ({"unit_type": "furlongs"}, "unit_type", "must be one of"),
        ({"display_format": "roman"}, "display_format", "must be one of"),
        ({"unit_label": "x" * 21}, "unit_label", "at most 20"),
        ({"kpi_id": "nope-not-here"}, "kpi_id", "of this organization"),
        ({"kpi_id": "\x00\xff"}, "kpi_id", "of this organization"),
        ({"objective_id": "x"}, "objective_id", "unknown field"),
    ],
)
def test_key_result_create_refuses_bad_input(
    changes: dict[str, Any], field: str, words: str
) -> None:
    data = kr_data(**changes)
    error = refused(key_result_create, objective=ObjectiveFactory(), actor=ACTOR, data=data)
    assert words in error.errors[field]


def test_key_result_refuses_a_kpi_of_another_org() -> None:
    objective = ObjectiveFactory()
    theirs = KpiFactory()
    error = refused(
        key_result_create, objective=objective, actor=ACTOR, data=kr_data(kpi_id=theirs.pk)
    )
    assert "of this organization" in error.errors["kpi_id"]


def test_a_stay_kind_keeps_no_start_value() -> None:
    key_result = key_result_create(
        objective=ObjectiveFactory(),
        actor=ACTOR,
        data=kr_data(kind="stay_above", start_value=3, target_value=99.9),
    )
    assert key_result.start_value is None
    # Switching to a moving kind needs a start again.
    error = refused(
        key_result_update, key_result=key_result, actor=ACTOR, data={"kind": "increase_to"}
    )
    assert "required" in error.errors["start_value"]


def test_a_key_result_moves_only_to_an_objective_of_its_org() -> None:
    key_result = KeyResultFactory()
    theirs = ObjectiveFactory()
    error = refused(
        key_result_update,
        key_result=key_result,
        actor=ACTOR,
        data={"objective_id": theirs.pk},
    )
    assert "of this organization" in error.errors["objective_id"]
    mine = ObjectiveFactory(cycle=key_result.objective.cycle)
    key_result_update(key_result=key_result, actor=ACTOR, data={"objective_id": mine.pk})
    key_result.refresh_from_db()
    assert key_result.objective_id == mine.pk
    (event,) = events("key_result.updated")
    assert event.after == {"objective_id": mine.pk}


def test_key_result_delete_is_audited() -> None:
    key_result = KeyResultFactory()
    key_result_delete(key_result=key_result, actor=ACTOR)
    assert not KeyResult.objects.exists()
    (event,) = events("key_result.deleted")
    assert event.before["title"] == key_result.title  # type: ignore[index]


# --- check-ins ----------------------------------------------------------------------------


def test_a_check_in_moves_a_manual_key_result_and_is_audited() -> None:
    key_result = KeyResultFactory(start_value=0, target_value=10)
    check_in = check_in_record(key_result=key_result, actor=ACTOR, value=4, note="Two shipped")
    key_result.refresh_from_db()
    assert key_result.current_value == 4 and key_result.checked_in_at == check_in.created_at
    assert (check_in.value, check_in.note, check_in.author_label) == (4, "Two shipped", "test")
    (event,) = events("key_result.checked_in")
    assert event.before == {"value": None} and event.after == {"value": 4, "note": "Two shipped"}


@pytest.mark.parametrize(
    ("value", "note", "field"),
    [
        (float("nan"), "", "value"),
        (float("-inf"), "", "value"),
        (1e16, "", "value"),
        (None, "", "value"),
        (True, "", "value"),
        (1, "x" * 1001, "note"),
        (1, 5, "note"),
    ],
)
def test_a_bad_check_in_writes_nothing(value: Any, note: Any, field: str) -> None:
    key_result = KeyResultFactory()
    error = refused(check_in_record, key_result=key_result, actor=ACTOR, value=value, note=note)
    assert field in error.errors
    key_result.refresh_from_db()
    assert key_result.current_value is None


def test_a_check_in_on_a_kpi_linked_key_result_is_a_conflict_naming_the_kpi() -> None:
    kpi = KpiFactory(title="Retention rate")
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle__org=kpi.org), kpi=kpi)
    before = snapshot()
    with pytest.raises(Conflict) as caught:
        check_in_record(key_result=key_result, actor=ACTOR, value=90)
    assert "Retention rate" in caught.value.message
    assert snapshot() == before


def test_unlinking_a_kpi_keeps_its_value_as_the_first_check_in() -> None:
    kpi = KpiFactory(title="NPS")
    value_record(kpi=kpi, value=42, observed_at=None, source="manual", actor=ACTOR)
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle__org=kpi.org), kpi=kpi)
    key_result_update(key_result=key_result, actor=ACTOR, data={"kpi_id": None})
    key_result.refresh_from_db()
    assert key_result.kpi_id is None and key_result.current_value == 42
    (check_in,) = CheckIn.objects.filter(key_result=key_result)
    assert "NPS" in check_in.note


@pytest.mark.parametrize(
    ("is_admin", "owner", "user", "allowed"),
    [
        (True, None, None, True),
        (False, 5, 5, True),
        (False, 5, 6, False),
        (False, None, None, False),
    ],
)
def test_who_may_check_in(
    is_admin: bool, owner: int | None, user: int | None, allowed: bool
) -> None:
    key_result = KeyResult(owner_id=owner)
    assert may_check_in(key_result=key_result, user_id=user, is_admin=is_admin) is allowed


# --- a KPI that key results follow --------------------------------------------------------


def test_deleting_a_followed_kpi_is_refused_and_writes_nothing() -> None:
    kpi = KpiFactory(title="Churn")
    KeyResultFactory(objective=ObjectiveFactory(cycle__org=kpi.org), kpi=kpi, title="Churn to 2%")
    before = snapshot()
    with pytest.raises(ProtectedError) as caught:
        kpi_delete(kpi=kpi, actor=ACTOR)
    assert "Churn to 2%" in str([str(o) for o in caught.value.protected_objects])
    assert snapshot() == before
    assert type(kpi).objects.filter(pk=kpi.pk).exists()


def test_a_check_in_for_an_earlier_moment_does_not_replace_a_newer_one() -> None:
    key_result = KeyResultFactory()
    newer = check_in_record(key_result=key_result, actor=ACTOR, value=8)
    check_in_record(
        key_result=key_result, actor=ACTOR, value=3, at=newer.created_at - timedelta(days=2)
    )
    key_result.refresh_from_db()
    assert key_result.current_value == 8 and key_result.checked_in_at == newer.created_at
    assert CheckIn.objects.filter(key_result=key_result).count() == 2
