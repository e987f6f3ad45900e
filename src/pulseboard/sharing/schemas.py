"""API shapes of share links (DESIGN §12): what a create takes, and a link as it reads back.

The token (``pbs_…``) appears in one answer only, the create's; a listed link
shows its display ``prefix`` and never its URL, which cannot be rebuilt from the
stored hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from pulseboard.core.api_input import ApiDatetime
from pulseboard.sharing.models import ShareLink
from pulseboard.sharing.selectors import share_link_is_active
from pulseboard.sharing.services import MAX_KPIS, MAX_NAME

ObjectId = Annotated[str, Field(max_length=32)]


class ShareLinkIn(Schema):
    """A new link: without ``kpi_ids`` or ``team_id`` it shows every published KPI."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["Lobby screen"])
    kpi_ids: list[ObjectId] | None = Field(
        default=None,
        max_length=MAX_KPIS,
        description="KPIs of this organization to show (while published); default: every one",
    )
    team_id: ObjectId | None = Field(
        default=None, description="show the published KPIs of this team instead"
    )
    expires_at: ApiDatetime | None = Field(
        default=None, description="in the future, with a zone offset; default: never"
    )


class ShareLinkOut(Schema):
    id: str
    name: str
    prefix: str = Field(description="the first characters of the token, to recognise it")
    kpi_ids: list[str] | None = Field(description="the chosen KPIs; null: every published KPI")
    team_id: str | None
    created_at: datetime
    created_by: str | None = Field(description="e-mail of the member who created it, if any")
    expires_at: datetime | None
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"]

    @classmethod
    def from_link(cls, link: ShareLink, *, now: datetime) -> ShareLinkOut:
        kpi_ids = sorted(k.pk for k in link.kpis.all())
        if link.revoked_at is not None:
            state: Literal["active", "expired", "revoked"] = "revoked"
        else:
            state = "active" if share_link_is_active(link, now=now) else "expired"
        return cls(
            id=link.pk,
            name=link.name,
            prefix=link.prefix,
            kpi_ids=kpi_ids or None,
            team_id=link.team_id,
            created_at=link.created_at,
            created_by=link.created_by.email if link.created_by else None,
            expires_at=link.expires_at,
            revoked_at=link.revoked_at,
            state=state,
        )


class ShareLinkCreatedOut(ShareLinkOut):
    url: str = Field(description="the board's public address; holds the token")
    token: str = Field(description="the secret (pbs_…): shown this once, store it now")
