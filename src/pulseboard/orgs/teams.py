"""Teams of an organization (DESIGN §13): reads, writes, and each member's default board.

A team has a ``name`` (1 to 120 characters, no control characters) and a ``slug`` that
names its board (``/teams/{slug}/``) and the ``GET /kpis?team=`` filter. The slug is
given, or made from the name when not; either way it is lower-case letters, digits
and hyphens, at most 60 characters, and unique in the org: a slug another team of
the org already has is a ``Conflict`` (409) naming that team, whether it was given
or made from the name (two teams called the same would be two boards no one can
tell apart). Renaming keeps the slug, so board links stay valid, unless a new slug
is given too. Deleting a team leaves its KPIs and objectives without a team, and
members whose default board it was land on the org board again.

Every write validates first, then changes the row and records its audit event in
one transaction; nothing is written when validation fails. Reads take the org
first: another org's team is ``NotFound``, exactly like a team that does not exist.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.orgs.actions import OrgAction
from pulseboard.orgs.audit_hook import audit_record
from pulseboard.orgs.models import Membership, Organization, Team
from pulseboard.orgs.team_hooks import team_deleting

MAX_TEAM_NAME: Final = 120
MAX_TEAM_SLUG: Final = 60
SLUG_PATTERN: Final = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG = re.compile(SLUG_PATTERN)
SLUG_HINT: Final = (
    f"a slug is 1 to {MAX_TEAM_SLUG} lower-case letters, digits and single hyphens, "
    "e.g. growth or platform-ops"
)


# --- reads ----------------------------------------------------------------------------------


def team_list(*, org: Organization) -> QuerySet[Team]:
    """The org's teams by name."""
    return Team.objects.filter(org=org).order_by("name", "slug")


def team_get(*, org: Organization, team_id: str) -> Team:
    team = Team.objects.filter(org=org, pk=team_id).first() if _could_be_id(team_id) else None
    if team is None:
        raise NotFound("team not found")
    return team


def team_get_by_slug(*, org: Organization, slug: str) -> Team:
    team = Team.objects.filter(org=org, slug=slug).first() if _SLUG.match(slug or "") else None
    if team is None:
        raise NotFound(f"no team with slug '{slug[:MAX_TEAM_SLUG]}'")
    return team


def team_find(*, org: Organization, key: str) -> Team:
    """The org's team whose id or slug is ``key`` (the ``?team=`` filters take either)."""
    team = None
    if _could_be_id(key):
        team = Team.objects.filter(org=org, pk=key).first()
    if team is None and _SLUG.match(key or ""):
        team = Team.objects.filter(org=org, slug=key).first()
    if team is None:
        raise NotFound(f"no team with id or slug '{(key or '')[:MAX_TEAM_SLUG]}'")
    return team


def _could_be_id(text: str) -> bool:
    # The team ids are core.ids.new_id()'s url-safe text; anything else needs no query.
    return bool(text) and len(text) <= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", text) is not None


# --- checks ---------------------------------------------------------------------------------


