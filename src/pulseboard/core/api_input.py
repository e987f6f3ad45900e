"""What the REST API accepts before any domain sees it: the JSON body parser and shared types.

The parser turns every body the database could choke on into a 400 with a clear
``detail`` instead of a 500: JSON nested deeper than ``MAX_DEPTH``, strings with
NUL characters (PostgreSQL text and jsonb refuse them) and unpaired surrogates
(not encodable as UTF-8). Bodies larger than Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``
(256 KiB) never reach it: ``request.body`` refuses them and ``api.py`` answers 413.
``ApiDatetime`` is an ISO 8601 date-time with an offset that also survives
conversion to UTC (``9999-12-31T23:59:59-01:00`` does not, and would fail inside
the database layer); ``is_object_id`` tells a possible object id from text that
cannot name anything, so such paths are a 404 without touching the database.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja.parser import Parser
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

MAX_DEPTH = 32
# Object ids are core.ids.new_id()'s url-safe text. Anything else in an id
# position cannot name an object (and a NUL byte would upset PostgreSQL).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
_ID = re.compile(ID_PATTERN)
# Values older than this are a sender's bug (an unset clock), not an observation.
EARLIEST_OBSERVATION = datetime(1970, 1, 1, tzinfo=UTC)


class BodyRejected(ValueError):
    """The request body is not acceptable JSON; ``message`` says why (shown as ``detail``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise BodyRejected("JSON strings must not contain NUL (\\u0000) characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BodyRejected("JSON strings must not contain unpaired surrogates") from exc


def check_json_value(value: Any) -> None:
    """Raise ``BodyRejected`` when a parsed JSON value nests too deep or holds unsafe text."""
    # Iterative on purpose: a recursive walk could itself exhaust the stack.
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BodyRejected(f"JSON must not nest deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


def _no_constant(name: str) -> Any:
    raise BodyRejected(f"{name} is not valid JSON; send a finite number")


def parse_json_body(body: bytes) -> Any:
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except RecursionError as exc:
        raise BodyRejected(f"JSON must not nest deeper than {MAX_DEPTH} levels") from exc
    except BodyRejected:
        raise
    except (ValueError, TypeError) as exc:
        raise BodyRejected(f"the request body is not valid JSON: {exc}") from exc
    check_json_value(value)
    return value


def is_object_id(text: str) -> bool:
    """Whether ``text`` could be an object id at all (else: 404 without a query)."""
    return bool(_ID.match(text))


class JsonBodyParser(Parser):
    """Ninja's parser with the checks above; ``api.py`` turns ``BodyRejected`` into a 400."""

    def parse_body(self, request: HttpRequest) -> Any:
        return parse_json_body(request.body)


def _iso_text(value: Any) -> Any:
    # Pydantic would also take a number as a Unix timestamp; the schema promises ISO 8601.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2025-06-02T09:30:00Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            "must be an ISO 8601 date-time with a zone offset, e.g. 2025-06-02T09:30:00Z"
        ) from exc


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date-time is out of range once converted to UTC") from exc


def _not_before_1970(value: datetime) -> datetime:
    if value < EARLIEST_OBSERVATION:
        raise ValueError("must be on or after 1970-01-01T00:00:00Z")
    return value


# An ISO 8601 date-time with a zone offset, normalised to UTC.
ApiDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_utc)]
# The time a value was observed: an ApiDatetime no earlier than 1970.
ObservedAt = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(_utc),
    AfterValidator(_not_before_1970),
]
