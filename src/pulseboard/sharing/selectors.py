"""Reads of share links: the admin's list, one link of an org, and a token's link and KPIs.

``share_link_resolve`` is the only way from a token to a link: a token that could
not have been minted here (wrong prefix, wrong length, other bytes) is None with
no query; any other is one query on the unique digest index, answered None for
unknown, revoked and expired links alike, so the share views give one 404 for all.

What a link shows is decided at each request: chosen KPIs (while they stay
published), else the team's published KPIs, else every published KPI of the org.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse

from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import NotFound
from pulseboard.core.tokens import hash_token
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Organization, Team
from pulseboard.sharing.models import ShareLink

TOKEN_KIND: Final = "pbs"
# mint_token: the kind, "_", then secrets.token_urlsafe(32) (43 url-safe characters).
TOKEN_PATTERN: Final = re.compile(r"^pbs_[A-Za-z0-9_-]{43}$")
# Through-table rows of the link ↔ KPI choice (the relation has no reverse name on Kpi).
Chosen = ShareLink.kpis.through


def share_link_list(*, org: Organization) -> QuerySet[ShareLink]:
    """Every link of the org, newest first, with its chosen KPIs and its team."""
    return (
        ShareLink.objects.filter(org=org)
        .select_related("team", "created_by")
        .prefetch_related("kpis")
        .order_by("-created_at", "pk")
    )


def share_link_get(*, org: Organization, link_id: str) -> ShareLink:
    link = None
    if isinstance(link_id, str) and is_object_id(link_id):
        link = share_link_list(org=org).filter(pk=link_id).first()
    if link is None:
        raise NotFound("share link not found")
    return link


def share_link_choices(*, org: Organization) -> tuple[list[Kpi], list[Team]]:
    """What a link may show: the org's KPIs (drafts too, shown once published) and teams."""
    kpis = list(Kpi.objects.filter(org=org).order_by("-published", "position", "created_at"))
    return kpis, list(Team.objects.filter(org=org).order_by("name"))


def share_link_is_active(link: ShareLink, *, now: datetime) -> bool:
    return link.revoked_at is None and (link.expires_at is None or link.expires_at > now)


def share_link_resolve(*, token: object, now: datetime, stamp: bool = False) -> ShareLink | None:
    """The active link of this token, or None (unknown, revoked, expired or not a token).

    With ``stamp``, the same one query also reads the board's change stamp (count and
    newest ``updated_at`` of the org's KPIs, from the ``kpi_org_changed`` index), so an
    unchanged poll of a share board costs this query alone (``share_link_stamp``).
    """
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        return None
    links = (
        ShareLink.objects.filter(token_digest=hash_token(token), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("org")
    )
    if stamp:
        kpis = Kpi.objects.filter(org_id=OuterRef("org_id")).order_by().values("org_id")
        links = links.annotate(
            kpi_n=Subquery(kpis.annotate(n=Count("pk")).values("n")[:1]),
            kpi_changed=Subquery(kpis.annotate(m=Max("updated_at")).values("m")[:1]),
        )
    return links.first()


def share_link_stamp(link: ShareLink) -> tuple[object, ...]:
    """What a share board depends on besides the clock (read by ``share_link_resolve``)."""
    changed = getattr(link, "kpi_changed", None)
    return (
        link.pk,
        getattr(link, "kpi_n", None),
        changed.isoformat() if isinstance(changed, datetime) else changed,
        link.org.locale,
        link.org.timezone,
        link.org.name,
    )


def _shown(link: ShareLink) -> QuerySet[Kpi]:
    kpis = Kpi.objects.filter(org_id=link.org_id, published=True)
    if link.team_id is not None:
        return kpis.filter(team_id=link.team_id)
    chosen = Chosen.objects.filter(sharelink_id=link.pk)
    # No chosen KPIs and no team: every published KPI (in the same one query). A link
    # whose chosen KPIs were all deleted is revoked at that moment (sharing/apps.py),
    # so it never widens to every KPI here.
    return kpis.filter(Q(pk__in=chosen.values("kpi_id")) | ~Exists(chosen))


def share_link_kpis(*, link: ShareLink) -> list[Kpi]:
    """The KPIs the link shows now, in Home order."""
    return list(_shown(link).select_related("source").order_by("position", "created_at"))


def share_link_kpi(*, link: ShareLink, kpi_id: str) -> Kpi | None:
    """One KPI the link shows now, or None (not in the link, a draft, another org's, no id)."""
    if not isinstance(kpi_id, str) or not is_object_id(kpi_id):
        return None
    return _shown(link).filter(pk=kpi_id).select_related("source").first()


def share_url(token: str) -> str:
    """The public address of a link's board (``PULSEBOARD_BASE_URL`` + ``/s/<token>/``)."""
    base = str(settings.PULSEBOARD["BASE_URL"]).rstrip("/")
    return base + reverse("web:share-board", kwargs={"token": token})
