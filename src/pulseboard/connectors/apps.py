"""Django app config for connectors; gives every new KPI its manual source.

A KPI starts out typed in by hand (DESIGN §5), so ``kpi_create`` needs a manual
``Source`` row next to it. ``indicators`` sits below ``connectors`` and cannot create
it, so this app registers the callback at start-up (``indicators/hooks.py``);
``kpi_create`` runs it inside its own transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from pulseboard.indicators.models import Kpi


def manual_source_for(kpi: Kpi) -> None:
    """The ``Source`` row of a KPI just created: manual until an admin binds another kind."""
    from pulseboard.connectors.manual import ManualConnector
    from pulseboard.connectors.models import Source

    Source.objects.create(org_id=kpi.org_id, kpi=kpi, kind=ManualConnector.kind)


class ConnectorsConfig(AppConfig):
    name = "pulseboard.connectors"
    label = "connectors"

    def ready(self) -> None:
        from pulseboard.indicators.hooks import on_kpi_created

        on_kpi_created(manual_source_for)
