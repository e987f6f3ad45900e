"""Many rows of one model written in one statement, past the ORM's per-row work.

The worker records a batch of pulls in one transaction (``connectors/pull_services.py``).
Profiled with py-spy over ``bench/poll_profile.py`` (docs/performance.md), Django's
``bulk_create`` and a ``VALUES`` list of one placeholder group per row cost more CPU per
row than the database spent on them: the ORM prepares each row through its compiler,
PostgreSQL returns the new primary keys whether anyone reads them or not, and psycopg
parses a query text that is different (and long) for every batch size, so it never
reuses its parse. Here:

- ``rows_insert``: PostgreSQL gets the rows through ``COPY … FROM STDIN`` (psycopg
  writes the rows in C); SQLite through ``executemany`` of one ``INSERT`` (a loop in C,
  and no network between the app and the file). Generated primary keys are not read
  back: callers must not need them.
- ``rows_update``: PostgreSQL gets one ``UPDATE … FROM unnest(array, …)`` whose text
  depends only on the columns, never on the number of rows; SQLite one
  ``UPDATE … FROM`` a ``VALUES`` list (split at its limit of bound parameters).

Values are adapted by their fields (``get_db_prep_save``) as the ORM adapts them. Only
the model's own table and column names, quoted by the backend, are spliced into SQL.
Both run on the current connection, inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def _concrete(model: type[Model], names: Sequence[str]) -> list[Field[Any, Any]]:
    fields: list[Field[Any, Any]] = []
    for name in names:
        field = model._meta.get_field(name)
        assert isinstance(field, Field) and field.concrete, name
        fields.append(field)
    return fields


def _quoted(field: Field[Any, Any]) -> str:
    assert field.column is not None
    return str(connection.ops.quote_name(field.column))


def _sqlite_parameter_limit() -> int:
    """The bound parameters one SQLite statement may take (32,766 since SQLite 3.32).

    Django's ``max_query_params`` says 999, the limit of SQLite before 3.32; the
    connection knows the real one.
    """
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def rows_insert(model: type[Model], rows: Sequence[Model]) -> None:
    """INSERT unsaved instances of ``model``: every concrete column but an auto primary key.

    ``pre_save`` runs as for an insert (``auto_now_add`` fills in); ``save`` and its
    signals do not, and the instances' generated primary keys stay unset.
    """
    if not rows:
        return
    meta = model._meta
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    values_insert(
        model,
        [field.name for field in fields],
        [
            [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
            for row in rows
        ],
    )


def values_insert(model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` of values already adapted for the database, in the order ``names``."""
    fields = _concrete(model, names)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(_quoted(field) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
        cursor.executemany(sql, rows)


def rows_update(model: type[Model], names: Sequence[str], rows: Sequence[Model]) -> None:
    """Write the columns ``names`` of ``rows`` (instances with a primary key) in one go.

    Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` per column and row: for
    a batch of 100 sources it spent ~75 ms of Python per call (cProfile over
    ``bench/poll_cycle.py``), more than the whole database work of the batch.
    """
    if not rows or not names:
        return
    meta = model._meta
    fields = _concrete(model, names)
    pk = meta.pk
    assert pk is not None
    everything = [*fields, pk]
    values = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in everything]
        for row in rows
    ]
    table = connection.ops.quote_name(meta.db_table)
    pk_column = _quoted(pk)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = [_quoted(field) for field in everything]
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in everything)
            assignments = ", ".join(f"{column} = v.{column}" for column in columns[:-1])
            sql = (
                f"UPDATE {table} SET {assignments} "  # noqa: S608
                f"FROM unnest({arrays}) AS v ({', '.join(columns)}) "
                f"WHERE {table}.{pk_column} = v.{pk_column}"
            )
            cursor.execute(sql, [list(column) for column in zip(*values, strict=True)])
            return
        # SQLite 3.33+: the same UPDATE … FROM over a VALUES list, in chunks under its
        # limit of bound parameters. One statement beat one UPDATE per row through
        # executemany by ~40 % in the time pass (bench/reevaluate_pass.py, repeat pass).
        columns = [_quoted(field) for field in everything]
        assignments = ", ".join(f"{column} = v.{column}" for column in columns[:-1])
        per_chunk = max(1, _sqlite_parameter_limit() // len(everything))
        row_marks = "(" + ", ".join(["%s"] * len(everything)) + ")"
        for start in range(0, len(values), per_chunk):
            chunk = values[start : start + per_chunk]
            rows_sql = ", ".join([row_marks] * len(chunk))
            where = f"{table}.{pk_column} = v.{pk_column}"
            sql = f"WITH v ({', '.join(columns)}) AS (VALUES {rows_sql}) UPDATE {table} SET {assignments} FROM v WHERE {where}"  # noqa: S608, E501
            cursor.execute(sql, [value for row in chunk for value in row])
