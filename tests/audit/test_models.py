"""The audit log is append-only: no update or delete path exists in the application."""

from __future__ import annotations

import pytest
from tests.factories import OrganizationFactory

from pulseboard.audit.actions import Action
from pulseboard.audit.models import AppendOnlyError, AuditEvent
from pulseboard.audit.services import audit_record
from pulseboard.core.actors import Actor

pytestmark = pytest.mark.django_db


def _event() -> AuditEvent:
    org = OrganizationFactory()
    return audit_record(
        org_id=org.pk,
        actor=Actor.system("t"),
        action=Action.KPI_CREATED,
        target_type="kpi",
        target_id="abc",
    )


def test_saving_an_existing_event_is_refused() -> None:
    event = _event()
    event.action = "kpi.deleted"
    with pytest.raises(AppendOnlyError):
        event.save()


def test_deleting_an_event_is_refused() -> None:
    event = _event()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_bulk_update_is_refused() -> None:
    event = _event()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    event.refresh_from_db()
    assert event.action == "kpi.created"
