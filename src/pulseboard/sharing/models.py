"""A share link: a secret URL showing chosen KPIs to anyone who holds it (DESIGN §12)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.core.models import OrgScopedModel


class ShareLink(OrgScopedModel):
    """Only the token's hash is stored; the token (``pbs_…``) is shown once, at creation.

    With no KPIs chosen and no team, the link shows every published KPI of the org as it
    is at each request; with a team, that team's published KPIs; else exactly ``kpis``
    (while they stay published).
    """

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_digest = models.CharField(max_length=64, unique=True)
    kpis = models.ManyToManyField("indicators.Kpi", blank=True, related_name="+")
    team = models.ForeignKey(
        "orgs.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["org", "created_at"], name="share_link_org")]

    def __str__(self) -> str:
        return self.name
