"""Start-up hooks: what packages above ``indicators`` do when a KPI is created.

``indicators`` sits below ``connectors`` (DESIGN §16) and must not import it, yet a
new KPI needs its manual ``Source`` row. So a package above registers a callback here
once, in its ``AppConfig.ready()``, and ``kpi_create`` runs every registered callback
inside its own transaction: a callback that fails rolls the KPI back with it.
Explicit registration, no signals: ``connectors/apps.py`` shows who listens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulseboard.indicators.models import Kpi

KpiCreated = Callable[["Kpi"], None]

_on_created: list[KpiCreated] = []


def on_kpi_created(callback: KpiCreated) -> KpiCreated:
    """Run ``callback(kpi)`` in the transaction of every ``kpi_create``; registering the same
    callback twice (``ready()`` run again) keeps one."""
    if callback not in _on_created:
        _on_created.append(callback)
    return callback


def kpi_created(kpi: Kpi) -> None:
    """Run the registered callbacks for a KPI just saved (``kpi_create`` calls this)."""
    for callback in tuple(_on_created):
        callback(kpi)
