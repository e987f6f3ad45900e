"""What happens above orgs when a member leaves an organization (DESIGN §16).

Orgs sits below the packages that point at people (a KPI's owner in ``indicators``, an
objective's or key result's owner in ``goals``), so it cannot clear those itself. Each
of them registers a handler here at start-up (its ``AppConfig.ready()``);
``orgs.services.member_remove`` calls every handler inside its own transaction, before
the membership row goes, so the clearing, its audit events and the removal land
together or not at all.
"""

from __future__ import annotations

from typing import Protocol

from pulseboard.core.actors import Actor


class MemberRemovedHandler(Protocol):
    def __call__(self, *, org_id: int, user_id: int, actor: Actor) -> object: ...


_handlers: list[MemberRemovedHandler] = []


def register_member_removed(handler: MemberRemovedHandler) -> None:
    """Call ``handler`` whenever a member leaves an org (once, however often registered)."""
    if handler not in _handlers:
        _handlers.append(handler)


def member_removed(*, org_id: int, user_id: int, actor: Actor) -> None:
    """Run every registered handler; the caller holds the transaction."""
    for handler in _handlers:
        handler(org_id=org_id, user_id=user_id, actor=actor)
