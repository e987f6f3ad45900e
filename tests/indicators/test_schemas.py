"""The API's enums and per-shape documentation are read from the pure modules' vocabularies."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest

from pulseboard.history.schemas import HistoryRowOut
from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.schemas import KpiIn, KpiOut, KpiPatch, SuggestedFieldsOut
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape, shape_params_doc
from pulseboard.indicators.spec import SPEC_FIELDS, Category, KpiSpec
from pulseboard.indicators.status import Status


def enum_values(schema: dict[str, Any], field: str) -> list[str]:
    prop = schema["properties"][field]
    options = prop.get("anyOf", [prop])
    (values,) = [option["enum"] for option in options if "enum" in option]
    return values


@pytest.mark.parametrize("model", [KpiIn, KpiPatch, KpiOut])
@pytest.mark.parametrize(
    ("field", "vocabulary"),
    [
        ("shape", Shape),
        ("direction", Direction),
        ("baseline_mode", BaselineMode),
        ("unit_type", UnitType),
        ("display_format", DisplayFormat),
        ("category", Category),
    ],
)
def test_api_enums_are_the_vocabularies(
    model: type[KpiIn], field: str, vocabulary: type[StrEnum]
) -> None:
    assert enum_values(model.model_json_schema(), field) == [m.value for m in vocabulary]


def test_statuses_in_reads_and_history_are_the_status_vocabulary() -> None:
    assert enum_values(KpiOut.model_json_schema(), "status") == [s.value for s in Status]
    assert enum_values(HistoryRowOut.model_json_schema(), "status") == [s.value for s in Status]


def test_the_shape_field_documents_shape_params() -> None:
    for model in (KpiIn, KpiPatch):
        assert shape_params_doc() in model.model_json_schema()["properties"]["shape"]["description"]


def test_create_and_patch_bodies_are_the_spec_fields() -> None:
    assert set(KpiIn.model_fields) == set(SPEC_FIELDS)
    assert set(KpiPatch.model_fields) == set(SPEC_FIELDS)


def test_a_create_body_becomes_the_spec_it_describes() -> None:
    body = KpiIn.model_validate({"title": "NPS", "shape": "stay_above", "threshold": 35.0})
    assert body.spec() == KpiSpec(title="NPS", shape=Shape.STAY_ABOVE, threshold=35.0)


def test_a_patch_body_lists_only_the_fields_sent() -> None:
    body = KpiPatch.model_validate({"title": "NPS", "threshold": None})
    assert body.changes() == {"title": "NPS", "threshold": None}


def test_a_wrong_enum_value_is_refused_naming_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="'stay_above', 'stay_below', 'stay_between' or 'trend'"):
        KpiIn.model_validate({"title": "x", "shape": "sideways"})


def test_suggested_fields_cover_what_quick_create_fills() -> None:
    assert set(SuggestedFieldsOut.model_fields) <= set(SPEC_FIELDS)
