"""Turning what a pull source returned into one number: JSON bodies, JSONPath, numeric text.

Pure: no Django, no I/O. Shared by the https_get connector (JSON body + JSONPath) and the
sheets connector (cell text), so both sources read "1,234.5", "99.9%" or "TRUE" the same
way (DESIGN.md §6). Every failure is a ``ValueParseError`` whose message can be shown to
an admin as the pull error.

Rules decided here:
- a JSONPath must select exactly one node; several matches are an error naming the
  count, because silently taking the first would hide a path that is too broad;
- thousands separators must be "," in groups of three ("1,5" is refused, not read as
  15 or 1.5); the decimal mark is ".";
- "%" is dropped ("99.9%" -> 99.9), magnitude suffixes k, m, b/bn, t (any case) multiply
  by 10^3, 10^6, 10^9, 10^12, a leading or trailing currency symbol is dropped, and
  "(12)" is the accounting form of -12;
- only ASCII digits count as digits.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, DecimalException
from typing import Final

import jsonpath

MAX_TEXT_LENGTH: Final = 200
MAX_PATH_LENGTH: Final = 1000
MAX_JSON_DEPTH: Final = 100

_TRUE: Final = frozenset({"true", "yes"})
_FALSE: Final = frozenset({"false", "no"})
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
# One environment for the whole process: strict RFC 9535, none of python-jsonpath's
# extensions (unions with "|", "#" keys, "~" selectors) so a saved path means what the
# RFC says it means.
_ENV: Final = jsonpath.JSONPathEnvironment(strict=True)


class ValueParseError(ValueError):
    """A value, body or path that cannot give a number; the message is readable."""


def _shown(raw: object) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _parse_text(raw: str) -> float:
    text = raw.strip()
    if not text:
        raise ValueParseError("value is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueParseError(f"value {_shown(raw)} is too long to be a number")
    lowered = text.lower()
    if lowered in _TRUE:
        return 1.0
    if lowered in _FALSE:
        return 0.0
    # Spreadsheets and typographers write minus as U+2212; accounting writes (12).
    text = text.replace("\u2212", "-")
    negative_parens = text.startswith("(") and text.endswith(")")
    if negative_parens:
        text = text[1:-1].strip()
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise ValueParseError(f"value {_shown(raw)} is not a number")
    sign1, sign2 = match["sign1"], match["sign2"]
    if (sign1 and sign2) or (negative_parens and (sign1 or sign2)):
        raise ValueParseError(f"value {_shown(raw)} is not a number")
    negative = negative_parens or "-" in (sign1, sign2)
    literal = match["digits"].replace(",", "") + (match["exponent"] or "")
    multiplier = _MAGNITUDES[(match["magnitude"] or "").lower()]
    try:
        number = float(Decimal(literal) * multiplier)
    except (DecimalException, OverflowError, ValueError):
        raise ValueParseError(f"value {_shown(raw)} is out of range") from None
    if not math.isfinite(number):
        raise ValueParseError(f"value {_shown(raw)} is out of range")
    return -number if negative else number


def parse_number(raw: object) -> float:
    """The finite float that ``raw`` stands for, or ``ValueParseError`` saying why not."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int):
        try:
            return float(raw)
        except OverflowError:
            raise ValueParseError("value is too large") from None
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueParseError(f"value {raw!r} is not a finite number")
        return raw
    if isinstance(raw, str):
        return _parse_text(raw)
    if raw is None:
        raise ValueParseError("value is null, not a number")
    if isinstance(raw, dict):
        raise ValueParseError("value is an object, not a number")
    if isinstance(raw, list | tuple):
        raise ValueParseError("value is a list, not a number")
    raise ValueParseError(f"value of type {type(raw).__name__} is not a number")


def _path_error_detail(exc: Exception) -> str:
    # JSONPathError.__str__ renders a multi-line caret diagram and can itself raise on
    # some inputs (an empty path); the first argument is the short message.
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
    token = getattr(exc, "token", None)
    index = getattr(token, "index", None)
    return f"{detail} at position {index}" if isinstance(index, int) and index >= 0 else detail


def _compile(path: object) -> jsonpath.JSONPath:
    if not isinstance(path, str):
        raise ValueParseError("a JSONPath must be text")
    if not path:
        raise ValueParseError("the JSONPath is empty; start it with '$', e.g. $.value")
    if len(path) > MAX_PATH_LENGTH:
        raise ValueParseError(f"the JSONPath is longer than {MAX_PATH_LENGTH} characters")
    try:
        compiled = _ENV.compile(path)
    except (jsonpath.JSONPathError, RecursionError, ValueError, TypeError) as exc:
        raise ValueParseError(
            f"invalid JSONPath {_shown(path)}: {_path_error_detail(exc)}"
        ) from None
    if not isinstance(compiled, jsonpath.JSONPath):
        raise ValueParseError(f"invalid JSONPath {_shown(path)}: one query expected")
    return compiled


def validate_jsonpath(path: str) -> str:
    """Return ``path`` unchanged when it is a valid RFC 9535 query (checked on save)."""
    _compile(path)
    return path


def extract_jsonpath(document: object, path: str) -> object:
    """The one node ``path`` selects in ``document``."""
    compiled = _compile(path)
    if isinstance(document, str):
        # python-jsonpath would re-parse a str document as JSON text; a string root has no
        # children, so only the bare root query "$" selects anything.
        return _one_match(path, [] if compiled.segments else [document])
    try:
        matches = compiled.findall(document)  # type: ignore[arg-type]
    except (jsonpath.JSONPathError, RecursionError, ValueError, TypeError) as exc:
        raise ValueParseError(
            f"JSONPath {_shown(path)} failed: {_path_error_detail(exc)}"
        ) from None
    return _one_match(path, matches)


def _one_match(path: str, matches: list[object]) -> object:
    if not matches:
        raise ValueParseError(f"{path} matched nothing")
    if len(matches) > 1:
        raise ValueParseError(f"{path} matched {len(matches)} values; it must select exactly one")
    return matches[0]


def _depth_exceeds(document: object, limit: int) -> bool:
    # Iterative on purpose: a recursive walk is what this guard protects against.
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_body(body: bytes) -> object:
    """Decode a response body as JSON (UTF-8/16/32), refusing NaN and deep nesting."""
    if not body.strip():
        raise ValueParseError("response is empty, not JSON")
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueParseError(
            f"response is not JSON: nested deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except (ValueError, UnicodeError, TypeError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ValueParseError(f"response is not JSON: {detail}") from None
    if _depth_exceeds(document, MAX_JSON_DEPTH):
        raise ValueParseError(f"response is not JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return document
