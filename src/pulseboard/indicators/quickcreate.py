"""Quick-create title parsing (DESIGN §3): reads what an admin types as a KPI title
("Keep MTTR below 4h", "ARR trending up from $1.2M") and suggests a shape, its target,
a unit and the bare metric name, and `suggested_fields` turns that into the KPI fields
quick-create fills in (with the defaults that make them valid), one answer for the web's
Apply and the API's `POST /parse-title`. Pure: no Django, no I/O, no clock; `parse_title` never
raises and runs in time linear in the title's length (one tokenizing regex without nested
quantifiers, then single passes over the tokens).

How a title is read: it is split into words, numbers and symbols; numbers are joined
with what sticks to them (sign, currency, k/M/B multiplier, unit) into quantities; then a
small grammar looks, in this order, for a trend word next to "from X to Y" (a trend with
baseline X), an explicit range ("between 3 and 7", "from 3 to 7", "within 3-7",
"20 ± 2"), a comparison (above/over/at least/>=/... or below/under/at most/<=/...,
prefix or postfix: "35 or more", "300 ms max"; "not"/"never"/"no" flip it; two opposite
comparisons joined by "and"/"but"/"," make a range), a bare range ("3-7", "3 to 7") and
lastly a trend ("trending up", "going down", "increase …", "… declining", "↑"). The
metric is what is left once that clause is cut out, with the verbs around it ("keep",
"should stay", "don't let"), an opening imperative ("Reduce latency below 300ms"), an
explicit trend phrase that lost to a comparison, and edge punctuation trimmed away.

Decisions where people's phrasing is ambiguous:
- A lowercase "m" after a number means million when the title mentions a currency,
  minutes when it has time context (another time unit, or words such as latency, MTTR,
  duration, build), million otherwise. "M", "mm", "mn", "million" always mean million.
- Weeks become days (x 7); microseconds become milliseconds.
- A comparison with a number beats a trend word ("Increase NPS above 40" is stay_above
  40); a time window after a trend ("trending up over 30 days") is not a comparison.
  Verbs such as "increase"/"declining" count as a trend only where a verb would stand
  (title start, title end, after "is"/"keep"/…, before "from X"), so "Drop rate" and
  "Card decline rate" are not trends; "up"/"down" alone only at the end ("ARR up").
- Two opposite comparisons only make a range when joined ("above 3 and below 7");
  "below 1% or above 3%" (an outside band) is read as its first comparison.
- Range bounds share units: "between 100 and 300 ms" is ms on both; differing time units
  are converted to the smaller one ("500 ms to 2 s" is 500..2000 ms); a multiplier only on
  the upper bound also applies to the lower one when its number is not larger
  ("1-2M" is 1M..2M, "500 to 2M" stays 500..2M). Bounds given high-to-low are swapped.
- A decimal comma is accepted when one or two digits follow it ("99,9%"); three digits
  make it a thousands separator ("1,200").
- unit_type is "number" only when a count unit says so ("3x", "35 points", "number of",
  "#", "count"); with no unit anywhere it is None. A unit written elsewhere in the title
  ("Latency (ms) below 300", "Revenue in EUR over 50k") applies when the target has none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Generic, TypedDict, TypeVar

from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape

_V = TypeVar("_V")


def _words(text: str) -> list[str]:
    return text.split()


def _phrases(text: str) -> list[tuple[str, ...]]:
    """Split "make sure | keep" into [("make", "sure"), ("keep",)]."""
    return [tuple(phrase.split()) for phrase in text.split("|")]


@dataclass(frozen=True)
class Detected:
    """What a title suggests; fields that do not apply to the shape are None."""

    shape: str
    threshold: float | None
    lower: float | None
    upper: float | None
    direction: str | None
    baseline: float | None
    unit_type: str | None
    unit_label: str | None
    metric: str

    def to_dict(self) -> dict[str, str | float | None]:
        return asdict(self)


class SuggestedFields(TypedDict, total=False):
    """KPI fields a title fills in; a field the title says nothing about is left out."""

    title: str
    shape: str
    threshold: float
    lower: float
    upper: float
    direction: str
    baseline: float
    baseline_mode: str
    baseline_period: str
    unit_type: str
    unit_label: str
    display_format: str


# "ARR trending up" names no baseline: it is compared with its own value a month ago.
DEFAULT_TREND_PERIOD = "30d"
# Money reads best in whole units, a percentage with its percent sign.
_DISPLAY_FORMATS = {
    UnitType.PERCENTAGE: DisplayFormat.PERCENTAGE,
    UnitType.CURRENCY: DisplayFormat.INTEGER,
}


def suggested_fields(detected: Detected) -> SuggestedFields:
    """The KPI fields a detected title fills in: its target, and the defaults that make it a
    valid KPI. Quick-create's Apply (web) and ``POST /parse-title`` both answer with this."""
    fields = SuggestedFields(shape=str(detected.shape))
    if detected.metric.strip():
        fields["title"] = detected.metric.strip()
    for name in ("threshold", "lower", "upper", "baseline"):
        value = getattr(detected, name)
        if value is not None:
            fields[name] = value  # type: ignore[literal-required]
    if detected.direction is not None:
        fields["direction"] = str(detected.direction)
    if detected.shape == Shape.TREND:
        if detected.baseline is None:
            fields["baseline_mode"] = BaselineMode.PRIOR_PERIOD.value
            fields["baseline_period"] = DEFAULT_TREND_PERIOD
        else:
            fields["baseline_mode"] = BaselineMode.FIXED.value
    if detected.unit_type:
        fields["unit_type"] = str(detected.unit_type)
        fields["unit_label"] = detected.unit_label or ""
        display_format = _DISPLAY_FORMATS.get(UnitType(detected.unit_type))
        if display_format is not None:
            fields["display_format"] = display_format.value
    return fields


def parse_title(title: str) -> Detected | None:
    """Detect shape, target and unit in a KPI title; None when it names no shape."""
    if not isinstance(title, str):
        return None
    try:
        return _parse(title)
    except Exception:
        # The suggestion is optional help while typing: whatever goes wrong means
        # "nothing detected", never an error page (DESIGN §3: never raise on any string).
        return None


