"""Pure: reading a history import file (CSV ``observed_at,value``) into checked points.

Owns the file format of DESIGN §14's history import and every rule a row must pass
before anything is written. Takes the file as an iterable of byte chunks (an HTTP
body, an upload, a file read in blocks), so a 100,000-row file is parsed as it
arrives, one line at a time. No Django, no database, no clock: ``now`` comes in.

The format, as documented in docs/api.md:

- UTF-8 text; a UTF-8 byte-order mark (Excel writes one) is accepted and dropped; a
  UTF-16 file is refused with a message saying to save it as UTF-8.
- The first non-blank line is the header. It names the columns ``observed_at`` and
  ``value`` (any order, any case); other columns are ignored, so Pulseboard's own
  export (``observed_at,value,status,source,recorded_at``) imports as it is.
- Columns are separated by commas. A file separated by ``;`` or tabs is refused with
  a message saying so (such files often write decimals as ``12,5``, which no rule
  could tell apart from two columns), never guessed.
- Fields may be quoted (``"2025-06-02T09:30:00Z","99.5"``): it is CSV.
- Blank lines (empty or only spaces) are skipped anywhere, and counted.
- ``observed_at``: ISO 8601 with a UTC offset (``Z``, ``+02:00``); rows may use
  different offsets (each is converted to UTC). A time without an offset is refused:
  it could mean any of 24 instants. Not before ``earliest``, not more than
  ``max_future`` after ``now`` (the rules of single value writes).
- ``value``: a plain decimal number (``-12.5``, ``1e6``): no thousands separators, no
  decimal comma, no units; NaN, Infinity and numbers beyond the float range
  (``1e400``) are refused.
- The same instant twice in one file is refused, naming both lines.
- At most ``max_rows`` data rows; lines longer than ``MAX_LINE_BYTES`` are refused. The
  callers (API, web, CLI) refuse files over ``MAX_FILE_BYTES`` before reading them.

Every error names its line (1-based, counting the header and blank lines, as an
editor shows them). Parsing goes on after an error so one answer lists them all;
the first ``max_errors`` are kept with the total count.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

MAX_ROWS: Final = 100_000
# 100,000 rows of "2025-06-02T09:30:00.123456+00:00,12345.678" fit with room to spare.
MAX_FILE_BYTES: Final = 10 * 1024 * 1024
MAX_ERRORS_SHOWN: Final = 20
MAX_LINE_BYTES: Final = 1024
MAX_FIELD_CHARS: Final = 64
COLUMNS: Final = ("observed_at", "value")
EXAMPLE_TIME: Final = "2025-06-02T09:30:00Z"

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
# A plain decimal number: float() alone would also take "1_000", "nan" and "infinity".
# (Written without nested optional digit runs, so a long line cannot make it backtrack.)
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# What ISO 8601 times are written with; fromisoformat alone lets a NUL byte through.
_TIME_CHARACTERS: Final = re.compile(r"[0-9TtZz:.+ -]+")
_NOT_FINITE: Final = frozenset(
    {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ParsedImport:
    """What a file holds: its points (sorted by time) or why it cannot be imported."""

    points: list[tuple[datetime, float]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)  # the first ``max_errors``
    error_count: int = 0
    blank_lines: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0 and bool(self.points)

    @property
    def rows(self) -> int:
        return len(self.points)

    @property
    def first(self) -> datetime | None:
        return self.points[0][0] if self.points else None

    @property
    def last(self) -> datetime | None:
        return self.points[-1][0] if self.points else None

    def summary(self) -> str:
        """One sentence for a refused file: how many errors, and that nothing was written."""
        if self.error_count == 0:
            return "the file holds no rows below its header; nothing was imported"
        shown = len(self.errors)
        listed = f" (the first {shown} are listed)" if shown < self.error_count else ""
        noun = "error" if self.error_count == 1 else "errors"
        return f"the file has {self.error_count} {noun}{listed}; nothing was imported"


class _Collector:
    def __init__(self, result: ParsedImport, max_errors: int) -> None:
        self.result = result
        self.max_errors = max_errors

    def add(self, line: int, message: str) -> None:
        self.result.error_count += 1
        if len(self.result.errors) < self.max_errors:
            self.result.errors.append(RowError(line, message))


@dataclass(frozen=True)
class _Line:
    number: int
    text: str | None  # None: the line could not be read (``problem`` says why)
    problem: str = ""


def _physical_lines(chunks: Iterable[bytes]) -> Iterator[_Line]:
    """Lines of the byte stream, decoded; never more than MAX_LINE_BYTES held per line."""
    buffer = bytearray()
    number = 0
    skipping = False  # inside a line already reported as too long
    first = True
    for chunk in chunks:
        if first and chunk:
            if chunk.startswith(_UTF16_BOMS):
                yield _Line(1, None, "the file is UTF-16 text; save it as UTF-8 (CSV UTF-8)")
                return
            if chunk.startswith(_UTF8_BOM):
                chunk = chunk[len(_UTF8_BOM) :]
            first = False
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not skipping:
                    buffer += chunk[start:]
                    if len(buffer) > MAX_LINE_BYTES:
                        number += 1
                        yield _Line(number, None, _too_long())
                        buffer.clear()
                        skipping = True
                break
            if skipping:
                skipping = False
            else:
                buffer += chunk[start:end]
                number += 1
                yield _decoded(number, bytes(buffer))
            buffer.clear()
            start = end + 1
    if buffer and not skipping:
        yield _decoded(number + 1, bytes(buffer))


def _too_long() -> str:
    return (
        f"the line is longer than {MAX_LINE_BYTES} bytes "
        "(lines must end with a line break; is this a CSV file?)"
    )


def _decoded(number: int, raw: bytes) -> _Line:
    if len(raw) > MAX_LINE_BYTES:
        return _Line(number, None, _too_long())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Line(number, None, "the line is not UTF-8 text; save the file as UTF-8 (CSV UTF-8)")
    return _Line(number, text.rstrip("\r\n"))


def _fields(text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    # strict: an unbalanced quote is an error, not a field that swallows the line.
    return next(csv.reader([text], strict=True, skipinitialspace=True))


def _separator_hint(text: str) -> str:
    for mark, name in ((";", "';'"), ("\t", "tabs")):
        if mark in text:
            return (
                f"columns are separated by {name}; separate them with commas "
                "(save as CSV, comma-delimited)"
            )
    return ""


def _field_count_problem(text: str, width: int, found: int) -> str:
    if found < width and _separator_hint(text):
        return _separator_hint(text)
    message = f"expected {width} fields like the header, found {found}"
    if found > width:
        # "2025-06-02T09:30:00Z,12,5": a decimal comma splits the value in two.
        message += " (write decimals with a dot, 12.5, and no thousands separators)"
    return message


def _header(text: str) -> tuple[dict[str, int], int, str]:
    """Column positions of observed_at and value and the column count, or an error message."""
    try:
        raw = [name.strip() for name in _fields(text)]
    except csv.Error:
        return {}, 0, "the header is not valid CSV (check its quotes)"
    names = [name.lower() for name in raw]
    if len(names) == 1:
        hint = _separator_hint(text)
        if hint:
            return {}, 0, hint
    if raw and _parse_time(raw[0])[0] is not None:
        return (
            {},
            0,
            "the first line must be the header observed_at,value; it looks like a data row",
        )
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in COLUMNS:
            if name in positions:
                return {}, 0, f"the header names the column {name} twice"
            positions[name] = position
    missing = [name for name in COLUMNS if name not in positions]
    if missing:
        found = ", ".join(repr(name) for name in raw if name) or "nothing"
        return {}, 0, f"the header must name the columns observed_at and value (found {found})"
    return positions, len(names), ""


def _parse_time(text: str) -> tuple[datetime | None, str]:
    shown = text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + "…"
    if not text:
        return None, "observed_at is empty"
    if len(text) > MAX_FIELD_CHARS or not _TIME_CHARACTERS.fullmatch(text):
        return None, f"observed_at {shown!r} is not an ISO 8601 time, e.g. {EXAMPLE_TIME}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, f"observed_at {shown!r} is not an ISO 8601 time, e.g. {EXAMPLE_TIME}"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None, (
            f"observed_at {shown!r} needs a UTC offset, e.g. {EXAMPLE_TIME} or "
            "2025-06-02T11:30:00+02:00"
        )
    try:
        return moment.astimezone(UTC), ""
    except OverflowError:
        return None, f"observed_at {shown!r} is out of range once converted to UTC"


def _parse_value(text: str) -> tuple[float | None, str]:
    shown = text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + "…"
    if not text:
        return None, "value is empty"
    if text.lower() in _NOT_FINITE:
        return None, f"value {shown!r} is not a finite number"
    if not _NUMBER.fullmatch(text):
        return None, (
            f"value {shown!r} is not a number; write plain numbers like 1234.5 "
            "(a dot for decimals, no thousands separators or units)"
        )
    number = float(text)
    if not math.isfinite(number):
        return None, f"value {shown!r} is too large (beyond the range of a 64-bit float)"
    return number, ""


def parse_history_csv(
    chunks: Iterable[bytes],
    *,
    now: datetime,
    max_future: timedelta,
    earliest: datetime,
    max_rows: int = MAX_ROWS,
    max_errors: int = MAX_ERRORS_SHOWN,
) -> ParsedImport:
    """Read and check a whole import file; see the module docstring for the rules."""
    result = ParsedImport()
    errors = _Collector(result, max_errors)
    latest = now + max_future
    future_words = _duration_words(max_future)
    positions: dict[str, int] | None = None
    width = 0
    seen: dict[datetime, int] = {}
    data_rows = 0
    for line in _physical_lines(chunks):
        if line.text is None:
            errors.add(line.number, line.problem)
            if positions is None and line.number == 1 and "UTF-16" in line.problem:
                return result
            continue
        if not line.text.strip():
            result.blank_lines += 1
            continue
        if positions is None:
            positions, width, problem = _header(line.text)
            if problem:
                errors.add(line.number, problem)
                return result  # without a header no row can be read
            continue
        if data_rows >= max_rows:
            errors.add(
                line.number,
                f"the file has more than {max_rows:,} rows; split it into several imports",
            )
            return result
        data_rows += 1
        try:
            values = _fields(line.text)
        except csv.Error:
            errors.add(line.number, "the line is not valid CSV (check its quotes)")
            continue
        if len(values) != width:
            errors.add(line.number, _field_count_problem(line.text, width, len(values)))
            continue
        when, time_problem = _parse_time(values[positions["observed_at"]].strip())
        number, value_problem = _parse_value(values[positions["value"]].strip())
        if when is not None:
            if when < earliest:
                time_problem = f"observed_at {when.isoformat()} is before {earliest.isoformat()}"
            elif when > latest:
                time_problem = (
                    f"observed_at {when.isoformat()} is more than {future_words} in the future"
                )
            elif when in seen:
                time_problem = (
                    f"observed_at {when.isoformat()} appears twice "
                    f"(lines {seen[when]} and {line.number})"
                )
        for problem in (time_problem, value_problem):
            if problem:
                errors.add(line.number, problem)
        if when is None or time_problem:
            continue
        seen[when] = line.number
        if number is not None:
            result.points.append((when, number))
    if positions is None and result.error_count == 0:
        errors.add(1, "the file is empty; it needs the header observed_at,value and rows below it")
    elif not result.points and result.error_count == 0:
        errors.add(1, "the file holds only a header; add rows below it")
    if result.error_count:
        result.points = []
    else:
        result.points.sort()
    return result


def _duration_words(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