def _fail(errors: dict[str, str]) -> ValidationFailed:
    return ValidationFailed("; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)


def _name(raw: object, errors: dict[str, str]) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not isinstance(raw, str):
        errors["name"] = "name must be text"
    elif not name or len(name) > MAX_TEAM_NAME:
        errors["name"] = f"a name of 1 to {MAX_TEAM_NAME} characters is required"
    elif any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        errors["name"] = "a name cannot hold control characters (NUL, line breaks, tabs)"
    return name


def _slug(raw: object, errors: dict[str, str]) -> str:
    slug = raw.strip() if isinstance(raw, str) else ""
    if not isinstance(raw, str) or len(slug) > MAX_TEAM_SLUG or not _SLUG.match(slug):
        errors["slug"] = SLUG_HINT
    return slug


def _slug_from(name: str, errors: dict[str, str]) -> str:
    slug = slugify(name)[:MAX_TEAM_SLUG].strip("-").replace("_", "-")
    slug = re.sub(r"-{2,}", "-", slug)
    if not _SLUG.match(slug):
        errors["slug"] = (
            "the name has no letters or digits to make a slug from: give a slug, e.g. team-a"
        )
    return slug


def _slug_free(org: Organization, slug: str, current: Team | None) -> None:
    taken = Team.objects.filter(org=org, slug=slug).exclude(pk=current.pk if current else None)
    holder = taken.only("name").first()
    if holder is not None:
        raise Conflict(
            f"the team “{holder.name}” already has the slug '{slug}': "
            "choose another name or give another slug"
        )


def team_snapshot(team: Team) -> dict[str, Any]:
    return {"name": team.name, "slug": team.slug}


def _event(team: Team, actor: Actor, action: OrgAction, **states: Any) -> None:
    audit_record(
        org_id=team.org_id,
        actor=actor,
        action=action,
        target_type="team",
        target_id=team.pk,
        target_label=team.name,
        **states,
    )


def _saved(team: Team) -> None:
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as exc:
        # Two racing requests for one slug: the unique constraint speaks for the loser.
        raise Conflict(
            f"another team of this organization already has the slug '{team.slug}'"
        ) from exc


# --- writes ---------------------------------------------------------------------------------


def team_create(
    *, org: Organization, actor: Actor, name: object, slug: object | None = None
) -> Team:
    """A new team; ``slug`` None (or empty) makes one from the name."""
    errors: dict[str, str] = {}
    clean_name = _name(name, errors)
    if slug is None or slug == "":
        clean_slug = _slug_from(clean_name, errors) if "name" not in errors else ""
    else:
        clean_slug = _slug(slug, errors)
    if errors:
        raise _fail(errors)
    team = Team(org=org, name=clean_name, slug=clean_slug)
    with transaction.atomic():
        _slug_free(org, clean_slug, None)
        _saved(team)
        _event(team, actor, OrgAction.TEAM_CREATED, after=team_snapshot(team))
    return team


def team_update(
    *, team: Team, actor: Actor, name: object | None = None, slug: object | None = None
) -> Team:
    """Rename a team and/or change its slug (None keeps each); a change to nothing new
    writes nothing and records no event."""
    errors: dict[str, str] = {}
    wanted: dict[str, str] = {}
    if name is not None:
        wanted["name"] = _name(name, errors)
    if slug is not None:
        wanted["slug"] = _slug(slug, errors)
    if errors:
        raise _fail(errors)
    before = team_snapshot(team)
    changed = {k: v for k, v in wanted.items() if before[k] != v}
    if not changed:
        return team
    with transaction.atomic():
        if "slug" in changed:
            _slug_free(team.org, changed["slug"], team)
        for field, value in changed.items():
            setattr(team, field, value)
        _saved(team)
        _event(
            team,
            actor,
            OrgAction.TEAM_UPDATED,
            before={k: before[k] for k in changed},
            after=changed,
        )
    return team


def team_delete(*, team: Team, actor: Actor) -> None:
    """Delete a team: its KPIs and objectives stay, without a team (the event lists the
    KPIs); members whose default board it was see the org board again."""
    with transaction.atomic():
        kpi_ids = sorted(team.kpis.values_list("pk", flat=True))
        objective_ids = sorted(team.objectives.values_list("pk", flat=True))
        _event(
            team,
            actor,
            OrgAction.TEAM_DELETED,
            before={**team_snapshot(team), "kpi_ids": kpi_ids, "objective_ids": objective_ids},
        )
        # KPIs and objectives lose the team with a bumped updated_at, so live boards see it.
        team_deleting(org_id=team.org_id, team_id=team.pk)
        team.delete()


def member_default_board_set(*, membership: Membership, team: Team | None, actor: Actor) -> None:
    """Make ``team``'s board (None: the org board) the one ``membership`` lands on at ``/``."""
    if team is not None and team.org_id != membership.org_id:
        raise NotFound("team not found")
    if membership.default_team_id == (team.pk if team else None):
        return
    before = membership.default_team_id
    with transaction.atomic():
        membership.default_team = team
        membership.save(update_fields=["default_team"])
        audit_record(
            org_id=membership.org_id,
            actor=actor,
            action=OrgAction.MEMBER_BOARD_CHANGED,
            target_type="user",
            target_id=str(membership.user_id),
            target_label=membership.user.email,
            before={"default_team_id": before},
            after={"default_team_id": team.pk if team else None},
        )
