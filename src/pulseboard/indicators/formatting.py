"""How indicator values, targets and changes read on screen (DESIGN §4), per locale.

Owns the ``UnitType`` and ``DisplayFormat`` vocabularies, ``format_value`` (the
full value), ``format_compact`` ("$1.2M"), ``target_phrase`` ("stay above 99.9%")
and ``format_change`` ("+1.2 (+3.4%)").
Every locale-aware number goes through Babel's CLDR patterns. Pure: no
Django, no I/O; all functions are total and never raise.

Decisions:
- ``display_format`` sets the decimals literally: ``integer`` 0,
  ``decimal_1`` 1, ``decimal_2`` 2, for every unit (so currency in
  ``decimal_1`` shows "$4.5"; admins pick ``integer`` or ``decimal_2`` for
  money). ``percentage`` shows up to 2 decimals without trailing zeros and
  adds the locale's percent sign to a plain number (99.94 -> "99.94%"; the
  value is never multiplied by 100). Currency and time keep their own unit
  under ``percentage``: a value cannot be money and a percent at once. An
  unknown ``display_format`` reads as ``decimal_1``; an unknown ``unit_type``
  as ``number``.
- Rounding is half-up (2.5 -> "3"), as people expect on a dashboard, not
  Babel's default half-even. A negative value that rounds to zero keeps its
  minus ("-0.0") so the sign of a value is never lost; -0.0 itself is zero.
- ``None``, NaN and infinities render as "—". An unknown or malformed locale
  falls back to ``en_US``; "de-DE" is read as "de_DE".
- Currency: a three-letter ``unit_label`` is an ISO 4217 code (case
  ignored); any other label is shown as given in the symbol's place. CLDR's
  currency spacing is applied, which Babel skips ("CHF 5.00", not
  "CHF5.00"). An empty label renders a plain number.
- Percentage ignores ``unit_label`` (the % is the unit); time and number
  append it after a space ("380 ms", "4.6 / 5"). Boolean renders "Yes"/"No"
  (English, like the rest of the UI); in target phrases its thresholds
  render as plain numbers, since "stay above Yes" says nothing.
- Thresholds in target phrases use the value's formatter and decimals, but
  show up to 4 decimals when the display format would round them, so the
  phrase never misstates the rule (99.94 under ``decimal_1`` reads
  "stay above 99.94%", 99.9 reads "stay above 99.9%"). A fixed trend
  baseline of a million or more in currency renders compact ("$1.2M", up to
  2 decimals: "$1.25M").
- Changes carry an explicit "+" or minus sign (U+2212, the typographic minus), the absolute part in
  the value's unit and decimals, the percent with one decimal. For
  percentage values the absolute part is in percentage points ("+0.05 pp"),
  which is what the difference of two percents is. A boolean has no
  magnitude to report, so its change text is empty.
"""

from __future__ import annotations

import copy
import decimal
import re
import unicodedata
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.numbers import (
    NumberPattern,
    format_compact_currency,
    format_compact_decimal,
    get_currency_symbol,
)

from pulseboard.indicators.durations import DurationError, format_duration, parse_duration
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape, ShapeParams, as_finite
from pulseboard.indicators.status import Change


class UnitType(StrEnum):
    """What a KPI's value measures; decides how it is written."""

    NUMBER = "number"
    CURRENCY = "currency"
    PERCENTAGE = "percentage"
    TIME = "time"
    BOOLEAN = "boolean"


class DisplayFormat(StrEnum):
    """How many decimals a value shows (``percentage``: up to 2, with a percent sign)."""

    INTEGER = "integer"
    DECIMAL_1 = "decimal_1"
    DECIMAL_2 = "decimal_2"
    PERCENTAGE = "percentage"


EMPTY = "—"
MINUS = "\u2212"
DEFAULT_LOCALE = "en_US"
THRESHOLD_MAX_DECIMALS = 4
COMPACT_BASELINE_FROM = 1_000_000

_Kind = Literal["decimal", "currency", "percent"]
_Precision = tuple[int, int]

