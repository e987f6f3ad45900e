"""The KPI model: definition (shape, parameters, units) plus its current value and status.

Field choices are derived from the vocabularies of the pure modules (``Shape``,
``Status``, ``UnitType``…), never retyped: the ``*Choice`` classes here are those
vocabularies in Django's form, with the same values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.core.models import OrgScopedModel
from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape
from pulseboard.indicators.spec import Category
from pulseboard.indicators.status import Status, StatusCause


def _text_choices(name: str, vocabulary: type[StrEnum]) -> Any:
    """Django choices for a vocabulary of the pure modules: its values, labels from its names.

    Built with Enum's functional form, so the type checker cannot list the members: the
    result is ``Any``, and code that names a member should name it in the vocabulary
    (``UnitType.NUMBER``), not here.
    """
    members = [(member.name, member.value) for member in vocabulary]
    functional: Any = models.TextChoices
    return functional(name, members)


ShapeChoice = _text_choices("ShapeChoice", Shape)
DirectionChoice = _text_choices("DirectionChoice", Direction)
BaselineModeChoice = _text_choices("BaselineModeChoice", BaselineMode)
UnitTypeChoice = _text_choices("UnitTypeChoice", UnitType)
DisplayFormatChoice = _text_choices("DisplayFormatChoice", DisplayFormat)
StatusChoice = _text_choices("StatusChoice", Status)
CategoryChoice = _text_choices("CategoryChoice", Category)


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
        max_length=20, choices=BaselineModeChoice.choices, default=BaselineMode.FIXED.value
    )
    baseline_period = models.CharField(max_length=10, blank=True)
    warn_at = models.FloatField(null=True, blank=True)
    warn_margin = models.FloatField(null=True, blank=True)

    unit_type = models.CharField(
        max_length=12, choices=UnitTypeChoice.choices, default=UnitType.NUMBER.value
    )
    unit_label = models.CharField(max_length=20, blank=True)
    display_format = models.CharField(
        max_length=12, choices=DisplayFormatChoice.choices, default=DisplayFormat.DECIMAL_1.value
    )

    current_value = models.FloatField(null=True, blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=StatusChoice.choices, default=Status.UNKNOWN.value
    )
    # When the current status began (the newest StatusChange's ``at``); None until the first.
    status_since = models.DateTimeField(null=True, blank=True)
    # The next moment status or staleness may change with no new value (rolling baseline,
    # expected_every running out, a scheduled target coming into force); the worker's
    # time-based pass picks KPIs whose moment has come. None: nothing time-based pending.
    reevaluate_at = models.DateTimeField(null=True, blank=True)
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
    team = models.ForeignKey(
        "orgs.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="kpis"
    )
    expected_every = models.CharField(max_length=10, blank=True)
    compare_period = models.CharField(max_length=10, default="7d")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["org", "published", "position"], name="kpi_org_home"),
            # Live pages: the newest change of an org's KPIs is one index lookup.
            models.Index(fields=["org", "updated_at"], name="kpi_org_changed"),
            models.Index(fields=["reevaluate_at"], name="kpi_reevaluate_due"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every saved change moves updated_at, also a save of a few fields (a value write
        # names only its own): live pages (web/live.py) read "has the board changed" from
        # the index kpi_org_changed (org, updated_at) alone.
        fields = kwargs.get("update_fields")
        if fields is not None and "updated_at" not in fields:
            kwargs["update_fields"] = [*fields, "updated_at"]
        super().save(*args, **kwargs)


class StatusChange(OrgScopedModel):
    """One transition of a KPI's status (DESIGN §12); kept for "red since …" and chart shading."""

    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=8, choices=StatusChoice.choices)
    to_status = models.CharField(max_length=8, choices=StatusChoice.choices)
    at = models.DateTimeField()
    cause = models.CharField(max_length=8, choices=[(c.value, c.value) for c in StatusCause])

    class Meta:
        indexes: ClassVar = [models.Index(fields=["kpi", "at"], name="status_change_kpi_at")]


class TargetEntry(OrgScopedModel):
    """Shape parameters scheduled to come into force at ``effective_from`` (DESIGN §13).

    The shape itself is not scheduled; only the parameters of the KPI's shape are set.
    """

    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="target_entries")
    effective_from = models.DateTimeField()
    threshold = models.FloatField(null=True, blank=True)
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    warn_at = models.FloatField(null=True, blank=True)
    warn_margin = models.FloatField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["kpi", "effective_from"], name="target_entry_unique_kpi_instant"
            )
        ]
