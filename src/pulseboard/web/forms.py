"""The web forms: what a page accepts, turned into the plain data the services take.

Forms only parse and check the shape of input; every business rule (shape
parameters, last admin, single-use invites) lives in the services, whose
``ValidationFailed`` errors are put back on the form's fields by ``add_errors``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django import forms

from pulseboard.audit.actions import Action
from pulseboard.core.errors import DomainError
from pulseboard.indicators.models import (
    BaselineModeChoice,
    CategoryChoice,
    DirectionChoice,
    DisplayFormatChoice,
    Kpi,
    ShapeChoice,
    UnitTypeChoice,
)
from pulseboard.orgs.roles import Role, TokenScope

SHAPE_LABELS = {
    ShapeChoice.STAY_ABOVE: "Stay above a floor",
    ShapeChoice.STAY_BELOW: "Stay below a ceiling",
    ShapeChoice.STAY_BETWEEN: "Stay between two bounds",
    ShapeChoice.TREND: "Trend up or down",
}
UNIT_LABELS = {
    UnitTypeChoice.NUMBER: "Number",
    UnitTypeChoice.CURRENCY: "Currency",
    UnitTypeChoice.PERCENTAGE: "Percentage",
    UnitTypeChoice.TIME: "Time",
    UnitTypeChoice.BOOLEAN: "Yes / No",
}
FORMAT_LABELS = {
    DisplayFormatChoice.INTEGER: "Whole number (1,234)",
    DisplayFormatChoice.DECIMAL_1: "One decimal (1,234.5)",
    DisplayFormatChoice.DECIMAL_2: "Two decimals (1,234.56)",
    DisplayFormatChoice.PERCENTAGE: "Percent, up to 2 decimals (99.94%)",
}
# Which shape parameters each shape uses; the form drops the others so a value left
# in a hidden field of another shape never reaches the service.
SHAPE_PARAMS: dict[str, tuple[str, ...]] = {
    ShapeChoice.STAY_ABOVE: ("threshold", "warn_at"),
    ShapeChoice.STAY_BELOW: ("threshold", "warn_at"),
    ShapeChoice.STAY_BETWEEN: ("lower", "upper", "warn_margin"),
    ShapeChoice.TREND: ("direction", "baseline_mode", "baseline", "baseline_period", "warn_margin"),
}
PARAM_FIELDS = (
    "threshold",
    "warn_at",
    "lower",
    "upper",
    "warn_margin",
    "direction",
    "baseline_mode",
    "baseline",
    "baseline_period",
)
TEXT_PARAMS = {"direction": "", "baseline_period": "", "baseline_mode": "fixed"}
# Service error keys that name a differently called form field.
FIELD_ALIASES = {"parent_id": "parent"}
MAX_VALUE_TEXT = 64
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_BOOLEAN_WORDS = {"yes": 1.0, "true": 1.0, "on": 1.0, "no": 0.0, "false": 0.0, "off": 0.0}


def _number_input() -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})


def add_errors(form: forms.Form, error: DomainError) -> None:
    """Put a service's field errors on the form's fields (unknown fields: on the form)."""
    placed = False
    for key, message in error.errors.items():
        name = FIELD_ALIASES.get(key, key)
        if name in form.fields:
            form.add_error(name, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


class PageForm(forms.Form):
    """A form whose labels read "Title", not Django's default "Title:"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class KpiForm(PageForm):
    title = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. NPS above 35"}),
    )
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    shape = forms.ChoiceField(choices=list(SHAPE_LABELS.items()))
    threshold = forms.FloatField(required=False, widget=_number_input())
    warn_at = forms.FloatField(
        required=False,
        widget=_number_input(),
        label="Warning at",
        help_text="Optional: between this and the threshold the status is yellow (at risk).",
    )
    lower = forms.FloatField(required=False, widget=_number_input())
    upper = forms.FloatField(required=False, widget=_number_input())
    warn_margin = forms.FloatField(
        required=False,
        widget=_number_input(),
        label="Warning margin",
        help_text="Optional: this close to a bound or the baseline, still on the good side, "
        "is yellow.",
    )
    direction = forms.ChoiceField(required=False, choices=DirectionChoice.choices)
    baseline_mode = forms.ChoiceField(
        required=False,
        label="Compared with",
        choices=[
            (BaselineModeChoice.FIXED, "A fixed baseline"),
            (BaselineModeChoice.PRIOR_PERIOD, "Its own value a period ago"),
        ],
    )
    baseline = forms.FloatField(required=False, widget=_number_input())
    baseline_period = forms.CharField(
        required=False,
        max_length=10,
        label="Period",
        widget=forms.TextInput(attrs={"placeholder": "30d"}),
    )
    unit_type = forms.ChoiceField(label="Unit", choices=list(UNIT_LABELS.items()))
    unit_label = forms.CharField(
        required=False,
        max_length=20,
        label="Unit label",
        help_text="Currency code (USD, EUR), time unit (ms, s, min, h, d) or any label.",
        widget=forms.TextInput(attrs={"list": "unit-labels", "autocomplete": "off"}),
    )
    display_format = forms.ChoiceField(label="Format", choices=list(FORMAT_LABELS.items()))
    category = forms.ChoiceField(required=False, choices=[("", "None"), *CategoryChoice.choices])
    parent = forms.ChoiceField(required=False, label="Drives (parent KPI)", choices=[("", "—")])
    expected_every = forms.CharField(
        required=False,
        max_length=10,
        label="Expected every",
        help_text="Optional: older than this, the value is marked stale (e.g. 1h, 1d).",
        widget=forms.TextInput(attrs={"placeholder": "1d"}),
    )
    compare_period = forms.CharField(
        max_length=10,
        initial="7d",
        label="Compare with",
        help_text="Change is shown against the value this long ago.",
    )
    published = forms.BooleanField(required=False, label="Published on Home")

    def __init__(self, *args: Any, parents: Iterable[Kpi] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent_field = self.fields["parent"]
        assert isinstance(parent_field, forms.ChoiceField)
        parent_field.choices = [("", "—"), *((k.pk, k.title) for k in parents)]

    def service_data(self) -> dict[str, Any]:
        """The writable KPI fields for ``kpi_create`` / ``kpi_update``."""
        data = self.cleaned_data
        shape = data["shape"]
        used = set(SHAPE_PARAMS.get(shape, ()))
        if data.get("baseline_mode") == BaselineModeChoice.PRIOR_PERIOD:
            used.discard("baseline")
        else:
            used.discard("baseline_period")
        out: dict[str, Any] = {
            "title": data["title"],
            "description": data.get("description") or "",
            "shape": shape,
            "unit_type": data["unit_type"],
            "unit_label": data.get("unit_label") or "",
            "display_format": data["display_format"],
            "category": data.get("category") or "",
            "parent_id": data.get("parent") or None,
            "expected_every": data.get("expected_every") or "",
            "compare_period": data.get("compare_period") or "7d",
            "published": bool(data.get("published")),
        }
        for name in PARAM_FIELDS:
            if name in used:
                value = data.get(name)
                out[name] = (
                    TEXT_PARAMS[name] if value in (None, "") and name in TEXT_PARAMS else value
                )
            else:
                out[name] = TEXT_PARAMS.get(name)
        return out


def kpi_initial(kpi: Kpi) -> dict[str, Any]:
    """A stored KPI as the form's initial data."""
    initial: dict[str, Any] = {
        name: getattr(kpi, name)
        for name in (
            "title",
            "description",
            "shape",
            *PARAM_FIELDS,
            "unit_type",
            "unit_label",
            "display_format",
            "category",
            "expected_every",
            "compare_period",
            "published",
        )
    }
    initial["parent"] = kpi.parent_id or ""
    return initial


def parse_value_text(text: str, *, unit_type: str) -> float:
    """A typed value as a float; "1,234.5" and, for yes/no KPIs, "yes"/"no" are understood.

    Raises ``ValueError`` with a message to show next to the field.
    """
    raw = (text or "").strip().replace("\u2212", "-")
    if not raw:
        raise ValueError("Enter a value.")
    if len(raw) > MAX_VALUE_TEXT:
        raise ValueError("That is too long to be a number.")
    if unit_type == UnitTypeChoice.BOOLEAN and raw.lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[raw.lower()]
    if _GROUPED.fullmatch(raw):
        raw = raw.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"“{raw[:20]}” is not a number: use digits and a decimal point, e.g. 1234.5."
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("Enter a finite number.")
    return value


class ValueForm(PageForm):
    value = forms.CharField(max_length=MAX_VALUE_TEXT, required=False)

    def __init__(self, *args: Any, unit_type: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unit_type = unit_type

    def clean_value(self) -> float:
        try:
            return parse_value_text(self.cleaned_data.get("value") or "", unit_type=self.unit_type)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class InviteForm(PageForm):
    email = forms.EmailField(
        required=False,
        label="E-mail (optional)",
        help_text="When given, only an account with this address can use the link.",
    )
    role = forms.ChoiceField(choices=[(Role.MEMBER, "Member"), (Role.ADMIN, "Admin")])


class JoinForm(PageForm):
    """A new account created from an invite link."""

    email = forms.EmailField(label="E-mail")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )


class RoleForm(PageForm):
    role = forms.ChoiceField(choices=[(Role.MEMBER, "Member"), (Role.ADMIN, "Admin")])


class TokenForm(PageForm):
    name = forms.CharField(max_length=100, help_text="Where the token is used, e.g. “CI deploys”.")
    scope = forms.ChoiceField(
        choices=[(TokenScope.READ, "Read only"), (TokenScope.ADMIN, "Admin (read and write)")]
    )


class OrgSwitchForm(PageForm):
    org_id = forms.IntegerField()


class OrgForm(PageForm):
    """Settings → Organization; ``orgs.services.org_update`` checks locale and time zone."""

    name = forms.CharField(max_length=120)
    locale = forms.CharField(
        max_length=64,
        help_text="How numbers, money and percentages are written, e.g. en_US, de_DE, fr_CH.",
        widget=forms.TextInput({"list": "locale-options", "autocomplete": "off"}),
    )
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="Every date and time on these pages is shown in it, e.g. Europe/Berlin.",
        widget=forms.TextInput({"list": "timezone-options", "autocomplete": "off"}),
    )


class AuditFilterForm(PageForm):
    kpi = forms.ChoiceField(required=False, label="KPI", choices=[("", "All KPIs")])
    actor = forms.CharField(required=False, max_length=200, label="Actor")
    action = forms.ChoiceField(
        required=False, choices=[("", "All actions"), *((a.value, a.value) for a in Action)]
    )
    since = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput({"type": "date"})
    )

    def __init__(self, *args: Any, kpis: Iterable[Kpi] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kpi_field = self.fields["kpi"]
        assert isinstance(kpi_field, forms.ChoiceField)
        kpi_field.choices = [("", "All KPIs"), *((k.pk, k.title) for k in kpis)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if isinstance(since, date) and isinstance(until, date) and until < since:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


def preview_number(data: Mapping[str, Any], name: str) -> float | None:
    """A number from a half-filled form for the live preview; anything else is None."""
    raw = data.get(name)
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return parse_value_text(raw, unit_type=UnitTypeChoice.NUMBER)
    except ValueError:
        return None
