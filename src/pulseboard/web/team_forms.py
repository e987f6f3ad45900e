"""The web forms of teams: create and rename (Settings → Teams) and a member's default board.

They only parse; ``orgs/teams.py`` checks names and slugs (unique per org, the slug
rules) and its ``ValidationFailed`` errors go back on the fields with ``add_errors``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from pulseboard.orgs.models import Team
from pulseboard.orgs.teams import MAX_TEAM_NAME, MAX_TEAM_SLUG
from pulseboard.web.forms import PageForm

ORG_BOARD = ""  # the board choice that means "the org board"


class TeamForm(PageForm):
    name = forms.CharField(
        max_length=MAX_TEAM_NAME, widget=forms.TextInput(attrs={"placeholder": "e.g. Growth"})
    )
    slug = forms.CharField(
        required=False,
        max_length=MAX_TEAM_SLUG,
        help_text="Names the board's address (/teams/<slug>/). Left empty, it is made from "
        "the name.",
        widget=forms.TextInput(attrs={"placeholder": "growth", "autocomplete": "off"}),
    )


class BoardForm(PageForm):
    board = forms.ChoiceField(
        label="Your default board",
        required=False,
        help_text="The board Home opens with. The org board shows every published KPI.",
    )

    def __init__(self, *args: Any, teams: Iterable[Team] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["board"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(ORG_BOARD, "Org board"), *((t.pk, f"{t.name} board") for t in teams)]
