"""The import file format: every rule of history/importing.py, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.history.importing import (
    MAX_ERRORS_SHOWN,
    MAX_LINE_BYTES,
    ParsedImport,
    parse_history_csv,
)

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
SKEW = timedelta(minutes=5)
JAN_1 = datetime(2025, 1, 1, tzinfo=UTC)


def parse(data: bytes, chunk: int = 64 * 1024, **limits: int) -> ParsedImport:
    chunks = [data[start : start + chunk] for start in range(0, len(data), chunk)]
    return parse_history_csv(chunks, now=NOW, max_future=SKEW, earliest=EARLIEST, **limits)


def errors_of(data: bytes) -> list[str]:
    result = parse(data)
    assert not result.ok and not result.points
    return [str(error) for error in result.errors]


# --- accepted files -------------------------------------------------------------------


def test_a_plain_file_gives_its_points_oldest_first_in_utc() -> None:
    result = parse(
        b"observed_at,value\n"
        b"2025-01-02T00:00:00Z,2\n"
        b"2025-01-01T00:00:00+00:00,1.5\n"
        b"2025-01-01T12:00:00+02:00,-3e2\n"
    )
    assert result.ok and result.error_count == 0
    assert result.points == [
        (JAN_1, 1.5),
        (JAN_1 + timedelta(hours=10), -300.0),
        (JAN_1 + timedelta(days=1), 2.0),
    ]
    assert (result.first, result.last, result.rows) == (JAN_1, JAN_1 + timedelta(days=1), 3)


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    result = parse(b"\xef\xbb\xbfobserved_at,value\r\n2025-01-01T00:00:00Z,1\r\n")
    assert result.ok and result.points == [(JAN_1, 1.0)]


def test_quoted_fields_crlf_and_header_case_and_spaces_are_fine() -> None:
    result = parse(b'"Observed_At", "VALUE"\r\n"2025-01-01T00:00:00Z"," 7.25 "\r\n')
    assert result.ok and result.points == [(JAN_1, 7.25)]


def test_blank_lines_are_skipped_and_counted_and_lines_keep_their_numbers() -> None:
    result = parse(b"\n  \nobserved_at,value\n\n2025-01-01T00:00:00Z,1\n\n2025-01-01T01:00:00Z,x\n")
    assert result.blank_lines == 4
    assert [str(e) for e in result.errors] == [
        "line 7: value 'x' is not a number; write plain numbers like 1234.5 "
        "(a dot for decimals, no thousands separators or units)"
    ]


def test_pulseboards_own_export_imports_as_it_is() -> None:
    result = parse(
        b"observed_at,value,status,source,recorded_at\n"
        b"2025-01-01T00:00:00+00:00,99.9,green,api,2025-01-01T00:00:01.5+00:00\n"
    )
    assert result.ok and result.points == [(JAN_1, 99.9)]


def test_columns_may_come_in_any_order() -> None:
    result = parse(b"value,observed_at\n4,2025-01-01T00:00:00Z\n")
    assert result.points == [(JAN_1, 4.0)]


def test_the_last_line_needs_no_line_break() -> None:
    assert parse(b"observed_at,value\n2025-01-01T00:00:00Z,1").points == [(JAN_1, 1.0)]


def test_five_minutes_ahead_is_still_accepted_like_a_value_write() -> None:
    result = parse(b"observed_at,value\n2025-06-02T12:05:00Z,1\n")
    assert result.ok


# --- refused rows: each names its line ---------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (b"2025-01-01 00:00,1", "observed_at '2025-01-01 00:00' needs a UTC offset"),
        (b"2025-01-01T00:00:00,1", "needs a UTC offset, e.g. 2025-06-02T09:30:00Z"),
        (b"2025-01-01,1", "observed_at '2025-01-01' needs a UTC offset"),
        (b"yesterday,1", "observed_at 'yesterday' is not an ISO 8601 time"),
        (b",1", "observed_at is empty"),
        (b"2025-01-01T00:00:00Z,", "value is empty"),
        (b"2025-01-01T00:00:00Z,NaN", "value 'NaN' is not a finite number"),
        (b"2025-01-01T00:00:00Z,-Infinity", "value '-Infinity' is not a finite number"),
        (b"2025-01-01T00:00:00Z,inf", "value 'inf' is not a finite number"),
        (b"2025-01-01T00:00:00Z,1e400", "value '1e400' is too large"),
        (b"2025-01-01T00:00:00Z,1" + b"0" * 400, "is too large"),
        (b"2025-01-01T00:00:00Z,1_000", "value '1_000' is not a number"),
        (b'2025-01-01T00:00:00Z,"1,234.5"', "value '1,234.5' is not a number"),
        (b'2025-01-01T00:00:00Z,"12,5"', "a dot for decimals"),
        (b"2025-01-01T00:00:00Z,12%", "value '12%' is not a number"),
        (b"2025-01-01T00:00:00Z,0x10", "value '0x10' is not a number"),
        (b"2025-01-01T00:00:00Z,12,5", "expected 2 fields like the header, found 3"),
        (b"2025-01-01T00:00:00Z,12,5", "write decimals with a dot"),
        (b"2025-01-01T00:00:00Z", "expected 2 fields like the header, found 1"),
        (b"2025-01-01T00:00:00Z;12", "columns are separated by ';'; separate them with commas"),
        (b"2025-01-01T00:00:00Z\t12", "columns are separated by tabs"),
        (b'"2025-01-01T00:00:00Z,1', "the line is not valid CSV (check its quotes)"),
        (b"2025-06-02T12:05:01Z,1", "is more than 5 minutes in the future"),
        (b"1969-12-31T23:59:59Z,1", "is before 1970-01-01T00:00:00+00:00"),
        (b"9999-12-31T23:59:59-01:00,1", "is out of range once converted to UTC"),
        (b"2025-01-01T00:00:00Z,\xff\xfe", "the line is not UTF-8 text; save the file as UTF-8"),
        (b"2025-01-01T00:00:00\x00Z,1", "is not an ISO 8601 time"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_number_and_reason(row: bytes, message: str) -> None:
    (error,) = errors_of(b"observed_at,value\n2025-02-01T00:00:00Z,1\n" + row + b"\n")
    assert error.startswith("line 3: ")
    assert message in error


def test_a_time_twice_in_the_file_names_both_lines_even_with_other_offsets() -> None:
    errors = errors_of(
        b"observed_at,value\n"
        b"2025-01-01T00:00:00Z,1\n"
        b"2025-01-01T02:00:00Z,2\n"
        b"2025-01-01T01:00:00+01:00,3\n"
    )
    assert errors == ["line 4: observed_at 2025-01-01T00:00:00+00:00 appears twice (lines 2 and 4)"]


def test_every_bad_row_is_reported_in_one_pass_and_nothing_is_returned() -> None:
    result = parse(
        b"observed_at,value\n2025-01-01T00:00:00Z,1\n2025-01-01 01:00,2\n2025-01-01T02:00:00Z,NaN\n"
    )
    assert result.error_count == 2 and result.points == [] and not result.ok
    assert [e.line for e in result.errors] == [3, 4]
    assert result.summary() == "the file has 2 errors; nothing was imported"


def test_only_the_first_errors_are_kept_with_the_total_count() -> None:
    rows = b"".join(b"2025-01-01 %02d:00,1\n" % hour for hour in range(24))
    result = parse(b"observed_at,value\n" + rows + rows.replace(b" ", b"T"))
    assert result.error_count == 24 + 24
    assert len(result.errors) == MAX_ERRORS_SHOWN
    assert result.summary() == (
        f"the file has 48 errors (the first {MAX_ERRORS_SHOWN} are listed); nothing was imported"
    )


def test_a_row_and_its_value_can_both_be_wrong() -> None:
    errors = errors_of(b"observed_at,value\n2025-01-01T00:00,abc\n")
    assert len(errors) == 2 and all(e.startswith("line 2: ") for e in errors)


# --- refused files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "line 1: the file is empty; it needs the header observed_at,value"),
        (b"\n\n", "line 1: the file is empty"),
        (b"\xef\xbb\xbf", "line 1: the file is empty"),
        (b"observed_at,value\n", "line 1: the file holds only a header; add rows below it"),
        (b"observed_at;value\n2025-01-01T00:00:00Z;1\n", "line 1: columns are separated by ';'"),
        (b"date,amount\n2025-01-01T00:00:00Z,1\n", "line 1: the header must name the columns"),
        (b"observed_at,value,value\n", "line 1: the header names the column value twice"),
        (b"2025-01-01T00:00:00Z,1\n", "line 1: the first line must be the header"),
        (b'"observed_at,value\n', "line 1: the header is not valid CSV"),
        (b"\xff\xfeo\x00b\x00s\x00", "line 1: the file is UTF-16 text; save it as UTF-8"),
        (b"\xfe\xff\x00o\x00b", "line 1: the file is UTF-16 text"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_at_line_one(data: bytes, message: str) -> None:
    errors = errors_of(data)
    assert errors and errors[0].startswith(message)


def test_a_very_long_line_is_refused_without_being_held_whole() -> None:
    long_row = b"2025-01-01T00:00:00Z," + b"9" * (MAX_LINE_BYTES * 50)
    errors = errors_of(b"observed_at,value\n" + long_row + b"\n2025-01-02T00:00:00Z,1\n" + long_row)
    assert errors == [
        "line 2: the line is longer than 1024 bytes (lines must end with a line break; "
        "is this a CSV file?)",
        "line 4: the line is longer than 1024 bytes (lines must end with a line break; "
        "is this a CSV file?)",
    ]


def test_more_rows_than_the_limit_stop_the_file_at_the_first_extra_row() -> None:
    rows = b"".join(b"2025-01-01T00:%02d:00Z,1\n" % minute for minute in range(6))
    result = parse(b"observed_at,value\n" + rows, max_rows=5)
    assert [str(e) for e in result.errors] == [
        "line 7: the file has more than 5 rows; split it into several imports"
    ]
    assert parse(b"observed_at,value\n" + rows, max_rows=6).rows == 6


# --- properties ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 200_000), min_size=1, max_size=40, unique=True),
    value=st.floats(allow_nan=False, allow_infinity=False, width=64),
    chunk=st.integers(1, 97),
    crlf=st.booleans(),
)
def test_any_valid_file_reads_the_same_whatever_the_chunking(
    minutes: list[int], value: float, chunk: int, crlf: bool
) -> None:
    end = b"\r\n" if crlf else b"\n"
    lines = [b"observed_at,value"]
    for offset in minutes:
        moment = JAN_1 + timedelta(minutes=offset)
        lines.append(f"{moment.isoformat()},{value!r}".encode())
    data = end.join(lines) + end
    whole, pieces = parse(data), parse(data, chunk=chunk)
    assert whole.ok and pieces.points == whole.points
    assert whole.points == sorted((JAN_1 + timedelta(minutes=m), value) for m in minutes)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), chunk=st.integers(1, 64))
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    result = parse(b"observed_at,value\n" + data, chunk=chunk)
    assert result.ok or result.error_count >= 1
    assert parse(b"observed_at,value\n" + data).error_count == result.error_count
