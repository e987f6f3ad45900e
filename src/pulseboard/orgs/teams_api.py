"""Teams API (DESIGN §13): ``GET/POST /teams``, ``PATCH/DELETE /teams/{id}``.

Any token reads; writes need an admin token and are audited (``orgs/teams.py``).
Every handler scopes to the calling token's org, so another org's team is a 404
like one that does not exist. The request and answer shapes live here: they are
this router's alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from pulseboard.core.api_errors import ERRORS, ErrorOut
from pulseboard.orgs.api_auth import AdminTokenAuth, principal, require_admin
from pulseboard.orgs.models import Team
from pulseboard.orgs.teams import (
    MAX_TEAM_NAME,
    MAX_TEAM_SLUG,
    SLUG_HINT,
    team_create,
    team_delete,
    team_get,
    team_list,
    team_update,
)

ADMIN = AdminTokenAuth()
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}  # the slug is another team's
router = Router(tags=["Teams"])
# A field left out of a PATCH keeps its value.
KEEP: Any = None


def _without_defaults(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class TeamIn(Schema):
    """A new team; without ``slug`` one is made from the name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_TEAM_NAME, examples=["Growth"])
    slug: str | None = Field(
        default=None, max_length=MAX_TEAM_SLUG, description=SLUG_HINT, examples=["growth"]
    )


class TeamPatch(Schema):
    """Rename a team or change its slug (its board's address); send only what changes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    name: str = Field(default=KEEP, min_length=1, max_length=MAX_TEAM_NAME)
    slug: str = Field(default=KEEP, min_length=1, max_length=MAX_TEAM_SLUG, description=SLUG_HINT)


class TeamOut(Schema):
    id: str
    name: str
    slug: str = Field(description="names the team's board (/teams/{slug}/) and ?team= filters")
    created_at: datetime

    @classmethod
    def from_team(cls, team: Team) -> TeamOut:
        return cls(id=team.pk, name=team.name, slug=team.slug, created_at=team.created_at)


@router.get(
    "/teams",
    response={200: list[TeamOut], **ERRORS},
    operation_id="team_list",
    url_name="team-list",
    summary="The organization's teams, by name",
)
def team_list_endpoint(request: HttpRequest) -> list[TeamOut]:
    caller = principal(request)
    return [TeamOut.from_team(team) for team in team_list(org=caller.org)]


@router.post(
    "/teams",
    auth=ADMIN,
    response={201: TeamOut, **WRITE_ERRORS},
    operation_id="team_create",
    url_name="team-list",
    summary="Create a team (admin); 409 when its slug is taken",
)
def team_create_endpoint(request: HttpRequest, payload: TeamIn) -> Status[TeamOut]:
    caller = require_admin(request)
    team = team_create(org=caller.org, actor=caller.actor, name=payload.name, slug=payload.slug)
    return Status(201, TeamOut.from_team(team))


@router.patch(
    "/teams/{team_id}",
    auth=ADMIN,
    response={200: TeamOut, **WRITE_ERRORS},
    operation_id="team_patch",
    url_name="team-detail",
    summary="Rename a team or change its slug (admin); 409 when the slug is taken",
)
def team_patch_endpoint(request: HttpRequest, team_id: str, payload: TeamPatch) -> TeamOut:
    caller = require_admin(request)
    team = team_get(org=caller.org, team_id=team_id)
    changes = payload.model_dump(exclude_unset=True)
    team = team_update(
        team=team, actor=caller.actor, name=changes.get("name"), slug=changes.get("slug")
    )
    return TeamOut.from_team(team)


@router.delete(
    "/teams/{team_id}",
    auth=ADMIN,
    response={204: None, **ERRORS},
    operation_id="team_delete",
    url_name="team-detail",
    summary="Delete a team (admin); its KPIs and objectives stay, without a team",
)
def team_delete_endpoint(request: HttpRequest, team_id: str) -> Status[None]:
    caller = require_admin(request)
    team_delete(team=team_get(org=caller.org, team_id=team_id), actor=caller.actor)
    return Status(204, None)