_PRECISION: dict[str, _Precision] = {
    DisplayFormat.INTEGER: (0, 0),
    DisplayFormat.DECIMAL_1: (1, 1),
    DisplayFormat.DECIMAL_2: (2, 2),
    DisplayFormat.PERCENTAGE: (0, 2),
}
_ISO_CODE = re.compile(r"[A-Za-z]{3}")


@lru_cache(maxsize=128)
def _parse_locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def _locale(tag: object) -> Locale:
    return _parse_locale(tag if isinstance(tag, str) and tag.strip() else DEFAULT_LOCALE)


def _precision(display_format: str) -> _Precision:
    return _PRECISION.get(display_format, _PRECISION["decimal_1"])


def _decimal(value: float) -> Decimal:
    # repr is the shortest exact round-trip form, so 0.1 stays 0.1, not 0.1000000000000000055…
    return Decimal(repr(value + 0.0))


def _context() -> decimal.Context:
    # Enough precision for any float written out in full (1e308 has 309 digits).
    return decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_UP)


@lru_cache(maxsize=256)
def _pattern(locale: Locale, kind: _Kind, precision: _Precision) -> NumberPattern:
    """A private copy of the locale's pattern, set up once per (locale, kind, precision).

    Copying Babel's pattern on every call was a visible share of Home's render time.
    """
    if kind == "currency":
        base = locale.currency_formats["standard"]
    elif kind == "percent":
        base = locale.percent_formats[None]
    else:
        base = locale.decimal_formats[None]
    pattern: NumberPattern = copy.copy(base)
    pattern.frac_prec = precision
    # Values are already in the unit shown: 99.94 means 99.94%, not 9994%.
    pattern.scale = 0
    return pattern


def _render(
    value: float | Decimal,
    locale: Locale,
    *,
    kind: _Kind,
    precision: _Precision,
    currency: str | None = None,
) -> str:
    pattern = _pattern(locale, kind, precision)
    number = value if isinstance(value, Decimal) else _decimal(value)
    with decimal.localcontext(_context()):
        text = pattern.apply(number, locale, currency=currency, currency_digits=False)
    return _space_currency(text, currency, locale) if currency else text


def _currency(unit_label: str) -> str | None:
    label = unit_label.strip() if isinstance(unit_label, str) else ""
    if not label:
        return None
    return label.upper() if _ISO_CODE.fullmatch(label) else label


def _space_currency(text: str, currency: str, locale: Locale) -> str:
    """CLDR currency spacing: a no-break space between a letter-like symbol and a digit.

    https://unicode.org/reports/tr35/tr35-numbers.html#Currencies ("currencySpacing").
    """
    symbol = get_currency_symbol(currency, locale)
    at = text.find(symbol)
    if at < 0 or not symbol:
        return text
    end = at + len(symbol)

    def spaced(char: str) -> bool:
        return not unicodedata.category(char).startswith(("S", "Z"))

    if end < len(text) and text[end].isdigit() and spaced(symbol[-1]):
        text = text[:end] + "\u00a0" + text[end:]
    if at > 0 and text[at - 1].isdigit() and spaced(symbol[0]):
        text = text[:at] + "\u00a0" + text[at:]
    return text


def _with_label(text: str, unit_label: str) -> str:
    label = unit_label.strip() if isinstance(unit_label, str) else ""
    return f"{text} {label}" if label else text


def _format(
    value: float,
    *,
    unit_type: str,
    unit_label: str,
    display_format: str,
    locale: Locale,
    precision: _Precision,
) -> str:
    if unit_type == "boolean":
        return "Yes" if value else "No"
    if unit_type == "currency":
        code = _currency(unit_label)
        if code is not None:
            return _render(value, locale, kind="currency", precision=precision, currency=code)
        return _render(value, locale, kind="decimal", precision=precision)
    if unit_type == "percentage":
        return _render(value, locale, kind="percent", precision=precision)
    kind: _Kind = "percent" if _is_percent(unit_type, display_format) else "decimal"
    return _with_label(_render(value, locale, kind=kind, precision=precision), unit_label)


