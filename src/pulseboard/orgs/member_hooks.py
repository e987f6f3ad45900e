"""What happens above orgs when a member leaves an organization or stops being an admin.

Orgs sits below the packages that point at people (a KPI's owner in ``indicators``, an
objective's or key result's owner in ``goals``, a share link's creator in ``sharing``),
so it cannot clear or revoke those itself. Each of them registers a handler here at
start-up (its ``AppConfig.ready()``); ``orgs.services`` calls the handlers inside its own
transaction, so the clearing, its audit events and the role change or removal land
together or not at all.

Two hooks:

- *member removed* (``register_member_removed``): ``member_remove`` calls it before the
  membership row goes (owners of KPIs, objectives and key results are cleared).
- *admin power ended* (``register_admin_power_ended``): ``member_role_change`` calls it
  when an admin is demoted, and ``member_remove`` when anyone is removed (whatever their
  role: what they made while an admin is revoked either way). ``reason`` says which, in
  words fit for the audit log. A handler returns how many things it revoked; the counts
  come back by the ``what`` it registered with (e.g. ``"share link"``), for the message
  the admin sees.
"""

from __future__ import annotations

from typing import Protocol

from pulseboard.core.actors import Actor


class MemberRemovedHandler(Protocol):
    def __call__(self, *, org_id: int, user_id: int, actor: Actor) -> object: ...


class AdminPowerEndedHandler(Protocol):
    def __call__(self, *, org_id: int, user_id: int, actor: Actor, reason: str) -> int: ...


_handlers: list[MemberRemovedHandler] = []
_power_handlers: list[tuple[str, AdminPowerEndedHandler]] = []


def register_member_removed(handler: MemberRemovedHandler) -> None:
    """Call ``handler`` whenever a member leaves an org (once, however often registered)."""
    if handler not in _handlers:
        _handlers.append(handler)


def member_removed(*, org_id: int, user_id: int, actor: Actor) -> None:
    """Run every registered handler; the caller holds the transaction."""
    for handler in _handlers:
        handler(org_id=org_id, user_id=user_id, actor=actor)


def register_admin_power_ended(what: str, handler: AdminPowerEndedHandler) -> None:
    """Call ``handler`` whenever a member's admin power in an org ends (demoted or removed).

    ``what`` names, in the singular, the things the handler revokes ("share link").
    Registering the same handler again changes nothing.
    """
    if all(known is not handler for _, known in _power_handlers):
        _power_handlers.append((what, handler))


def admin_power_ended(*, org_id: int, user_id: int, actor: Actor, reason: str) -> dict[str, int]:
    """Run every registered handler; returns how many things of each kind were revoked.

    The caller holds the transaction.
    """
    counts: dict[str, int] = {}
    for what, handler in _power_handlers:
        counts[what] = counts.get(what, 0) + handler(
            org_id=org_id, user_id=user_id, actor=actor, reason=reason
        )
    return counts
