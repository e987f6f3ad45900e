"""The goal forms: cycles, objectives, key results and check-ins, turned into service data.

Forms check the shape of input only (a date is a date, a number is a finite number);
every rule (end on or after start, start ≠ target, ids of the same organization)
lives in ``goals/services.py``, whose field errors ``add_errors`` puts back on the
fields. Choices come from the goal vocabulary (``goals/progress.py``) and the KPI
units (``web/forms.py``), never retyped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django import forms

from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.goals.progress import KIND_LABELS, STAY_KINDS, KrKind
from pulseboard.goals.services import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE, MAX_TITLE
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Team
from pulseboard.web.forms import FORMAT_LABELS, UNIT_LABELS, PageForm, ValueForm

KIND_HELP = {
    KrKind.INCREASE_TO: "move a number up from its start to the target",
    KrKind.DECREASE_TO: "bring a number down from its start to the target",
    KrKind.STAY_ABOVE: "keep a number at or above the target all cycle",
    KrKind.STAY_BELOW: "keep a number at or below the target all cycle",
}


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _number_input() -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})


def _set_choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def member_choices(members: Iterable[Membership]) -> list[tuple[str, str]]:
    return [("", "No one"), *((str(m.user_id), m.user.display_name) for m in members)]


class CycleForm(PageForm):
    name = forms.CharField(
        max_length=MAX_NAME, widget=forms.TextInput(attrs={"placeholder": "e.g. Q1 2027"})
    )
    starts_on = forms.DateField(label="Starts on", widget=_date_input())
    ends_on = forms.DateField(
        label="Ends on (inclusive)",
        widget=_date_input(),
        help_text="Dates are in the organization's timezone; the last day counts in full.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if isinstance(starts_on, date) and isinstance(ends_on, date) and ends_on < starts_on:
            self.add_error("ends_on", "The end date is before the start date.")
        return cleaned

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"name": data["name"], "starts_on": data["starts_on"], "ends_on": data["ends_on"]}


def cycle_initial(cycle: Cycle) -> dict[str, Any]:
    return {"name": cycle.name, "starts_on": cycle.starts_on, "ends_on": cycle.ends_on}


class ObjectiveForm(PageForm):
    title = forms.CharField(
        max_length=MAX_TITLE,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Customers stay with us"}),
    )
    description = forms.CharField(
        required=False, max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 2})
    )
    cycle = forms.ChoiceField(choices=[])
    owner = forms.ChoiceField(required=False, choices=[("", "No one")])
    team = forms.ChoiceField(required=False, choices=[("", "No team")])

    def __init__(
        self,
        *args: Any,
        cycles: Iterable[Cycle] = (),
        members: Iterable[Membership] = (),
        teams: Iterable[Team] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "cycle", [(c.pk, c.name) for c in cycles])
        _set_choices(self, "owner", member_choices(members))
        _set_choices(self, "team", [("", "No team"), *((t.pk, t.name) for t in teams)])

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data.get("description") or "",
            "cycle_id": data["cycle"],
            "owner_id": data.get("owner") or None,
            "team_id": data.get("team") or None,
        }


def objective_initial(objective: Objective) -> dict[str, Any]:
    return {
        "title": objective.title,
        "description": objective.description,
        "cycle": objective.cycle_id,
        "owner": str(objective.owner_id or ""),
        "team": objective.team_id or "",
    }


class KeyResultForm(PageForm):
    objective = forms.ChoiceField(choices=[])
    title = forms.CharField(
        max_length=MAX_TITLE,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Retention from 85% to 92%"}),
    )
    kind = forms.ChoiceField(
        choices=[(kind.value, f"{KIND_LABELS[kind]}: {KIND_HELP[kind]}") for kind in KrKind]
    )
    kpi = forms.ChoiceField(
        required=False,
        label="Follows the KPI",
        choices=[("", "None: moved by check-ins")],
        help_text="Its value is then always the KPI's: wired once, at the source.",
    )
    start_value = forms.FloatField(
        required=False,
        label="Start value",
        widget=_number_input(),
        help_text="Where the number stands when the cycle begins (not used by the stay kinds).",
    )
    target_value = forms.FloatField(label="Target value", widget=_number_input())
    owner = forms.ChoiceField(
        required=False,
        choices=[("", "No one")],
        help_text="The owner may check in values, besides admins.",
    )
    weight = forms.FloatField(
        initial=1,
        min_value=0.001,
        max_value=1000,
        widget=_number_input(),
        help_text="How much it counts in the objective's progress (1 = like the others).",
    )
    unit_type = forms.ChoiceField(label="Unit", choices=list(UNIT_LABELS.items()))
    unit_label = forms.CharField(required=False, max_length=20, label="Unit label")
    display_format = forms.ChoiceField(label="Format", choices=list(FORMAT_LABELS.items()))

    def __init__(
        self,
        *args: Any,
        objectives: Iterable[Objective] = (),
        kpis: Iterable[Kpi] = (),
        members: Iterable[Membership] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "objective", [(o.pk, f"{o.title} ({o.cycle.name})") for o in objectives])
        _set_choices(
            self, "kpi", [("", "None: moved by check-ins"), *((k.pk, k.title) for k in kpis)]
        )
        _set_choices(self, "owner", member_choices(members))

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        kpi_id = data.get("kpi") or None
        out: dict[str, Any] = {
            "title": data["title"],
            "kind": kind,
            "start_value": None if kind in STAY_KINDS else data.get("start_value"),
            "target_value": data["target_value"],
            "kpi_id": kpi_id,
            "owner_id": data.get("owner") or None,
            "weight": data.get("weight") or 1,
        }
        if kpi_id is None:
            # A key result that follows a KPI borrows its units; its own stay as they were.
            out["unit_type"] = data["unit_type"]
            out["unit_label"] = data.get("unit_label") or ""
            out["display_format"] = data["display_format"]
        return out


def key_result_initial(key_result: KeyResult) -> dict[str, Any]:
    return {
        "objective": key_result.objective_id,
        "title": key_result.title,
        "kind": key_result.kind,
        "kpi": key_result.kpi_id or "",
        "start_value": key_result.start_value,
        "target_value": key_result.target_value,
        "owner": str(key_result.owner_id or ""),
        "weight": key_result.weight,
        "unit_type": key_result.unit_type,
        "unit_label": key_result.unit_label,
        "display_format": key_result.display_format,
    }


class CheckInForm(ValueForm):
    """A check-in: the value is read like an inline KPI value ("1,234.5", "12k", "99.9%")."""

    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE,
        label="Note (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What moved it?"}),
    )

    def __init__(self, *args: Any, unit_type: str, **kwargs: Any) -> None:
        super().__init__(*args, unit_type=unit_type, **kwargs)
        self.fields["value"].label = "New value"
