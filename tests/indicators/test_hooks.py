"""Start-up hooks (indicators/hooks.py): packages above indicators act on a new KPI inside
its transaction, without indicators importing them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.factories import OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.apps import manual_source_for
from pulseboard.connectors.models import Source
from pulseboard.core.actors import Actor
from pulseboard.indicators import hooks
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.services import kpi_create
from pulseboard.indicators.spec import KpiSpec

ACTOR = Actor.system("test")
NPS = KpiSpec(title="NPS", shape="stay_above", threshold=35)


@pytest.fixture
def registered() -> Iterator[list[hooks.KpiCreated]]:
    """The registry, restored after the test."""
    saved = list(hooks._on_created)
    yield hooks._on_created
    hooks._on_created[:] = saved


def test_the_connectors_app_registers_the_manual_source_once() -> None:
    assert hooks._on_created.count(manual_source_for) == 1
    hooks.on_kpi_created(manual_source_for)
    assert hooks._on_created.count(manual_source_for) == 1


@pytest.mark.django_db
def test_a_new_kpi_gets_its_manual_source_from_the_connectors_callback() -> None:
    kpi = kpi_create(org=OrganizationFactory(), actor=ACTOR, spec=NPS)
    source = Source.objects.get(kpi=kpi)
    assert (source.kind, source.org_id) == ("manual", kpi.org_id)


@pytest.mark.django_db
def test_a_callback_sees_the_saved_kpi(registered: list[hooks.KpiCreated]) -> None:
    seen: list[tuple[str, bool]] = []
    hooks.on_kpi_created(
        lambda kpi: seen.append((kpi.title, Kpi.objects.filter(pk=kpi.pk).exists()))
    )
    kpi_create(org=OrganizationFactory(), actor=ACTOR, spec=NPS)
    assert seen == [("NPS", True)]


@pytest.mark.django_db(transaction=True)
def test_a_failing_callback_rolls_the_new_kpi_back(registered: list[hooks.KpiCreated]) -> None:
    def broken(kpi: Kpi) -> None:
        raise RuntimeError("listener down")

    hooks.on_kpi_created(broken)
    org = OrganizationFactory()
    with pytest.raises(RuntimeError):
        kpi_create(org=org, actor=ACTOR, spec=NPS)
    assert not Kpi.objects.filter(org=org).exists()
    assert not Source.objects.filter(org=org).exists()
    assert not AuditEvent.objects.filter(org=org).exists()