def _is_percent(unit_type: str, display_format: str) -> bool:
    """Whether the value reads as a percent: its unit says so, or a unitless number asks to."""
    if unit_type == "percentage":
        return True
    return display_format == "percentage" and unit_type not in ("currency", "time", "boolean")


def format_value(
    value: float | None,
    *,
    unit_type: str,
    unit_label: str = "",
    display_format: str = "decimal_1",
    locale: str = DEFAULT_LOCALE,
) -> str:
    """The value as it reads on Home and detail pages: "$1,840,000", "99.94%", "380 ms"."""
    number = as_finite(value)
    if number is None:
        return EMPTY
    return _format(
        number,
        unit_type=unit_type,
        unit_label=unit_label,
        display_format=display_format,
        locale=_locale(locale),
        precision=_precision(display_format),
    )


def _compact(
    value: float,
    *,
    unit_type: str,
    unit_label: str,
    locale: Locale,
    fraction_digits: int,
) -> str:
    if unit_type == "boolean":
        return "Yes" if value else "No"
    if unit_type == "percentage":
        return _render(value, locale, kind="percent", precision=(0, fraction_digits))
    code = _currency(unit_label) if unit_type == "currency" else None
    number = _snap(_decimal(value), locale, fraction_digits)
    if _abbreviation(number, locale) is None:
        kind: _Kind = "currency" if code else "decimal"
        text = _render(number, locale, kind=kind, precision=(0, fraction_digits), currency=code)
    elif code is not None:
        with decimal.localcontext(_context()):
            text = format_compact_currency(
                number, code, locale=locale, fraction_digits=fraction_digits
            )
        text = _space_currency(text, code, locale)
    else:
        with decimal.localcontext(_context()):
            text = format_compact_decimal(number, locale=locale, fraction_digits=fraction_digits)
    return text if unit_type == "currency" else _with_label(text, unit_label)


def _abbreviation(number: Decimal, locale: Locale) -> int | None:
    """The divisor the locale's short compact form uses for ``number``; None if unabbreviated.

    Mirrors CLDR's compact-number lookup: the largest magnitude not above the
    number, whose pattern's zero count says how many digits stay in front.
    """
    patterns = locale.compact_decimal_formats.get("short", {}).get("other", {})
    for magnitude in sorted((int(key) for key in patterns), reverse=True):
        if abs(number) >= magnitude:
            pattern = patterns[str(magnitude)].pattern
            zeros = pattern.count("0")
            if pattern == "0" or zeros == 0:
                return None
            return magnitude // 10 ** (zeros - 1)
    return None


def _snap(number: Decimal, locale: Locale, fraction_digits: int) -> Decimal:
    """Round to what the compact form will show, then settle into the right magnitude.

    Babel rounds after choosing the magnitude, so 999,999 would read "1000K";
    rounding first and re-choosing makes it "1M".
    """
    with decimal.localcontext(_context()):
        for _ in range(2):
            divisor = _abbreviation(number, locale) or 1
            number = round(number / divisor, fraction_digits) * divisor
    return number


def format_compact(
    value: float | None,
    *,
    unit_type: str,
    unit_label: str = "",
    locale: str = DEFAULT_LOCALE,
) -> str:
    """A short form for tight spaces: "$1.2M", "12.5K", "99.9%" (at most one decimal)."""
    number = as_finite(value)
    if number is None:
        return EMPTY
    return _compact(
        number,
        unit_type=unit_type,
        unit_label=unit_label,
        locale=_locale(locale),
        fraction_digits=1,
    )


def _threshold_precision(value: float, display_format: str) -> _Precision:
    low, high = _precision(display_format)
    if display_format == "percentage":
        return (low, max(high, THRESHOLD_MAX_DECIMALS))
    with decimal.localcontext(_context()):
        exponent = _decimal(value).normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return (low, max(high, min(needed, THRESHOLD_MAX_DECIMALS)))


