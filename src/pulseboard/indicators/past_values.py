"""The past values indicators needs, read from history through a reader history registers.

History sits above indicators (DESIGN §16), yet two indicator rules look back in time:
a rolling (prior-period) trend baseline is the KPI's value one period ago, and a card's
change compares with the value one compare-period ago. This module names those reads
(and when the rolling baseline next moves); the history app registers its selectors as
the reader at start-up (``history/apps.py``), so indicators never imports history.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Protocol


class BaselineRead(NamedTuple):
    """What a rolling baseline needs at one instant ``when`` (``now - period``)."""

    value: float | None  # the newest history value observed at or before ``when``
    next_observed_at: datetime | None  # the first history row observed after ``when``


class PastValuesReader(Protocol):
    def value_at_or_before(self, *, org_id: int, kpi_id: str, when: datetime) -> float | None:
        """The KPI's newest history value observed at or before ``when``."""
        ...

    def values_at_or_before(
        self, *, org_id: int, kpi_ids: Iterable[str], when: datetime
    ) -> dict[str, float]:
        """The same for many KPIs at once (KPIs without such a value are left out)."""
        ...

    def baselines_at(
        self, *, org_id: int, kpi_ids: Iterable[str], when: datetime
    ) -> dict[str, BaselineRead]:
        """Both reads of a rolling baseline for many KPIs of one org in one query: the
        value at or before ``when`` and the first row after it (when the baseline moves
        next); every id of the org gets an entry."""
        ...

    def first_observed_after(self, *, org_id: int, kpi_id: str, after: datetime) -> datetime | None:
        """When the KPI's first history row after ``after`` was observed (rolling baselines
        move then: ``indicators/reevaluation.py``)."""
        ...


_reader: PastValuesReader | None = None


def register_reader(reader: PastValuesReader) -> None:
    global _reader
    _reader = reader


def reader() -> PastValuesReader:
    if _reader is None:
        raise RuntimeError("no past-values reader: the pulseboard.history app is not installed")
    return _reader
