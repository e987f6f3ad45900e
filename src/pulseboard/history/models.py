"""History rows: one per recorded value, with the status it had when written."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from pulseboard.core.models import OrgScopedModel


class ValueSource(models.TextChoices):
    MANUAL = "manual"
    API = "api"
    WEBHOOK = "webhook"
    HTTPS_GET = "https_get"
    SHEETS = "sheets"
    DEMO = "demo"


class KpiHistory(OrgScopedModel):
    kpi = models.ForeignKey("indicators.Kpi", on_delete=models.CASCADE, related_name="history")
    value = models.FloatField()
    observed_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    status = models.CharField(max_length=8)
    source = models.CharField(max_length=10, choices=ValueSource.choices)

    class Meta:
        db_table = "kpi_history"
        indexes: ClassVar = [
            models.Index(fields=["kpi", "observed_at"], name="history_kpi_observed"),
        ]
