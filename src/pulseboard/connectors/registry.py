"""Every source kind Pulseboard knows, by name: an explicit dict, one line per connector.

Adding a kind is one module implementing ``base.Connector`` (or ``base.PullConnector``)
and one line here. The keys are the stored ``Source.kind`` values.
"""

from __future__ import annotations

from typing import Any, Final

from pulseboard.connectors.base import Connector
from pulseboard.connectors.https_get import HttpsGetConnector
from pulseboard.connectors.manual import ManualConnector
from pulseboard.connectors.sheets import SheetsConnector
from pulseboard.connectors.webhook import WebhookConnector
from pulseboard.core.errors import ValidationFailed

CONNECTORS: Final[dict[str, Connector[Any]]] = {
    "manual": ManualConnector(),
    "webhook": WebhookConnector(),
    "https_get": HttpsGetConnector(),
    "sheets": SheetsConnector(),
}


def connector_for(kind: object) -> Connector[Any]:
    """The connector of ``kind``, or ``ValidationFailed`` listing the kinds there are."""
    connector = CONNECTORS.get(kind) if isinstance(kind, str) else None
    if connector is None:
        known = ", ".join(CONNECTORS)
        raise ValidationFailed(
            f"unknown source kind; use one of: {known}", errors={"kind": f"must be one of: {known}"}
        )
    return connector
