"""Turning what a pull source returned into one number: JSON bodies, JSONPath, JSON values.

Pure: no Django, no I/O. Shared by the https_get connector (JSON body + JSONPath) and the
sheets connector (cell text), so both sources read "1,234.5", "99.9%" or "TRUE" the same
way (DESIGN.md §6). Text goes through ``indicators.numbers.parse_number_text``, the
parser the web's inline value edit uses too, so a typed value and a pulled one follow
one set of rules. Every failure is a ``ValueParseError`` whose message can be shown to
an admin as the pull error.

Rules decided here:
- a JSONPath must select exactly one node; several matches are an error naming the
  count, because silently taking the first would hide a path that is too broad;
- JSON booleans are 1 and 0, JSON numbers must be finite, null/objects/lists are refused.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Final

import jsonpath

from pulseboard.indicators.numbers import NumberTextError, parse_number_text, shown

MAX_PATH_LENGTH: Final = 1000
MAX_JSON_DEPTH: Final = 100

# One environment for the whole process: strict RFC 9535, none of python-jsonpath's
# extensions (unions with "|", "#" keys, "~" selectors) so a saved path means what the
# RFC says it means.
_ENV: Final = jsonpath.JSONPathEnvironment(strict=True)


class ValueParseError(ValueError):
    """A value, body or path that cannot give a number; the message is readable."""


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
        try:
            return parse_number_text(raw)
        except NumberTextError as exc:
            raise ValueParseError(str(exc)) from None
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


@functools.lru_cache(maxsize=4096)
def _compiled(path: str) -> object:
    # Every pull used to compile its source's path again (py-spy over
    # bench/poll_profile.py: about a tenth of a pull's CPU with the settings check).
    # A compiled query is an immutable tree, safe to share between pulls and threads;
    # a path that fails raises and is not kept.
    return _ENV.compile(path)


def _compile(path: object) -> jsonpath.JSONPath:
    if not isinstance(path, str):
        raise ValueParseError("a JSONPath must be text")
    if not path:
        raise ValueParseError("the JSONPath is empty; start it with '$', e.g. $.value")
    if len(path) > MAX_PATH_LENGTH:
        raise ValueParseError(f"the JSONPath is longer than {MAX_PATH_LENGTH} characters")
    try:
        compiled = _compiled(path)
    except (jsonpath.JSONPathError, RecursionError, ValueError, TypeError) as exc:
        raise ValueParseError(
            f"invalid JSONPath {shown(path)}: {_path_error_detail(exc)}"
        ) from None
    if not isinstance(compiled, jsonpath.JSONPath):
        raise ValueParseError(f"invalid JSONPath {shown(path)}: one query expected")
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
        raise ValueParseError(f"JSONPath {shown(path)} failed: {_path_error_detail(exc)}") from None
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
