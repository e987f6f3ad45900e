"""Base model for everything that belongs to one organization."""

from __future__ import annotations

from django.db import models


class OrgScopedModel(models.Model):
    """Carries the owning organization; selectors always filter on it first."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True
