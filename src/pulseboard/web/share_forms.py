"""The share link form of Settings → Share links, turned into service data.

The form checks the shape of input (a name, known choices, a date-time); the rules
(KPIs and team of this org, not both, expiry in the future) live in
``sharing/services.py``, whose field errors ``add_errors`` puts back on the fields.
The expiry is typed in the organization's time zone (the active one on web pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Team
from pulseboard.sharing.services import MAX_NAME
from pulseboard.web.forms import PageForm


class ShareLinkForm(PageForm):
    name = forms.CharField(
        max_length=MAX_NAME, help_text="Where the link is shown, e.g. “Lobby screen”."
    )
    kpi_ids = forms.MultipleChoiceField(
        required=False,
        label="KPIs",
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every published KPI, including ones published later.",
    )
    team_id = forms.ChoiceField(
        required=False,
        label="Or a team's KPIs",
        help_text="Its published KPIs, as they are at each view.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="Optional; empty: until revoked.",
    )

    def __init__(
        self, *args: Any, kpis: Iterable[Kpi] = (), teams: Iterable[Team] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kpi_ids"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [
            (k.pk, k.title if k.published else f"{k.title} (draft: shown once published)")
            for k in kpis
        ]
        team_field = self.fields["team_id"]
        assert isinstance(team_field, forms.ChoiceField)
        team_field.choices = [("", "—"), *((t.pk, t.name) for t in teams)]

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kpi_ids": list(data["kpi_ids"]) or None,
            "team_id": data["team_id"] or None,
            "expires_at": data["expires_at"],
        }