def target_phrase(
    p: ShapeParams,
    *,
    unit_type: str,
    unit_label: str = "",
    display_format: str = "decimal_1",
    locale: str = DEFAULT_LOCALE,
) -> str:
    """One line saying what the KPI aims for: "stay above 99.9%", "between 3.0 and 7.0",
    "trending up from $1.2M", "trending down vs 30d ago". Empty for an unknown shape;
    a missing parameter shows as "—".
    """
    where = _locale(locale)
    unit = "number" if unit_type == "boolean" else unit_type

    def target(value: float | None) -> str:
        number = as_finite(value)
        if number is None:
            return EMPTY
        return _format(
            number,
            unit_type=unit,
            unit_label=unit_label,
            display_format=display_format,
            locale=where,
            precision=_threshold_precision(number, display_format),
        )

    if p.shape == Shape.STAY_ABOVE:
        return f"stay above {target(p.threshold)}"
    if p.shape == Shape.STAY_BELOW:
        return f"stay below {target(p.threshold)}"
    if p.shape == Shape.STAY_BETWEEN:
        return f"between {target(p.lower)} and {target(p.upper)}"
    if p.shape != Shape.TREND:
        return ""
    phrase = "trending"
    if p.direction in (Direction.UP, Direction.DOWN):
        phrase = f"trending {p.direction}"
    if p.baseline_mode == BaselineMode.PRIOR_PERIOD:
        try:
            return f"{phrase} vs {format_duration(parse_duration(p.baseline_period or ''))} ago"
        except DurationError:
            return phrase
    baseline = as_finite(p.baseline)
    if baseline is None:
        return phrase
    if unit == "currency" and abs(baseline) >= COMPACT_BASELINE_FROM:
        shown = _compact(
            baseline, unit_type=unit, unit_label=unit_label, locale=where, fraction_digits=2
        )
    else:
        shown = target(baseline)
    return f"{phrase} from {shown}"


def _signed(number: float, text: str) -> str:
    if number > 0:
        return f"+{text}"
    if number < 0:
        return f"{MINUS}{text}"
    return text


def format_change(
    change: Change,
    *,
    unit_type: str,
    unit_label: str = "",
    display_format: str = "decimal_1",
    locale: str = DEFAULT_LOCALE,
) -> str:
    """The change against the previous period: "+1.2 (+3.4%)", "+0.05 pp";
    a fall reads with U+2212: "\u2212380 ms (\u22125.0%)"."""
    if unit_type == "boolean":
        return ""
    absolute = as_finite(change.absolute)
    if absolute is None:
        return ""
    where = _locale(locale)
    precision = _precision(display_format)
    if _is_percent(unit_type, display_format):
        magnitude = _render(abs(absolute), where, kind="decimal", precision=precision) + " pp"
    else:
        magnitude = _format(
            abs(absolute),
            unit_type=unit_type,
            unit_label=unit_label,
            display_format=display_format,
            locale=where,
            precision=precision,
        )
    text = _signed(absolute, magnitude)
    percent = as_finite(change.percent)
    if percent is not None:
        shown = _render(abs(percent), where, kind="percent", precision=(1, 1))
        text = f"{text} ({_signed(percent, shown)})"
    return text


def format_short_date(day: date, *, locale: str, today: date) -> str:
    """A day as people say it in the org's locale: "Dec 3" (en_US), "3 Dec" (en_GB).

    The year is added only when it is not ``today``'s ("Dec 3, 2025"), for phrases
    such as "since Dec 3" and "400 ms from Jan 1".
    """
    skeleton = "MMMd" if day.year == today.year else "yMMMd"
    return str(format_skeleton(skeleton, day, locale=_locale(locale)))


def format_target(
    value: float | None,
    *,
    unit_type: str,
    unit_label: str = "",
    display_format: str = "decimal_1",
    locale: str = DEFAULT_LOCALE,
) -> str:
    """A threshold, bound or baseline alone, as ``target_phrase`` renders it ("400 ms"),
    for the scheduled change a phrase announces (``indicators/targets.py``)."""
    number = as_finite(value)
    if number is None:
        return EMPTY
    return _format(
        number,
        unit_type="number" if unit_type == "boolean" else unit_type,
        unit_label=unit_label,
        display_format=display_format,
        locale=_locale(locale),
        precision=_threshold_precision(number, display_format),
    )
