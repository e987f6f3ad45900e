"""Engine-independent table checksums, used by ``move-db`` to prove a copy is exact.

Pure: values in, digests out; no database, no settings, no clock.

Each column value becomes one canonical token (the same instant in any time
zone, a float by its exact ``repr``, JSON with sorted keys and every number by
its exact decimal value, ...) so that SQLite's and PostgreSQL's Python
representations of the same data hash the same. Text tokens carry their length,
so joining a row's tokens is unambiguous. The table digest is the sum of the
rows' SHA-256 values modulo 2**256: a multiset hash that does not depend on row
order. Order matters because the two engines sort text primary keys
differently (SQLite by bytes, PostgreSQL by its collation), so "ordered by pk"
would not be the same order on both sides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

_MODULUS = 2**256
_SEPARATOR = "\x1f"


class UnsupportedValue(TypeError):
    """A column holds a Python type the checksum has no canonical form for."""


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    return format(exact.normalize(), "f") if exact.is_finite() else str(exact)


def _json(value: object) -> object:
    # PostgreSQL's jsonb keeps numbers as numeric, so a float 1e16 written into JSON
    # reads back as the int 10000000000000000: inside JSON every number is its decimal.
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return {"#": _number(value)}
    if value is None or isinstance(value, bool | str):
        return value
    raise UnsupportedValue(f"no canonical form for a JSON value of type {type(value).__name__}")


def json_text(value: object) -> str:
    """Canonical text of a JSON document: sorted keys, numbers by decimal value."""
    return json.dumps(_json(value), sort_keys=True, ensure_ascii=False)


def _datetime(value: datetime) -> str:
    # Naive datetimes only come from USE_TZ=False setups; they are compared as written.
    moment = value.astimezone(UTC) if value.tzinfo is not None else value
    return "d" + moment.isoformat(timespec="microseconds")


def _text(value: str) -> str:
    return f"s{len(value)}:{value}"


_EXACT: dict[type, Callable[[Any], str]] = {
    str: _text,
    int: lambda value: "i" + str(value),
    float: lambda value: "f" + repr(value),
    bool: lambda value: "T" if value else "F",
    type(None): lambda value: "N",
    datetime: _datetime,
    Decimal: lambda value: "n" + _number(value),
}


def token(value: object) -> str:
    """The canonical text of one column value."""
    exact = _EXACT.get(type(value))
    if exact is not None:
        return exact(value)
    # Subclasses and the rarer types, in an order where bool precedes int and
    # datetime precedes date (each is a subclass of the other).
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int):
        return "i" + str(value)
    if isinstance(value, float):
        return "f" + repr(value)
    if isinstance(value, Decimal):
        return "n" + _number(value)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return "D" + value.isoformat()
    if isinstance(value, time):
        return "t" + value.isoformat(timespec="microseconds")
    if isinstance(value, timedelta):
        return "r" + str(value // timedelta(microseconds=1))
    if isinstance(value, UUID):
        return "u" + str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "b" + bytes(value).hex()
    if isinstance(value, dict | list | tuple):
        text = json_text(value)
        return f"j{len(text)}:{text}"
    raise UnsupportedValue(f"no canonical form for a value of type {type(value).__name__}")


def row_hash(row: Sequence[object]) -> int:
    text = _SEPARATOR.join([token(value) for value in row])
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


@dataclass(frozen=True)
class TableDigest:
    rows: int
    digest: str  # 64 hex characters

    @property
    def short(self) -> str:
        return self.digest[:12]


def table_digest(rows: Iterable[Sequence[object]]) -> TableDigest:
    """Row count and order-independent digest of a table's rows."""
    count = 0
    total = 0
    for row in rows:
        count += 1
        total += row_hash(row)
    return TableDigest(rows=count, digest=f"{total % _MODULUS:064x}")
