"""History export as CSV or JSON, streamed row by row so any size fits in constant memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from pulseboard.history.selectors import history_range

COLUMNS = ("observed_at", "value", "status", "source", "recorded_at")
CHUNK = 2000


def _rows(
    *, org_id: int, kpi_id: str, since: datetime | None, until: datetime | None
) -> Iterator[tuple[datetime, float, str, str, datetime]]:
    rows = history_range(org_id=org_id, kpi_id=kpi_id, since=since, until=until).values_list(
        *COLUMNS
    )
    # iterator(): a server-side cursor on PostgreSQL, so a million rows never sit in memory.
    yield from rows.iterator(chunk_size=CHUNK)


def history_csv(
    *, org_id: int, kpi_id: str, since: datetime | None = None, until: datetime | None = None
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    rows = _rows(org_id=org_id, kpi_id=kpi_id, since=since, until=until)
    for count, (observed_at, value, status, source, recorded_at) in enumerate(rows, 1):
        writer.writerow(
            (observed_at.isoformat(), repr(value), status, source, recorded_at.isoformat())
        )
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def history_json(
    *, org_id: int, kpi_id: str, since: datetime | None = None, until: datetime | None = None
) -> Iterator[str]:
    yield '{"kpi_id": ' + json.dumps(kpi_id) + ', "history": ['
    first = True
    for observed_at, value, status, source, recorded_at in _rows(
        org_id=org_id, kpi_id=kpi_id, since=since, until=until
    ):
        row = {
            "observed_at": observed_at.isoformat(),
            "value": value,
            "status": status,
            "source": source,
            "recorded_at": recorded_at.isoformat(),
        }
        yield ("" if first else ",") + json.dumps(row)
        first = False
    yield "]}"
