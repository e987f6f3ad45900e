"""The one function that writes audit events; called by every other service.

``action`` is an ``audit.actions.Action`` or, for orgs (below the log), an
``orgs.actions.OrgAction``; orgs reaches this function through ``orgs/audit_hook.py``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

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
    return AuditEvent.objects.create(
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
