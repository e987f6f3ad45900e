"""What a member (not an admin) sees of a KPI's audit events on its page (DESIGN §15).

Admins read the audit log as recorded. Members see each event's time, what happened
and a neutral actor ("a team member", "an API token", "Webhook source", "you" for
their own), never an e-mail address, an IP address, or a source's settings:

- ``source.*`` events show only the kind change (``manual → https_get``); settings,
  secret hints, connections and intervals are not shown;
- other events show their field changes (value, status, target, title …) except
  fields named like a secret or a setting, and any change whose text is an e-mail.

The rows carry only what the member may see, so the template cannot show more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.redaction import sensitive_name
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.core.actors import ActorKind
from pulseboard.web.views.audit import event_rows

# Fields of a source snapshot: a member sees the kind and how it is doing, no more.
SOURCE_FIELDS_SHOWN: Final = frozenset({"kind"})
HIDDEN_FIELDS: Final = frozenset(
    {"config", "secret_hint", "connection_id", "interval_seconds", "ip", "email"}
)
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class MemberEventRow:
    created_at: datetime
    actor: str
    action: str
    changes: list[tuple[str, str | None, str]]


def actor_for_member(event: AuditEvent, *, viewer_id: int | None) -> str:
    """Who acted, in words that name no one's e-mail address."""
    if event.actor_kind == ActorKind.USER:
        own = viewer_id is not None and event.actor_id == str(viewer_id)
        return "you" if own else "a team member"
    if event.actor_kind == ActorKind.TOKEN:
        return "an API token"
    if event.actor_kind == ActorKind.CONNECTOR:
        connector = CONNECTORS.get(event.actor_label.removeprefix("connector:"))
        return f"{connector.label} source" if connector is not None else "a connector"
    return "Pulseboard"


def _shown_to_member(action: str, name: str, before: str | None, after: str) -> bool:
    if action.startswith("source."):
        return name in SOURCE_FIELDS_SHOWN
    if name in HIDDEN_FIELDS or sensitive_name(name):
        return False
    return not any(_EMAIL.search(text) for text in (before or "", after))


def member_event_rows(
    events: Iterable[AuditEvent], *, viewer_id: int | None
) -> list[MemberEventRow]:
    """The events as a member may read them (see the module docstring)."""
    return [
        MemberEventRow(
            created_at=row.event.created_at,
            actor=actor_for_member(row.event, viewer_id=viewer_id),
            action=row.event.action,
            changes=[
                change for change in row.changes if _shown_to_member(row.event.action, *change)
            ],
        )
        for row in event_rows(events)
    ]
