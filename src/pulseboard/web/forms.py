"""The web forms: what a page accepts, turned into the plain data the services take.

Forms only parse and check the shape of input; every business rule (shape
parameters, last admin, single-use invites) lives in the services, whose
``ValidationFailed`` errors are put back on the form's fields by ``add_errors``.
The KPI form builds the same ``KpiSpec`` the API does; its choices come from the
vocabularies of ``indicators`` and its per-shape fields from ``SHAPE_PARAMS``.
A typed value goes through ``indicators.numbers``, the parser pulled values use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from django import forms

from pulseboard.audit.actions import Action
from pulseboard.core.errors import DomainError
from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.numbers import NumberTextError, NumberTextReason, parse_number_text
from pulseboard.indicators.shapes import (
    PARAM_NAMES,
    SHAPE_PARAMS,
    BaselineMode,
    Direction,
    Shape,
    params_of,
)
from pulseboard.indicators.spec import (
    DEFAULT_COMPARE_PERIOD,
    MAX_DESCRIPTION,
    MAX_DURATION_TEXT,
    MAX_TITLE,
    MAX_UNIT_LABEL,
    Category,
    KpiSpec,
)
from pulseboard.orgs.actions import OrgAction
from pulseboard.orgs.models import Organization
from pulseboard.orgs.roles import Role, TokenScope
from pulseboard.orgs.selectors import membership_list
from pulseboard.orgs.teams import team_list

# What each vocabulary member reads as on a page. The choices below iterate the
# vocabularies themselves, so a member without a label fails at import, not in a form.
SHAPE_LABELS = {
    Shape.STAY_ABOVE: "Stay above a floor",
    Shape.STAY_BELOW: "Stay below a ceiling",
    Shape.STAY_BETWEEN: "Stay between two bounds",
    Shape.TREND: "Trend up or down",
}
UNIT_LABELS = {
    UnitType.NUMBER: "Number",
    UnitType.CURRENCY: "Currency",
    UnitType.PERCENTAGE: "Percentage",
    UnitType.TIME: "Time",
    UnitType.BOOLEAN: "Yes / No",
}
FORMAT_LABELS = {
    DisplayFormat.INTEGER: "Whole number (1,234)",
    DisplayFormat.DECIMAL_1: "One decimal (1,234.5)",
    DisplayFormat.DECIMAL_2: "Two decimals (1,234.56)",
    DisplayFormat.PERCENTAGE: "Percent, up to 2 decimals (99.94%)",
}
DIRECTION_LABELS = {Direction.UP: "Up", Direction.DOWN: "Down"}
BASELINE_MODE_LABELS = {
    BaselineMode.FIXED: "A fixed baseline",
    BaselineMode.PRIOR_PERIOD: "Its own value a period ago",
}
CATEGORY_LABELS = {Category.LEADING: "Leading", Category.LAGGING: "Lagging"}
# Service error keys that name a differently called form field.
FIELD_ALIASES = {"parent_id": "parent", "owner_id": "owner", "team_id": "team"}
MAX_VALUE_TEXT = 64
_VALUE_MESSAGES = {
    NumberTextReason.EMPTY: "Enter a value.",
    NumberTextReason.TOO_LONG: "That is too long to be a number.",
    NumberTextReason.NOT_A_NUMBER: "“{text}” is not a number: use digits and a decimal point, "
    "e.g. 1234.5, 99.9% or 12k.",
    NumberTextReason.OUT_OF_RANGE: "Enter a finite number: “{text}” is out of range.",
}


def choices_of(vocabulary: type[StrEnum], labels: Mapping[Any, str]) -> list[tuple[str, str]]:
    """Form choices for a vocabulary, in its order, each with its label."""
    return [(member.value, labels[member]) for member in vocabulary]


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


@dataclass(frozen=True)
class ParamRow:
    """One shape parameter field of the KPI form, with the shapes (and baseline modes) it
    belongs to: the form template's per-shape map, read from ``SHAPE_PARAMS``."""

    field: forms.BoundField
    shapes: str
    modes: str
    hidden: bool


