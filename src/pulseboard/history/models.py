"""History rows: one per recorded value, with the status it had when written."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

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
