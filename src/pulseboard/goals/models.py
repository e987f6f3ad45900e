"""Cycles, objectives, key results and check-ins (DESIGN §11).

A key result either follows a KPI (``kpi`` set: its value is the KPI's, read at
read time, so nothing below goals ever writes here) or is moved by check-ins
(its newest check-in's value is kept on the row, written in the same
transaction as the check-in). ``Key result → KPI`` is ``PROTECT``: a KPI that
key results follow cannot be deleted until they are unlinked or deleted, and
the delete is refused with their names (the entry points map Django's
``ProtectedError``), so ``indicators`` need not know goals exist.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from pulseboard.core.ids import new_id
from pulseboard.core.models import OrgScopedModel
from pulseboard.goals.progress import KIND_LABELS, KrKind
from pulseboard.indicators.models import DisplayFormatChoice, UnitTypeChoice

KIND_CHOICES = [(kind.value, KIND_LABELS[kind]) for kind in KrKind]


class Cycle(OrgScopedModel):
    """A period goals are set for; dates are in the org's timezone, the end inclusive."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    name = models.CharField(max_length=120)
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["org", "starts_on"], name="cycle_org_start")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(starts_on__lte=models.F("ends_on")),
                name="cycle_starts_before_it_ends",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Objective(OrgScopedModel):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    # PROTECT: a cycle with objectives is not deleted under them (the service says so).
    cycle = models.ForeignKey(Cycle, on_delete=models.PROTECT, related_name="objectives")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    owner = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "orgs.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="objectives"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["org", "cycle"], name="objective_org_cycle")]

    def __str__(self) -> str:
        return self.title


class KeyResult(OrgScopedModel):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="key_results")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=KIND_CHOICES)
    start_value = models.FloatField(null=True, blank=True)  # unused by the stay kinds
    target_value = models.FloatField()
    kpi = models.ForeignKey(
        "indicators.Kpi",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="key_results",
    )
    owner = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    weight = models.FloatField(default=1.0)
    # Own units of a manual key result; one that follows a KPI borrows the KPI's.
    unit_type = models.CharField(
        max_length=12, choices=UnitTypeChoice.choices, default=UnitTypeChoice.NUMBER
    )
    unit_label = models.CharField(max_length=20, blank=True)
    display_format = models.CharField(
        max_length=12, choices=DisplayFormatChoice.choices, default=DisplayFormatChoice.DECIMAL_1
    )
    # The newest check-in of a manual key result (kept by check_in_record).
    current_value = models.FloatField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["org", "objective"], name="key_result_org_objective"),
            models.Index(fields=["org", "kpi"], name="key_result_org_kpi"),
        ]

    def __str__(self) -> str:
        return f"key result “{self.title}”"


class CheckIn(OrgScopedModel):
    """A value reported for a manual key result, with an optional note."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="check_ins")
    value = models.FloatField()
    note = models.TextField(blank=True, max_length=1000)
    author = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["key_result", "created_at"], name="check_in_key_result_time")
        ]

    def __str__(self) -> str:
        return f"{self.value} on {self.key_result_id}"
