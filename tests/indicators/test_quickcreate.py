"""Quick-create title parsing (DESIGN §3): public examples, phrasing families, units,
metric trimming, titles without a shape, and properties over arbitrary text."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators import quickcreate
from pulseboard.indicators.quickcreate import Detected, parse_title
from pulseboard.indicators.spec import KpiSpec, validate_spec


def above(
    threshold: float, metric: str, unit: str | None = None, label: str | None = None
) -> Detected:
    return Detected("stay_above", float(threshold), None, None, None, None, unit, label, metric)


def below(
    threshold: float, metric: str, unit: str | None = None, label: str | None = None
) -> Detected:
    return Detected("stay_below", float(threshold), None, None, None, None, unit, label, metric)


def between(
    lower: float, upper: float, metric: str, unit: str | None = None, label: str | None = None
) -> Detected:
    return Detected(
        "stay_between", None, float(lower), float(upper), None, None, unit, label, metric
    )


def trend(
    direction: str,
    metric: str,
    baseline: float | None = None,
    unit: str | None = None,
    label: str | None = None,
) -> Detected:
    base = None if baseline is None else float(baseline)
    return Detected("trend", None, None, None, direction, base, unit, label, metric)


# Look-alikes are escaped: \u2013 is an en dash, \u2212 the minus sign.
def table(*rows: tuple[str, Detected | None]) -> list[object]:
    return [pytest.param(title, expected, id=title or "<empty>") for title, expected in rows]


DESIGN_EXAMPLES = table(
    ("NPS above 35", above(35, "NPS")),
    ("Keep MTTR below 4h", below(4, "MTTR", "time", "h")),
    ("Sessions per user between 3 and 7", between(3, 7, "Sessions per user")),
    ("ARR trending up", trend("up", "ARR")),
    ("Churn trending down", trend("down", "Churn")),
    ("Uptime stay above 99.9%", above(99.9, "Uptime", "percentage")),
    ("ARR trending up from $1.2M", trend("up", "ARR", 1_200_000, "currency", "USD")),
)


@pytest.mark.parametrize(("title", "expected"), DESIGN_EXAMPLES)
def test_design_examples_are_detected_exactly(title: str, expected: Detected) -> None:
    assert parse_title(title) == expected


ABOVE_PHRASINGS = table(
    ("NPS over 35", above(35, "NPS")),
    ("NPS greater than 35", above(35, "NPS")),
    ("NPS more than 35", above(35, "NPS")),
    ("NPS higher than 35", above(35, "NPS")),
    ("NPS at least 35", above(35, "NPS")),
    ("NPS no less than 35", above(35, "NPS")),
    ("NPS not below 35", above(35, "NPS")),
    ("NPS min 35", above(35, "NPS")),
    ("NPS min. 35", above(35, "NPS")),
    ("NPS minimum 35", above(35, "NPS")),
    ("NPS minimum of 35", above(35, "NPS")),
    ("Minimum NPS of 35", above(35, "NPS")),
    ("NPS >= 35", above(35, "NPS")),
    ("NPS => 35", above(35, "NPS")),
    ("NPS > 35", above(35, "NPS")),
    ("NPS≥35", above(35, "NPS")),
    ("NPS greater than or equal to 35", above(35, "NPS")),
    ("NPS at or above 35", above(35, "NPS")),
    ("NPS exceeds 35", above(35, "NPS")),
    ("NPS gte 35", above(35, "NPS")),
    ("NPS above35", above(35, "NPS")),
    ("NPS 35 or more", above(35, "NPS")),
    ("NPS 35 or higher", above(35, "NPS")),
    ("NPS 35+", above(35, "NPS")),
    ("At least 35 NPS", above(35, "NPS")),
    ("NPS should be at least 35", above(35, "NPS")),
    ("NPS must be greater than 35", above(35, "NPS")),
    ("Uptime should not drop below 99.9%", above(99.9, "Uptime", "percentage")),
    ("Never let uptime drop below 99.9%", above(99.9, "uptime", "percentage")),
    ("Uptime never below 99.9%", above(99.9, "Uptime", "percentage")),
    ("Keep uptime at 99.9% or above", above(99.9, "uptime", "percentage")),
    ("Uptime of at least 99.9%", above(99.9, "Uptime", "percentage")),
    ("Increase NPS above 40", above(40, "NPS")),
)
BELOW_PHRASINGS = table(
    ("Churn under 2%", below(2, "Churn", "percentage")),
    ("Churn less than 2%", below(2, "Churn", "percentage")),
    ("Churn fewer than 3", below(3, "Churn")),
    ("Churn lower than 2%", below(2, "Churn", "percentage")),
    ("Churn at most 2%", below(2, "Churn", "percentage")),
    ("Churn no more than 2%", below(2, "Churn", "percentage")),
    ("No more than 5 incidents per week", below(5, "incidents per week")),
    ("Churn max 2%", below(2, "Churn", "percentage")),
    ("Churn maximum of 2%", below(2, "Churn", "percentage")),
    ("Churn 2% max", below(2, "Churn", "percentage")),
    ("Churn 2% or less", below(2, "Churn", "percentage")),
    ("Incidents: 5 or fewer", below(5, "Incidents")),
    ("Churn <= 2%", below(2, "Churn", "percentage")),
    ("Churn =< 2%", below(2, "Churn", "percentage")),
    ("Churn < 2%", below(2, "Churn", "percentage")),
    ("Churn ≤ 2.5 %", below(2.5, "Churn", "percentage")),
    ("Churn up to 2%", below(2, "Churn", "percentage")),
    ("Churn should not exceed 2%", below(2, "Churn", "percentage")),
    ("Churn not to exceed 2 percent", below(2, "Churn", "percentage")),
    ("Don't let churn exceed 3%", below(3, "churn", "percentage")),
    ("Errors never above 5", below(5, "Errors")),
    ("Max latency 300ms", below(300, "latency", "time", "ms")),
    ("Resolve within 4h", below(4, "Resolve", "time", "h")),
    ("p95 latency < 300 ms", below(300, "p95 latency", "time", "ms")),
    ("Reduce latency below 300ms", below(300, "latency", "time", "ms")),
    ("MTTR below 4h over 30 days", below(4, "MTTR over 30 days", "time", "h")),
)
BETWEEN_PHRASINGS = table(
    ("CSAT between 4 and 5", between(4, 5, "CSAT")),
    ("CSAT between 4.2 & 4.8", between(4.2, 4.8, "CSAT")),
    ("CSAT from 4 to 5", between(4, 5, "CSAT")),
    ("CSAT 4-5", between(4, 5, "CSAT")),
    ("CSAT 4\u20135", between(4, 5, "CSAT")),
    ("CSAT 4 to 5", between(4, 5, "CSAT")),
    ("CSAT 4..5", between(4, 5, "CSAT")),
    ("CSAT within 4 and 5", between(4, 5, "CSAT")),
    ("CSAT in range 4-5", between(4, 5, "CSAT")),
    ("CSAT in the range of 4 to 5", between(4, 5, "CSAT")),
    ("NPS in the 30-50 range", between(30, 50, "NPS")),
    ("Temperature 20 ± 2", between(18, 22, "Temperature")),
    ("Temperature 20 +/- 2", between(18, 22, "Temperature")),
    ("Churn at least 1% and at most 3%", between(1, 3, "Churn", "percentage")),
    ("Churn >= 1%, <= 3%", between(1, 3, "Churn", "percentage")),
    ("Churn below 3% but above 1%", between(1, 3, "Churn", "percentage")),
    ("Headcount between 50 and 40", between(40, 50, "Headcount")),
    ("Temperature between \u221210 and \u22122", between(-10, -2, "Temperature")),
    ("Gross margin between 60 and 70%", between(60, 70, "Gross margin", "percentage")),
    ("Gross margin 60%-70%", between(60, 70, "Gross margin", "percentage")),
    ("Response time 100\u2013300 ms", between(100, 300, "Response time", "time", "ms")),
    ("MTTR between 30m and 2h", between(30, 120, "MTTR", "time", "min")),
    ("Latency between 500ms and 2s", between(500, 2000, "Latency", "time", "ms")),
    ("Cash $1-2M", between(1_000_000, 2_000_000, "Cash", "currency", "USD")),
    ("Revenue between 500 and 2M", between(500, 2_000_000, "Revenue")),
    (
        "Average order value: $45\u2013$60",
        between(45, 60, "Average order value", "currency", "USD"),
    ),
    ("Temperature between 18°C and 22°C", between(18, 22, "Temperature", "number")),
    ("Between 3 and 7 sessions per user", between(3, 7, "sessions per user")),
)
TREND_PHRASINGS = table(
    ("ARR trending upward", trend("up", "ARR")),
    ("ARR trending upwards", trend("up", "ARR")),
    ("Churn trending downward", trend("down", "Churn")),
    ("Churn trending downwards", trend("down", "Churn")),
    ("ARR trend up", trend("up", "ARR")),
    ("ARR going up", trend("up", "ARR")),
    ("Churn should go down", trend("down", "Churn")),
    ("ARR increasing", trend("up", "ARR")),
    ("ARR is growing", trend("up", "ARR")),
    ("Rising ARR", trend("up", "ARR")),
    ("Grow ARR", trend("up", "ARR")),
    ("Keep ARR growing", trend("up", "ARR")),
    ("Churn decreasing", trend("down", "Churn")),
    ("Churn declining", trend("down", "Churn")),
    ("Churn falling", trend("down", "Churn")),
    ("Churn shrinking", trend("down", "Churn")),
    ("Reduce churn", trend("down", "churn")),
    ("ARR up", trend("up", "ARR")),
    ("ARR ↑", trend("up", "ARR")),
    ("ARR trending up month over month", trend("up", "ARR")),
    ("ARR growing over the last 30 days", trend("up", "ARR")),
    ("ARR trending up vs last month", trend("up", "ARR")),
    ("ARR trending up over 30 days", trend("up", "ARR")),
    ("ARR: up and to the right", trend("up", "ARR")),
    ("ARR trend up from 1.2M", trend("up", "ARR", 1_200_000)),
    ("ARR trending up (baseline $1.2M)", trend("up", "ARR", 1_200_000, "currency", "USD")),
    ("ARR trending up vs €900k", trend("up", "ARR", 900_000, "currency", "EUR")),
    ("Grow ARR from $1.2M", trend("up", "ARR", 1_200_000, "currency", "USD")),
    ("Churn down from 5%", trend("down", "Churn", 5, "percentage")),
    ("Reduce churn from 5% to 3%", trend("down", "churn", 5, "percentage")),
    ("Increase revenue from $1M to $2M", trend("up", "revenue", 1_000_000, "currency", "USD")),
)
NUMBER_PHRASINGS = table(
    ("Signups above 1,200", above(1200, "Signups")),
    ("Signups above 1,234,567.5", above(1_234_567.5, "Signups")),
    ("Signups above 1.5k", above(1500, "Signups")),
    ("Signups over 2K per month", above(2000, "Signups per month")),
    ("Users above 3M", above(3_000_000, "Users")),
    ("Users above 1m", above(1_000_000, "Users")),
    ("Users above 2 million", above(2_000_000, "Users")),
    ("GMV above 1.5bn", above(1_500_000_000, "GMV")),
    ("GMV above 2B", above(2_000_000_000, "GMV")),
    ("Uptime above 99,9%", above(99.9, "Uptime", "percentage")),
    ("Response time under .5s", below(0.5, "Response time", "time", "s")),
    ("Temperature above -5", above(-5, "Temperature")),
    ("Temperature above \u22125", above(-5, "Temperature")),
    ("Balance > -1,000", above(-1000, "Balance")),
    ("   nps    ABOVE   35   ", above(35, "nps")),
    ("Q3 revenue above $1M", above(1_000_000, "Q3 revenue", "currency", "USD")),
    ("2FA adoption above 80%", above(80, "2FA adoption", "percentage")),
)
UNIT_PHRASINGS = table(
    ("MRR at least $50,000", above(50_000, "MRR", "currency", "USD")),
    ("Revenue ≥ €50k", above(50_000, "Revenue", "currency", "EUR")),
    ("Cash above £1.5bn", above(1_500_000_000, "Cash", "currency", "GBP")),
    ("Cash above 500€", above(500, "Cash", "currency", "EUR")),
    ("Cash above USD 5k", above(5000, "Cash", "currency", "USD")),
    ("Cash above 5k GBP", above(5000, "Cash", "currency", "GBP")),
    ("Cash above 5,000 euros", above(5000, "Cash", "currency", "EUR")),
    ("Cash above 1.2 million dollars", above(1_200_000, "Cash", "currency", "USD")),
    ("Revenue above $5m", above(5_000_000, "Revenue", "currency", "USD")),
    ("Revenue in EUR over 50k", above(50_000, "Revenue in EUR", "currency", "EUR")),
    ("Disk usage below 80 percent", below(80, "Disk usage", "percentage")),
    ("Disk usage below 80 per cent", below(80, "Disk usage", "percentage")),
    ("Disk usage below 80 pct", below(80, "Disk usage", "percentage")),
    ("Conversion 3.5% or higher", above(3.5, "Conversion", "percentage")),
    ("Response time ≤ 200ms", below(200, "Response time", "time", "ms")),
    ("Latency under 250 milliseconds", below(250, "Latency", "time", "ms")),
    ("Latency under 2 sec", below(2, "Latency", "time", "s")),
    ("Latency under 2 seconds", below(2, "Latency", "time", "s")),
    ("Build time below 5m", below(5, "Build time", "time", "min")),
    ("Build time below 10 mins", below(10, "Build time", "time", "min")),
    ("MTTR < 4 hrs", below(4, "MTTR", "time", "h")),
    ("MTTR under 4 hours", below(4, "MTTR", "time", "h")),
    ("MTTR at most 2 days", below(2, "MTTR", "time", "d")),
    ("Lead time under 2 weeks", below(14, "Lead time", "time", "d")),
    ("Latency (ms) below 300", below(300, "Latency (ms)", "time", "ms")),
    ("Pipeline coverage ≥ 3x", above(3, "Pipeline coverage", "number")),
    ("Number of incidents below 5", below(5, "Number of incidents", "number")),
)
METRIC_PHRASINGS = table(
    ("Keep the error rate below 1%", below(1, "error rate", "percentage")),
    ("Goal: NPS above 40", above(40, "NPS")),
    ("NPS: above 35", above(35, "NPS")),
    ("NPS above 35.", above(35, "NPS")),
    ('"NPS" above 35', above(35, "NPS")),
    ("NPS (≥ 35)", above(35, "NPS")),
    ("Stay above 99.9% uptime", above(99.9, "uptime", "percentage")),
    ("Under 250ms", below(250, "", "time", "ms")),
    ("Revenue above $1M in 2025", above(1_000_000, "Revenue in 2025", "currency", "USD")),
    ("NPS should stay above 40 this quarter", above(40, "NPS this quarter")),
    ("Uptime >= 99.9% and trending up", above(99.9, "Uptime", "percentage")),
    ("Error rate must be below 0.1% at all times", below(0.1, "Error rate", "percentage")),
    ("Upward trend in ARR", trend("up", "ARR")),
    ("Churn trending down from 3.5 % baseline", trend("down", "Churn", 3.5, "percentage")),
)
NO_SHAPE = table(
    ("", None),
    ("Revenue", None),
    ("above", None),
    ("at least", None),
    ("trending", None),
    ("NPS: 35", None),
    ("NPS = 35", None),
    ("Uptime 99.9%", None),
    ("between 3 and", None),
    ("between and 7", None),
    ("above -", None),
    (">>>>", None),
    ("Revenue 2024-01-01", None),
    ("Drop-off rate", None),
    ("Sign-up rate", None),
    ("Follow up rate", None),
    ("Card decline rate", None),
    ("The quick brown fox jumps over the lazy dog", None),
    ("Lorem ipsum dolor sit amet", None),
)


@pytest.mark.parametrize(("title", "expected"), ABOVE_PHRASINGS)
def test_floor_phrasings_are_stay_above(title: str, expected: Detected) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), BELOW_PHRASINGS)
def test_ceiling_phrasings_are_stay_below(title: str, expected: Detected) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), BETWEEN_PHRASINGS)
def test_range_phrasings_are_stay_between_with_shared_units(title: str, expected: Detected) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), TREND_PHRASINGS)
def test_direction_phrasings_are_trends_with_optional_baseline(
    title: str, expected: Detected
) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), NUMBER_PHRASINGS)
def test_numbers_read_separators_multipliers_and_signs(title: str, expected: Detected) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), UNIT_PHRASINGS)
def test_units_are_normalised_to_type_and_label(title: str, expected: Detected) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), METRIC_PHRASINGS)
def test_metric_is_the_title_without_clause_verbs_and_punctuation(
    title: str, expected: Detected
) -> None:
    assert parse_title(title) == expected


@pytest.mark.parametrize(("title", "expected"), NO_SHAPE)
def test_title_without_a_shape_returns_none(title: str, expected: None) -> None:
    assert parse_title(title) is expected


def test_non_string_input_returns_none() -> None:
    assert parse_title(None) is None  # type: ignore[arg-type]
    assert parse_title(35) is None  # type: ignore[arg-type]


def test_lowercase_m_means_minutes_only_with_time_context_and_no_currency() -> None:
    minutes = parse_title("Avg handle time under 5m")
    million = parse_title("Downloads above 5m")
    money = parse_title("Bookings above €5m")
    assert minutes is not None and (minutes.threshold, minutes.unit_label) == (5.0, "min")
    assert million is not None and (million.threshold, million.unit_type) == (5e6, None)
    assert money is not None and (money.threshold, money.unit_label) == (5e6, "EUR")


def test_to_dict_returns_every_field_for_the_api() -> None:
    detected = parse_title("ARR trending up from $1.2M")
    assert detected is not None
    assert detected.to_dict() == {
        "shape": "trend",
        "threshold": None,
        "lower": None,
        "upper": None,
        "direction": "up",
        "baseline": 1_200_000.0,
        "unit_type": "currency",
        "unit_label": "USD",
        "metric": "ARR",
    }


def test_detected_is_frozen() -> None:
    detected = parse_title("NPS above 35")
    assert detected is not None
    with pytest.raises(AttributeError):
        detected.threshold = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "title",
    [
        "1" * 10_000,
        "1," * 5_000,
        "-" * 9_999 + "5",
        "$" * 10_000,
        "(" * 10_000,
        "above " * 1_700,
        "up " * 3_300,
        "keep " * 2_000 + "above 5",
        "3-" * 5_000,
        "1 to 2 " * 1_400,
        "from 1 to " * 1_000,
        "≥\u2212" * 5_000,
        "trending up from " * 600,
        "max " + "latency " * 1_400 + "5",
    ],
    ids=lambda title: f"{title[:12]!r}x{len(title)}",
)
def test_long_adversarial_titles_finish(title: str) -> None:
    # Regression guard against backtracking blow-ups: runs quickly or the suite stalls.
    result = parse_title(title)
    assert result is None or isinstance(result, Detected)


# --- properties ---------------------------------------------------------------------------

SHAPE_FIELDS = {
    "stay_above": {"threshold"},
    "stay_below": {"threshold"},
    "stay_between": {"lower", "upper"},
    "trend": {"direction"},
}
UNIT_LABELS = {
    "currency": {"USD", "EUR", "GBP", "JPY", "INR", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK"},
    "time": {"ms", "s", "min", "h", "d"},
    "percentage": {None},
    "number": {None},
    None: {None},
}


def assert_consistent(detected: Detected | None) -> None:
    if detected is None:
        return
    assert detected.shape in SHAPE_FIELDS
    for name in ("threshold", "lower", "upper", "direction"):
        present = getattr(detected, name) is not None
        assert present == (name in SHAPE_FIELDS[detected.shape]), name
    if detected.shape != "trend":
        assert detected.baseline is None
    else:
        assert detected.direction in ("up", "down")
    for number in (detected.threshold, detected.lower, detected.upper, detected.baseline):
        assert number is None or (isinstance(number, float) and math.isfinite(number))
    if detected.lower is not None and detected.upper is not None:
        assert detected.lower <= detected.upper
    assert detected.unit_label in UNIT_LABELS[detected.unit_type]
    assert detected.metric == detected.metric.strip()


GRAMMAR_PIECES = [
    *"0123456789.,-\u2212+$€£%kKmMbB()[]:<>=≥≤±~/&",
    " ", " ", " ", "above", "below", "between", "and", "to", "from", "trending", "up", "down",
    "not", "no", "never", "let", "more than", "at least", "or more", "max", "min", "ms", "h",
    "hours", "percent", "USD", "keep", "increase", "reduce", "over", "within", "range", "in",
    "baseline", "vs", "MoM", "x", "p95",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_never_raises_and_detections_are_consistent(title: str) -> None:
    assert_consistent(parse_title(title))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(GRAMMAR_PIECES), max_size=25).map("".join))
def test_grammar_shaped_noise_needs_no_safety_net_and_detections_are_consistent(
    title: str,
) -> None:
    # parse_title turns any exception into None; the grammar underneath must not rely on
    # that, or a bug would silently look like "no shape".
    assert_consistent(quickcreate._parse(title))


METRIC_WORDS = [
    "NPS", "ARR", "MRR", "Uptime", "Churn", "Revenue", "Sessions", "Signups", "Latency",
    "Error", "rate", "Active", "users", "Pipeline", "coverage", "Ticket", "backlog", "CSAT",
]  # fmt: skip
metrics = st.lists(st.sampled_from(METRIC_WORDS), min_size=1, max_size=4).map(" ".join)
numbers = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.integers(min_value=1_000, max_value=10**12).map(lambda n: f"{n:,}"),
    st.decimals(min_value=-(10**6), max_value=10**6, places=3).map(str),
)


@settings(max_examples=200, deadline=None)
@given(metric=metrics, number=numbers, comparator=st.sampled_from(["above", "below"]))
def test_metric_comparator_number_round_trips(metric: str, number: str, comparator: str) -> None:
    detected = parse_title(f"{metric} {comparator} {number}")
    assert detected is not None
    assert detected.shape == f"stay_{comparator}"
    assert detected.threshold == float(Decimal(number.replace(",", "")))
    assert detected.metric == metric


@settings(max_examples=200, deadline=None)
@given(
    metric=metrics,
    first=st.integers(min_value=-(10**9), max_value=10**9),
    second=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_between_bounds_are_ordered_whatever_order_they_are_written(
    metric: str, first: int, second: int
) -> None:
    detected = parse_title(f"{metric} between {first} and {second}")
    assert detected is not None
    assert detected.shape == "stay_between"
    assert (detected.lower, detected.upper) == (
        float(min(first, second)),
        float(max(first, second)),
    )
    assert detected.metric == metric


# --- suggested fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("NPS above 35", {"shape": "stay_above", "threshold": 35.0, "title": "NPS"}),
        (
            "Keep MTTR below 4h",
            {
                "shape": "stay_below",
                "threshold": 4.0,
                "title": "MTTR",
                "unit_type": "time",
                "unit_label": "h",
            },
        ),
        (
            "Uptime stay above 99.9%",
            {
                "shape": "stay_above",
                "threshold": 99.9,
                "title": "Uptime",
                "unit_type": "percentage",
                "unit_label": "",
                "display_format": "percentage",
            },
        ),
        (
            "ARR trending up from $1.2M",
            {
                "shape": "trend",
                "direction": "up",
                "baseline": 1_200_000.0,
                "baseline_mode": "fixed",
                "title": "ARR",
                "unit_type": "currency",
                "unit_label": "USD",
                "display_format": "integer",
            },
        ),
        (
            "Churn trending down",
            {
                "shape": "trend",
                "direction": "down",
                "baseline_mode": "prior_period",
                "baseline_period": "30d",
                "title": "Churn",
            },
        ),
        ("between 3 and 7", {"shape": "stay_between", "lower": 3.0, "upper": 7.0}),
    ],
)
def test_suggested_fields_are_the_target_with_defaults_that_make_it_valid(
    title: str, expected: dict[str, object]
) -> None:
    detected = parse_title(title)
    assert detected is not None
    assert quickcreate.suggested_fields(detected) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(GRAMMAR_PIECES), max_size=25).map("".join))
def test_suggested_fields_always_make_a_valid_kpi(title: str) -> None:
    detected = parse_title(title)
    if detected is None:
        return
    fields = quickcreate.suggested_fields(detected)
    # Apply fills these into the form; with any title the KPI must then save.
    validate_spec(KpiSpec(**{"title": "x", **fields}))
