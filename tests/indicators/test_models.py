"""The KPI model's choices are the pure modules' vocabularies, not a copy of them."""

from __future__ import annotations

from enum import StrEnum

import pytest
from django.core.management import call_command

from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape
from pulseboard.indicators.spec import Category
from pulseboard.indicators.status import Status


@pytest.mark.parametrize(
    ("field", "vocabulary"),
    [
        ("shape", Shape),
        ("direction", Direction),
        ("baseline_mode", BaselineMode),
        ("unit_type", UnitType),
        ("display_format", DisplayFormat),
        ("status", Status),
        ("category", Category),
    ],
)
def test_field_choices_are_the_vocabulary(field: str, vocabulary: type[StrEnum]) -> None:
    choices = Kpi._meta.get_field(field).choices
    assert choices is not None
    assert [value for value, _ in choices] == [member.value for member in vocabulary]
    column = Kpi._meta.get_field(field)
    assert all(len(member.value) <= column.max_length for member in vocabulary)  # type: ignore[operator]


def test_defaults_are_vocabulary_values() -> None:
    defaults = {
        name: Kpi._meta.get_field(name).default
        for name in ("baseline_mode", "unit_type", "display_format", "status")
    }
    assert defaults == {
        "baseline_mode": BaselineMode.FIXED,
        "unit_type": UnitType.NUMBER,
        "display_format": DisplayFormat.DECIMAL_1,
        "status": Status.UNKNOWN,
    }


@pytest.mark.django_db
def test_deriving_the_choices_needs_no_migration() -> None:
    # The derived choices keep the values and labels the migrations already hold.
    call_command("makemigrations", "indicators", "--check", "--dry-run", verbosity=0)
