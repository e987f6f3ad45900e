"""What happens above orgs when a team is deleted (DESIGN §13, §16).

A KPI's and an objective's team are foreign keys with ``on_delete=SET_NULL``: the
database clears them, but never touches ``updated_at``, so live boards (whose change
stamp is the newest ``updated_at``, ``web/live.py``) would not notice until their next
minute. Orgs sits below ``indicators`` and ``goals`` and cannot write their rows, so
each registers a handler here at start-up (its ``AppConfig.ready()``) that clears the
team itself and bumps ``updated_at``. ``orgs.teams.team_delete`` calls every handler
inside its transaction, before the team row goes (its deletion event already lists the
KPIs and objectives that lose the team).
"""

from __future__ import annotations

from typing import Protocol


class TeamDeletingHandler(Protocol):
    def __call__(self, *, org_id: int, team_id: str) -> object: ...


_handlers: list[TeamDeletingHandler] = []


def register_team_deleting(handler: TeamDeletingHandler) -> None:
    """Call ``handler`` just before a team is deleted (once, however often registered)."""
    if handler not in _handlers:
        _handlers.append(handler)


def team_deleting(*, org_id: int, team_id: str) -> None:
    """Run every registered handler; the caller holds the transaction."""
    for handler in _handlers:
        handler(org_id=org_id, team_id=team_id)
