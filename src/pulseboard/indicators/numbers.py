"""Number text as people and spreadsheets write it: the one parser for a typed or pulled value.

Owns ``parse_number_text``, used by the inline value edit of the web app and by pull
sources (``connectors.values`` reads a sheet cell or a JSON string through it), so
"99.9%", "12k", "1,234.5" or "$1.2M" mean the same number wherever they come from
(DESIGN.md §6). Pure: no Django, no I/O. Every failure is a ``NumberTextError`` whose
``reason`` lets each surface phrase it its own way; its message is the pull's wording.

Rules decided here:
- thousands separators must be "," in groups of three ("1,5" is refused, not read as
  15 or 1.5); the decimal mark is ".";
- "%" is dropped ("99.9%" -> 99.9), magnitude suffixes k, m, b/bn, t (any case) multiply
  by 10^3, 10^6, 10^9, 10^12, a leading or trailing currency symbol is dropped, and
  "(12)" is the accounting form of -12; U+2212 (the typographic minus) is a minus;
- yes/true/on and no/false/off read as 1 and 0 when the caller allows words (a sheet's
  checkbox, a yes/no KPI), and are refused otherwise;
- only ASCII digits count as digits; NaN and infinities are refused, and so is a number
  too large for a float.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, DecimalException
from enum import StrEnum
from typing import Final

MAX_TEXT_LENGTH: Final = 200

_TRUE: Final = frozenset({"true", "yes", "on"})
_FALSE: Final = frozenset({"false", "no", "off"})
_CURRENCY: Final = "$€£¥₹₩₽₺₪₫₴₦฿¢"
_MAGNITUDES: Final = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "t": 10**12,
}
_NUMBER = re.compile(
    rf"""
    (?P<sign1>[+-]?)
    [{_CURRENCY}]?
    (?P<sign2>[+-]?)
    (?P<digits>
        (?:[0-9]{{1,3}}(?:,[0-9]{{3}})+|[0-9]+)(?:\.[0-9]*)?
        |\.[0-9]+
    )
    (?P<exponent>[eE][+-]?[0-9]{{1,4}})?
    \s*
    (?P<magnitude>bn|[kmbt])?
    \s*
    [{_CURRENCY}]?
    \s*
    (?P<percent>%?)
    """,
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)


class NumberTextReason(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NOT_A_NUMBER = "not_a_number"
    OUT_OF_RANGE = "out_of_range"


class NumberTextError(ValueError):
    """Text that is not a number; ``reason`` says which rule it broke, the message shows it."""

    def __init__(self, reason: NumberTextReason, text: str) -> None:
        self.reason = reason
        self.text = text
        super().__init__(_MESSAGES[reason].format(shown=shown(text)))


_MESSAGES: Final = {
    NumberTextReason.EMPTY: "value is empty",
    NumberTextReason.TOO_LONG: "value {shown} is too long to be a number",
    NumberTextReason.NOT_A_NUMBER: "value {shown} is not a number",
    NumberTextReason.OUT_OF_RANGE: "value {shown} is out of range",
}


def shown(raw: object) -> str:
    """``raw`` quoted for a message, cut to 40 characters."""
    text = raw if isinstance(raw, str) else repr(raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_number_text(text: str, *, words: bool = True) -> float:
    """The finite float ``text`` stands for, or ``NumberTextError`` saying why not.

    ``words`` allows yes/no, true/false and on/off (1 and 0).
    """
    stripped = text.strip()
    if not stripped:
        raise NumberTextError(NumberTextReason.EMPTY, text)
    if len(stripped) > MAX_TEXT_LENGTH:
        raise NumberTextError(NumberTextReason.TOO_LONG, text)
    lowered = stripped.lower()
    if words and lowered in _TRUE:
        return 1.0
    if words and lowered in _FALSE:
        return 0.0
    # Spreadsheets and typographers write minus as U+2212; accounting writes (12).
    body = stripped.replace("\u2212", "-")
    negative_parens = body.startswith("(") and body.endswith(")")
    if negative_parens:
        body = body[1:-1].strip()
    match = _NUMBER.fullmatch(body)
    if match is None:
        raise NumberTextError(NumberTextReason.NOT_A_NUMBER, text)
    sign1, sign2 = match["sign1"], match["sign2"]
    if (sign1 and sign2) or (negative_parens and (sign1 or sign2)):
        raise NumberTextError(NumberTextReason.NOT_A_NUMBER, text)
    negative = negative_parens or "-" in (sign1, sign2)
    literal = match["digits"].replace(",", "") + (match["exponent"] or "")
    multiplier = _MAGNITUDES[(match["magnitude"] or "").lower()]
    try:
        number = float(Decimal(literal) * multiplier)
    except (DecimalException, OverflowError, ValueError):
        raise NumberTextError(NumberTextReason.OUT_OF_RANGE, text) from None
    if not math.isfinite(number):
        raise NumberTextError(NumberTextReason.OUT_OF_RANGE, text)
    return -number if negative else number
