"""KPI services: validation writes nothing and reports every field, shape changes recompute
status, an edit with publishing is one transaction, audit lands."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.models import Source
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.indicators import services
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.services import (
    kpi_create,
    kpi_delete,
    kpi_move,
    kpi_reorder,
    kpi_set_published,
    kpi_spec,
    kpi_update,
)
from pulseboard.indicators.spec import KpiSpec, spec_patched

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def edit(kpi: Kpi, **changes: Any) -> Kpi:
    """``kpi_update`` with some fields changed, as the API's PATCH sends them."""
    return kpi_update(kpi=kpi, actor=ACTOR, spec=spec_patched(kpi_spec(kpi), changes))


def test_create_makes_kpi_with_manual_source_and_audit_event() -> None:
    org = OrganizationFactory()
    kpi = kpi_create(
        org=org, actor=ACTOR, spec=KpiSpec(title="NPS", shape="stay_above", threshold=35)
    )
    assert len(kpi.pk) >= 16 and not kpi.pk.isdigit()
    assert kpi.status == "unknown"
    assert Source.objects.get(kpi=kpi).kind == "manual"
    event = AuditEvent.objects.get(org=org, action="kpi.created")
    assert event.target_id == kpi.pk and event.after["threshold"] == 35


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "", "shape": "stay_above", "threshold": 1}, "title"),
        ({"title": "x", "shape": "sideways", "threshold": 1}, "shape"),
        ({"title": "x", "shape": "stay_above"}, "threshold"),
        ({"title": "x", "shape": "stay_between", "lower": 5, "upper": 1}, "upper"),
        ({"title": "x", "shape": "stay_above", "threshold": 10, "warn_at": 5}, "warn_at"),
        ({"title": "x", "shape": "stay_above", "threshold": "ten"}, "threshold"),
        ({"title": "x", "shape": "stay_above", "threshold": float("nan")}, "threshold"),
        ({"title": "x", "shape": "stay_above", "threshold": 1, "unit_type": "smiles"}, "unit_type"),
        (
            {"title": "x", "shape": "stay_above", "threshold": 1, "compare_period": "soon"},
            "compare_period",
        ),
        ({"title": "x", "shape": "trend"}, "direction"),
        (
            {"title": "x", "shape": "stay_above", "threshold": 1, "baseline_period": "forever"},
            "baseline_period",
        ),
        ({"title": "x", "shape": "stay_above", "threshold": 1, "parent_id": "nope"}, "parent_id"),
    ],
)
def test_create_rejects_bad_input_and_writes_nothing(data: dict, field: str) -> None:
    org = OrganizationFactory()
    with pytest.raises(ValidationFailed) as caught:
        kpi_create(org=org, actor=ACTOR, spec=KpiSpec(**data))
    assert field in caught.value.errors
    assert not Kpi.objects.filter(org=org).exists()
    assert not AuditEvent.objects.filter(org=org, action="kpi.created").exists()


