"""Writes of share links: create (the token returned once) and revoke, each audited.

Everything is checked before anything is written: ``name`` (1 to 100 characters),
``kpi_ids`` (KPIs of this org; refused ids are named), ``team_id`` (a team of
this org; a link shows either chosen KPIs or a team's, not both), ``expires_at``
(timezone-aware and in the future). Only the token's SHA-256 and a display
prefix are stored (``core/tokens.py``); the audit event never holds the token.
Who may call these (admins) is checked at the edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record_of
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import ValidationFailed
from pulseboard.core.tokens import mint_token
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Organization, Team
from pulseboard.sharing.models import ShareLink
from pulseboard.sharing.selectors import TOKEN_KIND, Chosen

MAX_NAME = 100
MAX_KPIS = 500
# How many refused ids an error names before it says "and N more".
NAMES_SHOWN = 5


def _named(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:NAMES_SHOWN])
    more = len(ids) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _name(raw: object, errors: dict[str, str]) -> str:
    if not isinstance(raw, str):
        errors["name"] = "name must be text"
        return ""
    name = raw.strip()
    if not name:
        errors["name"] = "name is required"
    elif len(name) > MAX_NAME:
        errors["name"] = f"name must be at most {MAX_NAME} characters"
    elif any(ord(c) < 32 for c in name):
        errors["name"] = "name must not contain control characters"
    return name


def _kpis(org: Organization, raw: object, errors: dict[str, str]) -> list[Kpi]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple) or not all(isinstance(i, str) for i in raw):
        errors["kpi_ids"] = "kpi_ids must be a list of KPI ids"
        return []
    ids = list(dict.fromkeys(raw))
    if not ids:
        errors["kpi_ids"] = "choose at least one KPI, or leave kpi_ids out to share every one"
        return []
    if len(ids) > MAX_KPIS:
        errors["kpi_ids"] = f"a link shows at most {MAX_KPIS} KPIs"
        return []
    wanted = [i for i in ids if is_object_id(i)]
    found = {k.pk: k for k in Kpi.objects.filter(org=org, pk__in=wanted)}
    unknown = [i for i in ids if i not in found]
    if unknown:
        errors["kpi_ids"] = f"no such KPI in this organization: {_named(unknown)}"
        return []
    return [found[i] for i in ids]


def _team(org: Organization, raw: object, errors: dict[str, str]) -> Team | None:
    if raw is None:
        return None
    team = None
    if isinstance(raw, str) and is_object_id(raw):
        team = Team.objects.filter(org=org, pk=raw).first()
    if team is None:
        errors["team_id"] = "no such team in this organization"
    return team


def _expiry(raw: object, now: datetime, errors: dict[str, str]) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, datetime) or raw.tzinfo is None or raw.utcoffset() is None:
        errors["expires_at"] = "expires_at must be a date-time with a time zone"
        return None
    if raw <= now:
        errors["expires_at"] = "expires_at must be in the future"
        return None
    return raw


def share_link_snapshot(link: ShareLink, kpi_ids: Sequence[str]) -> dict[str, Any]:
    """What the audit log keeps of a link: never its token."""
    return {
        "name": link.name,
        "prefix": link.prefix,
        "kpi_ids": list(kpi_ids) or None,
        "team_id": link.team_id,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
    }


def share_link_create(
    *,
    org: Organization,
    actor: Actor,
    name: object,
    kpi_ids: object = None,
    team_id: object = None,
    expires_at: object = None,
) -> tuple[ShareLink, str]:
    """Mint a share link; returns it and its token (``pbs_…``), which is never stored."""
    errors: dict[str, str] = {}
    now = clock.now()
    clean_name = _name(name, errors)
    kpis = _kpis(org, kpi_ids, errors)
    team = _team(org, team_id, errors)
    expiry = _expiry(expires_at, now, errors)
    if kpi_ids is not None and team_id is not None and "kpi_ids" not in errors:
        errors["team_id"] = "a link shows either chosen KPIs or a team's KPIs: send one of them"
    if errors:
        raise ValidationFailed("; ".join(f"{k}: {v}" for k, v in errors.items()), errors=errors)
    minted = mint_token(TOKEN_KIND)
    with transaction.atomic():
        link = ShareLink.objects.create(
            org=org,
            name=clean_name,
            prefix=minted.prefix,
            token_digest=minted.digest,
            team=team,
            created_by_id=actor.user_id,
            expires_at=expiry,
        )
        link.kpis.set(kpis)
        audit_record_of(
            link,
            "share_link",
            link.name,
            actor,
            Action.SHARE_LINK_CREATED,
            after=share_link_snapshot(link, [k.pk for k in kpis]),
        )
    return link, minted.plaintext


def share_link_revoke(*, link: ShareLink, actor: Actor, reason: str = "") -> ShareLink:
    """Revoke from the next request on; revoking a revoked link changes nothing."""
    if link.revoked_at is not None:
        return link
    with transaction.atomic():
        link.revoked_at = clock.now()
        link.save(update_fields=["revoked_at"])
        after: dict[str, Any] = {"revoked_at": link.revoked_at.isoformat()}
        if reason:
            after["reason"] = reason
        audit_record_of(
            link, "share_link", link.name, actor, Action.SHARE_LINK_REVOKED, after=after
        )
    return link


def share_links_revoke_emptied(*, kpi: Kpi) -> int:
    """Before a KPI is deleted: revoke active links that chose it and no other KPI.

    Such a link would otherwise have no chosen KPIs left, which reads as "every
    published KPI" (the default). Runs inside the KPI's deletion transaction.
    """
    linked = Chosen.objects.filter(kpi_id=kpi.pk).values("sharelink_id")
    candidates = ShareLink.objects.filter(pk__in=linked, revoked_at__isnull=True)
    emptied = [
        link
        for link in candidates
        if not Chosen.objects.filter(sharelink_id=link.pk).exclude(kpi_id=kpi.pk).exists()
    ]
    actor = Actor.system("KPI deleted")
    for link in emptied:
        share_link_revoke(link=link, actor=actor, reason=f"its only KPI “{kpi.title}” was deleted")
    return len(emptied)


def share_links_revoke_by_creator(*, org_id: int, user_id: int, actor: Actor, reason: str) -> int:
    """When ``user_id``'s admin power in ``org_id`` ends (demoted or removed): revoke every
    active link they created there, each audited with ``reason``, in the caller's
    transaction (registered with ``orgs/member_hooks.py`` by ``sharing/apps.py``).

    Expired links are revoked too: revoking is what the audit log and Settings → Share
    links show as the link's end. Returns how many were revoked.
    """
    links = ShareLink.objects.select_for_update().filter(
        org_id=org_id, created_by_id=user_id, revoked_at__isnull=True
    )
    revoked = list(links.order_by("created_at", "pk"))
    for link in revoked:
        share_link_revoke(link=link, actor=actor, reason=reason)
    return len(revoked)
