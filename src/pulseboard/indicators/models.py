"""The KPI model: definition (shape, parameters, units) plus its current value and status."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.core.models import OrgScopedModel


class ShapeChoice(models.TextChoices):
    STAY_ABOVE = "stay_above"
    STAY_BELOW = "stay_below"
    STAY_BETWEEN = "stay_between"
    TREND = "trend"


class DirectionChoice(models.TextChoices):
    UP = "up"
    DOWN = "down"


class BaselineModeChoice(models.TextChoices):
    FIXED = "fixed"
    PRIOR_PERIOD = "prior_period"


class UnitTypeChoice(models.TextChoices):
    NUMBER = "number"
    CURRENCY = "currency"
    PERCENTAGE = "percentage"
    TIME = "time"
    BOOLEAN = "boolean"


class DisplayFormatChoice(models.TextChoices):
    INTEGER = "integer"
    DECIMAL_1 = "decimal_1"
    DECIMAL_2 = "decimal_2"
    PERCENTAGE = "percentage"


class StatusChoice(models.TextChoices):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"


class CategoryChoice(models.TextChoices):
    LEADING = "leading"
    LAGGING = "lagging"


class Kpi(OrgScopedModel):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)

    shape = models.CharField(max_length=20, choices=ShapeChoice.choices)
    threshold = models.FloatField(null=True, blank=True)
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)
    direction = models.CharField(max_length=4, choices=DirectionChoice.choices, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    baseline_mode = models.CharField(
        max_length=20, choices=BaselineModeChoice.choices, default=BaselineModeChoice.FIXED
    )
    baseline_period = models.CharField(max_length=10, blank=True)
    warn_at = models.FloatField(null=True, blank=True)
    warn_margin = models.FloatField(null=True, blank=True)

    unit_type = models.CharField(
        max_length=12, choices=UnitTypeChoice.choices, default=UnitTypeChoice.NUMBER
    )
    unit_label = models.CharField(max_length=20, blank=True)
    display_format = models.CharField(
        max_length=12, choices=DisplayFormatChoice.choices, default=DisplayFormatChoice.DECIMAL_1
    )

    current_value = models.FloatField(null=True, blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=StatusChoice.choices, default=StatusChoice.UNKNOWN
    )
    # Per-day rollup for sparklines (see indicators/sparkline.py), kept by value writes.
    sparkline = models.JSONField(default=dict, blank=True)

    position = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=False)
    category = models.CharField(max_length=8, choices=CategoryChoice.choices, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="drivers"
    )
    owner = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expected_every = models.CharField(max_length=10, blank=True)
    compare_period = models.CharField(max_length=10, default="7d")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["org", "published", "position"], name="kpi_org_home"),
        ]

    def __str__(self) -> str:
        return self.title