class KpiForm(PageForm):
    title = forms.CharField(
        max_length=MAX_TITLE,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. NPS above 35"}),
    )
    description = forms.CharField(
        required=False, max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 2})
    )
    shape = forms.ChoiceField(choices=choices_of(Shape, SHAPE_LABELS))
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
    direction = forms.ChoiceField(required=False, choices=choices_of(Direction, DIRECTION_LABELS))
    baseline_mode = forms.ChoiceField(
        required=False,
        label="Compared with",
        choices=choices_of(BaselineMode, BASELINE_MODE_LABELS),
    )
    baseline = forms.FloatField(required=False, widget=_number_input())
    baseline_period = forms.CharField(
        required=False,
        max_length=MAX_DURATION_TEXT,
        label="Period",
        widget=forms.TextInput(attrs={"placeholder": "30d"}),
    )
    unit_type = forms.ChoiceField(label="Unit", choices=choices_of(UnitType, UNIT_LABELS))
    unit_label = forms.CharField(
        required=False,
        max_length=MAX_UNIT_LABEL,
        label="Unit label",
        help_text="Currency code (USD, EUR), time unit (ms, s, min, h, d) or any label.",
        widget=forms.TextInput(attrs={"list": "unit-labels", "autocomplete": "off"}),
    )
    display_format = forms.ChoiceField(
        label="Format", choices=choices_of(DisplayFormat, FORMAT_LABELS)
    )
    category = forms.ChoiceField(
        required=False, choices=[("", "None"), *choices_of(Category, CATEGORY_LABELS)]
    )
    parent = forms.ChoiceField(required=False, label="Drives (parent KPI)", choices=[("", "—")])
    expected_every = forms.CharField(
        required=False,
        max_length=MAX_DURATION_TEXT,
        label="Expected every",
        help_text="Optional: older than this, the value is marked stale (e.g. 1h, 1d).",
        widget=forms.TextInput(attrs={"placeholder": "1d"}),
    )
    compare_period = forms.CharField(
        max_length=MAX_DURATION_TEXT,
        initial=DEFAULT_COMPARE_PERIOD,
        label="Compare with",
        help_text="Change is shown against the value this long ago.",
    )
    published = forms.BooleanField(required=False, label="Published on Home")
    owner = forms.ChoiceField(
        required=False,
        choices=[("", "No one")],
        help_text="The member who answers for this number (DESIGN §13).",
    )
    team = forms.ChoiceField(
        required=False,
        choices=[("", "No team")],
        help_text="Its team's board shows it too; the org board shows every KPI.",
    )

    def __init__(
        self,
        *args: Any,
        parents: Iterable[Kpi] = (),
        org: Organization | None = None,
        **kwargs: Any,
    ) -> None:
        """``org``: the owner and team choices are its members and teams (two queries)."""
        super().__init__(*args, **kwargs)
        parent_field = self.fields["parent"]
        assert isinstance(parent_field, forms.ChoiceField)
        parent_field.choices = [("", "—"), *((k.pk, k.title) for k in parents)]
        if org is not None:
            owner_field, team_field = self.fields["owner"], self.fields["team"]
            assert isinstance(owner_field, forms.ChoiceField)
            assert isinstance(team_field, forms.ChoiceField)
            owner_field.choices = [
                ("", "No one"),
                *((str(m.user_id), m.user.display_name) for m in membership_list(org=org)),
            ]
            team_field.choices = [("", "No team"), *((t.pk, t.name) for t in team_list(org=org))]

    def spec(self) -> KpiSpec:
        """The definition for ``kpi_create`` / ``kpi_update``.

        Only the parameters of the chosen shape (and baseline mode) are sent: a value
        left in a hidden field of another shape never reaches the service.
        """
        data = self.cleaned_data
        shape = Shape(data["shape"])
        mode = BaselineMode(data.get("baseline_mode") or BaselineMode.FIXED)
        used = params_of(shape, mode)
        params: dict[str, Any] = {}
        for name in PARAM_NAMES:
            value = data.get(name) if name in used else None
            params[name] = None if value in (None, "") else value
        direction, category = params["direction"], data.get("category")
        return KpiSpec(
            **{
                **params,
                "direction": Direction(direction) if direction else None,
                "baseline_mode": mode if "baseline_mode" in used else BaselineMode.FIXED,
            },
            title=data["title"],
            description=data.get("description") or "",
            shape=shape,
            unit_type=UnitType(data["unit_type"]),
            unit_label=data.get("unit_label") or "",
            display_format=DisplayFormat(data["display_format"]),
            category=Category(category) if category else None,
            parent_id=data.get("parent") or None,
            expected_every=data.get("expected_every") or None,
            compare_period=data.get("compare_period") or DEFAULT_COMPARE_PERIOD,
            published=bool(data.get("published")),
            # The choice lists hold only the org's members and teams; the service checks again.
            owner_id=int(data["owner"]) if data.get("owner") else None,
            team_id=data.get("team") or None,
        )

    def param_rows(self, shape: str, baseline_mode: str) -> list[ParamRow]:
        """The shape parameter fields in layout order; those ``shape`` does not use are hidden
        (``pulseboard.js`` shows and hides them as the shape changes, from the same map)."""
        used = params_of(shape, baseline_mode)
        rows = []
        for name in PARAM_NAMES:
            owners = [
                (shape_of, param)
                for shape_of, params in SHAPE_PARAMS.items()
                for param in params
                if param.name == name
            ]
            modes = {param.baseline_mode.value for _, param in owners if param.baseline_mode}
            rows.append(
                ParamRow(
                    field=self[name],
                    shapes=" ".join(shape_of.value for shape_of, _ in owners),
                    modes=" ".join(sorted(modes)),
                    hidden=name not in used,
                )
            )
        return rows


def kpi_initial(kpi: Kpi) -> dict[str, Any]:
    """A stored KPI as the form's initial data."""
    initial: dict[str, Any] = {
        name: getattr(kpi, name)
        for name in (
            "title",
            "description",
            "shape",
            *PARAM_NAMES,
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
    initial["owner"] = str(kpi.owner_id or "")
    initial["team"] = kpi.team_id or ""
    return initial


def parse_value_text(text: str, *, unit_type: str) -> float:
    """A typed value as a float, read like a pulled one ("1,234.5", "99.9%", "12k", "$1.2M");
    yes/no, true/false and on/off only for yes/no KPIs.

    Raises ``ValueError`` with a message to show next to the field.
    """
    raw = text or ""
    if len(raw.strip()) > MAX_VALUE_TEXT:
        raise ValueError("That is too long to be a number.")
    try:
        return parse_number_text(raw, words=unit_type == UnitType.BOOLEAN)
    except NumberTextError as exc:
        raise ValueError(_VALUE_MESSAGES[exc.reason].format(text=raw.strip()[:20])) from None


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
        required=False,
        choices=[("", "All actions"), *((a.value, a.value) for a in (*OrgAction, *Action))],
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
        return parse_value_text(raw, unit_type=UnitType.NUMBER)
    except ValueError:
        return None
