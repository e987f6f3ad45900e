"""Locale-aware rendering of values, targets and changes (indicators/formatting.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.formatting import (
    format_change,
    format_compact,
    format_value,
    target_phrase,
)
from pulseboard.indicators.shapes import ShapeParams
from pulseboard.indicators.status import Change

NB = "\u00a0"  # no-break space, CLDR's separator before €, % in de/fr
NNB = "\u202f"  # narrow no-break space, French digit grouping
MINUS = "\u2212"
NAN, INF = math.nan, math.inf

UNIT_TYPES = [
    ("currency", "USD"),
    ("percentage", ""),
    ("time", "ms"),
    ("number", ""),
    ("boolean", ""),
]
DISPLAY_FORMATS = ["integer", "decimal_1", "decimal_2", "percentage"]


def fmt(value: float | None, unit_type: str, unit_label: str, display: str, locale: str) -> str:
    return format_value(
        value, unit_type=unit_type, unit_label=unit_label, display_format=display, locale=locale
    )


# Every unit_type x display_format, in en_US, de_DE and fr_FR, for 1234.567.
EXPECTED_1234_567 = {
    ("currency", "integer"): ("$1,235", f"1.235{NB}$", f"1{NNB}235{NB}$US"),
    ("currency", "decimal_1"): ("$1,234.6", f"1.234,6{NB}$", f"1{NNB}234,6{NB}$US"),
    ("currency", "decimal_2"): ("$1,234.57", f"1.234,57{NB}$", f"1{NNB}234,57{NB}$US"),
    ("currency", "percentage"): ("$1,234.57", f"1.234,57{NB}$", f"1{NNB}234,57{NB}$US"),
    ("percentage", "integer"): ("1,235%", f"1.235{NB}%", f"1{NNB}235{NB}%"),
    ("percentage", "decimal_1"): ("1,234.6%", f"1.234,6{NB}%", f"1{NNB}234,6{NB}%"),
    ("percentage", "decimal_2"): ("1,234.57%", f"1.234,57{NB}%", f"1{NNB}234,57{NB}%"),
    ("percentage", "percentage"): ("1,234.57%", f"1.234,57{NB}%", f"1{NNB}234,57{NB}%"),
    ("time", "integer"): ("1,235 ms", "1.235 ms", f"1{NNB}235 ms"),
    ("time", "decimal_1"): ("1,234.6 ms", "1.234,6 ms", f"1{NNB}234,6 ms"),
    ("time", "decimal_2"): ("1,234.57 ms", "1.234,57 ms", f"1{NNB}234,57 ms"),
    ("time", "percentage"): ("1,234.57 ms", "1.234,57 ms", f"1{NNB}234,57 ms"),
    ("number", "integer"): ("1,235", "1.235", f"1{NNB}235"),
    ("number", "decimal_1"): ("1,234.6", "1.234,6", f"1{NNB}234,6"),
    ("number", "decimal_2"): ("1,234.57", "1.234,57", f"1{NNB}234,57"),
    ("number", "percentage"): ("1,234.57%", f"1.234,57{NB}%", f"1{NNB}234,57{NB}%"),
    ("boolean", "integer"): ("Yes", "Yes", "Yes"),
    ("boolean", "decimal_1"): ("Yes", "Yes", "Yes"),
    ("boolean", "decimal_2"): ("Yes", "Yes", "Yes"),
    ("boolean", "percentage"): ("Yes", "Yes", "Yes"),
}


@pytest.mark.parametrize(("unit_type", "unit_label"), UNIT_TYPES)
@pytest.mark.parametrize("display", DISPLAY_FORMATS)
@pytest.mark.parametrize(("locale_index", "locale"), list(enumerate(["en_US", "de_DE", "fr_FR"])))
def test_format_value_renders_every_unit_and_display_format_per_locale(
    unit_type: str, unit_label: str, display: str, locale_index: int, locale: str
) -> None:
    expected = EXPECTED_1234_567[(unit_type, display)][locale_index]
    assert fmt(1234.567, unit_type, unit_label, display, locale) == expected


@pytest.mark.parametrize(
    ("value", "unit_type", "unit_label", "display", "locale", "expected"),
    [
        pytest.param(1_840_000, "currency", "USD", "integer", "en_US", "$1,840,000", id="usd"),
        pytest.param(42_500, "currency", "EUR", "integer", "en_US", "€42,500", id="eur_en"),
        pytest.param(42_500, "currency", "EUR", "integer", "de_DE", f"42.500{NB}€", id="eur_de"),
        pytest.param(
            42_500, "currency", "EUR", "decimal_2", "fr_FR", f"42{NNB}500,00{NB}€", id="eur_fr"
        ),
        pytest.param(42_500, "currency", "eur", "integer", "en_US", "€42,500", id="code_case"),
        pytest.param(9.5, "currency", "GBP", "decimal_2", "en_US", "£9.50", id="gbp"),
        pytest.param(5, "currency", "CHF", "decimal_2", "en_US", f"CHF{NB}5.00", id="spacing"),
        pytest.param(5, "currency", "XYZ", "integer", "en_US", f"XYZ{NB}5", id="unknown_code"),
        pytest.param(5, "currency", "BTC", "integer", "de_DE", f"5{NB}BTC", id="unknown_code_de"),
        pytest.param(5, "currency", "", "decimal_1", "en_US", "5.0", id="no_code"),
        pytest.param(-1234.5, "currency", "USD", "decimal_2", "en_US", "-$1,234.50", id="neg"),
        pytest.param(99.94, "percentage", "", "decimal_2", "en_US", "99.94%", id="pct"),
        pytest.param(99.94, "percentage", "", "decimal_1", "en_US", "99.9%", id="pct_1"),
        pytest.param(99.94, "percentage", "", "decimal_1", "de_DE", f"99,9{NB}%", id="pct_de"),
        pytest.param(99.94, "percentage", "uptime", "decimal_2", "en_US", "99.94%", id="pct_lbl"),
        pytest.param(50, "percentage", "", "percentage", "en_US", "50%", id="pct_trim"),
        pytest.param(380, "time", "ms", "integer", "en_US", "380 ms", id="ms"),
        pytest.param(4.5, "time", "h", "decimal_1", "en_US", "4.5 h", id="hours"),
        pytest.param(4.5, "time", "h", "decimal_1", "fr_FR", "4,5 h", id="hours_fr"),
        pytest.param(3, "time", "", "integer", "en_US", "3", id="time_no_label"),
        pytest.param(47, "number", "", "integer", "en_US", "47", id="number"),
        pytest.param(4.6, "number", "/ 5", "decimal_1", "en_US", "4.6 / 5", id="label"),
        pytest.param(1_000_000, "number", "", "integer", "en_US", "1,000,000", id="grouping"),
        pytest.param(99.94, "number", "", "percentage", "en_US", "99.94%", id="as_percent"),
        pytest.param(1, "boolean", "", "integer", "en_US", "Yes", id="true"),
        pytest.param(0.3, "boolean", "", "integer", "en_US", "Yes", id="truthy"),
        pytest.param(-1, "boolean", "", "integer", "en_US", "Yes", id="negative_truthy"),
        pytest.param(0, "boolean", "", "integer", "en_US", "No", id="false"),
        pytest.param(2.5, "number", "", "integer", "en_US", "3", id="half_up"),
        pytest.param(0.05, "number", "", "decimal_1", "en_US", "0.1", id="half_up_decimal"),
        pytest.param(-0.04, "number", "", "decimal_1", "en_US", "-0.0", id="keeps_sign"),
        pytest.param(-0.0, "number", "", "decimal_1", "en_US", "0.0", id="negative_zero"),
        pytest.param(0.1, "number", "", "decimal_2", "en_US", "0.10", id="no_float_noise"),
        pytest.param(47, "number", "", "scientific", "en_US", "47.0", id="unknown_display"),
        pytest.param(47, "gauge", "rpm", "integer", "en_US", "47 rpm", id="unknown_unit"),
    ],
)
def test_format_value_examples(
    value: float, unit_type: str, unit_label: str, display: str, locale: str, expected: str
) -> None:
    assert fmt(value, unit_type, unit_label, display, locale) == expected


@pytest.mark.parametrize("value", [None, NAN, INF, -INF])
@pytest.mark.parametrize(("unit_type", "unit_label"), UNIT_TYPES)
def test_format_value_shows_a_dash_without_a_finite_value(
    value: float | None, unit_type: str, unit_label: str
) -> None:
    assert fmt(value, unit_type, unit_label, "decimal_1", "en_US") == "—"


@pytest.mark.parametrize("locale", ["xx_YY", "", "not a locale", "en_US_POSIX_EXTRA", "../etc"])
def test_format_value_falls_back_to_en_us_for_unknown_locales(locale: str) -> None:
    assert fmt(1234.5, "currency", "USD", "decimal_2", locale) == "$1,234.50"


def test_format_value_reads_hyphenated_locale_tags() -> None:
    assert fmt(1234.5, "number", "", "decimal_1", "de-DE") == "1.234,5"


def test_format_value_handles_the_largest_float() -> None:
    text = fmt(1.7976931348623157e308, "number", "", "integer", "en_US")
    assert text.startswith("179,769,313,486,231,570,")
    assert len(text.replace(",", "")) == 309


@pytest.mark.parametrize(
    ("value", "unit_type", "unit_label", "locale", "expected"),
    [
        pytest.param(1_200_000, "currency", "USD", "en_US", "$1.2M", id="millions"),
        pytest.param(1_250_000, "currency", "EUR", "de_DE", f"1,3{NB}Mio.{NB}€", id="de"),
        pytest.param(12_500, "number", "", "en_US", "12.5K", id="thousands"),
        pytest.param(12_500, "number", "", "de_DE", "12.500", id="de_no_thousands_form"),
        pytest.param(12_500, "number", "", "fr_FR", f"12,5{NB}k", id="fr"),
        pytest.param(123_456, "number", "", "ja_JP", "12.3万", id="ja_myriads"),
        pytest.param(99.94, "percentage", "", "en_US", "99.9%", id="percent"),
        pytest.param(999_999, "number", "", "en_US", "1M", id="rounds_into_next_magnitude"),
        pytest.param(999.96, "currency", "USD", "en_US", "$1K", id="rounds_into_thousands"),
        pytest.param(4.99, "currency", "USD", "en_US", "$5", id="small_currency"),
        pytest.param(12.34, "number", "", "en_US", "12.3", id="small_number"),
        pytest.param(-1_200_000, "currency", "USD", "en_US", "-$1.2M", id="negative"),
        pytest.param(1_500_000, "currency", "XYZ", "en_US", f"XYZ{NB}1.5M", id="unknown_code"),
        pytest.param(38_000, "time", "ms", "en_US", "38K ms", id="time"),
        pytest.param(1, "boolean", "", "en_US", "Yes", id="boolean"),
        pytest.param(None, "number", "", "en_US", "—", id="none"),
        pytest.param(NAN, "currency", "USD", "en_US", "—", id="nan"),
        pytest.param(1_200_000, "currency", "USD", "zz_ZZ", "$1.2M", id="unknown_locale"),
    ],
)
def test_format_compact_examples(
    value: float | None, unit_type: str, unit_label: str, locale: str, expected: str
) -> None:
    assert format_compact(value, unit_type=unit_type, unit_label=unit_label, locale=locale) == (
        expected
    )


@pytest.mark.parametrize(
    ("params", "unit_type", "unit_label", "display", "locale", "expected"),
    [
        pytest.param(
            ShapeParams("stay_above", threshold=99.9),
            "percentage",
            "",
            "decimal_1",
            "en_US",
            "stay above 99.9%",
            id="stay_above_percent",
        ),
        pytest.param(
            ShapeParams("stay_above", threshold=99.94),
            "percentage",
            "",
            "decimal_2",
            "en_US",
            "stay above 99.94%",
            id="stay_above_percent_2",
        ),
        pytest.param(
            ShapeParams("stay_above", threshold=99.94),
            "percentage",
            "",
            "decimal_1",
            "en_US",
            "stay above 99.94%",
            id="threshold_never_rounded_away",
        ),
        pytest.param(
            ShapeParams("stay_above", threshold=99.123456),
            "percentage",
            "",
            "decimal_1",
            "en_US",
            "stay above 99.1235%",
            id="threshold_widens_to_at_most_4_decimals",
        ),
        pytest.param(
            ShapeParams("stay_below", threshold=500),
            "time",
            "ms",
            "integer",
            "en_US",
            "stay below 500 ms",
            id="stay_below_time",
        ),
        pytest.param(
            ShapeParams("stay_below", threshold=4),
            "time",
            "h",
            "decimal_1",
            "de_DE",
            "stay below 4,0 h",
            id="stay_below_de",
        ),
        pytest.param(
            ShapeParams("stay_between", lower=3, upper=7),
            "number",
            "",
            "decimal_1",
            "en_US",
            "between 3.0 and 7.0",
            id="between",
        ),
        pytest.param(
            ShapeParams("stay_between", lower=1000, upper=2500.5),
            "number",
            "",
            "integer",
            "fr_FR",
            f"between 1{NNB}000 and 2{NNB}500,5",
            id="between_fr",
        ),
        pytest.param(
            ShapeParams("trend", direction="up", baseline=1_200_000),
            "currency",
            "USD",
            "integer",
            "en_US",
            "trending up from $1.2M",
            id="trend_compact_currency",
        ),
        pytest.param(
            ShapeParams("trend", direction="up", baseline=1_250_000),
            "currency",
            "USD",
            "integer",
            "en_US",
            "trending up from $1.25M",
            id="trend_compact_keeps_two_decimals",
        ),
        pytest.param(
            ShapeParams("trend", direction="up", baseline=250_000),
            "currency",
            "USD",
            "integer",
            "en_US",
            "trending up from $250,000",
            id="trend_below_a_million_in_full",
        ),
        pytest.param(
            ShapeParams("trend", direction="down", baseline=2_000_000),
            "number",
            "",
            "integer",
            "en_US",
            "trending down from 2,000,000",
            id="trend_large_number_in_full",
        ),
        pytest.param(
            ShapeParams("trend", direction="up"),
            "currency",
            "USD",
            "integer",
            "en_US",
            "trending up",
            id="trend_without_baseline",
        ),
        pytest.param(
            ShapeParams(
                "trend", direction="down", baseline_mode="prior_period", baseline_period="30d"
            ),
            "number",
            "",
            "decimal_1",
            "en_US",
            "trending down vs 30d ago",
            id="trend_prior_period",
        ),
        pytest.param(
            ShapeParams(
                "trend", direction="up", baseline_mode="prior_period", baseline_period="1w"
            ),
            "number",
            "",
            "decimal_1",
            "en_US",
            "trending up vs 7d ago",
            id="trend_prior_period_canonical",
        ),
        pytest.param(
            ShapeParams(
                "trend", direction="up", baseline_mode="prior_period", baseline_period="soon"
            ),
            "number",
            "",
            "decimal_1",
            "en_US",
            "trending up",
            id="trend_prior_period_bad_period",
        ),
        pytest.param(
            ShapeParams("stay_above", threshold=1),
            "boolean",
            "",
            "integer",
            "en_US",
            "stay above 1",
            id="boolean_threshold_as_number",
        ),
        pytest.param(
            ShapeParams("stay_above"),
            "number",
            "",
            "integer",
            "en_US",
            "stay above —",
            id="missing_threshold",
        ),
        pytest.param(
            ShapeParams("trend", baseline=3),
            "number",
            "",
            "integer",
            "en_US",
            "trending from 3",
            id="trend_missing_direction",
        ),
        pytest.param(
            ShapeParams("stay_around", threshold=1),
            "number",
            "",
            "integer",
            "en_US",
            "",
            id="unknown_shape",
        ),
    ],
)
def test_target_phrase_examples(
    params: ShapeParams,
    unit_type: str,
    unit_label: str,
    display: str,
    locale: str,
    expected: str,
) -> None:
    phrase = target_phrase(
        params,
        unit_type=unit_type,
        unit_label=unit_label,
        display_format=display,
        locale=locale,
    )
    assert phrase == expected


def test_target_phrase_threshold_uses_the_value_formatter() -> None:
    value = fmt(99.9, "percentage", "", "decimal_1", "de_DE")
    phrase = target_phrase(
        ShapeParams("stay_above", threshold=99.9),
        unit_type="percentage",
        display_format="decimal_1",
        locale="de_DE",
    )
    assert phrase == f"stay above {value}"


def change(absolute: float, percent: float | None) -> Change:
    return Change(absolute=absolute, percent=percent, good=None)


@pytest.mark.parametrize(
    ("value", "unit_type", "unit_label", "display", "locale", "expected"),
    [
        pytest.param(change(1.2, 3.4), "number", "", "decimal_1", "en_US", "+1.2 (+3.4%)", id="up"),
        pytest.param(
            change(-380, -5.0),
            "time",
            "ms",
            "integer",
            "en_US",
            f"{MINUS}380 ms ({MINUS}5.0%)",
            id="down_time",
        ),
        pytest.param(
            change(1200, 12.0), "currency", "USD", "integer", "en_US", "+$1,200 (+12.0%)", id="usd"
        ),
        pytest.param(
            change(-1200.5, -1.25),
            "currency",
            "EUR",
            "decimal_2",
            "de_DE",
            f"{MINUS}1.200,50{NB}€ ({MINUS}1,3{NB}%)",
            id="eur_de",
        ),
        pytest.param(
            change(1.4, 3.41),
            "number",
            "",
            "decimal_1",
            "fr_FR",
            f"+1,4 (+3,4{NB}%)",
            id="fr",
        ),
        pytest.param(
            change(0.05, 0.05),
            "percentage",
            "",
            "decimal_2",
            "en_US",
            "+0.05 pp (+0.1%)",
            id="percentage_points",
        ),
        pytest.param(
            change(-2, -4),
            "number",
            "",
            "percentage",
            "en_US",
            f"{MINUS}2 pp ({MINUS}4.0%)",
            id="percentage_display_points",
        ),
        pytest.param(change(5, None), "number", "", "integer", "en_US", "+5", id="no_percent"),
        pytest.param(change(0, 0.0), "number", "", "decimal_1", "en_US", "0.0 (0.0%)", id="zero"),
        pytest.param(change(1, None), "boolean", "", "integer", "en_US", "", id="boolean"),
        pytest.param(change(NAN, 1.0), "number", "", "integer", "en_US", "", id="nan"),
        pytest.param(
            change(3, NAN), "number", "/ 5", "integer", "en_US", "+3 / 5", id="label_nan_percent"
        ),
    ],
)
def test_format_change_examples(
    value: Change, unit_type: str, unit_label: str, display: str, locale: str, expected: str
) -> None:
    text = format_change(
        value, unit_type=unit_type, unit_label=unit_label, display_format=display, locale=locale
    )
    assert text == expected


locales = st.sampled_from(["en_US", "de_DE", "fr_FR", "ja_JP", "sv_SE", "ar_EG", "hi_IN", "xx"])
finite = st.floats(allow_nan=False, allow_infinity=False)
units = st.sampled_from(
    [
        ("currency", "USD"),
        ("currency", "EUR"),
        ("currency", "CHF"),
        ("percentage", ""),
        ("time", "ms"),
        ("number", ""),
        ("number", "/ 5"),
    ]
)
displays = st.sampled_from([*DISPLAY_FORMATS, "bogus"])


@settings(max_examples=200, deadline=None)
@given(value=finite, unit=units, display=displays, locale=locales)
def test_format_value_preserves_the_sign(
    value: float, unit: tuple[str, str], display: str, locale: str
) -> None:
    text = fmt(value, unit[0], unit[1], display, locale)
    has_minus = "-" in text or MINUS in text
    assert has_minus == (value < 0)


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(st.none(), st.floats()),
    unit_type=st.one_of(
        st.sampled_from(["currency", "percentage", "time", "number", "boolean"]), st.text()
    ),
    unit_label=st.text(max_size=6),
    display=st.one_of(displays, st.text(max_size=6)),
    locale=st.one_of(locales, st.text(max_size=8)),
)
def test_format_functions_never_raise(
    value: float | None, unit_type: str, unit_label: str, display: str, locale: str
) -> None:
    assert fmt(value, unit_type, unit_label, display, locale)
    assert format_compact(value, unit_type=unit_type, unit_label=unit_label, locale=locale)
    params = ShapeParams("trend", direction="up", baseline=value)
    target_phrase(
        params, unit_type=unit_type, unit_label=unit_label, display_format=display, locale=locale
    )
    if value is not None:
        format_change(
            change(value, value),
            unit_type=unit_type,
            unit_label=unit_label,
            display_format=display,
            locale=locale,
        )