def test_shape_change_recomputes_status_and_keeps_history_rows() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    value_record(kpi=kpi, value=12, observed_at=None, source="manual", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.status == "green"
    edit(kpi, shape="stay_below", threshold=10)
    kpi.refresh_from_db()
    assert kpi.status == "red"
    assert kpi.threshold == 10
    assert list(KpiHistory.objects.filter(kpi=kpi).values_list("status", flat=True)) == ["green"]
    assert AuditEvent.objects.filter(action="kpi.shape_changed", target_id=kpi.pk).count() == 1


def test_switching_to_trend_requires_direction_and_baseline() -> None:
    kpi = KpiFactory()
    with pytest.raises(ValidationFailed) as caught:
        edit(kpi, shape="trend")
    assert "direction" in caught.value.errors
    kpi.refresh_from_db()
    assert kpi.shape == "stay_above"


def test_parent_cycle_is_refused() -> None:
    org = OrganizationFactory()
    a = KpiFactory(org=org)
    b = KpiFactory(org=org, parent=a)
    with pytest.raises(ValidationFailed) as caught:
        edit(a, parent_id=b.pk)
    assert "parent_id" in caught.value.errors


def test_parent_from_another_org_is_refused() -> None:
    other = KpiFactory()
    kpi = KpiFactory()
    with pytest.raises(ValidationFailed):
        edit(kpi, parent_id=other.pk)


def test_publish_unpublish_and_delete_are_audited() -> None:
    kpi = KpiFactory(published=False)
    kpi_set_published(kpi=kpi, actor=ACTOR, published=True)
    kpi_set_published(kpi=kpi, actor=ACTOR, published=False)
    kpi_id = kpi.pk
    kpi_delete(kpi=kpi, actor=ACTOR)
    actions = list(
        AuditEvent.objects.filter(target_id=kpi_id).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["kpi.published", "kpi.unpublished", "kpi.deleted"]
    assert not Kpi.objects.filter(pk=kpi_id).exists()


def test_reorder_and_move_set_home_positions() -> None:
    org = OrganizationFactory()
    a, b, c = (KpiFactory(org=org) for _ in range(3))
    kpi_reorder(org=org, actor=ACTOR, ordered_ids=[c.pk, a.pk])
    order = list(Kpi.objects.filter(org=org).order_by("position").values_list("pk", flat=True))
    assert order == [c.pk, a.pk, b.pk]
    kpi_move(kpi=b, actor=ACTOR, offset=-1)
    order = list(Kpi.objects.filter(org=org).order_by("position").values_list("pk", flat=True))
    assert order == [c.pk, b.pk, a.pk]


def test_reorder_refuses_ids_of_another_org() -> None:
    org = OrganizationFactory()
    KpiFactory(org=org)
    foreign = KpiFactory()
    with pytest.raises(ValidationFailed):
        kpi_reorder(org=org, actor=ACTOR, ordered_ids=[foreign.pk])


def test_every_field_error_comes_back_at_once() -> None:
    org = OrganizationFactory()
    bad = KpiSpec(
        title=" ",
        shape="stay_above",
        warn_margin=2,
        unit_type="smiles",
        compare_period="soon",
        parent_id="nope",
    )
    with pytest.raises(ValidationFailed) as caught:
        kpi_create(org=org, actor=ACTOR, spec=bad)
    errors = caught.value.errors
    assert {"title", "threshold", "warn_margin", "unit_type", "compare_period", "parent_id"} <= set(
        errors
    )
    assert all(f"{field}: {message}" in caught.value.message for field, message in errors.items())


def test_an_unknown_field_in_a_patch_is_a_field_error() -> None:
    kpi = KpiFactory()
    with pytest.raises(ValidationFailed) as caught:
        edit(kpi, bogus=1)
    assert "bogus" in caught.value.errors


def test_an_edit_with_publishing_audits_both_in_one_call() -> None:
    kpi = KpiFactory(published=False, title="Before")
    edit(kpi, title="After", published=True)
    actions = list(
        AuditEvent.objects.filter(target_id=kpi.pk).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["kpi.updated", "kpi.published"]
    stored = Kpi.objects.get(pk=kpi.pk)
    assert (stored.title, stored.published) == ("After", True)


@pytest.mark.django_db(transaction=True)
def test_an_edit_whose_publishing_fails_writes_none_of_its_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kpi = KpiFactory(published=False, title="Before")
    real_record = services.audit_record

    def failing_on_publish(**kwargs: Any) -> Any:
        if kwargs["action"] == "kpi.published":
            raise RuntimeError("audit store down")
        return real_record(**kwargs)

    monkeypatch.setattr(services, "audit_record", failing_on_publish)
    with pytest.raises(RuntimeError):
        edit(kpi, title="After", published=True)
    stored = Kpi.objects.get(pk=kpi.pk)
    assert (stored.title, stored.published) == ("Before", False)
    assert not AuditEvent.objects.filter(target_id=kpi.pk).exists()


def test_an_edit_that_changes_nothing_writes_nothing() -> None:
    kpi = KpiFactory(title="Same")
    edit(kpi, title="Same")
    assert not AuditEvent.objects.filter(target_id=kpi.pk).exists()


def test_a_new_kpi_goes_to_the_end_of_home_unless_a_position_is_given() -> None:
    org = OrganizationFactory()
    first = kpi_create(
        org=org, actor=ACTOR, spec=KpiSpec(title="A", shape="stay_above", threshold=1)
    )
    second = kpi_create(
        org=org, actor=ACTOR, spec=KpiSpec(title="B", shape="stay_above", threshold=1)
    )
    placed = kpi_create(
        org=org,
        actor=ACTOR,
        spec=KpiSpec(title="C", shape="stay_above", threshold=1, position=7),
    )
    assert (first.position, second.position, placed.position) == (0, 1, 7)


def test_a_stored_kpi_round_trips_through_its_spec() -> None:
    kpi = KpiFactory(shape="trend", threshold=None, direction="up", baseline=3, category="leading")
    before = services.kpi_snapshot(kpi)
    kpi_update(kpi=kpi, actor=ACTOR, spec=kpi_spec(kpi))
    assert services.kpi_snapshot(Kpi.objects.get(pk=kpi.pk)) == before
    assert not AuditEvent.objects.filter(target_id=kpi.pk).exists()
