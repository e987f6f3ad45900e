"""The one function that writes audit events; called by every other service.

``action`` is an ``audit.actions.Action`` or, for orgs (below the log), an
``orgs.actions.OrgAction``; orgs reaches this function through ``orgs/audit_hook.py``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from pulseboard.audit.models import AuditEvent
from pulseboard.core import clock
from pulseboard.core.actors import Actor


def audit_record(
    *,
    org_id: int,
    actor: Actor,
    action: StrEnum,
    target_type: str,
    target_id: str,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Insert one event; callers run inside their own transaction so both land or neither."""
    event = audit_event_new(
        org_id=org_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=before,
        after=after,
    )
    event.save(force_insert=True)
    return event


def audit_event_new(
    *,
    org_id: int,
    actor: Actor,
    action: StrEnum,
    target_type: str,
    target_id: str,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """The event ``audit_record`` would insert, unsaved: for a caller that inserts it
    together with the rest of its write in one statement (the webhook's fast path)."""
    return AuditEvent(
        org_id=org_id,
        actor_kind=actor.kind,
        actor_id=actor.id[:64],
        actor_label=actor.label[:200],
        action=action.value,
        target_type=target_type,
        target_id=str(target_id)[:64],
        target_label=target_label[:200],
        before=before,
        after=after,
        ip=actor.ip,
        created_at=clock.now(),
    )


class AuditTarget(Protocol):
    """A row of one organization that an event can name."""

    @property
    def org_id(self) -> int: ...

    @property
    def pk(self) -> Any: ...


def audit_record_of(
    target: AuditTarget,
    target_type: str,
    target_label: str,
    actor: Actor,
    action: StrEnum,
    /,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """``audit_record`` for a write to ``target``: its org and its id come from the row."""
    return audit_record(
        org_id=target.org_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target.pk,
        target_label=target_label,
        before=before,
        after=after,
    )


def audit_record_many(events: list[AuditEvent]) -> None:
    """Insert events built by ``audit_event_new`` in one statement (a batch's, such as the
    time pass's transitions); inside the caller's transaction, like ``audit_record``."""
    AuditEvent.objects.bulk_create(events)