# --- tokens -------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<num>
        [0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?   # 1,200 / 1,234.5
      | [0-9]+,[0-9]{1,2}(?![0-9])                        # decimal comma: 99,9
      | [0-9]+(?:\.[0-9]+)?
      | \.[0-9]+
    )
    | (?P<word>[^\W\d_]+(?:['\u2019][^\W\d_]+)?)
    | (?P<sym>>=|<=|=>|=<|\+/-|\+-|\.{2,3}|\S)
    """,
    re.VERBOSE,
)
_THOUSANDS_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")

# Look-alike characters are spelled as escapes so the source shows which one is meant.
_DASHES = "\u2212\u2010\u2011\u2012\u2013\u2014\u2015"  # minus sign, hyphens, en/em dashes
_SYM_CANON: dict[str, str] = {
    **dict.fromkeys(("=>", "≥", "⩾", "≧"), ">="),
    **dict.fromkeys(("=<", "≤", "⩽", "≦"), "<="),
    "\uff1e": ">",  # fullwidth
    "\uff1c": "<",
    **dict.fromkeys(_DASHES, "-"),
    **dict.fromkeys(("…", "..."), ".."),
    **dict.fromkeys(("+/-", "+-"), "±"),
    **dict.fromkeys(("⬆", "⇧", "📈"), "↑"),
    **dict.fromkeys(("⬇", "⇩", "📉"), "↓"),
    **dict.fromkeys(("≈", "\u223c"), "~"),  # tilde operator
    "\uff05": "%",  # fullwidth
    "\u00d7": "x",  # multiplication sign, as in "3x"
}
_APOSTROPHE = "\u2019"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "num" | "word" | "sym"
    text: str  # canonical: lower-case words, normalised symbols
    raw: str
    start: int
    end: int
    glued: bool  # touches the previous token: no whitespace between them


def _tokenize(title: str) -> list[_Token]:
    tokens: list[_Token] = []
    previous_end = -1
    for match in _TOKEN_RE.finditer(title):
        kind = match.lastgroup or "sym"
        raw = match.group()
        if kind == "word":
            text = raw.lower().replace(_APOSTROPHE, "'")
        elif kind == "sym":
            text = _SYM_CANON.get(raw, raw)
        else:
            text = raw
        glued = match.start() == previous_end
        tokens.append(_Token(kind, text, raw, match.start(), match.end(), glued))
        previous_end = match.end()
    return tokens


# --- quantities ---------------------------------------------------------------------------

_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CURRENCY_CODES = {
    code.lower(): code
    for code in ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "INR", "SEK", "NOK")
}
# Codes that also read as ordinary words or acronyms only count right next to a number.
_CURRENCY_HINT_CODES = {"usd": "USD", "eur": "EUR", "gbp": "GBP"}
_CURRENCY_WORDS = {
    **dict.fromkeys(("dollar", "dollars", "bucks"), "USD"),
    **dict.fromkeys(("euro", "euros"), "EUR"),
    **dict.fromkeys(("pound", "pounds", "quid"), "GBP"),
    "yen": "JPY",
}
_MULTIPLIERS: dict[str, Decimal] = {
    **dict.fromkeys(("k", "thousand"), Decimal(10) ** 3),
    **dict.fromkeys(("mm", "mn", "mil", "mio", "million", "millions"), Decimal(10) ** 6),
    **dict.fromkeys(("b", "bn", "billion", "billions"), Decimal(10) ** 9),
    **dict.fromkeys(("tn", "trillion"), Decimal(10) ** 12),
}
# Single-letter multipliers that may stand apart from their number ("1.2 M").
_SPACED_MULTIPLIER_RAW = {"K", "k", "M", "B"}
_TIME_UNITS: dict[str, tuple[str, Decimal]] = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), ("ms", Decimal(1))),
    **dict.fromkeys(("µs", "μs", "microsecond", "microseconds"), ("ms", Decimal("0.001"))),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), ("s", Decimal(1))),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), ("min", Decimal(1))),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("h", Decimal(1))),
    **dict.fromkeys(("d", "day", "days"), ("d", Decimal(1))),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), ("d", Decimal(7))),
}
_TIME_IN_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_TIME_CONTEXT = frozenset(
    _words(
        """time times duration durations latency latencies delay delays wait waiting response
        responses resolve resolution mttr mtta mttd mtti mttf mtbf ttr ttfb ttfr frt aht handle
        handling build builds deploy deploys deployment deployments lead cycle load loading
        downtime outage outages turnaround tat age elapsed runtime queue processing recovery
        restore idle length ping rtt lag"""
    )
)
_PERCENT_WORDS = frozenset(("percent", "percentage", "pct", "perc"))
_COUNT_UNITS = frozenset(("x", "points", "point", "pts"))
# Comparator words people run into their number ("above35", "max300ms").
_GLUED_COMPARATORS = frozenset(
    _words("above below under over min max minimum maximum gt lt gte lte")
)
_SIGN_CONTEXT = frozenset((">", ">=", "<", "<=", "=", "(", "[", ":", "~", "±", "/", ","))


@dataclass(frozen=True, slots=True)
class _Quantity:
    number: Decimal  # signed, as written
    multiplier: Decimal
    has_multiplier: bool
    unit_type: str | None
    unit_label: str | None
    factor: Decimal  # weeks are written as days x 7, microseconds as ms x 0.001
    start: int
    end: int

    @property
    def exact(self) -> Decimal:
        return self.number * self.multiplier * self.factor

    @property
    def value(self) -> float:
        return float(self.exact)


_Item = _Token | _Quantity


def _is_currency_token(token: _Token) -> bool:
    return (
        (token.kind == "sym" and token.text in _CURRENCY_SYMBOLS)
        or token.text in _CURRENCY_HINT_CODES
        or token.text in _CURRENCY_WORDS
    )


def _m_means_million(tokens: Sequence[_Token]) -> bool:
    if any(_is_currency_token(token) for token in tokens):
        return True
    for index, token in enumerate(tokens):
        if token.kind != "word":
            continue
        if token.text in _TIME_CONTEXT:
            return False
        after_number = index > 0 and tokens[index - 1].kind == "num" and token.glued
        unit_word = token.text in _TIME_UNITS and token.text != "m"
        if unit_word and (len(token.text) > 1 or after_number):
            return False
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        percentile = following is not None and following.kind == "num" and following.glued
        if token.text == "p" and percentile:
            return False  # p95 / p99: a latency percentile
    return True


def _decimal(raw: str) -> Decimal:
    if "," in raw:
        raw = raw.replace(",", "") if _THOUSANDS_RE.fullmatch(raw) else raw.replace(",", ".")
    return Decimal(raw)


def _read_quantity(
    tokens: Sequence[_Token], i: int, m_million: bool
) -> tuple[_Quantity, int] | None:
    """The quantity starting at token i and the index after it, or None."""
    n = len(tokens)
    j = i
    currency: str | None = None
    negative = False

    def at(k: int) -> _Token | None:
        return tokens[k] if k < n else None

    def take_currency(k: int) -> int:
        nonlocal currency
        token = at(k)
        if token is None:
            return k
        follower = at(k + 1)
        if token.text == "us" and follower is not None and follower.text == "$" and follower.glued:
            currency = "USD"
            return k + 2
        if token.kind == "sym" and token.text in _CURRENCY_SYMBOLS:
            currency = _CURRENCY_SYMBOLS[token.text]
            return k + 1
        if token.kind == "word" and token.text in _CURRENCY_CODES:
            currency = _CURRENCY_CODES[token.text]
            return k + 1
        return k

    def take_sign(k: int) -> int:
        nonlocal negative
        token, follower = at(k), at(k + 1)
        if token is None or follower is None or token.text not in ("-", "+"):
            return k
        if not follower.glued or follower.kind not in ("num", "sym"):
            return k
        if k == i and token.glued and i > 0 and tokens[i - 1].text not in _SIGN_CONTEXT:
            return k  # "3-7": a range dash, not a minus
        negative = token.text == "-"
        return k + 1

    j = take_currency(j)
    j = take_sign(j)
    if currency is None and j > i:
        j = take_currency(j)
    number_token = at(j)
    if number_token is None or number_token.kind != "num":
        return None
    if (
        j == i
        and number_token.glued
        and i > 0
        and tokens[i - 1].kind in ("word", "num")
        and tokens[i - 1].text not in _GLUED_COMPARATORS
    ):
        return None  # part of an identifier such as p95, Q3, H1
    try:
        number = _decimal(number_token.text)
    except InvalidOperation:
        return None
    if negative:
        number = -number
    j += 1

    multiplier, has_multiplier = Decimal(1), False
    token = at(j)
    if token is not None and token.kind == "word":
        spaced_ok = token.glued or len(token.text) > 1 or token.raw in _SPACED_MULTIPLIER_RAW
        if token.raw == "M" or (token.text == "m" and m_million):
            multiplier, has_multiplier = Decimal(10) ** 6, True
        elif token.raw == "T":
            multiplier, has_multiplier = Decimal(10) ** 12, True
        elif token.text in _MULTIPLIERS and spaced_ok:
            multiplier, has_multiplier = _MULTIPLIERS[token.text], True
        if has_multiplier:
            j += 1

    unit_type: str | None = None
    unit_label: str | None = None
    factor = Decimal(1)
    token = at(j)
    if token is not None:
        follower = at(j + 1)
        if token.text == "%" or (token.kind == "word" and token.text in _PERCENT_WORDS):
            unit_type, j = UnitType.PERCENTAGE, j + 1
        elif token.text == "per" and follower is not None and follower.text == "cent":
            unit_type, j = UnitType.PERCENTAGE, j + 2
        elif token.text == "pp":
            unit_type, j = UnitType.PERCENTAGE, j + 1
        elif token.kind == "word" and token.text == "m" and not has_multiplier:
            unit_type, unit_label, j = UnitType.TIME, "min", j + 1
        elif token.kind == "word" and token.text in _TIME_UNITS:
            unit_label, factor = _TIME_UNITS[token.text]
            unit_type, j = UnitType.TIME, j + 1
        elif currency is None and token.kind == "sym" and token.text in _CURRENCY_SYMBOLS:
            currency, j = _CURRENCY_SYMBOLS[token.text], j + 1
        elif currency is None and token.text in _CURRENCY_CODES:
            currency, j = _CURRENCY_CODES[token.text], j + 1
        elif currency is None and token.text in _CURRENCY_WORDS:
            currency, j = _CURRENCY_WORDS[token.text], j + 1
        elif token.text in _COUNT_UNITS and (token.glued or token.kind == "word"):
            unit_type, j = UnitType.NUMBER, j + 1
        elif token.text == "°":
            # Degrees (°C / °F) have no unit_type of their own.
            unit_type, j = UnitType.NUMBER, j + 1
            scale = at(j)
            if scale is not None and scale.glued and scale.text in ("c", "f"):
                j += 1
        points = at(j)
        if (
            unit_type == UnitType.PERCENTAGE
            and points is not None
            and points.text in ("points", "pts")
        ):
            j += 1
    if currency is not None:
        unit_type, unit_label = UnitType.CURRENCY, currency

    token = at(j)
    if token is not None and token.glued and token.kind in ("word", "num"):
        return None  # "2FA", "3rd": a word that starts with digits
    quantity = _Quantity(
        number, multiplier, has_multiplier, unit_type, unit_label, factor,
        tokens[i].start, tokens[j - 1].end,
    )  # fmt: skip
    if not math.isfinite(quantity.value):
        return None  # hundreds of digits: no KPI target, and no float to hold it
    return quantity, j


def _assemble(tokens: Sequence[_Token]) -> list[_Item]:
    m_million = _m_means_million(tokens)
    items: list[_Item] = []
    i = 0
    while i < len(tokens):
        read = _read_quantity(tokens, i, m_million)
        if read is None:
            items.append(tokens[i])
            i += 1
        else:
            items.append(read[0])
            i = read[1]
    return items


# --- phrase tables ------------------------------------------------------------------------


def _text(items: Sequence[_Item], i: int) -> str | None:
    if 0 <= i < len(items):
        item = items[i]
        if isinstance(item, _Token):
            return item.text
    return None


def _quantity_at(items: Sequence[_Item], i: int) -> _Quantity | None:
    if 0 <= i < len(items):
        item = items[i]
        if isinstance(item, _Quantity):
            return item
    return None


class _Phrases(Generic[_V]):
    """Word sequences looked up by their first word, longest match first."""

    def __init__(self, entries: Iterable[tuple[str, _V]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], _V]]] = {}
        for phrase, value in entries:
            words = tuple(phrase.split())
            self._by_first.setdefault(words[0], []).append((words, value))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda entry: -len(entry[0]))

    def match(self, items: Sequence[_Item], i: int) -> tuple[int, _V] | None:
        first = _text(items, i)
        if first is None:
            return None
        for words, value in self._by_first.get(first, ()):
            if all(_text(items, i + k) == word for k, word in enumerate(words)):
                return len(words), value
        return None


def _phrase_set(phrases: Iterable[str]) -> _Phrases[bool]:
    return _Phrases((phrase, True) for phrase in phrases)


_ABOVE, _BELOW = True, False
_COMPARATORS: _Phrases[bool] = _Phrases(
    [
        (p, _ABOVE)
        for p in (
            ">", ">=", "above", "over", "exceed", "exceeds", "exceeding", "beyond", "surpass",
            "surpasses", "greater than", "more than", "higher than", "larger than",
            "bigger than", "greater than or equal to", "greater than or equal",
            "greater than or equals", "greater or equal to", "greater or equal",
            "more than or equal to", "higher than or equal to", "above or equal to",
            "equal to or greater than", "equal or greater than", "equal to or more than",
            "equal to or higher than", "equal to or above", "at least", "atleast",
            "at or above", "at or over", "min", "minimum", "minimum of", "gt", "gte", "geq",
            "floor", "floor of", "upwards of", "in excess of", "north of",
        )
    ]
    + [
        (p, _BELOW)
        for p in (
            "<", "<=", "below", "under", "beneath", "underneath", "less than", "fewer than",
            "lower than", "smaller than", "lesser than", "less than or equal to",
            "less than or equal", "less than or equals", "less or equal to", "less or equal",
            "fewer than or equal to", "lower than or equal to", "below or equal to",
            "under or equal to", "equal to or less than", "equal or less than",
            "equal to or lower than", "equal to or below", "equal to or fewer than",
            "at most", "atmost", "at or below", "at or under", "up to", "max", "maximum",
            "maximum of", "lt", "lte", "leq", "ceiling", "ceiling of", "cap", "capped at",
            "cap of", "within", "south of",
        )
    ]
)  # fmt: skip
_POSTFIX: _Phrases[bool] = _Phrases(
    [
        (p, _ABOVE)
        for p in (
            "or more", "or higher", "or above", "or greater", "or over", "or better",
            "or up", "and above", "and up", "and over", "and higher", "and more", "plus",
            "minimum", "min", "at least", "at minimum", "at a minimum", "floor",
        )
    ]
    + [
        (p, _BELOW)
        for p in (
            "or less", "or fewer", "or lower", "or below", "or under", "or sooner",
            "or faster", "or shorter", "and below", "and under", "and lower", "and less",
            "max", "maximum", "at most", "tops", "at maximum", "at the most", "at a maximum",
            "ceiling", "cap",
        )
    ]
)  # fmt: skip
_OPENING_LIMITS = frozenset(("min", "minimum", "max", "maximum"))
_COMPARATOR_GAP = frozenset(("than", "of", "to", "at", ":", "=", "(", ".", "is", "be"))
_TIME_WINDOW_COMPARATORS = frozenset(("over", "within", "under"))
_NEGATIONS = frozenset(
    _words(
        """not no never don't dont doesn't doesnt shouldn't shouldnt mustn't mustnt won't wont
        cannot can't cant isn't isnt aren't arent without"""
    )
)
_NEGATION_BRIDGE = frozenset(
    _words(
        """to go goes going drop drops dropping fall falls falling dip dips dipping get gets
        getting be is are ever rise rises rising climb climbs climbing let it exceed should must
        will sink sinks slip slips creep creeps grow grows stay stays remain remains"""
    )
)
_PAIR_CONNECTORS = frozenset(("and", "but", "&", ",", ";", "/", "yet", "while", "also"))

_AND_SEPARATORS = frozenset(("and", "&", "-", "to", "..", "~", "through", "thru", "/"))
_TO_SEPARATORS = frozenset(("to", "-", "..", "through", "thru", "until", "till"))
_BARE_SEPARATORS = frozenset(("-", "to", "..", "~", "through", "thru"))
_RANGE_LEADS: _Phrases[frozenset[str]] = _Phrases(
    [
        (p, _AND_SEPARATORS)
        for p in (
            "between", "in between", "within", "within range", "within the range",
            "within the range of", "within a range of", "in range", "in range of",
            "in the range", "in the range of", "in a range of", "range", "range of",
            "ranging between", "inside", "inside the range", "inside the range of",
        )
    ]
    + [(p, _TO_SEPARATORS) for p in ("from", "ranging from", "ranges from")]
)  # fmt: skip

_TREND_HEADS = frozenset(
    _words(
        """trend trends trending trended going goes go moving moves move heading heads head headed
        tracking tracks track ticking ticks tick creeping creeps creep"""
    )
)
_DIRECTION_WORDS = {
    **dict.fromkeys(("up", "upward", "upwards", "higher", "↑"), Direction.UP),
    **dict.fromkeys(("down", "downward", "downwards", "lower", "↓"), Direction.DOWN),
}
_STANDALONE_DIRECTIONS = {
    **dict.fromkeys(("upward", "upwards", "uptrend", "uptrending", "↑"), Direction.UP),
    **dict.fromkeys(("downward", "downwards", "downtrend", "downtrending", "↓"), Direction.DOWN),
}
_TREND_VERBS = {
    **dict.fromkeys(
        _words(
            """increase increases increasing increased grow grows growing grew rise rises rising
            climb climbs climbing raise raises raising boost boosts boosting maximize maximise
            maximizing maximising expand expands expanding gain gains gaining"""
        ),
        Direction.UP,
    ),
    **dict.fromkeys(
        _words(
            """decrease decreases decreasing decreased reduce reduces reducing reduced decline
            declines declining declined fall falls falling drop drops dropping shrink shrinks
            shrinking cut cuts cutting lower lowers lowering minimize minimise minimizing
            minimising dip dips dipping sink sinks sinking"""
        ),
        Direction.DOWN,
    ),
}
# Comparative words only read as a trend when they open the title: "More signups".
_OPENING_TREND_WORDS = {
    **dict.fromkeys(("more", "higher", "bigger", "larger", "greater"), Direction.UP),
    **dict.fromkeys(("fewer", "less", "lower", "smaller"), Direction.DOWN),
}
# "Drop rate", "Drop-off": a trend verb that is really the first half of a noun.
_NOUN_FOLLOWERS = frozenset(("rate", "rates", "ratio", "off", "-", "count", "volume", "%"))
_AUXILIARIES = frozenset(
    _words(
        """is are be been being keep keeps should must to will continue continues stay stays
        remain remains"""
    )
)
_PERIODS = ("day", "week", "month", "quarter", "year", "period")
_CADENCE = _phrase_set(
    [
        "over time", "mom", "qoq", "yoy", "wow", "dod", "m / m", "q / q", "y / y", "w / w",
        "monthly", "weekly", "quarterly", "yearly", "annually", "daily", "steadily",
        "consistently", "continuously", "again", "and to the right",
    ]
    + [f"{p} over {p}" for p in _PERIODS]
    + [f"{w} {p}" for w in ("each", "every", "per", "this", "next") for p in _PERIODS]
    + [
        f"{marker} {ref} {p}"
        for marker in ("vs", "vs .", "versus", "from", "since", "compared to", "compared with",
                       "relative to", "than")
        for ref in ("last", "previous", "prior", "the previous", "the last", "the prior")
        for p in _PERIODS
    ]
)  # fmt: skip
_BASELINE_MARKERS = _Phrases(
    (" ".join(words), True)
    for words in _phrases(
        """from | vs | versus | since | against | relative to | compared to | compared with
        | starting from | starting at | baseline | base"""
    )
)
_BASELINE_GAP = frozenset(
    ("a", "an", "the", "baseline", "base", "of", ":", "=", "level", "value", "(", ".", "current")
)
_TARGET_MARKERS = frozenset(("to", "by"))
_LEADING_FILLERS = frozenset(
    _phrases(
        """keep | keeping | maintain | maintaining | ensure | make sure | stay | hold | have
        | get | let's | lets | let | don't let | dont let | do not let | never let | please | we
        | want | need | needs | should | must | to | always | the | our | a | an"""
    )
)
# Imperatives that open a title whose comparison won: "Reduce latency below 300ms".
_METRIC_LEADING_FILLERS = _LEADING_FILLERS | frozenset(
    _phrases(
        """increase | decrease | reduce | grow | raise | boost | cut | improve | bring | push
        | drive | lower | maximize | maximise | minimize | minimise | in | of | for | on"""
    )
)
# Matched against the title's last words read backwards: "at all times" is "times all at".
_TRAILING_FILLERS = frozenset(
    words[::-1]
    for words in _phrases(
        """stay | stays | staying | stayed | remain | remains | remaining | keep | keeps | kept
        | keeping | be | being | is | are | was | should | must | to | will | shall | would
        | needs | need | has | have | always | at all times | it | continue | continues | get
        | gets | expected | ought | of | at | and"""
    )
)
# "Goal: NPS above 40"
_LABELS = frozenset(("goal", "target", "kpi", "okr", "objective"))


# --- matches ------------------------------------------------------------------------------


@dataclass
class _Match:
    shape: str
    clause: set[int]  # item indices that belong to the detected clause
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: str | None = None
    baseline: float | None = None
    unit_type: str | None = None
    unit_label: str | None = None


@dataclass
class _Comparison:
    above: bool
    quantity_index: int
    start: int
    end: int  # exclusive
    words: tuple[str, ...] = field(default_factory=tuple)
    keep: frozenset[int] = frozenset()  # metric words inside the span: "Max *latency* 300ms"

    @property
    def clause(self) -> set[int]:
        return _span(self.start, self.end) - self.keep


@dataclass
class _Trend:
    direction: str
    clause: set[int]
    explicit: bool = True  # "trending up", "↑" - not a verb read from its position


def _span(start: int, end: int) -> set[int]:
    return set(range(start, end))


def _is_punctuation(items: Sequence[_Item], i: int) -> bool:
    item = items[i]
    return isinstance(item, _Token) and item.kind == "sym" and item.text not in ("↑", "↓", "%")


def _skip(items: Sequence[_Item], j: int, gap: frozenset[str], limit: int) -> int:
    for _ in range(limit):
        if _text(items, j) in gap:
            j += 1
        else:
            break
    return j


def _merge_bounds(a: _Quantity, b: _Quantity) -> tuple[float, float, str | None, str | None]:
    """Lower, upper, unit type and label of a range; a unit on either bound applies to both."""
    if b.has_multiplier and not a.has_multiplier and abs(a.number) <= abs(b.number):
        a = replace(a, multiplier=b.multiplier, has_multiplier=True)
    if a.unit_type is None and b.unit_type is not None:
        a = replace(a, unit_type=b.unit_type, unit_label=b.unit_label, factor=b.factor)
    if b.unit_type is None and a.unit_type is not None:
        b = replace(b, unit_type=a.unit_type, unit_label=a.unit_label, factor=a.factor)
    low, high = a.exact, b.exact
    label = a.unit_label or b.unit_label
    if (
        a.unit_type == b.unit_type == UnitType.TIME
        and a.unit_label in _TIME_IN_MS
        and b.unit_label in _TIME_IN_MS
        and a.unit_label != b.unit_label
    ):
        label = min((a.unit_label, b.unit_label), key=lambda unit: _TIME_IN_MS[unit or "ms"])
        target = _TIME_IN_MS[label or "ms"]
        low = low * _TIME_IN_MS[a.unit_label or "ms"] / target
        high = high * _TIME_IN_MS[b.unit_label or "ms"] / target
    if low > high:
        low, high = high, low
    return float(low), float(high), a.unit_type or b.unit_type, label


def _range_match(items: Sequence[_Item], start: int, first: int, last: int, end: int) -> _Match:
    low_quantity, high_quantity = items[first], items[last]
    assert isinstance(low_quantity, _Quantity) and isinstance(high_quantity, _Quantity)
    lower, upper, unit_type, unit_label = _merge_bounds(low_quantity, high_quantity)
    return _Match(
        Shape.STAY_BETWEEN, _span(start, end), lower=lower, upper=upper,
        unit_type=unit_type, unit_label=unit_label,
    )  # fmt: skip


def _pair_at(items: Sequence[_Item], j: int, separators: frozenset[str]) -> int | None:
    """Index after "Q sep Q" starting at j, or None."""
    if _quantity_at(items, j) is None or _text(items, j + 1) not in separators:
        return None
    return j + 3 if _quantity_at(items, j + 2) is not None else None


def _explicit_range(items: Sequence[_Item]) -> _Match | None:
    for i in range(len(items)):
        lead = _RANGE_LEADS.match(items, i)
        if lead is not None:
            length, separators = lead
            j = _skip(items, i + length, frozenset((":", "=")), 1)
            end = _pair_at(items, j, separators)
            if end is not None:
                return _range_match(items, i, j, j + 2, _extend_range(items, end))
        bracketed = _text(items, i) == "[" and _text(items, i + 4) == "]"
        if bracketed and _pair_at(items, i + 1, frozenset((",", ";"))) is not None:
            return _range_match(items, i, i + 1, i + 3, i + 5)
        if _text(items, i + 1) == "±" and _quantity_at(items, i + 2) is not None:
            centre, spread = _quantity_at(items, i), _quantity_at(items, i + 2)
            relative = spread is not None and spread.unit_type == UnitType.PERCENTAGE
            if (
                centre is not None
                and spread is not None
                and (not relative or centre.unit_type == UnitType.PERCENTAGE)
            ):
                # "100 ± 5%" is relative to the centre: not a shape this parser guesses at.
                low, high = centre.exact - abs(spread.exact), centre.exact + abs(spread.exact)
                return _Match(
                    Shape.STAY_BETWEEN, _span(i, i + 3), lower=float(low), upper=float(high),
                    unit_type=centre.unit_type or spread.unit_type,
                    unit_label=centre.unit_label or spread.unit_label,
                )  # fmt: skip
    return None


def _extend_range(items: Sequence[_Item], end: int) -> int:
    if _text(items, end) in ("range", "band", "corridor"):
        return end + 1
    return end


def _bare_range(items: Sequence[_Item]) -> _Match | None:
    for i in range(len(items)):
        end = _pair_at(items, i, _BARE_SEPARATORS)
        if end is None:
            continue
        if _pair_at(items, i + 2, _BARE_SEPARATORS) is not None:
            return None  # "2024-01-01": a date or a chain, not a range
        if i >= 2 and _pair_at(items, i - 2, _BARE_SEPARATORS) is not None:
            return None
        start = i
        end = _extend_range(items, end)
        if end > i + 3:
            # "in the 30-50 range": the words before the range belong to it too
            while start > 0 and _text(items, start - 1) in ("the", "a", "in", "within"):
                start -= 1
        return _range_match(items, start, i, i + 2, end)
    return None


def _negation(items: Sequence[_Item], i: int) -> int | None:
    """Where the clause starts when the comparison at i is negated, else None.

    "Churn should not exceed 3%" takes "not exceed" into the clause; "Don't let churn
    exceed 3%" keeps "churn" (the metric) and leaves "Don't let" to the metric's trimming.
    """
    k = i - 1
    for _ in range(4):
        word = _text(items, k)
        if word in _NEGATIONS:
            return k
        if word not in _NEGATION_BRIDGE:
            break
        k -= 1
    for k in range(i - 1, max(i - 8, 0), -1):
        if isinstance(items[k], _Quantity) or _COMPARATORS.match(items, k) is not None:
            return None
        if _text(items, k) == "let" and _text(items, k - 1) in _NEGATIONS:
            start = i
            while start > k + 2 and _text(items, start - 1) in _NEGATION_BRIDGE:
                start -= 1  # "… uptime *drop* below": the verb belongs to the clause
            return start
    return None


def _opening_limit(items: Sequence[_Item], i: int, length: int) -> tuple[int, int, int] | None:
    """For "Max latency 300ms" / "Minimum NPS of 35": where the metric words start and end,
    and the quantity's index."""
    if length != 1 or _text(items, i) not in _OPENING_LIMITS:
        return None
    first = _skip(items, i + 1, frozenset((".", ":")), 1)
    k = first
    while k < len(items) and k <= first + 6:
        gap_end = _skip(items, k, _COMPARATOR_GAP, 3)
        if k > first and _quantity_at(items, gap_end) is not None:
            return first, k, gap_end
        item = items[k]
        if not isinstance(item, _Token) or _COMPARATORS.match(items, k) is not None:
            return None
        if item.kind == "sym" and item.text not in ("/", "-", "(", ")"):
            return None
        k += 1
    return None


def _comparisons(items: Sequence[_Item]) -> list[_Comparison]:
    found: dict[int, _Comparison] = {}
    first_content = _first_content(items)
    for i in range(len(items)):
        prefix = _COMPARATORS.match(items, i)
        if prefix is not None:
            length, above = prefix
            j = _skip(items, i + length, _COMPARATOR_GAP, 3)
            opening = _opening_limit(items, i, length) if i == first_content else None
            if _quantity_at(items, j) is None and opening is not None:
                first, gap, j = opening
                keep = frozenset(range(first, gap))
                found.setdefault(j, _Comparison(above, j, i, j + 1, (_text(items, i) or "",), keep))
            elif _quantity_at(items, j) is not None:
                start = i
                negated = _negation(items, i)
                if negated is not None:
                    above, start = not above, negated
                words = tuple(_text(items, k) or "" for k in range(i, i + length))
                found.setdefault(j, _Comparison(above, j, start, j + 1, words))
        quantity = _quantity_at(items, i)
        if quantity is None:
            continue
        postfix = _POSTFIX.match(items, i + 1)
        end: int | None = None
        above = _ABOVE
        if postfix is not None:
            length, above = postfix
            end = i + 1 + length
        else:
            plus = items[i + 1] if i + 1 < len(items) else None
            if isinstance(plus, _Token) and plus.text == "+" and plus.glued:
                end = i + 2
        if end is None:
            continue
        if _quantity_at(items, _skip(items, end, _COMPARATOR_GAP, 3)) is not None:
            continue  # "above 3 and below 7": the words start the next comparison
        existing = found.get(i)
        if existing is None:
            found[i] = _Comparison(above, i, i, end)
        else:
            existing.end = max(existing.end, end)
    return sorted(found.values(), key=lambda comparison: comparison.start)


def _comparison_match(items: Sequence[_Item], trend: _Trend | None) -> _Match | None:
    comparisons = _comparisons(items)
    if trend is not None:
        comparisons = [
            c
            for c in comparisons
            if not (
                len(c.words) == 1
                and c.words[0] in _TIME_WINDOW_COMPARATORS
                and (quantity := _quantity_at(items, c.quantity_index)) is not None
                and quantity.unit_type == UnitType.TIME
            )
        ]
    if not comparisons:
        return None
    first = comparisons[0]
    if len(comparisons) > 1:
        second = comparisons[1]
        between = range(first.end, second.start)
        joined = len(between) > 0 and all(_text(items, k) in _PAIR_CONNECTORS for k in between)
        if second.above != first.above and joined:
            floor, ceiling = (first, second) if first.above else (second, first)
            floor_quantity = _quantity_at(items, floor.quantity_index)
            ceiling_quantity = _quantity_at(items, ceiling.quantity_index)
            assert floor_quantity is not None and ceiling_quantity is not None
            lower, upper, unit_type, unit_label = _merge_bounds(floor_quantity, ceiling_quantity)
            return _Match(
                Shape.STAY_BETWEEN, first.clause | second.clause | _span(first.end, second.start),
                lower=lower, upper=upper,
                unit_type=unit_type, unit_label=unit_label,
            )  # fmt: skip
    quantity = _quantity_at(items, first.quantity_index)
    assert quantity is not None
    return _Match(
        Shape.STAY_ABOVE if first.above else Shape.STAY_BELOW, first.clause,
        threshold=quantity.value, unit_type=quantity.unit_type, unit_label=quantity.unit_label,
    )  # fmt: skip


# --- trends -------------------------------------------------------------------------------


def _baseline_at(items: Sequence[_Item], i: int) -> int | None:
    """Index after "from / vs / since … Q" starting at i, or None."""
    marker = _BASELINE_MARKERS.match(items, i)
    if marker is None:
        return None
    j = _skip(items, i + marker[0], _BASELINE_GAP, 4)
    return j + 1 if _quantity_at(items, j) is not None else None


def _tail_flags(items: Sequence[_Item]) -> list[bool]:
    """tail[j]: everything from j on is punctuation, cadence ("over time", "MoM"), a
    baseline ("from $1.2M") or a target ("to 40") - i.e. a trend word before j ends the title."""
    n = len(items)
    tail = [False] * (n + 1)
    tail[n] = True
    for j in range(n - 1, -1, -1):
        if _is_punctuation(items, j) and tail[j + 1]:
            tail[j] = True
            continue
        cadence = _CADENCE.match(items, j)
        length = cadence[0] if cadence is not None else _window_at(items, j)
        if length and tail[j + length]:
            tail[j] = True
            continue
        if _baseline_at(items, j) is not None:
            tail[j] = True
            continue
        if _text(items, j) in _TARGET_MARKERS and _quantity_at(items, j + 1) is not None:
            tail[j] = tail[j + 2]
    return tail


def _first_content(items: Sequence[_Item]) -> int:
    i = 0
    while i < len(items):
        if _is_punctuation(items, i):
            i += 1
            continue
        length = _filler_length([_text(items, i + k) or "" for k in range(3)], _LEADING_FILLERS)
        if not length:
            break
        i += length
    return i


def _find_trend(items: Sequence[_Item]) -> _Trend | None:
    weak: _Trend | None = None
    tail = _tail_flags(items)
    first = _first_content(items)
    for i in range(len(items)):
        word = _text(items, i)
        if word is None:
            continue
        if word in _TREND_HEADS:
            j = _skip(items, i + 1, frozenset((":", "=", "-")), 1)
            direction = _DIRECTION_WORDS.get(_text(items, j) or "")
            if direction is not None:
                return _extend_trend(items, _Trend(direction, _span(i, j + 1)), j + 1)
        if word in _STANDALONE_DIRECTIONS:
            start, end = i, i + 1
            if _text(items, end) in ("trend", "trending", "trends"):
                end += 1
            trend = _Trend(_STANDALONE_DIRECTIONS[word], _span(start, end))
            return _extend_trend(items, trend, end)
        if word in ("up", "down") and _text(items, i + 1) in ("trend", "trending", "trends"):
            return _extend_trend(items, _Trend(_DIRECTION_WORDS[word], _span(i, i + 2)), i + 2)
        if weak is not None:
            continue
        item = items[i]
        hyphenated = (
            isinstance(item, _Token) and item.glued and _text(items, i - 1) == "-"
        ) or _text(items, i + 1) == "-"
        if hyphenated:
            continue
        at_end = tail[i + 1]
        if word in ("up", "down") and at_end:
            weak = _Trend(word, {i}, explicit=False)
        elif word in _TREND_VERBS:
            opening = (
                i == first and i + 1 < len(items) and _text(items, i + 1) not in _NOUN_FOLLOWERS
            )
            after_auxiliary = _text(items, i - 1) in _AUXILIARIES
            if opening or at_end or after_auxiliary:
                weak = _Trend(_TREND_VERBS[word], {i}, explicit=False)
        elif (
            word in _OPENING_TREND_WORDS
            and i == first
            and not tail[i + 1]
            and _text(items, i + 1) not in ("than", "or", "and")
        ):
            weak = _Trend(_OPENING_TREND_WORDS[word], {i}, explicit=False)
    if weak is not None:
        return _extend_trend(items, weak, max(weak.clause) + 1)
    return None


def _window_at(items: Sequence[_Item], i: int) -> int:
    """Length of a time window such as "over the last 30 days" at i (0 when none)."""
    if _text(items, i) not in ("over", "in", "within", "during", "for"):
        return 0
    j = _skip(items, i + 1, frozenset(("the", "last", "past", "next", "coming")), 2)
    quantity = _quantity_at(items, j)
    if quantity is not None and quantity.unit_type == UnitType.TIME:
        return j + 1 - i
    if _text(items, j) in _PERIODS or _text(items, j) in ("days", "weeks", "months", "years"):
        return j + 1 - i
    return 0


def _extend_trend(items: Sequence[_Item], trend: _Trend, end: int) -> _Trend:
    """Absorb cadence and windows right after a trend ("trending up month over month")."""
    while True:
        cadence = _CADENCE.match(items, end)
        length = cadence[0] if cadence is not None else _window_at(items, end)
        if not length:
            return trend
        trend.clause |= _span(end, end + length)
        end += length


def _trend_match(items: Sequence[_Item], trend: _Trend) -> _Match:
    """Trend with its baseline ("from X", "from X to Y", "X to Y") and target ("to 40")."""
    clause = set(trend.clause)
    baseline: _Quantity | None = None
    targets: list[_Quantity] = []
    for i in range(len(items)):
        if i in clause:
            continue
        if baseline is None:
            if _text(items, i) == "from":
                end = _pair_at(items, i + 1, _TO_SEPARATORS)
                if end is not None:
                    baseline = _quantity_at(items, i + 1)
                    clause |= _span(i, end)
                    continue
            end = _pair_at(items, i, frozenset(("to",)))
            if end is not None:
                baseline = _quantity_at(items, i)
                clause |= _span(i, end)
                continue
            end = _baseline_at(items, i)
            if end is not None:
                baseline = _quantity_at(items, end - 1)
                if _text(items, end) in ("baseline", "base"):
                    end += 1  # "from 3.5% baseline"
                clause |= _span(i, end)
                continue
            quantity = _quantity_at(items, i)
            if quantity is not None and _text(items, i + 1) in ("baseline", "base"):
                baseline = quantity
                clause |= _span(i, i + 2)
                continue
        target = _quantity_at(items, i + 1)
        if _text(items, i) in _TARGET_MARKERS and target is not None:
            targets.append(target)  # "Increase NPS to 40": no field holds it, the unit helps
            clause |= _span(i, i + 2)
    unit_source = baseline or (targets[0] if targets else None)
    return _Match(
        Shape.TREND, clause, direction=trend.direction,
        baseline=baseline.value if baseline is not None else None,
        unit_type=unit_source.unit_type if unit_source else None,
        unit_label=unit_source.unit_label if unit_source else None,
    )  # fmt: skip


def _has_from_range(items: Sequence[_Item]) -> bool:
    for i in range(len(items)):
        if _text(items, i) == "from" and _pair_at(items, i + 1, _TO_SEPARATORS) is not None:
            return True
        if _pair_at(items, i, frozenset(("to",))) is not None:
            return True
    return False


# --- units found elsewhere in the title ---------------------------------------------------


def _unit_hint(
    tokens: Sequence[_Token], clause: Sequence[tuple[int, int]]
) -> tuple[str | None, str | None]:
    """A unit the title names outside the detected clause ("Latency (ms) below 300")."""
    spans = iter(sorted(clause))
    span = next(spans, None)
    for index, token in enumerate(tokens):
        while span is not None and span[1] <= token.start:
            span = next(spans, None)
        if span is not None and span[0] <= token.start:
            continue
        previous = tokens[index - 1].text if index > 0 else ""
        following = tokens[index + 1].text if index + 1 < len(tokens) else ""
        if token.text == "%" or token.text in _PERCENT_WORDS:
            return UnitType.PERCENTAGE, None
        if token.kind == "sym" and token.text in _CURRENCY_SYMBOLS:
            return UnitType.CURRENCY, _CURRENCY_SYMBOLS[token.text]
        if token.kind == "word" and token.text in _CURRENCY_HINT_CODES:
            return UnitType.CURRENCY, _CURRENCY_HINT_CODES[token.text]
        if token.kind == "word" and token.text in _CURRENCY_WORDS:
            return UnitType.CURRENCY, _CURRENCY_WORDS[token.text]
        if token.kind == "word" and token.text in _TIME_UNITS:
            spelled_out = len(token.text) > 3 and token.text not in ("mins", "msec", "secs")
            marked = previous in ("(", "in") or (previous == "[" and following == "]")
            rate = previous in ("per", "/", "a", "an", "each", "every")  # "incidents per week"
            label, factor = _TIME_UNITS[token.text]
            # Weeks would need the target scaled to days; a hint only names, never converts.
            if (spelled_out or marked) and not rate and factor == 1:
                return UnitType.TIME, label
        if token.text in ("#", "count") or (token.text == "number" and following == "of"):
            return UnitType.NUMBER, None
    return None, None


# --- metric -------------------------------------------------------------------------------

_EMPTY_BRACKETS_RE = re.compile(r"\(\s*\)|\[\s*\]")
_LEFT_EDGE = " \t.,;:!?-/|~=<>*)]}\"'" + _DASHES
_RIGHT_EDGE = " \t.,;:!?-/|~=<>*([{\"'" + _DASHES


def _filler_length(words: Sequence[str], fillers: frozenset[tuple[str, ...]]) -> int:
    """Length of the longest filler phrase that `words` starts with (0 when none)."""
    for length in (3, 2, 1):
        if len(words) >= length and tuple(words[:length]) in fillers:
            return length
    return 0


def _trim(words: list[str], *, leading: bool) -> list[str]:
    """Drop edge punctuation and filler verbs from the end of `words` (and the start too
    when `leading`): "Keep MTTR" -> "MTTR", "NPS should stay" -> "NPS"."""
    edges = _LEFT_EDGE + _RIGHT_EDGE
    plain = [word.strip(edges).lower().replace(_APOSTROPHE, "'") for word in words]
    words = list(words)
    lo, hi = 0, len(words)
    while lo < hi:
        if leading:
            words[lo] = words[lo].lstrip(_LEFT_EDGE)
        words[hi - 1] = words[hi - 1].rstrip(_RIGHT_EDGE)
        if not words[hi - 1]:
            hi -= 1
        elif leading and (not words[lo] or (words[lo].endswith(":") and plain[lo] in _LABELS)):
            lo += 1
        elif leading and (length := _filler_length(plain[lo : lo + 3], _METRIC_LEADING_FILLERS)):
            lo += length
        elif length := _filler_length(plain[max(lo, hi - 3) : hi][::-1], _TRAILING_FILLERS):
            hi -= length
        else:
            break
    return words[lo:hi]


def _metric(title: str, items: Sequence[_Item], clause: set[int]) -> str:
    """The title without the detected clause and the verbs around it ("Keep … below")."""
    # Empty brackets left by a removed clause ("NPS (≥ 35)") are blanked out in place, so
    # the piece boundaries (where the clause was) keep their offsets.
    blanked = _EMPTY_BRACKETS_RE.sub(
        lambda match: " " * len(match.group()), _blank_clause(title, items, clause)
    )
    pieces = blanked.split("\0")
    words: list[str] = []
    for number, piece in enumerate(pieces):
        piece_words = piece.split()
        # Words right before a clause are often its verb: "Uptime should stay | above 99%".
        words.extend(_trim(piece_words, leading=False) if number < len(pieces) - 1 else piece_words)
    metric = " ".join(_trim(words, leading=True))
    if metric.startswith("(") and ")" not in metric:
        metric = metric[1:].strip()
    if metric.endswith(")") and "(" not in metric:
        metric = metric[:-1].strip()
    return metric


def _blank_clause(title: str, items: Sequence[_Item], clause: set[int]) -> str:
    """The title with NUL separators marking where clause parts were ("NPS \\0 this week")."""
    out: list[str] = []
    cursor = 0
    previous = -2
    for index in sorted(clause):
        item = items[index]
        if item.start >= cursor:
            out.append(title[cursor : item.start].replace("\0", " "))
        if index != previous + 1:
            out.append("\0")
        cursor = max(cursor, item.end)
        previous = index
    out.append(title[cursor:].replace("\0", " "))
    return " ".join(out)


# --- the grammar --------------------------------------------------------------------------


def _parse(title: str) -> Detected | None:
    tokens = _tokenize(title)
    if not tokens:
        return None
    items = _assemble(tokens)
    trend = _find_trend(items)
    match: _Match | None = None
    if trend is not None and _has_from_range(items):
        match = _trend_match(items, trend)
    match = (
        match
        or _explicit_range(items)
        or _comparison_match(items, trend)
        or _bare_range(items)
        or (_trend_match(items, trend) if trend is not None else None)
    )
    if match is None:
        return None
    if trend is not None and trend.explicit and match.shape != Shape.TREND:
        match.clause |= trend.clause  # "Uptime >= 99.9% and trending up": not the metric's name
    unit_type, unit_label = match.unit_type, match.unit_label
    if unit_type is None:
        spans = [(items[index].start, items[index].end) for index in match.clause]
        unit_type, unit_label = _unit_hint(tokens, spans)
    if unit_type not in (UnitType.CURRENCY, UnitType.TIME):
        unit_label = None
    return Detected(
        shape=match.shape,
        threshold=match.threshold,
        lower=match.lower,
        upper=match.upper,
        direction=match.direction,
        baseline=match.baseline,
        unit_type=unit_type,
        unit_label=unit_label,
        metric=_metric(title, items, match.clause),
    )
