"""History rows: one per recorded value, with the status it had when written."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.core.models import OrgScopedModel


class ValueSource(models.TextChoices):
    """Where a value came from when no connector brought it.

    A value a connector brought (typed in, pushed, pulled) is named by the connector's
    kind (``connectors/registry.py``), so a new kind adds no name here.
    """

    API = "api"
    DEMO = "demo"


class KpiHistory(OrgScopedModel):
    kpi = models.ForeignKey("indicators.Kpi", on_delete=models.CASCADE, related_name="history")
    value = models.FloatField()
    observed_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    status = models.CharField(max_length=8)
    # A ValueSource or a connector kind (32 characters, like Source.kind).
    source = models.CharField(max_length=32)

    class Meta:
        db_table = "kpi_history"
        indexes: ClassVar = [
            models.Index(fields=["kpi", "observed_at"], name="history_kpi_observed"),
        ]


class Annotation(OrgScopedModel):
    """A member's note on a KPI at a moment: why the number moved (DESIGN §13)."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    kpi = models.ForeignKey("indicators.Kpi", on_delete=models.CASCADE, related_name="annotations")
    at = models.DateTimeField()
    text = models.CharField(max_length=500)
    author = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["kpi", "at"], name="annotation_kpi_at")]
